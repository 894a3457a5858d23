package session

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/avatar-project/avatar-sync/plugins/devices"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// The prelude every command that touches a cluster runs before opening it (issue 20): load the
// spec for a target, check its devices, decide and run the preflight. It decides and returns
// values; printing them is the caller's (cmd's views, the daemon's log).

// ReadSpec reads the spec at file ("-" reads stdin, a directory merges its *.yaml files, issue
// 15) through spec.ReadSources, which bounds the read and refuses FIFOs and devices (issue 10
// item 6), and parses it for target: that target's overrides are merged in. ctx ends a wait on
// standard input.
func ReadSpec(ctx context.Context, file string, stdin io.Reader, target string) (*spec.Spec, spec.Diagnostics) {
	return ReadSpecWith(ctx, file, stdin, func(name string, srcs []spec.Source) (*spec.Spec, spec.Diagnostics) {
		return spec.ParseSources(name, srcs, target)
	})
}

// ReadSpecWith is ReadSpec with the parser to use (validate wants partial results).
func ReadSpecWith(ctx context.Context, file string, stdin io.Reader, parse func(name string, srcs []spec.Source) (*spec.Spec, spec.Diagnostics)) (*spec.Spec, spec.Diagnostics) {
	srcs, diags := spec.ReadSources(ctx, file, stdin)
	if diags != nil {
		return nil, diags
	}
	name := file
	if name == spec.Stdin {
		name = spec.StdinName
	}
	return parse(name, srcs)
}

// LoadSpec loads and validates the spec a command works from. It returns the warnings for the
// caller to show, and an invalid spec as one *SpecError listing every problem as
// file:line:col: message, counted as validate counts them (issue 21): the built-in device checks
// run on an invalid spec too (no external plugin runs here).
func LoadSpec(ctx context.Context, file string, stdin io.Reader, target string) (*spec.Spec, spec.Diagnostics, error) {
	return specLoader(ctx, file, stdin, loadAs{})(target)
}

// loadAs is how a loaded spec's problems are told: name is what an invalid spec's error calls the
// file ("" = the file as given, with the "no such file" hint about -f), positions rewrites the
// diagnostics' positions (nil = as they are).
type loadAs struct {
	name      string
	positions func(spec.Diagnostics) spec.Diagnostics
}

// specLoader reads the spec at file once and returns LoadSpec of it for each target asked: a fleet
// parses the YAML once, each target's overrides merged into it in turn (issue 23).
func specLoader(ctx context.Context, file string, stdin io.Reader, as loadAs) func(target string) (*spec.Spec, spec.Diagnostics, error) {
	if _, err := os.Stat(file); as.name == "" && file != spec.Stdin && errors.Is(err, fs.ErrNotExist) {
		err := fmt.Errorf("%s: no such file (point -f/--file at your avatar.yaml): %w", file, fs.ErrNotExist)
		return func(string) (*spec.Spec, spec.Diagnostics, error) { return nil, nil, err }
	}
	var parse func(target string) (*spec.Spec, spec.Diagnostics)
	_, readDiags := ReadSpecWith(ctx, file, stdin, func(name string, srcs []spec.Source) (*spec.Spec, spec.Diagnostics) {
		parse = spec.SourcesParser(name, srcs)
		return nil, nil
	})
	name := cmp.Or(as.name, file)
	return func(target string) (*spec.Spec, spec.Diagnostics, error) {
		if parse == nil {
			return checkedSpec(ctx, name, nil, readDiags, as.positions)
		}
		sp, diags := parse(target)
		return checkedSpec(ctx, name, sp, diags, as.positions)
	}
}

// checkedSpec is LoadSpec's answer for a parsed spec: sp with its warnings, or every error (file
// is what the error calls the spec); positions rewrites the diagnostics' positions (nil = none).
func checkedSpec(ctx context.Context, file string, sp *spec.Spec, diags spec.Diagnostics, positions func(spec.Diagnostics) spec.Diagnostics) (*spec.Spec, spec.Diagnostics, error) {
	if sp != nil && len(diags.Errors()) > 0 {
		reg := devices.NewRegistry()
		reg.NoExternalRun = true
		diags = append(diags, reconcile.ValidateDevices(ctx, spec.DecodedDevices(sp.Devices, diags), reg)...)
		slices.SortStableFunc(diags, func(a, b spec.Diagnostic) int {
			return cmp.Or(a.Pos.Line-b.Pos.Line, a.Pos.Col-b.Pos.Col)
		})
	}
	diags = rewritePositions(positions, diags)
	warnings := diags.Warnings()
	if errs := diags.Errors(); len(errs) > 0 {
		return nil, warnings, &SpecError{File: file, Errs: errs, Warnings: len(warnings)}
	}
	return sp, warnings, nil
}

// SpecError is an invalid spec: every error diagnostic, one per line so editors can jump to each.
// Its first line is validate's summary ("avatar.yaml is invalid: 2 errors, 1 warning"), counted
// the same way (issue 21).
type SpecError struct {
	File     string
	Errs     spec.Diagnostics
	Warnings int
}

func (e *SpecError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is invalid: %s, %s:", e.File, Count(len(e.Errs), "error"), Count(e.Warnings, "warning"))
	for _, d := range e.Errs {
		b.WriteString("\n")
		b.WriteString(d.String())
	}
	return b.String()
}

// Is makes errors.Is(err, spec.ErrInvalid) hold, as for spec.Diagnostics.Err.
func (e *SpecError) Is(target error) bool { return target == spec.ErrInvalid }

// DiagnosticsErr is the *SpecError of diags' errors (nil without errors); file "" is "the spec".
func DiagnosticsErr(file string, diags spec.Diagnostics) error {
	errs := diags.Errors()
	if len(errs) == 0 {
		return nil
	}
	if file == "" {
		file = "the spec"
	}
	return &SpecError{File: file, Errs: errs, Warnings: len(diags.Warnings())}
}

// Count renders "1 error", "3 errors".
func Count(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// DeviceCheck is what checking a spec's devices found.
type DeviceCheck struct {
	// Registry is the registry the devices were validated with: a following Probe reuses its
	// cached plugin answers instead of running external plugins (and their warnings) again.
	Registry reconcile.Registry
	// NotRun names the devices served by external plugins that were not run (plugins false).
	NotRun []string
	// Warnings are the plugins' warnings, for the caller to show.
	Warnings spec.Diagnostics
}

// CheckDevices runs each device plugin's spec validation (kinds, parameters with file:line:col
// and "did you mean"); errors come back as one *SpecError listing each. Without plugins no
// external plugin is started, neither here nor by a later Probe with this registry: CI runs plan
// on pull requests, and a plugin: path in one is code its author chose (issue 10 item 7). ctx ends
// external plugins' validate runs (Ctrl-C, issue 9); an interruption is returned as an error.
func CheckDevices(ctx context.Context, sp *spec.Spec, plugins bool) (DeviceCheck, error) {
	r := devices.NewRegistry()
	r.NoExternalRun = !plugins
	diags := reconcile.ValidateDevices(ctx, sp.Devices, r)
	dc := DeviceCheck{Registry: r, Warnings: diags.Warnings()}
	if err := DiagnosticsErr(sp.File, diags); err != nil {
		return dc, err
	}
	if err := ctx.Err(); err != nil {
		return dc, fmt.Errorf("interrupted while validating the devices: %w", err)
	}
	if !plugins {
		dc.NotRun = devices.ExternalDevices(sp.Devices, r)
	}
	return dc, nil
}

// PreflightSkip says why a preflight probes nothing ("" = it probes).
type PreflightSkip string

const (
	PreflightNotWanted   PreflightSkip = "not wanted"   // neither --preflight nor preflight: true
	PreflightSkipped     PreflightSkip = "skipped"      // --skip-preflight
	PreflightNoDevices   PreflightSkip = "no devices"   // the spec declares none
	PreflightAllExternal PreflightSkip = "all external" // every device is a plugin not run
)

// PreflightDecision is what a preflight will do: pure, decided before anything is probed.
type PreflightDecision struct {
	Skip PreflightSkip
	// Why names what asked for it: "--preflight" or `cluster "lab" sets preflight: true`.
	Why string
	// Devices are the devices to probe: the spec's, less those in notRun.
	Devices []spec.Device
}

// DecidePreflight decides whether the devices are probed: when run (--preflight) or the target
// sets preflight: true, unless skip (--skip-preflight) overrides both (it wins even over
// --preflight, so a wrapper script that always passes --preflight can still be overridden). The
// devices named in notRun (external plugins not run) are left out.
func DecidePreflight(sp *spec.Spec, targets string, notRun []string, run, skip bool) PreflightDecision {
	// A fleet (--cluster dev,lab) is probed when any of its targets asks: the devices are the
	// lab's, and a target that wants them probed before every apply is not skipped because
	// another target came first in the list.
	wantedBy := ""
	for _, name := range strings.Split(targets, ",") {
		name = strings.TrimSpace(name)
		if c, err := sp.Target(name); err == nil && c.Preflight {
			wantedBy = name
			break
		}
	}
	probed := slices.DeleteFunc(slices.Clone(sp.Devices), func(d spec.Device) bool { return slices.Contains(notRun, d.Name) })
	switch {
	case !run && wantedBy == "":
		return PreflightDecision{Skip: PreflightNotWanted}
	case skip:
		return PreflightDecision{Skip: PreflightSkipped}
	case len(sp.Devices) == 0:
		return PreflightDecision{Skip: PreflightNoDevices}
	case len(probed) == 0:
		return PreflightDecision{Skip: PreflightAllExternal}
	}
	why := "--preflight"
	if !run {
		why = fmt.Sprintf("cluster %q sets preflight: true", wantedBy)
	}
	return PreflightDecision{Why: why, Devices: probed}
}

// PreflightTimeout bounds the whole preflight; every device is also bounded by its own timeout.
const PreflightTimeout = 30 * time.Second

// Probe probes devs with reg (the registry CheckDevices returned), bounded by PreflightTimeout,
// and returns the report and its failed required devices.
func Probe(ctx context.Context, devs []spec.Device, reg reconcile.Registry) (reconcile.Report, []reconcile.CheckResult, error) {
	pctx, cancel := context.WithTimeout(ctx, PreflightTimeout)
	defer cancel()
	rep, err := reconcile.Preflight(pctx, devs, reg)
	if err != nil {
		return rep, nil, err
	}
	return rep, rep.RequiredFailures(), nil
}
