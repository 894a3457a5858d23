package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/avatar-project/avatar-sync/certs"
	"github.com/avatar-project/avatar-sync/render"
	"github.com/avatar-project/avatar-sync/spec"
)

// renderOptions are the flags of `avatar-sync render`. The directory flag is -d/--out-dir because
// the global -o already means the output format.
type renderOptions struct {
	outDir string
	target string
	build  bool
	check  bool
}

func newRenderCmd(g *globalOptions, s *streams) *cobra.Command {
	o := &renderOptions{}
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Write the Kubernetes (kustomize) or Docker Compose deployment generated from avatar.yaml",
		Long: `render writes a git-trackable deployment of the cluster the spec describes into -d/--out-dir:

  --target kustomize (default)  base/ plus overlays/<cluster>/ for every target with a kubernetes: block
  --target compose              docker-compose.yml plus compose/<broker>.properties

Output is deterministic, so re-rendering an unchanged spec changes nothing. render owns the directory:
it records what it generated in .avatar-sync-render, removes files it no longer generates, leaves other
files alone, and refuses a non-empty directory without that marker.

--build prints the manifests of the --cluster overlay, built in-process by kustomize, without writing
anything. --check writes nothing and exits 2 when the directory differs from what the spec renders
to (for CI). See docs/render.md.`,
		Example: `  avatar-sync render -d deploy && kubectl apply -k deploy/overlays/microk8s
  avatar-sync render --build --cluster microk8s
  avatar-sync render --target compose -d deploy && docker compose -f deploy/docker-compose.yml up -d
  avatar-sync render --check -d deploy   # exit 2 if deploy/ is stale`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRender(cmd, g, s, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.outDir, "out-dir", "d", "deploy", "directory render owns and writes into")
	f.StringVar(&o.target, "target", render.TargetKustomize, "what to render: kustomize|compose")
	f.BoolVar(&o.build, "build", false, "print the built manifests of the --cluster overlay (writes nothing)")
	f.BoolVar(&o.check, "check", false, "write nothing; exit 2 if --out-dir differs from what the spec renders to")
	_ = cmd.MarkFlagDirname("out-dir")
	_ = cmd.RegisterFlagCompletionFunc("target", func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		targets := []string{render.TargetKustomize + "\tbase/ and overlays/<cluster>/", render.TargetCompose + "\tdocker-compose.yml"}
		return withPrefix(targets, prefix), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// runRender: 1. check flags, 2. load the spec, 3. compute the files (pure), 4. build, check or write,
// 5. report.
func runRender(cmd *cobra.Command, g *globalOptions, s *streams, o *renderOptions) error {
	if o.target != render.TargetKustomize && o.target != render.TargetCompose {
		return fmt.Errorf("--target %q: use kustomize or compose", o.target)
	}
	if o.build && o.target != render.TargetKustomize {
		return fmt.Errorf("--build builds the kustomize overlay; it cannot be combined with --target %s", o.target)
	}
	if o.build && o.check {
		return fmt.Errorf("--build and --check are exclusive: --build prints manifests, --check compares --out-dir")
	}
	if o.build {
		// Built manifests are YAML; -o json is for render's own report.
		if err := g.checkOutput("text"); err != nil {
			return err
		}
	} else if err := g.checkOutput("text", "json"); err != nil {
		if strings.ContainsAny(g.output, "/.") {
			return fmt.Errorf("%w; -o is the output format, the directory is -d/--out-dir (render -d %s)", err, g.output)
		}
		return err
	}
	// A tree of one base and an overlay per target is rendered from the spec as written: the
	// default target's overrides (a one-broker laptop) must not shape every overlay's base. --cluster
	// renders that target's merge (issue 15).
	load := *g
	if !cmd.Flags().Changed("cluster") {
		load.cluster = ""
	}
	sp, err := loadSpec(cmd.Context(), &load, s)
	if err != nil {
		return err
	}
	if o.build && load.cluster == "" {
		// --build without --cluster builds the one kubernetes target: load the spec as it sees it.
		if load.cluster, err = buildCluster(cmd, g, sp); err != nil {
			return err
		}
		if sp, err = loadSpec(cmd.Context(), &load, s); err != nil {
			return err
		}
	}

	if sp.TLS.Enabled {
		// The brokers' Secret is made from tls.dir: never package a CA someone else planted there.
		if err := certs.CheckPrivate(sp); err != nil {
			return err
		}
	}
	if o.build {
		cluster, err := buildCluster(cmd, g, sp)
		if err != nil {
			return err
		}
		out, err := render.BuildSpec(sp, o.outDir, cluster, render.OnDisk())
		if err != nil {
			return err
		}
		_, err = s.out.Write(out)
		return err
	}

	var files render.Files
	if o.target == render.TargetCompose {
		files, err = render.ComposeFiles(sp, o.outDir)
	} else {
		files, err = render.KustomizeFiles(sp, o.outDir)
	}
	if err != nil {
		return fmt.Errorf("render %s: %w", g.file, err)
	}
	var res render.Result
	if o.check {
		res, err = render.Plan(render.OnDisk(), o.outDir, o.target, files)
	} else {
		if sp.TLS.Enabled && o.target == render.TargetKustomize {
			// render writes a kustomization into tls.dir; when it is the first to create that
			// directory, it creates it as the certs command would.
			if err := certs.MakeDir(sp); err != nil {
				return err
			}
		}
		res, err = render.Write(render.OnDisk(), o.outDir, o.target, files)
	}
	if err != nil {
		return err
	}
	if err := reportRender(g, s, sp, o, res); err != nil {
		return err
	}
	if o.check && res.Changed() {
		return withExitCode(exitChanges, nil)
	}
	return nil
}

// buildCluster picks the overlay to build: --cluster when given, else the only Kubernetes target.
func buildCluster(cmd *cobra.Command, g *globalOptions, sp *spec.Spec) (string, error) {
	if f := cmd.Flag("cluster"); f != nil && f.Changed {
		return g.cluster, nil
	}
	names := sp.KubernetesTargets()
	switch len(names) {
	case 1:
		return names[0], nil
	case 0:
		return "", fmt.Errorf("--build: no target in %s has a kubernetes: block, so there is no overlay to build", g.file)
	default:
		return "", fmt.Errorf("--build: pick an overlay with --cluster (one of: %s)", strings.Join(names, ", "))
	}
}

// reportRender writes render's report in the view -o chose.
func reportRender(g *globalOptions, s *streams, sp *spec.Spec, o *renderOptions, res render.Result) error {
	if g.output == "json" {
		return render.RenderResultJSON(s.out, res, o.check)
	}
	return render.RenderResultText(s.out, s.err, sp, res, render.ReportOptions{
		OutDir: o.outDir, Target: o.target, Check: o.check, Verbose: g.verbose > 0, File: g.file,
		TLSDir: certs.SettingsOf(sp).Dir, NoCA: !certs.HasCA(sp), GeneratedPassword: certs.GeneratedPasswordFile(sp), Getenv: os.Getenv,
	})
}
