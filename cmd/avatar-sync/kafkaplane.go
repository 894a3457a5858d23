package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/report"
	"github.com/avatar-project/avatar-sync/session"
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

// openTarget connects to --cluster (starting the embedded cluster when that is the target).
func openTarget(ctx context.Context, g *globalOptions, st *streams, s *spec.Spec, f clusterFlags) (*session.Target, error) {
	warnInsecure(st, f)
	return session.Open(ctx, s, g.cluster, sessionOptions(st, f))
}

// openFleet connects every target of names concurrently (--cluster dev,lab); a target that
// cannot be reached keeps its error in the fleet.
func openFleet(ctx context.Context, st *streams, specs []*spec.Spec, names []string, f clusterFlags) *session.Fleet {
	warnInsecure(st, f)
	return session.OpenFleet(ctx, specs, names, sessionOptions(st, f))
}

// prelude is session.Prepare for plan and apply: the spec for --cluster, its devices, the
// preflight (refuse: apply's policy) and the open targets; what it finds goes to stderr. opening
// (nil: nothing) is the command's last check before anything connects.
func prelude(ctx context.Context, g *globalOptions, st *streams, f clusterFlags, plugins bool, pf preflightFlags, refuse bool,
	opening func(names []string, specs []*spec.Spec) error) (*session.Fleet, error) {
	return session.Prepare(ctx, session.PrepareOptions{
		File: g.file, Stdin: st.in, Targets: g.cluster, Plugins: plugins,
		Preflight: preflightPolicy(g, st, pf, refuse),
		Open:      sessionOptions(st, f),
		Events: session.PrepareEvents{
			Warnings: func(ds spec.Diagnostics) {
				for _, w := range ds {
					fmt.Fprintln(st.err, w)
				}
			},
			PluginsNotRun: func(notRun []string) { notePluginsNotRun(st, notRun) },
			Opening: func(names []string, specs []*spec.Spec) error {
				if opening != nil {
					if err := opening(names, specs); err != nil {
						return err
					}
				}
				warnInsecure(st, f)
				return nil
			},
		},
	})
}

// warnInsecure is warnInsecureSkipVerify when --insecure-skip-verify is given.
func warnInsecure(st *streams, f clusterFlags) {
	if f.insecureSkipVerify {
		warnInsecureSkipVerify(st.err)
	}
}

// loadFleet is session.LoadFleet with the warnings on stderr, as loadSpec shows them.
func loadFleet(ctx context.Context, g *globalOptions, s *streams) ([]string, []*spec.Spec, error) {
	names, specs, warnings, err := session.LoadFleet(ctx, g.file, s.in, g.cluster)
	for _, w := range warnings {
		fmt.Fprintln(s.err, w)
	}
	return names, specs, err
}

// sessionOptions are the session's connection options from the flags, with the notices on stderr.
func sessionOptions(st *streams, f clusterFlags) session.Options {
	// A fleet's targets open concurrently: one line at a time on stderr.
	var mu sync.Mutex
	if f.notice == nil {
		f.notice = func(msg string) { fmt.Fprintf(st.err, "note: %s\n", msg) }
	}
	notice := f.notice
	return session.Options{
		StateDir: f.stateDir, InsecureSkipVerify: f.insecureSkipVerify, Serve: f.serve, ReadOnly: f.readOnly, Objects: f.objects,
		Notice: func(msg string) { mu.Lock(); defer mu.Unlock(); notice(msg) },
		Waiting: func(busy error) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(st.err, "%v; waiting for it to finish ...\n", busy)
		},
		Now: func() time.Time { return certsClock() },
	}
}

// adviseClusterPin prints session.PinAdvice on w.
func adviseClusterPin(w io.Writer, sp *spec.Spec, target, clusterID string) {
	fmt.Fprint(w, session.PinAdvice(sp, target, clusterID))
}

// renderRun writes the run in the -o format: one section per target and the fleet's summary (a
// one-target run is that target's plan). ro carries the opt-ins apply was given (zero for plan).
func renderRun(w io.Writer, g *globalOptions, run plans.Run, ro report.RenderOptions) error {
	switch g.output {
	case "json":
		return report.RenderRunJSON(w, run)
	case "markdown":
		return report.RenderRunMarkdown(w, run)
	default:
		ro.Color = g.color(w)
		return report.RenderRunText(w, run, ro)
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
func closeTarget(t *session.Target, err *error) {
	if cerr := t.Close(); cerr != nil && *err == nil {
		*err = cerr
	}
}

// closeFleet closes every target and keeps the command's first error (the embedded target saves
// its state on Close).
func closeFleet(f *session.Fleet, err *error) {
	if cerr := f.Close(); cerr != nil && *err == nil {
		*err = cerr
	}
}
