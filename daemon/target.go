package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/report"
	"github.com/avatar-project/avatar-sync/session"
	"github.com/avatar-project/avatar-sync/spec"
)

// follower is one target of the daemon: its connection, reopened only when the target's settings
// in the spec change or the connection fails, and what its last pass did.
type follower struct {
	d      *daemon
	name   string
	target *session.Target // kept across passes while its connection settings stay (session.Prepare)

	log      *slog.Logger // the pass's log (with the target in a fleet)
	board    *statusBoard // the status page's data, with --metrics-addr
	current  passResult   // filled by pass, recorded by report
	err      error        // the last pass's error
	started  time.Time
	specRead bool       // a pass has read a valid spec with this target
	failures failureLog // which failed passes are logged at ERROR (logging.go)

	drift, applied []string // headlines the pass found pending and applied, for notifications
	lastFile       string   // the spec file the last pass read, for the status page
	// secrets are the passwords of the last valid spec a pass read. The status page scrubs them
	// from what it shows even when the file it re-reads after the pass was edited meanwhile (and
	// quotes a password in the error the next pass reports).
	secrets []string
}

func (f *follower) close() {
	f.target.Close()
	f.target = nil
}

func (f *follower) reset() {
	f.current, f.started, f.err, f.drift, f.applied = passResult{}, f.d.started, nil, nil, nil
}

// labels are the target's metric label values: none for a single target (the series are as they
// were before fleets), its name in a fleet.
func (f *follower) labels() []string {
	if f.d.fleet {
		return []string{f.name}
	}
	return nil
}

// clusterAttr is the "cluster" attribute of the lines that name it: in a fleet every line of the
// target's pass carries it already (logger).
func (f *follower) clusterAttr() []any {
	if f.d.fleet {
		return nil
	}
	return []any{"cluster", f.name}
}

// logger is the pass's log for this target.
func (f *follower) logger(base *slog.Logger) *slog.Logger {
	if f.d.fleet {
		return base.With("cluster", f.name)
	}
	return base
}

// wrap names the target in a fleet's pass error.
func (f *follower) wrap(err error) error {
	if f.d.fleet {
		return fmt.Errorf("cluster %s: %w", f.name, err)
	}
	return err
}

// pass is one level-triggered reconcile of the target: the session's prelude (load the spec,
// check the devices, the preflight, keep or open the connection: session.Prepare, as plan and
// apply run it), then plan and apply what the flags allow.
func (f *follower) pass(ctx context.Context, file string, base *slog.Logger) error {
	d := f.d
	f.log = f.logger(base)
	f.lastFile = file
	opts := d.cfg.Session
	opts.Notice = func(msg string) { f.log.Warn(msg, f.clusterAttr()...) }
	fleet, err := session.Prepare(ctx, session.PrepareOptions{
		File: file, Targets: f.name,
		// Errors name the spec as the user knows it: -f, or its path in the repository.
		Name: d.gx.specName(d.cfg.File), Positions: d.gx.repoRelative,
		// A plugin committed to the followed branch runs only with --plugins (issue 21): gitops.go.
		Plugins: d.gx.runPlugins(),
		// A target with preflight: true is probed before every pass; a failing required device
		// skips the pass (the daemon retries) rather than changing the cluster blind.
		Preflight: session.PreflightPolicy{Refuse: true, Hooks: d.cfg.Preflight},
		Open:      opts,
		Reuse:     []*session.Target{f.target},
		Events: session.PrepareEvents{
			Warnings: func(ds spec.Diagnostics) {
				for _, w := range ds {
					f.log.Warn(w.String())
				}
			},
			Loaded: func(specs []*spec.Spec) {
				d.gx.rememberSecrets(f.name, specs[0])
				f.secrets = specSecrets(specs[0])
				f.specRead = true // a spec with this target was read: from now on its absence is a bad commit
			},
			PluginsNotRun: d.gx.notePluginsNotRun,
			Reconnecting: func(string) {
				f.log.Info("cluster target settings changed; reconnecting", f.clusterAttr()...)
				f.target = nil
			},
		},
	})
	if err != nil {
		// Keep the cluster as it is: an invalid file must never be half-applied.
		return err
	}
	sp := fleet.Specs[0]
	f.target = fleet.Targets[0]
	if err := fleet.Errs[0]; err != nil {
		var te *session.TargetError
		if errors.As(err, &te) {
			err = te.Err // the pass's errors name the target in a fleet already (wrap)
		}
		return err
	}
	if d.cfg.Mode == ModeReport {
		return f.reportDrift(ctx, sp)
	}
	p, res, err := f.target.Planner().Reconcile(ctx, sp, d.cfg.Apply, f.logPlan, f.logEvent)
	f.current.applied = res.Count(plans.Applied)
	if p.TopicsDeferred() {
		// The brokers did not answer: the next pass connects to them afresh.
		defer f.close()
		f.log.Warn("topics not planned: the brokers do not answer yet", append(f.clusterAttr(), "err", f.target.KafkaErr)...)
	}
	if err != nil {
		if len(p.Parts) == 0 {
			// Planning failed (Plan returns no plan with its error; a plan that deferred its
			// topics has no Kafka fingerprint but did not fail): the next pass reconnects from
			// scratch.
			f.close()
			return err
		}
		return fmt.Errorf("apply: %w", err)
	}
	if !p.HasChanges() {
		f.log.Info("in sync", append(f.clusterAttr(), "clusterId", p.ClusterID)...)
		f.current.inSync = true
		return nil
	}
	f.current.inSync = res.Converged()
	f.log.Info("applied", "applied", res.Count(plans.Applied), "converged", res.Converged())
	return nil
}

// logPlan logs a pass's plan before it is applied: advisories as warnings, then each change.
func (f *follower) logPlan(p plans.Plan) {
	for _, a := range p.Advisories {
		f.log.Warn("certificate needs work", "subject", a.Subject, "reason", a.Reason)
	}
	f.current.certPending = len(p.Advisories)
	f.d.gx.observePlan(f.labels(), f.name, p)
	if !p.HasChanges() {
		return
	}
	sum := p.Summary()
	f.current.pending = sum.Create + sum.Update + sum.Replace + sum.Adopt + sum.Delete + sum.Unsupported
	f.log.Info("changes pending", "create", sum.Create, "update", sum.Update, "replace", sum.Replace, "adopt", sum.Adopt, "delete", sum.Delete, "unsupported", sum.Unsupported)
	for c := range p.EachChange() {
		if c.Action != plans.NoOp {
			f.log.Info("plan", "change", plans.Headline(c), "detail", report.Detail(c), "risk", c.Risk.String())
		}
	}
}

// logEvent logs one event of an apply: failures at ERROR, progress (waiting for the lock, a
// reassignment, a StatefulSet) at INFO with the text under "detail" — under "msg" it was a second
// msg key on the line (issue 21), which log collectors keep only one of.
func (f *follower) logEvent(ev plans.Event) {
	if ev.Status == plans.Applied {
		f.applied = append(f.applied, plans.Headline(ev.Change))
	}
	switch {
	case ev.Status == plans.Failed || ev.Status == plans.Unknown:
		f.log.Error("change failed", "change", plans.Headline(ev.Change), "status", ev.Status.String(), "err", ev.Err)
	case ev.Message != "":
		f.log.Info("progress", "detail", ev.Message)
	}
}

// reportDrift is a report-mode pass: plan, log and count the drift, never apply (issue 12).
// Planning only reads the cluster: Describe creates nothing, not even the inventory topic.
func (f *follower) reportDrift(ctx context.Context, sp *spec.Spec) error {
	p, err := f.target.Planner().Plan(ctx, sp, reconcile.PlanOptions{AllowDelete: f.d.cfg.Apply.AllowDelete})
	if err != nil {
		f.close() // the next pass reconnects from scratch
		return err
	}
	f.logPlan(p)
	if !p.HasChanges() {
		f.log.Info("in sync", append(f.clusterAttr(), "clusterId", p.ClusterID)...)
		f.current.inSync = true
		return nil
	}
	for c := range p.EachChange() {
		if c.Pending() {
			f.drift = append(f.drift, plans.Headline(c))
		}
	}
	f.log.Warn("drift: the cluster differs from the spec; report mode applies nothing", append(f.clusterAttr(), "changes", len(f.drift))...)
	return nil
}
