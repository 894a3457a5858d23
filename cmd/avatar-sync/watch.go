package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/spf13/cobra"

	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/report"
	"github.com/avatar-project/avatar-sync/session"
	"github.com/avatar-project/avatar-sync/spec"
)

type watchOptions struct {
	applyFlags  // the opt-ins apply has too, bound by the same code (issue 20)
	cluster     clusterFlags
	interval    time.Duration
	debounce    time.Duration
	metricsAddr string
	gitops      gitopsOptions // --git, --mode, --notify (issue 12): watch_gitops.go
}

func newWatchCmd(g *globalOptions, s *streams) *cobra.Command {
	// The daemon holds the embedded cluster for as long as it runs: serve it to other processes.
	o := &watchOptions{cluster: clusterFlags{serve: true, objects: true}}
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Keep the cluster in agreement with the spec, as a daemon",
		Long: `watch runs plan → apply whenever the spec file changes and every --interval (to undo drift
made by hand on the cluster), until SIGINT/SIGTERM. Each pass re-reads the file and the cluster from
scratch (level-triggered), so a missed event costs at most one interval.

watch applies without asking, but never more than the flags allow: changes that can lose data still
need --allow-data-loss and deletions --allow-delete (plus deletion: prune in the spec). A plan that
deletes every managed topic, or more than half of them, is always refused: watch has no
--allow-mass-delete (run apply by hand for that). A refused,
invalid or failed pass is logged and retried with back-off; the daemon keeps running. Logs are one
line per event on stderr (-o json: JSON lines for a log collector).

For a target with kubernetes: each pass also plans and applies the Kubernetes objects (before the
topics, brokers rolled one at a time): an object changed behind avatar-sync's back (kubectl edit,
kubectl set image) is reported as drift and restored; fields another field manager took need
--force-conflicts, a replace needs --allow-replace, as with apply.

With --metrics-addr it serves Prometheus metrics on /metrics, /healthz (the process runs) and
/readyz (the last pass succeeded) for the MicroK8s host's monitoring, and on / a status page
(cluster health, consumer lag, last pass, drift, certificates, devices; docs/status.md).

With --git it follows a branch instead of -f (GitOps, docs/watch.md): a private clone under
--state-dir is fetched every --git-interval and the spec at --path of the newest commit is
reconciled; the commit is named in every log line and in /metrics. --mode report plans and reports
drift without changing the cluster; --notify posts webhooks on each state change.`,
		Example: `  avatar-sync watch -f /etc/avatar/avatar.yaml --cluster microk8s --interval 5m
  avatar-sync watch --git https://git.example.org/avatar/lab.git --path lab/avatar.yaml --cluster microk8s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.checkOutput("text", "json"); err != nil {
				return err
			}
			if err := o.gitops.check(cmd); err != nil {
				return err
			}
			if g.file == "-" && o.gitops.gitURL == "" {
				// stdin is read once and is then empty: every later pass would fail (issue 10).
				return errors.New("watch cannot read the spec from stdin (-f -): it re-reads the file on every change; pass a file path")
			}
			log := newLogger(g, s)
			w := &watcher{g: g, s: s, o: o, log: log, metrics: newWatchMetrics()}
			defer w.close()
			w.gx = newGitops(&o.gitops, g, o.cluster.stateDir, log, w.metrics.reg)
			defer w.gx.close()
			// A --cluster typo ends the daemon at start (issue 21): watch_logging.go.
			ctx, stop := context.WithCancel(cmd.Context())
			defer stop()
			pass := w.pass
			if o.metricsAddr != "" {
				w.enableStatusPage() // "/" (issue 13): watch_status.go
				pass = w.passAndRefreshStatus
				addr, err := w.metrics.serve(ctx, o.metricsAddr, log)
				if err != nil {
					return err
				}
				log.Info("serving metrics", "addr", addr.String(), "paths", "/ /metrics /healthz /readyz")
			}
			log.Info("watching", append(w.gx.describe(g.file), "cluster", g.cluster, "interval", o.interval.String())...)
			err := reconcile.Loop(ctx, w.gx.source(g.file, o.debounce),
				w.gx.loopOptions(o.interval), w.stopOnUnknownTarget(pass, stop), w.report)
			if w.fatal != nil {
				return w.fatal
			}
			if errors.Is(err, context.Canceled) {
				log.Info("stopped")
				return nil
			}
			if errors.Is(err, reconcile.ErrSourceClosed) {
				return fmt.Errorf("stopped watching %s: %w; with --interval watch keeps reconciling on the timer", g.file, err)
			}
			return err
		},
	}
	f := cmd.Flags()
	o.cluster.bind(f)
	f.DurationVar(&o.interval, "interval", 5*time.Minute, "also reconcile this often, to undo drift (0 = only on file changes)")
	f.DurationVar(&o.debounce, "debounce", 300*time.Millisecond, "wait for the file to settle this long after a change")
	o.applyFlags.bind(f)
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics, /healthz, /readyz and the status page / on this address (e.g. :9464)")
	o.gitops.bind(f)
	return cmd
}

// newLogger logs to stderr: text for people, JSON lines with -o json.
func newLogger(g *globalOptions, s *streams) *slog.Logger {
	level := slog.LevelInfo
	if g.verbose > 0 {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	// Any URL's user information is hidden from every line (issue 21): watch_redact.go.
	if g.output == "json" {
		return slog.New(redactingHandler{slog.NewJSONHandler(s.err, opts)})
	}
	return slog.New(redactingHandler{slog.NewTextHandler(s.err, opts)})
}

// watcher holds what outlives one pass: the connection, reopened only when the target's settings
// in the spec change or the connection fails.
type watcher struct {
	g      *globalOptions
	s      *streams
	o      *watchOptions
	log    *slog.Logger
	target *session.Target
	opened spec.Cluster // the target's settings the connection was opened with

	metrics *watchMetrics
	board   *statusBoard // the status page's data, with --metrics-addr
	current passResult   // filled by pass, recorded by report
	started time.Time

	specRead bool       // a pass has read a valid spec (stopOnUnknownTarget)
	fatal    error      // stops the daemon: a --cluster the spec does not declare, at start
	failures failureLog // which failed passes are logged at ERROR (watch_logging.go)

	gx              *gitops      // --git, --mode, --notify (issue 12)
	passLog         *slog.Logger // log with the pass's revision on every line
	drift, appliedC []string     // headlines the pass found pending and applied, for notifications
}

func (w *watcher) close() {
	w.target.Close()
	w.target = nil
}

// pass is one level-triggered reconcile: load, connect, plan, apply what the flags allow.
func (w *watcher) pass(ctx context.Context, tr reconcile.Trigger) (err error) {
	w.current, w.started, w.drift, w.appliedC = passResult{}, time.Now(), nil, nil
	defer func() { w.current.interrupted = ctx.Err() != nil }()
	file, log, err := w.gx.specFile(ctx, w.g.file)
	w.passLog = log
	if err != nil {
		return err
	}
	defer func(base *slog.Logger) { w.log = base }(w.log)
	w.log = log
	w.log.Debug("pass", "trigger", tr.Reason)
	g := *w.g
	g.file = file
	sp, diags := readSpec(ctx, &g, w.s)
	diags = w.gx.repoRelative(diags)
	for _, d := range diags.Warnings() {
		w.log.Warn(d.String())
	}
	if errs := diags.Errors(); len(errs) > 0 {
		// Keep the cluster as it is: an invalid file must never be half-applied.
		return &specError{File: w.gx.specName(w.g.file), Errs: errs, Warnings: len(diags.Warnings())}
	}
	w.gx.rememberSecrets(sp)
	settings, err := targetCluster(w.g, sp)
	if err != nil {
		return err
	}
	w.specRead = true // a spec with this target was read: from now on its absence is a bad commit
	// A plugin committed to the followed branch runs only with --plugins (issue 21): watch_gitops.go.
	deviceRegistry, notRun, err := checkDevices(ctx, w.s, sp, w.gx.runPlugins())
	if err != nil {
		return err
	}
	w.gx.notePluginsNotRun(notRun)
	// A target with preflight: true is probed before every pass; a failing required device skips
	// the pass (the daemon retries) rather than changing the cluster blind.
	if err := runPreflight(ctx, w.g, w.s, sp, deviceRegistry, notRun, preflightFlags{}, true); err != nil {
		return err
	}
	if w.target != nil && !reflect.DeepEqual(connectionSettings(settings), connectionSettings(w.opened)) {
		w.log.Info("cluster target settings changed; reconnecting", "cluster", w.g.cluster)
		w.close()
	}
	if w.target == nil {
		flags := w.o.cluster
		flags.notice = func(msg string) { w.log.Warn(msg, "cluster", w.g.cluster) }
		t, err := openTarget(ctx, w.g, w.s, sp, flags)
		if err != nil {
			return err
		}
		w.target, w.opened = t, settings
	}
	// The objects follow the spec of this pass (an image change), not the one connected with.
	if err := w.target.Follow(sp); err != nil {
		return err
	}
	ao := reconcile.ApplyOptions{
		AllowDataLoss:     w.o.allowDataLoss,
		AllowDelete:       w.o.allowDelete,
		Force:             w.o.force,
		LockWait:          w.o.lockTimeout,
		ForceConflicts:    w.o.forceConflicts,
		AllowReplace:      w.o.allowReplace,
		ObjectWaitTimeout: w.o.waitTimeout,
	}
	if w.o.gitops.mode == modeReport {
		return w.reportDrift(ctx, sp, ao)
	}
	p, res, err := w.target.Planner().Reconcile(ctx, sp, ao, w.logPlan, w.logEvent)
	w.current.applied = res.Count(reconcile.Applied)
	if p.TopicsDeferred() {
		// The brokers did not answer: the next pass connects to them afresh.
		defer w.close()
		w.log.Warn("topics not planned: the brokers do not answer yet", "cluster", w.g.cluster, "err", w.target.KafkaErr)
	}
	if err != nil {
		if p.Fingerprint == "" {
			w.close() // planning failed: the next pass reconnects from scratch
			return err
		}
		return fmt.Errorf("apply: %w", err)
	}
	if !p.HasChanges() {
		w.log.Info("in sync", "cluster", w.g.cluster, "clusterId", p.ClusterID)
		w.current.inSync = true
		return nil
	}
	w.current.inSync = res.Converged()
	w.log.Info("applied", "applied", res.Count(reconcile.Applied), "converged", res.Converged())
	return nil
}

// logPlan logs a pass's plan before it is applied: advisories as warnings, then each change.
func (w *watcher) logPlan(p reconcile.Plan) {
	for _, a := range p.Advisories {
		w.log.Warn("certificate needs work", "subject", a.Subject, "reason", a.Reason)
	}
	w.current.certPending = len(p.Advisories)
	w.gx.observePlan(p)
	if !p.HasChanges() {
		return
	}
	sum := p.Summary()
	w.current.pending = sum.Create + sum.Update + sum.Replace + sum.Adopt + sum.Delete + sum.Unsupported
	w.log.Info("changes pending", "create", sum.Create, "update", sum.Update, "replace", sum.Replace, "adopt", sum.Adopt, "delete", sum.Delete, "unsupported", sum.Unsupported)
	for _, c := range p.Changes {
		if c.Action != reconcile.NoOp {
			w.log.Info("plan", "change", reconcile.Headline(c), "detail", report.Detail(c), "risk", c.Risk.String())
		}
	}
}

func (w *watcher) report(tr reconcile.Trigger, err error) {
	if w.fatal != nil {
		return // the daemon stops with this error (stopOnUnknownTarget)
	}
	w.current.duration, w.current.err = time.Since(w.started), err
	w.metrics.observe(w.current, time.Now())
	w.gx.finish(w.passLog, tr, w.current, w.drift, w.appliedC)
	if !w.current.interrupted {
		w.logFailure(w.passLog, tr, err) // once, then periodically with a count (issue 21)
	}
}
