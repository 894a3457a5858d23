package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/avatar-project/avatar-sync/filewatch"
	"github.com/avatar-project/avatar-sync/gitsource"
	"github.com/avatar-project/avatar-sync/notify"
	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// The GitOps half of the daemon (issue 12): follow a git branch, heal or only report, notify
// webhooks. The pass calls it at a few hooks.

// gitops is the per-daemon state of the GitOps half.
type gitops struct {
	cfg     *Config
	log     *slog.Logger
	repo    *gitsource.Repo   // nil without --git
	src     *gitsource.Source // polls repo: the loop's source with --git
	metrics *gitopsMetrics
	fleet   bool

	rev     gitsource.Revision // the revision of the running pass
	tree    string             // its checkout
	file    string             // the spec file in it
	inForce gitsource.Revision // the revision of the last pass that succeeded
	// notRun are the devices whose plugins the last note named (see notePluginsNotRun).
	notRun string
	// warnedLinks is the last revision whose skipped links were logged (once per revision).
	warnedLinks gitsource.Revision

	trackers  map[string]*notify.Tracker // per target
	sender    *notify.Sender
	secretsMu sync.Mutex
	secrets   map[string][]string // per target, the last valid spec's passwords, kept out of notifications
}

func newGitops(cfg *Config, log *slog.Logger, reg *prometheus.Registry, fleet bool) *gitops {
	x := &gitops{cfg: cfg, log: log, metrics: newGitopsMetrics(reg, fleet), fleet: fleet, trackers: map[string]*notify.Tracker{}, secrets: map[string][]string{}}
	if cfg.Git.URL != "" {
		dir := gitsource.DirFor(filepath.Join(cfg.Session.StateDir, "git"), cfg.Git.URL, cfg.Git.Branch)
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs // the start-up line names the clone as it is on disk (issue 21: relative --state-dir)
		}
		x.repo = &gitsource.Repo{URL: cfg.Git.URL, Branch: cfg.Git.Branch, Dir: dir}
		x.src = &gitsource.Source{Repo: x.repo, Interval: cfg.Git.Interval, Fetched: func(_ gitsource.Revision, err error) {
			x.metrics.fetches.Inc()
			if err != nil {
				x.metrics.fetchFailures.Inc()
			}
		}}
	}
	if len(cfg.Notify) > 0 {
		x.sender = &notify.Sender{URLs: cfg.Notify, Log: log, Secrets: func() []string {
			out := gitsource.Credentials(cfg.Git.URL)
			x.secretsMu.Lock()
			defer x.secretsMu.Unlock()
			for _, name := range cfg.Targets {
				out = append(out, x.secrets[name]...)
			}
			return out
		}}
	}
	return x
}

// source is what triggers passes besides the timer: the spec file's watcher, or with --git the
// branch's poller, which triggers a pass when the branch moves or a fetch fails (issue 20).
func (x *gitops) source(file string, debounce time.Duration) reconcile.Source {
	if x.src != nil {
		return x.src
	}
	return &filewatch.Source{Path: file, Debounce: debounce}
}

// loopOptions are the loop's timer and back-off: the timer is --interval (the resync that heals
// drift made by hand), also with --git, whose polls are the source's.
func (x *gitops) loopOptions(interval time.Duration) reconcile.LoopOptions {
	if x.repo == nil {
		return reconcile.LoopOptions{Interval: interval}
	}
	// The back-off after a failure grows from 1s to a minute (or --git-interval when longer), not
	// to --interval: a fix pushed after a bad commit is picked up by the next poll anyway, and an
	// unreachable remote is fetched again only on the loop's retries (the source pauses).
	return reconcile.LoopOptions{Interval: interval, RetryMax: max(time.Minute, x.cfg.Git.Interval)}
}

// wait returns when the branch's poller has stopped (the loop's ctx ended).
func (x *gitops) wait() {
	if x.src != nil {
		x.src.Wait()
	}
}

// describe is what the daemon follows, for the start-up log line.
func (x *gitops) describe(file string) []any {
	if x.repo == nil {
		return []any{"file", file, "mode", x.cfg.Mode}
	}
	return []any{"git", gitsource.Redact(x.cfg.Git.URL), "branch", x.cfg.Git.Branch, "path", x.cfg.Git.Path,
		"gitInterval", x.cfg.Git.Interval.String(), "clone", x.repo.Dir, "mode", x.cfg.Mode}
}

// specFile checks out the branch's newest head (with --git) and returns the spec file the pass
// reads and the pass's logger, which names the revision on every line. Without --git it is -f.
// The head is the source's last poll, fetched now only at start and after a failed fetch. A fetch
// failure (the trigger's, or this pass's) fails the pass: the loop retries with back-off, and the
// cluster stays as the revision in force left it.
func (x *gitops) specFile(ctx context.Context, tr reconcile.Trigger, file string) (string, *slog.Logger, error) {
	if x.repo == nil {
		return file, x.log, nil
	}
	if tr.Err != nil {
		return "", x.withRevision(x.inForce), tr.Err
	}
	rev, err := x.src.Current(ctx)
	if err != nil {
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
		clean := path.Clean(filepath.ToSlash(x.cfg.Git.Path))
		for _, l := range skipped {
			if clean == l || strings.HasPrefix(clean, l+"/") {
				return "", log, fmt.Errorf("%s: %s is a symbolic link leading out of the repository; the daemon reads only files the revision holds", x.cfg.Git.Path, l)
			}
		}
		if rev != x.warnedLinks {
			x.warnedLinks = rev
			log.Warn("symbolic links leading out of the repository were left out of the checkout; nothing outside the repository is read", "links", skipped)
		}
	}
	f, err := gitsource.SpecFile(tree, x.cfg.Git.Path)
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
	return x.repo == nil || x.cfg.Git.Plugins
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
	return fmt.Sprintf("%s@%s:%s", gitsource.Redact(x.cfg.Git.URL), x.cfg.Git.Branch, x.cfg.Git.Path)
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

// rememberSecrets keeps the passwords (keystore, SASL) of target's spec to scrub from
// notifications, until the next valid spec.
func (x *gitops) rememberSecrets(target string, sp *spec.Spec) {
	if x.sender == nil || sp == nil {
		return
	}
	secrets := specSecrets(sp)
	x.secretsMu.Lock()
	defer x.secretsMu.Unlock()
	x.secrets[target] = secrets
}

// observePlan counts the plan's changes by kind and action: the drift the pass found, in heal mode
// before applying it.
func (x *gitops) observePlan(labels []string, name string, p plans.Plan) {
	if x.fleet {
		x.metrics.drift.DeletePartialMatch(prometheus.Labels{"cluster": name})
	} else {
		x.metrics.drift.Reset()
	}
	for c := range p.EachChange() {
		if c.Action == plans.NoOp {
			continue
		}
		lv := append([]string{c.Kind.String(), c.Action.String()}, labels...)
		x.metrics.drift.WithLabelValues(lv...).Inc()
		x.metrics.driftFound.WithLabelValues(lv...).Inc()
	}
}

// finish records a target's finished pass: the notification of a state change. An interrupted
// pass changes no state: it is logged as such.
func (x *gitops) finish(log *slog.Logger, tr reconcile.Trigger, f *follower) {
	log = f.logger(log)
	r := f.current
	if r.interrupted {
		log.Warn("pass interrupted by shutdown; the next start reconciles again", "trigger", tr.Reason)
		return
	}
	drift := f.drift
	if x.cfg.Mode == ModeHeal {
		drift = nil // healed, or refused (then the pass failed and says why)
	}
	tracker := x.trackers[f.name]
	if tracker == nil {
		tracker = &notify.Tracker{}
		x.trackers[f.name] = tracker
	}
	kind, changed := tracker.Next(notify.Outcome{Err: r.err, Drift: drift, Applied: f.applied})
	if !changed || x.sender == nil {
		return
	}
	ev := notify.Event{Cluster: f.name, Mode: x.cfg.Mode, Time: time.Now().UTC(), Revision: x.rev.Hash, Subject: x.rev.Subject}
	switch kind {
	case notify.Failed:
		ev.Error = r.err.Error()
	case notify.Drift:
		ev.Changes = drift
	case notify.Applied:
		ev.Changes = f.applied
	case notify.Recovered:
		ev.Changes = f.applied
		if x.cfg.Mode == ModeReport {
			ev.Changes = drift
		}
	}
	x.sender.Send(notify.Compose(kind, ev))
	log.Info("notified", "event", string(kind), "webhooks", len(x.cfg.Notify))
}

// inForceNow makes the pass's revision the one in force: every target reconciled it.
func (x *gitops) inForceNow() {
	if x.repo != nil && x.rev != x.inForce {
		x.inForce = x.rev
		x.metrics.revision.Reset()
		x.metrics.revision.WithLabelValues(x.rev.Hash, x.rev.Subject, x.cfg.Git.Branch).Set(1)
	}
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
	fetches       prometheus.Counter
	fetchFailures prometheus.Counter
	drift         *prometheus.GaugeVec
	driftFound    *prometheus.CounterVec
}

func newGitopsMetrics(reg *prometheus.Registry, fleet bool) *gitopsMetrics {
	m := &gitopsMetrics{
		revision: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "avatar_sync_revision_info", Help: "The git revision in force (watch --git): the last one a pass reconciled successfully.",
		}, []string{"revision", "subject", "branch"}),
		fetches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "avatar_sync_git_fetches_total", Help: "Fetches of the followed branch: a poll every --git-interval while the last fetch succeeded, and a pass's own at start and after a failed fetch.",
		}),
		fetchFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "avatar_sync_git_fetch_failures_total", Help: "Fetches of the followed branch that failed (the pass failed and was retried).",
		}),
		drift: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "avatar_sync_drift_changes", Help: "Changes the last pass's plan found, by kind and action (in heal mode, before applying them).",
		}, targetLabels(fleet, "kind", "action")),
		driftFound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "avatar_sync_drift_changes_found_total", Help: "Changes found by all passes' plans, by kind and action.",
		}, targetLabels(fleet, "kind", "action")),
	}
	reg.MustRegister(m.revision, m.fetches, m.fetchFailures, m.drift, m.driftFound)
	return m
}

// specName is the spec as people name it: -f, or --path inside the repository.
func (x *gitops) specName(file string) string {
	if x.repo != nil {
		return x.cfg.Git.Path
	}
	return file
}

// specSecrets are the passwords a spec makes the daemon hold: the keystore's and the targets'
// SASL passwords.
func specSecrets(sp *spec.Spec) []string {
	var out []string
	if v, _, err := spec.ResolvePassword(sp.TLS.PasswordEnv, sp.TLS.PasswordFile, os.Getenv, os.ReadFile); err == nil && v != "" {
		out = append(out, v)
	}
	for _, c := range sp.Clusters {
		if c.SASL == nil {
			continue
		}
		if v, _, err := spec.ResolvePassword(c.SASL.PasswordEnv, c.SASL.PasswordFile, os.Getenv, os.ReadFile); err == nil && v != "" {
			out = append(out, v)
		}
	}
	return out
}
