package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/avatar-project/avatar-sync/health"
	"github.com/avatar-project/avatar-sync/report"
	"github.com/avatar-project/avatar-sync/session"
	"github.com/avatar-project/avatar-sync/spec"
)

type statusOptions struct {
	cluster clusterFlags
	group   string
	watch   time.Duration
}

func newStatusCmd(g *globalOptions, s *streams) *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Is the cluster healthy, in sync with the spec, and are the consumers keeping up?",
		Long: `status reads the live cluster and answers in one screen (issue 13): brokers against the spec
(a missing broker is named), per managed topic its partitions, replicas and in-sync replicas with
under-replicated, offline and under-min-ISR partitions and leader balance, consumer groups with
their lag per topic and partition (committed offset against log-end offset), and whether the cluster
agrees with the spec (the same plan as "avatar-sync plan"). It changes nothing.

Exit 0 when healthy, 1 when unhealthy: a spec broker missing or unreachable, an offline or
under-min-ISR partition of a managed topic, or a part of the cluster that could not be read.
Under-replicated partitions, pending changes and lag are shown but do not fail.

--watch 5s samples again every 5 seconds, redrawing in place in a terminal and printing plain
blocks when piped, and shows how fast each group's lag grows (+) or shrinks (-).
The JSON document (-o json) is described in docs/status.md.`,
		Example: `  avatar-sync status --cluster microk8s
  avatar-sync status --group prediction --watch 5s
  avatar-sync status -o json | jq '.groups[] | {name, lag}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if err := g.checkOutput("text", "json"); err != nil {
				return err
			}
			if o.watch < 0 || (o.watch > 0 && o.watch < time.Second) {
				return fmt.Errorf("--watch %s: use at least 1s", o.watch)
			}
			ctx := cmd.Context()
			names, specs, err := loadFleet(ctx, g, s)
			if err != nil {
				return err
			}
			sp := specs[0]
			o.cluster.readOnly = true // like plan: never writes the embedded cluster's state
			o.cluster.objects = true  // a target with kubernetes: shows its StatefulSets and drift
			if len(names) > 1 {
				if o.watch > 0 {
					return fmt.Errorf("--watch samples one target; --cluster %s names %d: run one status --watch per target", g.cluster, len(names))
				}
				return fleetStatus(ctx, g, s, specs, names, o)
			}
			t, err := openTarget(ctx, g, s, sp, o.cluster)
			if err != nil {
				return err
			}
			defer closeTarget(t, &err)
			if o.watch == 0 {
				r, err := sampleStatus(ctx, t, sp, t.Name, o.group, "report")
				if err != nil {
					return err
				}
				if err := renderStatus(s.out, g, r); err != nil {
					return err
				}
				return statusExit(r)
			}
			return watchStatus(ctx, g, s, t, sp, o)
		},
	}
	f := cmd.Flags()
	o.cluster.bind(f)
	f.StringVar(&o.group, "group", "", "show only this consumer group")
	f.DurationVar(&o.watch, "watch", 0, "sample again at this interval until Ctrl-C, with lag rates (e.g. 5s)")
	return cmd
}

// sampleStatus is session.Sample: one read of the target, planned against the spec.
func sampleStatus(ctx context.Context, t *session.Target, sp *spec.Spec, cluster, group, mode string) (health.Report, error) {
	return session.Sample(ctx, t, sp, cluster, group, mode)
}

// fleetStatus is status --cluster a,b: every target sampled concurrently, one section per target
// (text) or one document with every target's report (JSON); a target that cannot be reached is an
// unhealthy report of its own. Exit 1 when any target is unhealthy.
func fleetStatus(ctx context.Context, g *globalOptions, s *streams, specs []*spec.Spec, names []string, o *statusOptions) (err error) {
	fleet := openFleet(ctx, s, specs, names, o.cluster)
	defer closeFleet(fleet, &err)
	reports := fleet.Status(ctx, o.group, "report")
	if g.output == "json" {
		err = report.RenderFleetStatusJSON(s.out, reports)
	} else {
		err = report.RenderFleetStatusText(s.out, reports, g.color(s.out))
	}
	if err != nil {
		return err
	}
	if !report.FleetHealthy(reports) {
		return withExitCode(exitError, nil)
	}
	return nil
}

func renderStatus(w io.Writer, g *globalOptions, r health.Report) error {
	if g.output == "json" {
		return report.RenderStatusJSON(w, r)
	}
	return report.RenderStatusText(w, r, g.color(w))
}

// statusExit maps the report to the exit code: 1 when unhealthy, with the problems already printed.
func statusExit(r health.Report) error {
	if !r.Healthy {
		return withExitCode(exitError, nil)
	}
	return nil
}

// watchStatus samples every o.watch until Ctrl-C. In a terminal each sample replaces the previous
// screen; piped, samples follow each other as plain blocks headed by their time. The exit code is
// the last sample's.
func watchStatus(ctx context.Context, g *globalOptions, s *streams, t *session.Target, sp *spec.Spec, o *statusOptions) error {
	inPlace := g.output == "text" && isTerminalWriter(s.out)
	var prev *health.Report
	tick := time.NewTicker(o.watch)
	defer tick.Stop()
	for {
		r, err := sampleStatus(ctx, t, sp, t.Name, o.group, "report")
		if ctx.Err() != nil && prev != nil {
			return statusExit(*prev) // Ctrl-C during a sample: keep the last complete screen
		}
		if err != nil {
			return err
		}
		if prev != nil {
			r = health.WithRates(*prev, r)
		}
		switch {
		case inPlace:
			fmt.Fprint(s.out, "\x1b[H\x1b[2J") // home + clear: redraw in place
		case g.output == "text" && prev != nil:
			fmt.Fprintln(s.out)
		}
		if g.output == "text" && !inPlace {
			fmt.Fprintf(s.out, "--- %s\n", r.Time.Format(time.RFC3339))
		}
		if err := renderStatus(s.out, g, r); err != nil {
			return err
		}
		prev = &r
		select {
		case <-ctx.Done():
			return statusExit(r)
		case <-tick.C:
		}
	}
}

// isTerminalWriter reports whether w is a terminal (status --watch redraws in place there).
func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
