package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/kube"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/report"
	"github.com/avatar-project/avatar-sync/spec"
)

// clusterFlags are the connection flags plan and apply share.
type clusterFlags struct {
	stateDir           string
	insecureSkipVerify bool
	// serve is set by long-running commands (watch): an embedded cluster they start is announced
	// in the state directory, so plan/apply in another terminal join it rather than wait 30 s
	// for the directory and fail.
	serve bool
	// notice receives what the cluster adapter wants the user to know (an apply lock taken over
	// from a dead holder); nil prints "note: ..." on stderr. watch logs it instead.
	notice func(msg string)
	// readOnly is set by plan: the embedded cluster runs on a copy of its state and saves
	// nothing (issue 10).
	readOnly bool
	// objects is set by plan, apply and watch: a target with kubernetes: also connects its
	// Kubernetes plane, and may plan it while the brokers do not answer yet (issue 11).
	objects bool
}

func (f *clusterFlags) bind(cmdFlags interface {
	StringVar(p *string, name, value, usage string)
	BoolVar(p *bool, name string, value bool, usage string)
}) {
	cmdFlags.StringVar(&f.stateDir, "state-dir", clusters.DefaultStateDir, "where the embedded cluster keeps its state")
	bindInsecureSkipVerify(cmdFlags, &f.insecureSkipVerify)
}

// target is one connected cluster target.
type target struct {
	name   string
	pinned string // the spec's clusterId for this target ("" = not pinned)
	// admin is the Kafka plane; nil when the brokers of a target with kubernetes: did not answer
	// (kafkaErr says why).
	admin    *clusters.Admin
	kafkaErr error
	// objects is the Kubernetes plane (nil = no kubernetes: block, or not asked for).
	objects *kube.Plane
	// pl is the target's one planner: it remembers the live state it planned from, so apply
	// verifies the plan without reading the cluster again (issue 20). Rebuilt when the Kafka
	// plane connects later (a fresh cluster).
	pl *reconcile.Planner
}

// openTarget connects to --cluster (starting the embedded cluster when that is the target).
func openTarget(ctx context.Context, g *globalOptions, st *streams, s *spec.Spec, f clusterFlags) (*target, error) {
	if f.insecureSkipVerify {
		warnInsecureSkipVerify(st.err)
	}
	if f.notice == nil {
		f.notice = func(msg string) { fmt.Fprintf(st.err, "note: %s\n", msg) }
	}
	t := &target{name: g.cluster}
	if f.objects {
		var err error
		if t.objects, err = openObjects(ctx, s, g.cluster); err != nil {
			return nil, err
		}
	}
	if err := t.openKafka(ctx, st, s, f); err != nil && t.objects == nil {
		return nil, err
	}
	if c, err := s.Target(g.cluster); err == nil {
		t.pinned = c.ClusterID
	}
	return t, nil
}

// openKafka connects the Kafka plane. For a target with a Kubernetes plane a failure is kept in
// kafkaErr: on a fresh cluster the brokers do not exist until apply creates them.
func (t *target) openKafka(ctx context.Context, st *streams, s *spec.Spec, f clusterFlags) error {
	a, err := clusters.Open(ctx, s, t.name, clusters.Options{
		StateDir: f.stateDir, InsecureSkipVerify: f.insecureSkipVerify, Advertise: f.serve, ReadOnly: f.readOnly,
		Waiting: func(busy error) {
			fmt.Fprintf(st.err, "%v; waiting for it to finish ...\n", busy)
		},
		Notice: f.notice,
	})
	t.admin, t.kafkaErr = a, err
	return err
}

// planner is the one producer of plans for this target (reconcile.Planner); commands only choose
// what to do with the plan.
func (t *target) planner() *reconcile.Planner {
	if t.pl != nil && (t.pl.Cluster != nil) == (t.admin != nil) {
		return t.pl
	}
	pl := &reconcile.Planner{Target: t.name, PinnedClusterID: t.pinned, Certs: certAdvisories, Now: certsClock, ClusterErr: t.kafkaErr}
	// Interface fields stay nil unless set: a nil *Admin in an interface is not a nil Cluster.
	if t.admin != nil {
		pl.Cluster = t.admin
	}
	if t.objects != nil {
		pl.Objects = t.objects
	}
	t.pl = pl
	return pl
}

// renderPlan writes p in the -o format. ro carries the opt-ins apply was given (zero for plan).
func renderPlan(w io.Writer, g *globalOptions, p reconcile.Plan, ro report.RenderOptions) error {
	switch g.output {
	case "json":
		return report.RenderJSON(w, p)
	case "markdown":
		return report.RenderMarkdown(w, p)
	default:
		ro.Color = g.color(w)
		return report.RenderText(w, p, ro)
	}
}

// isTerminal reports whether r is an interactive terminal (a confirmation prompt makes sense).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	// /dev/null is a character device too (cron, CI runners, `< /dev/null`), but nobody types there.
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(st, null)
}

// parseRate reads a throttle such as "50MiB/s", "10MB", "1048576" into bytes per second.
func parseRate(s string) (int64, error) {
	n, err := spec.ParseRate(s) // the file's reassignment.throttle reads the same way (issue 9)
	if err != nil {
		return 0, fmt.Errorf("--throttle %w", err)
	}
	return n, nil
}

// closeTarget closes t and keeps the command's first error. For the embedded target Close is
// where the state is saved, so a failed save must not end an apply with exit 0.
func closeTarget(t *target, err *error) {
	if t.admin == nil {
		return
	}
	if cerr := t.admin.Close(); cerr != nil && *err == nil {
		*err = cerr
	}
}

// waitForKafka connects the Kafka plane of a fresh cluster once its brokers answer, retrying for up
// to timeout (issue 11: apply creates the brokers, then plans the topics).
func (t *target) waitForKafka(ctx context.Context, st *streams, s *spec.Spec, f clusterFlags, timeout time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if t.openKafka(wctx, st, s, f) == nil {
			return nil
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("target %s: the brokers did not answer within %s (%v); the Kubernetes objects are applied: run apply again once the brokers answer", t.name, timeout, t.kafkaErr)
		case <-time.After(2 * time.Second):
		}
	}
}
