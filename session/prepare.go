package session

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// Prepare is the one prelude of every command that plans or applies (issue 20): plan, apply and
// the watch daemon's passes call it, and differ only in its options. In this order it
//
//  1. loads the spec for the --cluster list and checks every name against it, before anything
//     connects (LoadFleet: the YAML is parsed once, each target gets its own overrides);
//  2. checks the devices (CheckDevices: each device plugin's spec validation; external plugins
//     only with Plugins);
//  3. decides the preflight and probes the devices when it says so (DecidePreflight, Probe);
//     with Preflight.Refuse a failed required device ends the prelude (*PreflightError) before
//     any target is opened;
//  4. opens the targets concurrently (OpenFleet), or keeps the ones in Reuse whose connection
//     settings did not change (the daemon's connections live across passes).
//
// It prints nothing: what it finds goes to o.Events, in that order, and cmd or the daemon chooses
// how it is shown. An error is the prelude's (an invalid spec, an unknown target, a device, the
// preflight); a target that cannot be opened is not: it keeps its error in the Fleet (Errs) and
// fails its own part of the run.
func Prepare(ctx context.Context, o PrepareOptions) (*Fleet, error) {
	ev := o.Events
	stdin := o.Stdin
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	// 1.
	names, specs, warnings, err := loadFleet(ctx, o.File, stdin, o.Targets, loadAs{name: o.Name, positions: o.Positions})
	if ev.Warnings != nil && len(warnings) > 0 {
		ev.Warnings(warnings)
	}
	if err != nil {
		return nil, err
	}
	if ev.Loaded != nil {
		ev.Loaded(specs)
	}
	// 2. The devices and the preflight are the lab's, whatever the target: the first target's
	// spec (the spec's own, overrides aside).
	sp := specs[0]
	dc, err := CheckDevices(ctx, sp, o.Plugins)
	if ev.Warnings != nil && len(dc.Warnings) > 0 {
		ev.Warnings(rewritePositions(o.Positions, dc.Warnings))
	}
	if err != nil {
		return nil, err
	}
	if ev.PluginsNotRun != nil {
		ev.PluginsNotRun(dc.NotRun)
	}
	// 3.
	if err := RunPreflight(ctx, sp, o.Targets, dc, o.Preflight); err != nil {
		return nil, err
	}
	// 4.
	if ev.Opening != nil {
		if err := ev.Opening(names, specs); err != nil {
			return nil, err
		}
	}
	f := &Fleet{Names: names, Specs: specs, Targets: make([]*Target, len(names)), Errs: make([]error, len(names))}
	var open []int
	for i := range names {
		t := reused(o.Reuse, i)
		if t == nil {
			open = append(open, i)
			continue
		}
		if !t.sameConnection(specs[i]) {
			if ev.Reconnecting != nil {
				ev.Reconnecting(names[i])
			}
			t.Close()
			open = append(open, i)
			continue
		}
		// A kept connection follows this spec's objects (an image change), not the one it was
		// opened with; one whose objects cannot be rendered is closed, as Open would refuse it.
		if err := t.Follow(specs[i]); err != nil {
			t.Close()
			f.Errs[i] = &TargetError{Target: names[i], Err: err} // as an Open that refused it
			continue
		}
		f.Targets[i] = t
	}
	if len(open) > 0 {
		f.open(ctx, open, o.Open)
	}
	return f, nil
}

// PrepareOptions are what a command's prelude is made of.
type PrepareOptions struct {
	// File is the spec (-f; spec.Stdin reads Stdin, a directory merges its *.yaml files); Stdin
	// nil reads as empty.
	File  string
	Stdin io.Reader
	// Targets is the --cluster value: one target, or a comma-separated list of them (a fleet).
	Targets string
	// Name is what an invalid spec's error calls the file ("" = File; watch --git: its path in
	// the repository, without the "no such file" hint about -f). Positions, when set, rewrites
	// the positions of the spec's and the devices' diagnostics (watch --git: relative to the
	// repository).
	Name      string
	Positions func(spec.Diagnostics) spec.Diagnostics
	// Plugins runs external device plugins (their validate op, and their probe): apply and watch
	// do; plan only with --plugins (CI runs plan on pull requests, issue 10 item 7).
	Plugins bool
	// Preflight is the preflight policy.
	Preflight PreflightPolicy
	// Open is how the targets connect.
	Open Options
	// Reuse are targets already open (the daemon's, from its last pass), by position in the
	// --cluster list (nil entries: none): one whose connection settings in the spec did not
	// change is kept, the others are closed and opened again.
	Reuse []*Target
	// Events receive what the prelude finds, in order; nil members are not told.
	Events PrepareEvents
}

// PreflightPolicy is what a command does about the devices before it touches a target.
type PreflightPolicy struct {
	// Run is --preflight, Skip --skip-preflight (DecidePreflight: a target with preflight: true
	// asks for it too; Skip wins).
	Run, Skip bool
	// Refuse makes a failed required device the prelude's error, before any target is opened
	// (apply, watch: nothing is changed blind); without it (plan) the failure is only told to
	// Hooks.Probed.
	Refuse bool
	// Hooks show the preflight (cmd: the device table on stderr); nil members are not told.
	Hooks PreflightHooks
}

// PreflightHooks are told what the preflight does.
type PreflightHooks struct {
	// Decided is told what the preflight will do (DecidePreflight), before it probes.
	Decided func(PreflightDecision)
	// Probed is given the probe's report and its failed required devices (Probe); an error it
	// returns ends the prelude (cmd's refusal, with its words and exit code). With Refuse and
	// failures, a nil error still ends it, with a *PreflightError.
	Probed func(rep reconcile.Report, failed []reconcile.CheckResult) error
}

// PrepareEvents are what the prelude tells its caller, in this order.
type PrepareEvents struct {
	// Warnings are the spec's warnings, then the device plugins' (each once per Prepare).
	Warnings func(spec.Diagnostics)
	// Loaded is given the valid spec of every target (specs[i] is the i-th target's).
	Loaded func(specs []*spec.Spec)
	// PluginsNotRun names the devices served by external plugins that were not run (without
	// Plugins); told every time, an empty list included.
	PluginsNotRun func(devices []string)
	// Opening is called before any target is opened or kept: the last moment a command can
	// refuse (its error ends the prelude) without connecting anything.
	Opening func(names []string, specs []*spec.Spec) error
	// Reconnecting is told that a target of Reuse is opened again: its connection settings
	// changed.
	Reconnecting func(target string)
}

// PreflightError is the prelude's error when a required device failed its preflight probe and
// the policy refuses: nothing was opened, nothing changed.
type PreflightError struct {
	Failed []reconcile.CheckResult
}

func (e *PreflightError) Error() string {
	lines := make([]string, len(e.Failed))
	for i, r := range e.Failed {
		lines[i] = r.Line()
	}
	return fmt.Sprintf("preflight: %s failed, so nothing was changed: %s", Count(len(e.Failed), "required device"), strings.Join(lines, "; "))
}

// TargetError is the error of one target of a fleet that could not be opened or planned.
type TargetError struct {
	Target string
	Err    error
}

func (e *TargetError) Error() string { return "target " + e.Target + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *TargetError) Unwrap() error { return e.Err }

// RunPreflight is Prepare's step 3: the preflight of the targets (a --cluster value) decided by
// p (DecidePreflight) and, when it says so, the probe of their devices with the registry dc
// checked them with (Probe: no external plugin runs a second time, those in dc.NotRun not at
// all), told to p.Hooks; with p.Refuse a failed required device is the error.
func RunPreflight(ctx context.Context, sp *spec.Spec, targets string, dc DeviceCheck, p PreflightPolicy) error {
	dec := DecidePreflight(sp, targets, dc.NotRun, p.Run, p.Skip)
	if p.Hooks.Decided != nil {
		p.Hooks.Decided(dec)
	}
	if dec.Skip != "" {
		return nil
	}
	rep, failed, err := Probe(ctx, dec.Devices, dc.Registry)
	if err != nil {
		return err
	}
	if p.Hooks.Probed != nil {
		if err := p.Hooks.Probed(rep, failed); err != nil {
			return err
		}
	}
	if p.Refuse && len(failed) > 0 {
		return &PreflightError{Failed: failed}
	}
	return nil
}

// reused is Reuse[i], nil when there is none.
func reused(reuse []*Target, i int) *Target {
	if i < len(reuse) {
		return reuse[i]
	}
	return nil
}

// sameConnection reports whether sp gives t's target the settings t was opened with.
func (t *Target) sameConnection(sp *spec.Spec) bool {
	c, err := sp.Target(t.Name)
	return err == nil && SameConnection(c, t.settings)
}

// SameConnection reports whether two versions of a target's settings connect the same way: its
// positions in the file, its overrides (topics, brokers to render) and preflight are not what a
// connection is made with, so a commit that only edits topics does not reconnect (issue 21).
func SameConnection(a, b spec.Cluster) bool {
	return reflect.DeepEqual(connectionSettings(a), connectionSettings(b))
}

func connectionSettings(c spec.Cluster) spec.Cluster {
	c.Pos, c.Overrides, c.Preflight = spec.Pos{}, nil, false
	if c.Kubernetes != nil {
		k := *c.Kubernetes
		if k.Watch != nil {
			kw := *k.Watch
			kw.Pos = spec.Pos{}
			k.Watch = &kw
		}
		c.Kubernetes = &k
	}
	return c
}

// positions applies fn to diags (nil fn: as they are).
func rewritePositions(fn func(spec.Diagnostics) spec.Diagnostics, diags spec.Diagnostics) spec.Diagnostics {
	if fn == nil {
		return diags
	}
	return fn(diags)
}
