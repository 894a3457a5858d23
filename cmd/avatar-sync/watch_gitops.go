package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/avatar-project/avatar-sync/filewatch"
	"github.com/avatar-project/avatar-sync/gitsource"
	"github.com/avatar-project/avatar-sync/notify"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// The GitOps half of watch (issue 12): follow a git branch, heal or only report, notify webhooks.
// It lives apart from watch.go, which calls it at a few hooks, so the other watch work (the
// Kubernetes plane, the status page) does not collide with it.

const (
	modeHeal   = "heal"
	modeReport = "report"
)

type gitopsOptions struct {
	gitURL      string
	branch      string
	path        string
	gitInterval time.Duration
	mode        string
	notify      []string
	plugins     bool
}

func (o *gitopsOptions) bind(f *pflag.FlagSet) {
	f.StringVar(&o.gitURL, "git", "", "follow a git repository (URL or path) instead of -f: fetch it every --git-interval and reconcile the spec at its newest commit")
	f.StringVar(&o.branch, "branch", "main", "with --git: the branch to follow")
	f.StringVar(&o.path, "path", "avatar.yaml", "with --git: the spec's path relative to the repository root")
	f.DurationVar(&o.gitInterval, "git-interval", time.Minute, "with --git: fetch this often")
	f.StringVar(&o.mode, "mode", modeHeal, "heal: apply what the flags allow; report: plan and report drift, never change the cluster")
	f.BoolVar(&o.plugins, "plugins", false, "with --git: run the external device plugins the followed branch names (code from the branch runs on this host: only for a branch you trust as you trust this host)")
	f.StringArrayVar(&o.notify, "notify", nil, "POST a JSON event (Slack/Mattermost compatible) to this webhook on each state change (repeatable; default $"+notifyEnv+")")
}

// notifyEnv holds webhook URLs (separated by spaces) when --notify is not given: Slack and
// Mattermost put the token in the URL, and a command line is readable by every local user
// (ps, /proc/<pid>/cmdline); an EnvironmentFile or a Secret is not.
const notifyEnv = "AVATAR_SYNC_NOTIFY"

// check refuses flag combinations that cannot mean what the user wants.
func (o *gitopsOptions) check(cmd *cobra.Command) error {
	if o.mode != modeHeal && o.mode != modeReport {
		return fmt.Errorf("--mode %q: want heal or report", o.mode)
	}
	if len(o.notify) == 0 {
		o.notify = strings.Fields(os.Getenv(notifyEnv))
	}
	for _, u := range o.notify {
		if err := notify.CheckURL(u); err != nil {
			return err
		}
	}
	if o.gitURL == "" {
		// Without --git watch runs the plugins of the file it is given, as apply does.
		for _, name := range []string{"branch", "path", "git-interval", "plugins"} {
			if cmd.Flags().Changed(name) {
				return fmt.Errorf("--%s needs --git", name)
			}
		}
		return nil
	}
	if f := cmd.Flag("file"); f != nil && f.Changed {
		return errors.New("-f and --git exclude each other: with --git the spec is --path inside the repository")
	}
	if o.gitInterval <= 0 {
		return fmt.Errorf("--git-interval %s: want a positive duration", o.gitInterval)
	}
	return nil
}

// gitops is the per-daemon state of the GitOps half.
type gitops struct {
	o       *gitopsOptions
	cluster string
	log     *slog.Logger
	repo    *gitsource.Repo // nil without --git
	metrics *gitopsMetrics

	rev     gitsource.Revision // the revision of the running pass
	tree    string             // its checkout
	file    string             // the spec file in it
	inForce gitsource.Revision // the revision of the last pass that succeeded
	// notRun are the devices whose plugins the last note named (see notePluginsNotRun).
	notRun string
	// warnedLinks is the last revision whose skipped links were logged (once per revision).
	warnedLinks gitsource.Revision

	tracker notify.Tracker
	sender  *notify.Sender
	secrets []string // the last spec's passwords, kept out of notifications
}

func newGitops(o *gitopsOptions, g *globalOptions, stateDir string, log *slog.Logger, reg *prometheus.Registry) *gitops {
	x := &gitops{o: o, cluster: g.cluster, log: log, metrics: newGitopsMetrics(reg)}
	if o.gitURL != "" {
		dir := gitsource.DirFor(filepath.Join(stateDir, "git"), o.gitURL, o.branch)
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs // the start-up line names the clone as it is on disk (issue 21: relative --state-dir)
		}
		x.repo = &gitsource.Repo{URL: o.gitURL, Branch: o.branch, Dir: dir}
	}
	if len(o.notify) > 0 {
		x.sender = &notify.Sender{URLs: o.notify, Log: log, Secrets: func() []string {
			return append(gitsource.Credentials(o.gitURL), x.secrets...)
		}}
	}
	return x
}

// source is what triggers passes besides the timer: the spec file's watcher, or nothing with
// --git, where the loop's timer is the poll (see interval).
func (x *gitops) source(file string, debounce time.Duration) reconcile.Source {
	if x.repo != nil {
		return timerOnly{}
	}
	return &filewatch.Source{Path: file, Debounce: debounce}
}

// loopOptions are the loop's timer and back-off. Without --git they are watch's own.
func (x *gitops) loopOptions(interval time.Duration) reconcile.LoopOptions {
	if x.repo == nil {
		return reconcile.LoopOptions{Interval: interval}
	}
	// The back-off after a failure grows from 1s to a minute (or --git-interval when longer), not
	// to the short poll interval: an unreachable remote is not fetched every few seconds, and a
	// fix pushed after a bad commit is still picked up within a minute.
	return reconcile.LoopOptions{Interval: x.interval(interval), RetryMax: max(time.Minute, x.o.gitInterval)}
}

// interval is the loop's timer. With --git every pass fetches, so the timer is the poll: every
// --git-interval (or --interval when that is shorter). A separate poll trigger would cut the
// loop's back-off short, and an unreachable remote would be hammered every interval.
func (x *gitops) interval(interval time.Duration) time.Duration {
	if x.repo == nil || (interval > 0 && interval < x.o.gitInterval) {
		return interval
	}
	return x.o.gitInterval
}

// timerOnly is a reconcile.Source without triggers: the loop runs on its timer alone.
type timerOnly struct{}

func (timerOnly) Triggers(ctx context.Context) (<-chan reconcile.Trigger, error) {
	ch := make(chan reconcile.Trigger)
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch, nil
}

// describe is what the daemon follows, for the start-up log line.
func (x *gitops) describe(file string) []any {
	if x.repo == nil {
		return []any{"file", file, "mode", x.o.mode}
	}
	return []any{"git", gitsource.Redact(x.o.gitURL), "branch", x.o.branch, "path", x.o.path,
		"gitInterval", x.o.gitInterval.String(), "clone", x.repo.Dir, "mode", x.o.mode}
}

// specFile fetches the branch and checks out its head (with --git) and returns the spec file the
// pass reads and the pass's logger, which names the revision on every line. Without --git it is
// -f. A fetch failure fails the pass: the loop retries with back-off, and the cluster stays as the
// revision in force left it.
func (x *gitops) specFile(ctx context.Context, file string) (string, *slog.Logger, error) {
	if x.repo == nil {
		return file, x.log, nil
	}
	rev, err := x.repo.Fetch(ctx)
	if err != nil {
		x.metrics.fetchFailures.Inc()
		return "", x.withRevision(x.inForce), err
	}
	log := x.withRevision(rev)
	if rev != x.rev {
		inForce := x.inForce.Short()
		if inForce == "" {
			inForce = "none"
		}
		log.Info("new revision", "inForce", inForce)
	}
	x.rev = rev
	tree, err := x.repo.Checkout(ctx, rev)
	if err != nil {
		return "", log, err
	}
	x.tree = tree
	// issue 21: committed links leading out of the repository were left out of the checkout; a
	// --path through one is refused, others are named (never their targets: host paths).
	if skipped := x.repo.Skipped(rev); len(skipped) > 0 {
		clean := path.Clean(filepath.ToSlash(x.o.path))
		for _, l := range skipped {
			if clean == l || strings.HasPrefix(clean, l+"/") {
				return "", log, fmt.Errorf("%s: %s is a symbolic link leading out of the repository; the daemon reads only files the revision holds", x.o.path, l)
			}
		}
		if rev != x.warnedLinks {
			x.warnedLinks = rev
			log.Warn("symbolic links leading out of the repository were left out of the checkout; nothing outside the repository is read", "links", skipped)
		}
	}
	f, err := gitsource.SpecFile(tree, x.o.path)
	if err != nil {
		return "", log, err
	}
	x.file = f
	return f, log, nil
}

// runPlugins reports whether this pass may run external device plugins: always for -f (a file on
// this host, as apply), with --git only with --plugins (issue 21). Whoever can push to the branch
// chooses plugin: and its arguments; running that on the daemon's host hands them the host, and
// the daemon's credentials, without review.
func (x *gitops) runPlugins() bool {
	return x.repo == nil || x.o.plugins
}

// notePluginsNotRun logs the devices whose plugins the pass did not run, once per different list.
func (x *gitops) notePluginsNotRun(notRun []string) {
	key := strings.Join(notRun, ",")
	if key == x.notRun {
		return
	}
	x.notRun = key
	if len(notRun) > 0 {
		x.withRevision(x.rev).Warn("device plugins from the followed branch not run: watch runs a branch's plugins only with --plugins (code from the branch on this host)", "devices", notRun)
	}
}

// lastSpecFile is the spec file the last pass read: -f, or its checkout with --git.
func (x *gitops) lastSpecFile(file string) string {
	if x.repo == nil || x.file == "" {
		return file
	}
	return x.file
}

// revisionLabel names the revision of the last pass for the status page ("" without --git).
func (x *gitops) revisionLabel() string {
	if x.repo == nil || x.rev.IsZero() {
		return ""
	}
	return x.rev.Short() + " " + x.rev.Subject
}

// specSource says where the spec comes from, for the status page.
func (x *gitops) specSource(file string) string {
	if x.repo == nil {
		return file
	}
	return fmt.Sprintf("%s@%s:%s", gitsource.Redact(x.o.gitURL), x.o.branch, x.o.path)
}

func (x *gitops) withRevision(rev gitsource.Revision) *slog.Logger {
	if rev.IsZero() {
		return x.log.With("revision", "none")
	}
	// "revisionSubject", not "subject": the certificate advisories log a subject of their own.
	return x.log.With("revision", rev.Short(), "revisionSubject", rev.Subject)
}

// repoRelative makes the diagnostics of a spec read from a checkout name the file as the
// repository does (lab/avatar.yaml:12:5), not as the private clone's directory.
func (x *gitops) repoRelative(diags spec.Diagnostics) spec.Diagnostics {
	if x.repo == nil || x.tree == "" {
		return diags
	}
	out := make(spec.Diagnostics, len(diags))
	for i, d := range diags {
		if rel, err := filepath.Rel(x.tree, d.Pos.File); err == nil && !strings.HasPrefix(rel, "..") {
			d.Pos.File = filepath.ToSlash(rel)
		}
		out[i] = d
	}
	return out
}

// rememberSecrets keeps the spec's passwords (keystore, SASL) to scrub from notifications.
func (x *gitops) rememberSecrets(sp *spec.Spec) {
	if x.sender == nil || sp == nil {
		return
	}
	var secrets []string
	if v := os.Getenv(sp.TLS.PasswordEnv); sp.TLS.PasswordEnv != "" && v != "" {
		secrets = append(secrets, v)
	}
	if sp.TLS.PasswordFile != "" {
		if b, err := os.ReadFile(sp.TLS.PasswordFile); err == nil {
			secrets = append(secrets, strings.TrimSpace(string(b)))
		}
	}
	for _, c := range sp.Clusters {
		if c.SASL == nil {
			continue
		}
		v, _, err := spec.ResolvePassword(c.SASL.PasswordEnv, c.SASL.PasswordFile, os.Getenv, os.ReadFile)
		if err == nil && v != "" {
			secrets = append(secrets, v)
		}
	}
	x.secrets = secrets
}

// observePlan counts the plan's changes by kind and action: the drift the pass found, in heal mode
// before applying it.
func (x *gitops) observePlan(p reconcile.Plan) {
	x.metrics.drift.Reset()
	for _, c := range p.Changes {
		if c.Action == reconcile.NoOp {
			continue
		}
		x.metrics.drift.WithLabelValues(c.Kind.String(), c.Action.String()).Inc()
		x.metrics.driftFound.WithLabelValues(c.Kind.String(), c.Action.String()).Inc()
	}
}

// finish records a finished pass: the revision in force and the
// notification of a state change. An interrupted pass changes no state: it is logged as such.
func (x *gitops) finish(log *slog.Logger, tr reconcile.Trigger, r passResult, drift, applied []string) {
	if r.interrupted {
		log.Warn("pass interrupted by shutdown; the next start reconciles again", "trigger", tr.Reason)
		return
	}
	if r.err == nil && x.repo != nil && x.rev != x.inForce {
		x.inForce = x.rev
		x.metrics.revision.Reset()
		x.metrics.revision.WithLabelValues(x.rev.Hash, x.rev.Subject, x.o.branch).Set(1)
	}
	if x.o.mode == modeHeal {
		drift = nil // healed, or refused (then the pass failed and says why)
	}
	kind, changed := x.tracker.Next(notify.Outcome{Err: r.err, Drift: drift, Applied: applied})
	if !changed || x.sender == nil {
		return
	}
	ev := notify.Event{Cluster: x.cluster, Mode: x.o.mode, Time: time.Now().UTC(), Revision: x.rev.Hash, Subject: x.rev.Subject}
	switch kind {
	case notify.Failed:
		ev.Error = r.err.Error()
	case notify.Drift:
		ev.Changes = drift
	case notify.Applied:
		ev.Changes = applied
	case notify.Recovered:
		ev.Changes = applied
		if x.o.mode == modeReport {
			ev.Changes = drift
		}
	}
	x.sender.Send(notify.Compose(kind, ev))
	log.Info("notified", "event", string(kind), "webhooks", len(x.o.notify))
}

// close delivers the notifications still queued, for at most 10 s.
func (x *gitops) close() {
	if x.sender != nil {
		x.sender.Close(10 * time.Second)
	}
}

// gitopsMetrics are the series issue 12 adds to /metrics.
type gitopsMetrics struct {
	revision      *prometheus.GaugeVec
	fetchFailures prometheus.Counter
	drift         *prometheus.GaugeVec
	driftFound    *prometheus.CounterVec
}

func newGitopsMetrics(reg *prometheus.Registry) *gitopsMetrics {
	m := &gitopsMetrics{
		revision: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "avatar_sync_revision_info", Help: "The git revision in force (watch --git): the last one a pass reconciled successfully.",
		}, []string{"revision", "subject", "branch"}),
		fetchFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "avatar_sync_git_fetch_failures_total", Help: "Fetches of the followed branch that failed (the pass failed and was retried).",
		}),
		drift: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "avatar_sync_drift_changes", Help: "Changes the last pass's plan found, by kind and action (in heal mode, before applying them).",
		}, []string{"kind", "action"}),
		driftFound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "avatar_sync_drift_changes_found_total", Help: "Changes found by all passes' plans, by kind and action.",
		}, []string{"kind", "action"}),
	}
	reg.MustRegister(m.revision, m.fetchFailures, m.drift, m.driftFound)
	return m
}

// specName is the spec as people name it: -f, or --path inside the repository.
func (x *gitops) specName(file string) string {
	if x.repo != nil {
		return x.o.path
	}
	return file
}

// reportDrift is a report-mode pass: plan, log and count the drift, never apply (issue 12).
// Planning only reads the cluster: Describe creates nothing, not even the inventory topic.
func (w *watcher) reportDrift(ctx context.Context, sp *spec.Spec, ao reconcile.ApplyOptions) error {
	p, err := w.target.Planner().Plan(ctx, sp, reconcile.PlanOptions{AllowDelete: ao.AllowDelete})
	if err != nil {
		w.close() // the next pass reconnects from scratch
		return err
	}
	w.logPlan(p)
	if !p.HasChanges() {
		w.log.Info("in sync", "cluster", w.g.cluster, "clusterId", p.ClusterID)
		w.current.inSync = true
		return nil
	}
	for _, c := range p.Changes {
		if c.Pending() {
			w.drift = append(w.drift, reconcile.Headline(c))
		}
	}
	w.log.Warn("drift: the cluster differs from the spec; report mode applies nothing", "cluster", w.g.cluster, "changes", len(w.drift))
	return nil
}
