package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
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
	target *session.Target
	opened spec.Cluster // the target's settings the connection was opened with

	log      *slog.Logger // the pass's log (with the target in a fleet)
	board    *statusBoard // the status page's data, with --metrics-addr
	current  passResult   // filled by pass, recorded by report
	err      error        // the last pass's error
	started  time.Time
	specRead bool       // a pass has read a valid spec with this target
	failures failureLog // which failed passes are logged at ERROR (logging.go)

	drift, applied []string // headlines the pass found pending and applied, for notifications
	lastFile       string   // the spec file the last pass read, for the status page
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

// pass is one level-triggered reconcile of the target: load, connect, plan, apply what the flags
// allow.
func (f *follower) pass(ctx context.Context, file string, base *slog.Logger) error {
	d := f.d
	f.log = f.logger(base)
	f.lastFile = file
	sp, diags := session.ReadSpec(ctx, file, strings.NewReader(""), f.name)
	diags = d.gx.repoRelative(diags)
	for _, w := range diags.Warnings() {
		f.log.Warn(w.String())
	}
	if errs := diags.Errors(); len(errs) > 0 {
		// Keep the cluster as it is: an invalid file must never be half-applied.
		return &session.SpecError{File: d.gx.specName(d.cfg.File), Errs: errs, Warnings: len(diags.Warnings())}
	}
	d.gx.rememberSecrets(f.name, sp)
	settings, err := sp.Target(f.name)
	if err != nil {
		return fmt.Errorf("--cluster %w", err)
	}
	f.specRead = true // a spec with this target was read: from now on its absence is a bad commit
	// A plugin committed to the followed branch runs only with --plugins (issue 21): gitops.go.
	dc, err := session.CheckDevices(ctx, sp, d.gx.runPlugins())
	for _, w := range dc.Warnings {
		f.log.Warn(w.String())
	}
	if err != nil {
		return err
	}
	d.gx.notePluginsNotRun(dc.NotRun)
	// A target with preflight: true is probed before every pass; a failing required device skips
	// the pass (the daemon retries) rather than changing the cluster blind.
	if err := f.preflight(ctx, sp, dc); err != nil {
		return err
	}
	if f.target != nil && !reflect.DeepEqual(connectionSettings(settings), connectionSettings(f.opened)) {
		f.log.Info("cluster target settings changed; reconnecting", f.clusterAttr()...)
		f.close()
	}
	if f.target == nil {
		opts := d.cfg.Session
		opts.Notice = func(msg string) { f.log.Warn(msg, f.clusterAttr()...) }
		t, err := session.Open(ctx, sp, f.name, opts)
		if err != nil {
			return err
		}
		f.target, f.opened = t, settings
	}
	// The objects follow the spec of this pass (an image change), not the one connected with.
	if err := f.target.Follow(sp); err != nil {
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
		if p.Part(plans.PlaneKafka).Fingerprint == "" {
			f.close() // planning failed: the next pass reconnects from scratch
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

// preflight probes the target's devices when it sets preflight: true (Config.Preflight shows the
// result; without it the failures are logged).
func (f *follower) preflight(ctx context.Context, sp *spec.Spec, dc session.DeviceCheck) error {
	if f.d.cfg.Preflight != nil {
		return f.d.cfg.Preflight(ctx, sp, f.name, dc.Registry, dc.NotRun)
	}
	dec := session.DecidePreflight(sp, f.name, dc.NotRun, false, false)
	if dec.Skip != "" {
		return nil
	}
	_, failed, err := session.Probe(ctx, dec.Devices, dc.Registry)
	if err != nil {
		return err
	}
	if len(failed) == 0 {
		return nil
	}
	lines := make([]string, len(failed))
	for i, r := range failed {
		lines[i] = r.Line()
	}
	return fmt.Errorf("preflight: %s failed, so nothing was changed: %s", session.Count(len(failed), "required device"), strings.Join(lines, "; "))
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
	for _, c := range p.AllChanges() {
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
	for _, c := range p.AllChanges() {
		if c.Pending() {
			f.drift = append(f.drift, plans.Headline(c))
		}
	}
	f.log.Warn("drift: the cluster differs from the spec; report mode applies nothing", append(f.clusterAttr(), "changes", len(f.drift))...)
	return nil
}
