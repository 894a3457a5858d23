package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/internal/gctune"
	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/report"
	"github.com/avatar-project/avatar-sync/session"
	"github.com/avatar-project/avatar-sync/spec"
)

type planOptions struct {
	cluster          clusterFlags
	preflight        preflightFlags
	detailedExitcode bool
	out              string
	allowDelete      bool
	// plugins runs external device plugins (validate op, and check op with --preflight); off by
	// default because CI runs plan on pull requests, whose plugin: paths are code chosen by their
	// author (issue 10 item 7), as validate does.
	plugins bool
}

func newPlanCmd(g *globalOptions, s *streams) *cobra.Command {
	o := &planOptions{cluster: clusterFlags{objects: true}}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would change on the cluster",
		Long: `plan reads the live cluster, compares it with the spec and prints the changes apply would make:
+ create, ~ update, - delete, ! unsupported, with risks (DATA LOSS, HEAVY) marked. It changes nothing.

With --out FILE the plan is saved (JSON, see docs/plan-json.md) with the desired state it was
computed from, a fingerprint of the live state and a digest of its content; "apply --plan FILE"
applies exactly that plan, refuses it once the cluster changed, and refuses a file that was edited.
Certificates that need work are listed as advisories: they are not changes (apply does not issue
certificates; run "avatar-sync certs generate").

plan runs no external device plugin (plugin:, avatar-sync-plugin-<kind>) unless --plugins is given:
CI runs plan on pull requests, and a plugin named there is code chosen by its author. Without it,
those devices' parameters are not checked and --preflight does not probe them (apply always runs
them). See "Safety guarantees" in docs/operations.md for what plan on an untrusted spec does.

For a target with kubernetes: the plan also holds the Kubernetes objects "render --build" makes,
diffed against the live API server by server-side apply dry run (KUBECONFIG, the target's context):
each changed field as "path: before → after", Secret values only as (sensitive), fields another
field manager owns as conflicts naming it, and "! replace" for changes Kubernetes cannot make in
place. While the brokers do not answer (a fresh cluster) the topics are not planned;
--detailed-exitcode then exits 2.`,
		Example: `  avatar-sync plan -f avatar.yaml
  avatar-sync plan --detailed-exitcode -o markdown > plan.md
  avatar-sync plan --cluster dev --out plan.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if err := g.checkOutput("text", "json", "markdown"); err != nil {
				return err
			}
			defer gctune.ForCommand()() // a lazier collector (issue 23)
			// plan only reports: a failing device is a warning on stderr, the plan still prints.
			o.cluster.readOnly = true // plan never writes the embedded cluster's state
			fleet, err := prelude(cmd.Context(), g, s, o.cluster, o.plugins, o.preflight, false, nil)
			if err != nil {
				return err
			}
			defer closeFleet(fleet, &err)
			sp := fleet.Specs[0] // the pins are advised against the spec's own targets
			run := fleet.Plan(cmd.Context(), reconcile.PlanOptions{AllowDelete: o.allowDelete})
			if len(run.Targets) == 1 && run.Targets[0].Err != nil {
				return run.Targets[0].Err
			}
			if err := renderRun(s.out, g, run, report.RenderOptions{}); err != nil {
				return err
			}
			return o.conclude(s, g.file, sp, run)
		},
	}
	f := cmd.Flags()
	o.cluster.bind(f)
	o.preflight.bind(f)
	f.BoolVar(&o.detailedExitcode, "detailed-exitcode", false, "exit 0 when in sync, 2 when changes are pending, 1 on error")
	f.StringVar(&o.out, "out", "", "save the plan (JSON with the live-state fingerprint) for apply --plan")
	f.BoolVar(&o.plugins, "plugins", false, "also run external device plugins (their validate op; their probe with --preflight): executes the spec's plugins, use only on a spec you trust")
	f.BoolVar(&o.allowDelete, "allow-delete", false, "plan deleting managed topics and principals that left the spec (also needs deletion: prune in the spec; unmanaged ones are never deleted)")
	return cmd
}

// conclude advises pins, saves the run and picks the exit code: 1 when a target could not be
// planned or has unsupported changes, else with --detailed-exitcode 2 when any target has changes
// or topics that could not be planned (they are not known to be in sync).
func (o *planOptions) conclude(s *streams, specFile string, sp *spec.Spec, run plans.Run) error {
	pending := false
	for _, tp := range run.Targets {
		if tp.Err == nil {
			adviseClusterPin(s.err, sp, tp.Target, tp.Plan.ClusterID)
			pending = pending || tp.Plan.HasChanges() || tp.Plan.TopicsDeferred()
		}
	}
	if failed := run.Failed(); len(failed) > 0 {
		_ = report.RenderPlanOut(s.err, report.PlanOut{Path: o.out})
		names := make([]string, len(failed))
		for i, tp := range failed {
			names[i] = tp.Target
		}
		return fmt.Errorf("%d of %d targets could not be planned (%s): see their sections above", len(failed), len(run.Targets), strings.Join(names, ", "))
	}
	if o.out != "" {
		if err := session.SaveRun(o.out, run); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		_ = report.RenderPlanOut(s.err, report.PlanOut{Path: o.out, Saved: true, ApplyLine: applyPlanLine(specFile, o.out, o.cluster.stateDir, run)})
	}
	if n := run.Summary().Unsupported; n > 0 {
		return fmt.Errorf("the plan has %d unsupported change(s) (marked !): change the spec as each one says", n)
	}
	if o.detailedExitcode && pending {
		return withExitCode(exitChanges, nil)
	}
	return nil
}

// applyPlanLine is the apply of a saved plan, printed by plan --out to be copied: the same -f and
// --state-dir when they are not the defaults, and the plan's targets as --cluster unless that is
// the default (apply refuses a plan of other targets than its --cluster).
func applyPlanLine(specFile, out, stateDir string, run plans.Run) string {
	args := []string{"avatar-sync", "apply", "--plan", out}
	if specFile != defaultSpecFile {
		args = append(args, "-f", specFile)
	}
	names := make([]string, len(run.Targets))
	for i, tp := range run.Targets {
		names[i] = tp.Target
	}
	if cluster := strings.Join(names, ","); cluster != defaultTarget {
		args = append(args, "--cluster", cluster)
	}
	if stateDir != clusters.DefaultStateDir {
		args = append(args, "--state-dir", stateDir)
	}
	return shellLine(args...)
}
