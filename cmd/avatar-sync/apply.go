package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/report"
	"github.com/avatar-project/avatar-sync/session"
	"github.com/avatar-project/avatar-sync/spec"
)

type applyOptions struct {
	applyFlags
	cluster         clusterFlags
	preflight       preflightFlags
	planFile        string
	autoApprove     bool
	allowMassDelete bool
	throttle        string
	reassignTimeout time.Duration
	noWait          bool
}

// applyFlags are the opt-ins and waits apply and watch share, bound once so that both commands
// say the same thing about them (issue 20: watch --help described --allow-delete as "deleting
// unmanaged topics", the opposite of the invariant).
type applyFlags struct {
	allowDataLoss bool
	allowDelete   bool
	force         bool
	lockTimeout   time.Duration
	// The Kubernetes plane's opt-ins and waits (issue 11).
	forceConflicts bool
	allowReplace   bool
	waitTimeout    time.Duration
}

func (a *applyFlags) bind(f *pflag.FlagSet) {
	f.BoolVar(&a.allowDataLoss, "allow-data-loss", false, "allow changes that can destroy records (lowered retention, compaction)")
	f.BoolVar(&a.allowDelete, "allow-delete", false, "allow deleting managed topics and principals that left the spec (also needs deletion: prune in the spec; unmanaged ones are never deleted)")
	f.BoolVar(&a.force, "force", false, "delete topics even while consumer groups hold offsets on them")
	f.DurationVar(&a.lockTimeout, "lock-timeout", 30*time.Second, "how long to wait for another apply's lock")
	f.BoolVar(&a.forceConflicts, "force-conflicts", false, "take Kubernetes fields owned by another field manager (kubectl edit, kubectl set image, another tool)")
	f.BoolVar(&a.allowReplace, "allow-replace", false, "recreate objects Kubernetes cannot change in place (volumeClaimTemplates), orphaning pods and volumes so they survive")
	f.DurationVar(&a.waitTimeout, "wait-timeout", 5*time.Minute, "how long to wait for each StatefulSet to become Ready (apply: also for the brokers of a fresh cluster to answer)")
}

func newApplyCmd(g *globalOptions, s *streams) *cobra.Command {
	o := &applyOptions{cluster: clusterFlags{objects: true}}
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Change the cluster to match the spec",
		Long: `apply computes the plan (or loads one saved with "plan --out FILE"), shows it, asks for
confirmation, and executes it under the cluster-wide apply lock, reporting progress per change on
stderr. Afterwards it reads the cluster again and proves that a fresh plan is empty.

Nothing destructive happens without a flag: changes that can lose data (lowered retention,
compaction turned on or off) need --allow-data-loss; deleting topics needs deletion: prune in the spec,
--allow-delete, and --force while consumer groups still hold offsets on them. Only topics in
avatar-sync's inventory (created or adopted by it) are ever deleted; a plan that deletes every
managed topic, or more than half of them, also needs --allow-mass-delete.

With --plan FILE the saved plan is applied exactly as reviewed, whatever the spec file says now;
it is refused when the cluster changed since, or when the file was edited.

For a target with kubernetes: the plan also holds the Kubernetes objects "render --build" makes,
applied first by server-side apply (field manager avatar-sync): namespace, secrets and config, then
the broker StatefulSets one at a time, each waited for until Ready and restarted only while every
partition it hosts stays in sync. Fields another field manager owns need --force-conflicts; a
change Kubernetes cannot make in place (volumeClaimTemplates) needs --allow-replace; objects that
left the render are deleted only with deletion: prune and --allow-delete. On a fresh cluster whose
brokers do not answer yet, apply creates the objects, waits for the brokers and then plans and
applies the topics (asking again unless --auto-approve).`,
		Example: `  avatar-sync apply -f avatar.yaml
  avatar-sync apply --auto-approve --cluster dev
  avatar-sync plan --out plan.json && avatar-sync apply --plan plan.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			ctx := cmd.Context()
			if err := g.checkOutput("text", "json"); err != nil {
				return err
			}
			var saved plans.Run
			var rate int64
			// A failing required device stops apply before it changes anything (issue 6); the
			// throttle and a saved plan are read before any target is opened.
			fleet, err := prelude(ctx, g, s, o.cluster, true, o.preflight, true, func(names []string, specs []*spec.Spec) (err error) {
				rate = specs[0].Reassignment.ThrottleBytesPerSec
				if cmd.Flags().Changed("throttle") {
					if rate, err = parseRate(o.throttle); err != nil {
						return err
					}
				}
				if o.planFile != "" {
					if saved, err = session.LoadRun(o.planFile, names); err != nil {
						return fmt.Errorf("--plan %w", err)
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			defer closeFleet(fleet, &err) // also releases a lock taken below and not applied under
			sp := fleet.Specs[0]
			if o.autoApprove {
				// Nobody reviews the plan between its read and its execution: take each target's
				// apply lock first, so that the plan's read (or the saved plan's check) is the read
				// under the lock and applying reads the cluster only to settle (issue 23; terraform
				// locks its state before refreshing). With a prompt the lock is taken after the
				// "yes": an answer may take minutes, and must not hold every other apply up.
				if err := fleet.Lock(ctx, o.options(rate), report.ApplyProgress(s.err)); err != nil {
					return err
				}
			}
			var run plans.Run
			if o.planFile == "" {
				run = fleet.Plan(ctx, reconcile.PlanOptions{AllowDelete: o.allowDelete})
			} else if run, err = fleet.CheckSaved(ctx, saved); err != nil {
				// The saved plan is applied, not today's file: the file only supplies the advisories.
				return err
			}
			if len(run.Targets) == 1 && run.Targets[0].Err != nil {
				return run.Targets[0].Err
			}
			results, err := o.apply(ctx, g, s, sp, fleet, run, rate)
			if err == nil { // once applied, the cluster is the one to pin (issue 21)
				for i, tp := range run.Targets {
					adviseClusterPin(s.err, sp, tp.Target, results[i].ClusterID)
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	o.cluster.bind(f)
	o.preflight.bind(f)
	o.applyFlags.bind(f)
	f.StringVar(&o.planFile, "plan", "", "apply this saved plan (from plan --out) instead of computing one")
	f.BoolVar(&o.autoApprove, "auto-approve", false, "apply without asking for confirmation")
	f.BoolVar(&o.allowMassDelete, "allow-mass-delete", false, "allow a plan that deletes every managed topic, or more than half of them")
	f.StringVar(&o.throttle, "throttle", "", "replication throttle during reassignments, e.g. 50MiB/s (default: the spec's reassignment.throttle)")
	f.DurationVar(&o.reassignTimeout, "reassign-timeout", 10*time.Minute, "how long to wait for replica reassignments to finish")
	f.BoolVar(&o.noWait, "no-wait", false, "do not wait for StatefulSets to become Ready (brokers roll without waiting; topics of a fresh cluster are left for the next apply)")
	return cmd
}

// apply shows the run, asks once, and applies it target by target through the session; with
// -o json one document on stdout at the end, people-facing text on stderr.
func (o *applyOptions) apply(ctx context.Context, g *globalOptions, s *streams, sp *spec.Spec, fleet *session.Fleet, run plans.Run, rate int64) ([]plans.Result, error) {
	multi := len(run.Targets) > 1
	out, prompt := s.out, s.out
	ro := report.RenderOptions{AllowDataLoss: o.allowDataLoss, AllowDelete: o.allowDelete, ForceConflicts: o.forceConflicts, AllowReplace: o.allowReplace}
	if g.output == "json" {
		out, prompt = s.err, s.err
		_ = report.RenderAdvisoryNotes(s.err, run) // the text plan shows them; with -o json, on stderr
	} else if err := renderRun(s.out, g, run, ro); err != nil {
		return nil, err
	}
	var viewErr error // the first result that could not be written: the apply goes on, the exit code says so
	hooks := session.ApplyHooks{
		Confirm: func(ctx context.Context, run plans.Run) error {
			if err := confirmRun(ctx, s.in, prompt, o.autoApprove, isTerminal(s.in), run); err != nil {
				return err
			}
			fmt.Fprintln(prompt)
			return nil
		},
		Progress: func(target string) reconcile.Progress {
			if multi { // the progress lines of several targets follow each other on stderr
				_ = report.RenderApplyingTarget(s.err, target) // stderr progress, like the lines under it
			}
			return report.ApplyProgress(s.err)
		},
		Applied: func(target string, p plans.Plan, res plans.Result, err error) {
			if multi {
				viewErr = cmp.Or(viewErr, report.RenderAppliedTarget(out, target, res, err))
			}
			if p.HasChanges() {
				viewErr = cmp.Or(viewErr, report.RenderApplyResultText(out, res, err))
			}
			if p.TopicsDeferred() && (o.planFile != "" || o.noWait) {
				viewErr = cmp.Or(viewErr, report.RenderDeferredText(out, target, res))
			}
		},
		Waiting: func(target string, timeout time.Duration) {
			viewErr = cmp.Or(viewErr, report.RenderWaitingForBrokers(out, target, timeout))
		},
		Replanned: func(ctx context.Context, target string, p plans.Plan) error {
			one := plans.Run{Targets: []plans.TargetPlan{{Target: target, Plan: p}}}
			if err := renderRun(s.out, g, one, ro); err != nil {
				return err
			}
			if !p.HasChanges() {
				return nil
			}
			return confirmRun(ctx, s.in, prompt, o.autoApprove, isTerminal(s.in), one)
		},
	}
	if g.output == "json" {
		hooks.Applied, hooks.Waiting, hooks.Replanned = nil, nil, nil
	}
	results, err := fleet.Apply(ctx, run, session.ApplyOptions{
		Apply: o.options(rate),
		// A fresh cluster (issue 11): once the objects are applied the brokers exist; the topics
		// need them. Not for a saved plan (its topics were not reviewed), nor with -o json.
		Continue:    o.planFile == "" && !o.noWait && g.output != "json",
		WaitTimeout: o.waitTimeout,
		Plan:        reconcile.PlanOptions{AllowDelete: o.allowDelete},
	}, hooks)
	if g.output == "json" {
		if rerr := report.RenderRunResultJSON(s.out, run, results, err); rerr != nil {
			return results, rerr
		}
	}
	return results, cmp.Or(err, viewErr)
}

// options are reconcile's opt-ins and limits of this apply; rate is the replication throttle.
func (o *applyOptions) options(rate int64) reconcile.ApplyOptions {
	return reconcile.ApplyOptions{
		AllowDataLoss:       o.allowDataLoss,
		AllowDelete:         o.allowDelete,
		AllowMassDelete:     o.allowMassDelete,
		Force:               o.force,
		ThrottleBytesPerSec: rate,
		LockWait:            o.lockTimeout,
		ReassignTimeout:     o.reassignTimeout,
		ForceConflicts:      o.forceConflicts,
		AllowReplace:        o.allowReplace,
		NoWait:              o.noWait,
		ObjectWaitTimeout:   o.waitTimeout,
	}
}

// confirm asks when stdin is interactive; otherwise it refuses rather than guess (issue #3).
// Ctrl-C at the prompt cancels ctx and ends the wait: a terminal read is not interrupted by the
// signal (main catches it), so the read runs aside and is abandoned.
func confirm(ctx context.Context, in io.Reader, prompt io.Writer, autoApprove, interactive bool, p plans.Plan) error {
	return confirmRun(ctx, in, prompt, autoApprove, interactive, plans.Run{Targets: []plans.TargetPlan{{Target: p.Cluster, Plan: p}}})
}

// confirmRun asks once for a whole run, naming every target in the order it is applied.
func confirmRun(ctx context.Context, in io.Reader, prompt io.Writer, autoApprove, interactive bool, run plans.Run) error {
	if autoApprove {
		return nil
	}
	if !interactive {
		return errors.New("apply needs confirmation but stdin is not a terminal: review the plan above and re-run with --auto-approve (or save it with plan --out FILE and apply --plan FILE --auto-approve)")
	}
	var targets []string
	for _, tp := range run.Targets {
		id := tp.Plan.ClusterID
		if tp.Plan.TopicsDeferred() {
			id = "unknown: its brokers did not answer when the plan was made"
		}
		targets = append(targets, fmt.Sprintf("%q (id %s)", tp.Target, id))
	}
	if len(targets) == 1 {
		fmt.Fprintf(prompt, "\nApply these changes to cluster %s?\n  Only 'yes' will be accepted: ", targets[0])
	} else {
		fmt.Fprintf(prompt, "\nApply these changes to %d targets, in this order, stopping at the first that fails: %s?\n  Only 'yes' will be accepted: ", len(targets), strings.Join(targets, ", "))
	}
	type answer struct {
		line string
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		line, err := bufio.NewReader(in).ReadString('\n')
		ch <- answer{line, err}
	}()
	var a answer
	select {
	case a = <-ch:
	case <-ctx.Done():
		fmt.Fprintln(prompt)
		return fmt.Errorf("apply cancelled: nothing was changed: %w", ctx.Err())
	}
	if a.err != nil && a.line == "" {
		return fmt.Errorf("read confirmation: %w", a.err)
	}
	if strings.TrimSpace(a.line) != "yes" {
		return errors.New("apply cancelled: nothing was changed")
	}
	return nil
}
