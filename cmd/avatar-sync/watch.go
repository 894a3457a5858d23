package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/avatar-project/avatar-sync/daemon"
	"github.com/avatar-project/avatar-sync/notify"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/session"
)

type watchOptions struct {
	applyFlags  // the opt-ins apply has too, bound by the same code (issue 20)
	cluster     clusterFlags
	interval    time.Duration
	debounce    time.Duration
	metricsAddr string
	gitops      gitopsOptions // --git, --mode, --notify (issue 12)
}

func newWatchCmd(g *globalOptions, s *streams) *cobra.Command {
	o := &watchOptions{}
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

--cluster takes a comma-separated list of targets (--cluster lab-east,lab-west): each pass
reconciles every target in the order given, each over its own connection; a failing target is
logged and retried without stopping the others, and keeps /readyz not ready.

For a target with kubernetes: each pass also plans and applies the Kubernetes objects (before the
topics, brokers rolled one at a time): an object changed behind avatar-sync's back (kubectl edit,
kubectl set image) is reported as drift and restored; fields another field manager took need
--force-conflicts, a replace needs --allow-replace, as with apply.

With --metrics-addr it serves Prometheus metrics on /metrics, /healthz (the process runs) and
/readyz (the last pass succeeded) for the MicroK8s host's monitoring, and on / a status page
(cluster health, consumer lag, last pass, drift, certificates, devices; docs/status.md).

With --git it follows a branch instead of -f (GitOps, docs/watch.md): a private clone under
--state-dir is fetched every --git-interval and the spec at --path of the newest commit is
reconciled when the branch moves (and every --interval); the commit is named in every log line and in /metrics. --mode report plans and reports
drift without changing the cluster; --notify posts webhooks on each state change.`,
		Example: `  avatar-sync watch -f /etc/avatar/avatar.yaml --cluster microk8s --interval 5m
  avatar-sync watch --git https://git.example.org/avatar/lab.git --path lab/avatar.yaml --cluster microk8s
  avatar-sync watch -f avatar.yaml --cluster lab-east,lab-west --metrics-addr :9464`,
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
			targets, err := session.SplitTargets(g.cluster)
			if err != nil {
				return err
			}
			if o.cluster.insecureSkipVerify {
				warnInsecureSkipVerify(s.err)
			}
			return daemon.Run(cmd.Context(), daemon.Config{
				File: g.file, Targets: targets, Interval: o.interval, Debounce: o.debounce, MetricsAddr: o.metricsAddr,
				Apply: reconcile.ApplyOptions{
					AllowDataLoss: o.allowDataLoss, AllowDelete: o.allowDelete, Force: o.force, LockWait: o.lockTimeout,
					ForceConflicts: o.forceConflicts, AllowReplace: o.allowReplace, ObjectWaitTimeout: o.waitTimeout,
				},
				Mode: o.gitops.mode,
				Git: daemon.Git{URL: o.gitops.gitURL, Branch: o.gitops.branch, Path: o.gitops.path,
					Interval: o.gitops.gitInterval, Plugins: o.gitops.plugins},
				Notify: o.gitops.notify,
				// The daemon holds the embedded cluster for as long as it runs: serve it to other processes.
				Session: session.Options{
					StateDir: o.cluster.stateDir, InsecureSkipVerify: o.cluster.insecureSkipVerify, Serve: true, Objects: true,
					Waiting: func(busy error) { fmt.Fprintf(s.err, "%v; waiting for it to finish ...\n", busy) },
					Now:     func() time.Time { return certsClock() },
				},
				// The device table of a target with preflight: true goes to stderr, as apply's.
				Preflight: preflightPolicy(g, s, preflightFlags{}, true).Hooks,
				Log:       daemon.NewLogger(s.err, g.output == "json", g.verbose > 0),
			})
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

// gitopsOptions are the flags of watch's GitOps half (issue 12).
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
	f.StringVar(&o.mode, "mode", daemon.ModeHeal, "heal: apply what the flags allow; report: plan and report drift, never change the cluster")
	f.BoolVar(&o.plugins, "plugins", false, "with --git: run the external device plugins the followed branch names (code from the branch runs on this host: only for a branch you trust as you trust this host)")
	f.StringArrayVar(&o.notify, "notify", nil, "POST a JSON event (Slack/Mattermost compatible) to this webhook on each state change (repeatable; default $"+notifyEnv+")")
}

// notifyEnv holds webhook URLs (separated by spaces) when --notify is not given: Slack and
// Mattermost put the token in the URL, and a command line is readable by every local user
// (ps, /proc/<pid>/cmdline); an EnvironmentFile or a Secret is not.
const notifyEnv = "AVATAR_SYNC_NOTIFY"

// check refuses flag combinations that cannot mean what the user wants.
func (o *gitopsOptions) check(cmd *cobra.Command) error {
	if o.mode != daemon.ModeHeal && o.mode != daemon.ModeReport {
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
