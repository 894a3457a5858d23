package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/reconcile"
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
	// readOnly is set by plan: the embedded cluster runs on a copy of its state and saves
	// nothing (issue 10).
	readOnly bool
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
	admin  *clusters.Admin
}

// openTarget connects to --cluster (starting the embedded cluster when that is the target).
func openTarget(ctx context.Context, g *globalOptions, st *streams, s *spec.Spec, f clusterFlags) (*target, error) {
	if f.insecureSkipVerify {
		warnInsecureSkipVerify(st.err)
	}
	a, err := clusters.Open(ctx, s, g.cluster, clusters.Options{
		StateDir: f.stateDir, InsecureSkipVerify: f.insecureSkipVerify, Advertise: f.serve, ReadOnly: f.readOnly,
		Waiting: func(busy error) {
			fmt.Fprintf(st.err, "%v; waiting for it to finish ...\n", busy)
		},
	})
	if err != nil {
		return nil, err
	}
	t := &target{name: g.cluster, admin: a}
	if c, ok := s.FindCluster(g.cluster); ok {
		t.pinned = c.ClusterID
	}
	return t, nil
}

// computePlan reads the live state, checks the cluster's identity before anything else, and diffs.
func (t *target) computePlan(ctx context.Context, s *spec.Spec, allowDelete bool) (reconcile.Plan, error) {
	live, err := t.admin.Describe(ctx)
	if err != nil {
		return reconcile.Plan{}, fmt.Errorf("read cluster %q: %w", t.name, err)
	}
	if err := reconcile.CheckClusterID(t.pinned, reconcile.Plan{Cluster: t.name}, live.ClusterID); err != nil {
		return reconcile.Plan{}, err
	}
	return reconcile.Diff(s, live, reconcile.DiffOptions{Cluster: t.name, AllowDelete: allowDelete}), nil
}

// checkSaved refuses a saved plan for another cluster, or one the cluster has moved on from,
// before it is shown and confirmed; Apply checks both again under the lock.
func (t *target) checkSaved(ctx context.Context, p reconcile.Plan) error {
	live, err := t.admin.Describe(ctx)
	if err != nil {
		return fmt.Errorf("read cluster %q: %w", t.name, err)
	}
	if err := reconcile.CheckClusterID(t.pinned, p, live.ClusterID); err != nil {
		return err
	}
	if fp := reconcile.Fingerprint(live); fp != p.Fingerprint {
		return fmt.Errorf("%w: the cluster changed since the plan was saved; run plan again and review the new plan", reconcile.ErrStalePlan)
	}
	return nil
}

// renderPlan writes p in the -o format. ro carries the opt-ins apply was given (zero for plan).
func renderPlan(w io.Writer, g *globalOptions, p reconcile.Plan, ro reconcile.RenderOptions) error {
	switch g.output {
	case "json":
		return reconcile.RenderJSON(w, p)
	case "markdown":
		return reconcile.RenderMarkdown(w, p)
	default:
		ro.Color = g.color(w)
		return reconcile.RenderText(w, p, ro)
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
	v := strings.TrimSuffix(strings.TrimSpace(s), "/s")
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			v, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("--throttle %q: want a rate such as 50MiB/s, 10MB/s or bytes per second (0 = no throttle)", s)
	}
	return n * mult, nil
}

// closeTarget closes t and keeps the command's first error. For the embedded target Close is
// where the state is saved, so a failed save must not end an apply with exit 0.
func closeTarget(t *target, err *error) {
	if cerr := t.admin.Close(); cerr != nil && *err == nil {
		*err = cerr
	}
}
