// Package daemon is `avatar-sync watch` below cmd (issue 20): the loop driver and its passes over
// one or several targets (watch --cluster a,b), git revision tracking (watch --git), webhook
// notifications, Prometheus metrics with /healthz and /readyz, the status page server, and the
// daemon's logging with redaction. cmd binds and checks the flags, builds a Config and calls Run.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/session"
	"github.com/avatar-project/avatar-sync/spec"
)

// The modes of --mode: heal applies what the flags allow, report only plans and reports drift.
const (
	ModeHeal   = "heal"
	ModeReport = "report"
)

// Git is what --git follows (issue 12): the spec at Path of the newest commit of Branch.
type Git struct {
	URL      string // "" = follow File instead
	Branch   string
	Path     string
	Interval time.Duration // fetch this often
	// Plugins runs the external device plugins the followed branch names (issue 21).
	Plugins bool
}

// Config is one daemon: what it follows, the targets it keeps in agreement and how.
type Config struct {
	// File is the spec file (-f), re-read on every pass; unused with Git.URL.
	File string
	// Targets are the spec's cluster targets, reconciled in this order on every pass.
	Targets []string
	// Interval also reconciles this often (0: only on changes); Debounce lets the file settle.
	Interval, Debounce time.Duration
	// MetricsAddr serves /metrics, /healthz, /readyz and the status page ("" = none).
	MetricsAddr string
	// Apply are the opt-ins every pass applies with (never more).
	Apply reconcile.ApplyOptions
	Mode  string // ModeHeal (default) or ModeReport
	Git   Git
	// Notify are webhook URLs told about each state change.
	Notify []string
	// Session is how targets are opened; Notice is set per target by the daemon (it logs them).
	// StateDir also holds the git clone and the status page's pass journal.
	Session session.Options
	// Preflight shows the probe of a target with preflight: true, run before each pass by the
	// session's prelude (cmd prints the device table and refuses in its words); a failing
	// required device fails the pass. Zero: the pass fails with the session's *PreflightError.
	Preflight session.PreflightHooks
	// Log is the daemon's log (NewLogger: URL user information hidden on every line).
	Log *slog.Logger
}

// daemon holds what outlives one pass: the targets' connections, the metrics, the git tracking.
type daemon struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	gx      *gitops
	targets []*follower
	fleet   bool // more than one target: metrics and log lines carry the target

	started time.Time
	passLog *slog.Logger // log with the pass's revision on every line
	fatal   error        // stops the daemon: a target the spec does not declare, at start
}

// Run runs the daemon until ctx ends (nil) or it cannot go on: a target the spec does not declare
// at start (the did-you-mean error), a --metrics-addr it cannot listen on, a source that stopped.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Mode == "" {
		cfg.Mode = ModeHeal
	}
	if len(cfg.Targets) == 0 {
		return errors.New("watch needs a cluster target (--cluster)")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	d := &daemon{cfg: cfg, log: cfg.Log, fleet: len(cfg.Targets) > 1}
	d.metrics = newMetrics(d.fleet)
	d.metrics.order = cfg.Targets
	for _, name := range cfg.Targets {
		f := &follower{d: d, name: name}
		d.targets = append(d.targets, f)
		d.metrics.addTarget(f.labels())
	}
	defer d.close()
	d.gx = newGitops(&d.cfg, d.log, d.metrics.reg, d.fleet)
	defer d.gx.close()
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	if cfg.MetricsAddr != "" {
		d.enableStatusPage() // "/" (issue 13): board.go
		addr, err := d.metrics.serve(ctx, cfg.MetricsAddr, d.log)
		if err != nil {
			return err
		}
		d.log.Info("serving metrics", "addr", addr.String(), "paths", d.paths())
	}
	d.log.Info("watching", append(d.gx.describe(cfg.File), "cluster", strings.Join(cfg.Targets, ","), "interval", cfg.Interval.String())...)
	err := reconcile.Loop(ctx, d.gx.source(cfg.File, cfg.Debounce), d.gx.loopOptions(cfg.Interval),
		func(ctx context.Context, tr reconcile.Trigger) error { return d.pass(ctx, tr, stop) }, d.report)
	stop()
	d.gx.wait() // the poller's git ends with the daemon, not after it
	if d.fatal != nil {
		return d.fatal
	}
	if errors.Is(err, context.Canceled) {
		d.log.Info("stopped")
		return nil
	}
	if errors.Is(err, reconcile.ErrSourceClosed) {
		return fmt.Errorf("stopped watching %s: %w; with --interval watch keeps reconciling on the timer", cfg.File, err)
	}
	return err
}

func (d *daemon) close() {
	for _, f := range d.targets {
		f.close()
	}
}

// pass is one level-triggered reconcile of every target, in the order given: a failing target
// does not stop the others (it is logged, counted and keeps /readyz not ready). The spec is
// fetched once (--git) and read per target, with that target's overrides.
func (d *daemon) pass(ctx context.Context, tr reconcile.Trigger, stop context.CancelFunc) error {
	d.started = time.Now()
	for _, f := range d.targets {
		f.reset()
	}
	file, log, err := d.gx.specFile(ctx, tr, d.cfg.File)
	d.passLog = log
	if err != nil {
		for _, f := range d.targets {
			f.err = err
			f.current.interrupted = ctx.Err() != nil
			if f.board != nil {
				f.board.afterPass(ctx, f, tr, err)
			}
		}
		return err
	}
	log.Debug("pass", "trigger", tr.Reason)
	var errs []error
	for i, f := range d.targets {
		if i > 0 {
			f.started = time.Now()
		}
		f.err = f.pass(ctx, file, log)
		f.current.interrupted = ctx.Err() != nil
		// While no spec has been read yet, a target the spec does not declare is a typo on the
		// command line, which no retry can fix: the daemon stops with the did-you-mean error
		// (issue 21). Once a spec was read, a commit that drops the target is an ordinary failed
		// pass, and the last good state stays.
		var unknown *spec.UnknownTargetError
		if !f.specRead && errors.As(f.err, &unknown) {
			d.fatal = f.err
			stop()
			return f.err
		}
		if f.board != nil {
			f.board.afterPass(ctx, f, tr, f.err)
		}
		if f.err != nil {
			errs = append(errs, f.wrap(f.err))
		}
	}
	return errors.Join(errs...)
}

// report records a finished pass per target: metrics, notifications, the failure log; then the
// revision in force (every target succeeded).
func (d *daemon) report(tr reconcile.Trigger, err error) {
	if d.fatal != nil {
		return // the daemon stops with this error
	}
	now := time.Now()
	interrupted := false
	for _, f := range d.targets {
		f.current.duration, f.current.err = now.Sub(f.started), f.err
		d.metrics.observe(f.labels(), f.name, f.current, now)
		d.gx.finish(d.passLog, tr, f)
		if f.current.interrupted {
			interrupted = true
			continue
		}
		f.logFailure(d.passLog, tr, f.err) // once, then periodically with a count (issue 21)
	}
	if err == nil && !interrupted {
		d.gx.inForceNow()
	}
}
