package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
		if dir := certs.SettingsOf(sp).Dir; sp.TLS.Enabled && o.target == render.TargetKustomize {
			// render writes a kustomization into tls.dir; when it is the first to create that
			// directory, create it as the certs command would (0700: it will hold private keys).
			if _, statErr := os.Stat(dir); errors.Is(statErr, fs.ErrNotExist) {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					return fmt.Errorf("create tls.dir %s: %w", dir, err)
				}
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
	var names []string
	for _, c := range sp.Clusters {
		if c.Kubernetes != nil {
			names = append(names, c.Name)
		}
	}
	switch len(names) {
	case 1:
		return names[0], nil
	case 0:
		return "", fmt.Errorf("--build: no target in %s has a kubernetes: block, so there is no overlay to build", g.file)
	default:
		return "", fmt.Errorf("--build: pick an overlay with --cluster (one of: %s)", strings.Join(names, ", "))
	}
}

// renderReport is render's JSON output.
type renderReport struct {
	render.Result
	Check   bool `json:"check"`
	Changed bool `json:"changed"`
}

func reportRender(g *globalOptions, s *streams, sp *spec.Spec, o *renderOptions, res render.Result) error {
	if g.output == "json" {
		for _, l := range []*[]string{&res.Written, &res.Unchanged, &res.Removed} {
			if *l == nil {
				*l = []string{}
			}
		}
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(renderReport{Result: res, Check: o.check, Changed: res.Changed()})
	}
	verbWrite, verbRemove := "wrote  ", "removed"
	if o.check {
		verbWrite, verbRemove = "would write ", "would remove"
	}
	for _, p := range res.Written {
		fmt.Fprintf(s.out, "  %s %s\n", verbWrite, filepath.Join(o.outDir, filepath.FromSlash(p)))
	}
	for _, p := range res.Removed {
		fmt.Fprintf(s.out, "  %s %s\n", verbRemove, filepath.Join(o.outDir, filepath.FromSlash(p)))
	}
	if g.verbose > 0 {
		for _, p := range res.Unchanged {
			fmt.Fprintf(s.out, "  unchanged %s\n", filepath.Join(o.outDir, filepath.FromSlash(p)))
		}
	}
	what := "kustomize tree"
	if o.target == render.TargetCompose {
		what = "Docker Compose deployment"
	}
	switch {
	case o.check && res.Changed():
		fmt.Fprintf(s.out, "%s in %s is stale: %d to write, %d to remove. Run `avatar-sync render --target %s -d %s`.\n",
			what, o.outDir, len(res.Written), len(res.Removed), o.target, o.outDir)
		return nil
	case o.check:
		fmt.Fprintf(s.out, "%s in %s is up to date (%d files).\n", what, o.outDir, len(res.Unchanged))
		return nil
	}
	fmt.Fprintf(s.out, "Rendered %s into %s: %d written, %d removed, %d unchanged.\n",
		what, o.outDir, len(res.Written), len(res.Removed), len(res.Unchanged))
	tlsDir := certs.SettingsOf(sp).Dir
	if _, err := os.Stat(filepath.Join(tlsDir, "ca.crt")); sp.TLS.Enabled && err != nil {
		// The Secret (kustomize) and the mount (Compose) read tls.dir; without certificates the
		// next command below fails far from its cause.
		fmt.Fprintf(s.err, "note: %s holds no certificates yet; run `avatar-sync certs generate -f %s` before deploying\n", tlsDir, g.file)
	}
	pw, generated := keystorePassword(sp, os.Getenv)
	if o.target == render.TargetCompose {
		start := fmt.Sprintf("docker compose -f %s up -d", filepath.Join(o.outDir, render.ComposeFile))
		if generated && render.NeedsPasswordSecret(sp) {
			// The Compose file reads $passwordEnv, which is unset: hand it the generated password.
			start = fmt.Sprintf("%s=%s %s", sp.TLS.PasswordEnv, pw, start)
		}
		fmt.Fprintf(s.out, "Next: %s\n", start)
		return nil
	}
	for _, c := range sp.Clusters {
		if c.Kubernetes == nil {
			continue
		}
		ns := c.Kubernetes.Namespace
		if ns == "" {
			ns = sp.Metadata.Namespace
		}
		// Issue 21: `avatar-sync apply` makes the password Secrets itself (docs/kubernetes.md), so it
		// comes first; the kubectl commands are the alternative, not a step to add to it (a Secret
		// made by hand is not avatar-sync's, and its next apply reports it as a conflict).
		var secrets []string
		if render.NeedsPasswordSecret(sp) {
			secrets = append(secrets, render.PasswordSecret)
		}
		if render.NeedsSASLAdminSecret(sp) {
			secrets = append(secrets, render.SASLAdminSecret)
		}
		fmt.Fprintf(s.out, "Next (%s): avatar-sync apply -f %s --cluster %s\n", c.Name, g.file, c.Name)
		if len(secrets) > 0 {
			what := "the Secret "
			if len(secrets) > 1 {
				what = "the Secrets "
			}
			fmt.Fprintf(s.out, "  (it applies the overlay and makes %s%s from the spec's password references)\n", what, strings.Join(secrets, " and "))
		}
		fmt.Fprintf(s.out, "  or, deploying with kubectl instead: kubectl apply -k %s\n", filepath.Join(o.outDir, "overlays", c.Name))
		if render.NeedsPasswordSecret(sp) {
			nsFlag := ""
			if ns != "" {
				nsFlag = " -n " + ns
			}
			fmt.Fprintf(s.out, "  then, once per namespace: kubectl%s create secret generic %s --from-literal=%s=%s\n",
				nsFlag, render.PasswordSecret, render.PasswordSecretKey, pw)
		}
		if render.NeedsSASLAdminSecret(sp) {
			nsFlag := ""
			if ns != "" {
				nsFlag = " -n " + ns
			}
			fmt.Fprintf(s.out, "  and the SCRAM admin's: kubectl%s create secret generic %s --from-literal=%s=%s\n",
				nsFlag, render.SASLAdminSecret, render.SASLAdminSecretKey, saslAdminPassword(sp.Kafka.SASL))
		}
	}
	return nil
}

// saslAdminPassword is the shell expression that yields kafka.sasl's password, never its value.
// $(cat) rather than --from-file: the Secret must not keep the file's trailing newline, as
// spec.ResolvePassword drops it.
func saslAdminPassword(a *spec.SASL) string {
	if a.PasswordEnv != "" {
		return fmt.Sprintf("\"$%s\"", a.PasswordEnv)
	}
	return fmt.Sprintf("\"$(cat %s)\"", a.PasswordFile)
}

// keystorePassword is the shell expression that yields the keystore password the certs command
// uses, in spec.ResolvePassword's order: $passwordEnv when it is set; else tls.passwordFile when no
// variable is named; else the password certs generated into tls.dir/keystore.password because the
// variable was not set (generated is then true). Printing "$AVATAR_KEYSTORE_PASSWORD" in that last case would have
// the user create a Secret with an empty password. $(cat) rather than --from-file: the Secret must
// not keep the file's trailing newline.
func keystorePassword(sp *spec.Spec, getenv func(string) string) (expr string, generated bool) {
	if pwFile := sp.TLS.PasswordFile; pwFile != "" && sp.TLS.PasswordEnv == "" {
		return fmt.Sprintf("\"$(cat %s)\"", pwFile), false
	}
	env := sp.TLS.PasswordEnv
	if env == "" {
		env = "AVATAR_KEYSTORE_PASSWORD"
	}
	if getenv(env) == "" {
		gen := filepath.Join(certs.SettingsOf(sp).Dir, certs.PasswordFileName)
		if _, err := os.Stat(gen); err == nil {
			return fmt.Sprintf("\"$(cat %s)\"", gen), true
		}
	}
	return fmt.Sprintf("\"$%s\"", env), false
}
