package reconcile

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/avatar-project/avatar-sync/spec"
)

// DefaultDeviceTimeout bounds a device's probe when its spec entry sets no timeout. Three seconds
// is long enough for a Tello on a busy 2.4 GHz channel and short enough to wait for before a flight.
const DefaultDeviceTimeout = 3 * time.Second

// stragglerGrace is how long Preflight waits past a device's deadline for a checker that ignores
// its context before reporting it and moving on: a bad plugin must never hang plan/apply.
const stragglerGrace = time.Second

// Report is the outcome of probing a set of devices, in the order they were given.
type Report struct {
	Results []CheckResult
}

// Failures returns every device that did not pass, required or not.
func (r Report) Failures() []CheckResult {
	var out []CheckResult
	for _, res := range r.Results {
		if res.Failed() {
			out = append(out, res)
		}
	}
	return out
}

// RequiredFailures returns the failed devices marked required: true; any of them stops apply.
func (r Report) RequiredFailures() []CheckResult {
	var out []CheckResult
	for _, res := range r.Failures() {
		if res.Required {
			out = append(out, res)
		}
	}
	return out
}

// OK reports whether every required device passed (non-required failures are only shown).
func (r Report) OK() bool { return len(r.RequiredFailures()) == 0 }

// ValidateDevices checks the device entries of a spec without probing anything: names present and
// unique, a plugin for every kind, sane timeouts, and each plugin's own rules for its parameters.
// It reports every problem, so plan/apply can run it always (issue 6). The plugins validate in
// parallel, so several slow external plugins cost the slowest one's time, not the sum; ctx ends
// them all (Ctrl-C, issue 9).
func ValidateDevices(ctx context.Context, devices []spec.Device, reg Registry) spec.Diagnostics {
	perDevice := make([]spec.Diagnostics, len(devices)) // reported in device order
	checkers := make([]Checker, len(devices))
	seen := map[string]spec.Pos{}
	for i, d := range devices {
		errorf := func(pos spec.Pos, format string, args ...any) {
			perDevice[i] = append(perDevice[i], spec.Diagnostic{Pos: pos, Severity: spec.SeverityError, Message: fmt.Sprintf(format, args...)})
		}
		label := fmt.Sprintf("device %q", d.Name)
		if d.Name == "" {
			label = fmt.Sprintf("device #%d", i+1)
			errorf(d.Pos, "%s has no name: every device needs a unique name: to select it with `avatar-sync check NAME`", label)
		} else if prev, dup := seen[d.Name]; dup {
			where := prev.String()
			if where == "" {
				where = "earlier in the list"
			}
			errorf(d.PosOf("name"), "%s is declared twice (first at %s); device names must be unique", label, where)
		} else {
			seen[d.Name] = d.PosOf("name")
		}
		if d.Timeout < 0 {
			errorf(d.PosOf("timeout"), "%s: timeout %s is negative; leave it out for the default %s", label, d.Timeout, DefaultDeviceTimeout)
		}
		for _, name := range d.Env {
			if !envNamePattern.MatchString(name) {
				errorf(d.PosOf("env"), "%s: env entry %q is not the name of an environment variable (letters, digits and _, not starting with a digit; no =value: the plugin receives the variable's current value)", label, name)
			}
		}
		c, err := reg.Checker(d)
		if err != nil {
			key := "kind"
			if d.Plugin != "" {
				key = "plugin"
			}
			errorf(d.PosOf(key), "%s: %v", label, err)
			continue
		}
		checkers[i] = c
	}
	var wg sync.WaitGroup
	for i, c := range checkers {
		if c != nil {
			wg.Go(func() { perDevice[i] = append(perDevice[i], c.Validate(ctx, devices[i])...) })
		}
	}
	wg.Wait()
	var diags spec.Diagnostics
	for _, ds := range perDevice {
		diags = append(diags, ds...)
	}
	return diags
}

// envNamePattern is what a device's env: entry must look like: a variable's name, never NAME=value
// (a value written in the spec would be a secret committed to git).
var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Preflight probes every device in parallel and reports each outcome; a device's problems never
// stop the others from being probed.
//
//  1. Each device gets its own deadline: its timeout (or DefaultDeviceTimeout), capped by ctx.
//  2. Its plugin is looked up and its entry validated; an invalid entry is reported, not probed.
//  3. The probe runs; an error or panic becomes a CheckError result, OK=false a CheckFail one.
//  4. A checker that overstays its deadline is abandoned after a grace period and reported.
//
// The error is non-nil only when ctx was cancelled (the user interrupted): the Report then holds
// what was learned so far. A failed device is a result, never an error.
func Preflight(ctx context.Context, devices []spec.Device, reg Registry) (Report, error) {
	results := make([]CheckResult, len(devices))
	var wg sync.WaitGroup
	for i, d := range devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = checkOne(ctx, d, reg)
		}()
	}
	wg.Wait()
	rep := Report{Results: results}
	if err := ctx.Err(); errors.Is(err, context.Canceled) {
		return rep, fmt.Errorf("preflight interrupted: %w", err)
	}
	return rep, nil
}

// checkOne runs steps 1-4 of Preflight for one device.
func checkOne(ctx context.Context, d spec.Device, reg Registry) CheckResult {
	base := CheckResult{Device: d.Name, Kind: d.Kind, Address: d.Address, Required: d.Required}
	fail := func(status CheckStatus, detail string, latency time.Duration) CheckResult {
		r := base
		r.Status, r.Detail, r.Latency = status, detail, latency
		return r
	}
	if d.Timeout <= 0 {
		d.Timeout = DefaultDeviceTimeout
	}
	// Cap the device's own timeout by the caller's deadline so messages ("after 3 tries in 3s")
	// report the time the probe really had.
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < d.Timeout {
			d.Timeout = max(left, time.Millisecond)
		}
	}
	c, err := reg.Checker(d)
	if err != nil {
		return fail(CheckError, err.Error(), 0)
	}
	// Validation spends the device's own budget: a plugin that hangs must cost the device's
	// timeout once, not once to validate and again to probe (issue 10).
	dctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	if errs := c.Validate(dctx, d).Errors(); len(errs) > 0 {
		return fail(CheckError, "invalid device entry: "+errs[0].String()+moreSuffix(len(errs)-1), 0)
	}
	type outcome struct {
		res CheckResult
		err error
	}
	done := make(chan outcome, 1) // buffered: an abandoned checker must not block forever on send
	start := time.Now()
	deadline, _ := dctx.Deadline()
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- outcome{err: fmt.Errorf("plugin %s panicked: %v", c.Name(), p)}
			}
		}()
		res, err := c.Check(dctx, d)
		done <- outcome{res, err}
	}()
	var out outcome
	select {
	case out = <-done:
	case <-time.After(time.Until(deadline) + stragglerGrace):
		return fail(CheckError, fmt.Sprintf("plugin %s did not return within %s and ignored cancellation; abandoned it", c.Name(), d.Timeout), time.Since(start))
	}
	elapsed := time.Since(start)
	if out.err != nil {
		return fail(CheckError, out.err.Error(), elapsed)
	}
	r := base
	r.OK, r.Detail, r.Facts, r.Latency = out.res.OK, out.res.Detail, out.res.Facts, out.res.Latency
	if r.Latency <= 0 {
		r.Latency = elapsed
	}
	switch {
	case r.OK:
		r.Status = CheckOK
		if r.Detail == "" {
			r.Detail = "ok"
		}
	default:
		r.Status = CheckFail
		if r.Detail == "" {
			r.Detail = fmt.Sprintf("plugin %s reported a failure without saying why", c.Name())
		}
	}
	return r
}

func moreSuffix(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf(" (and %d more)", n)
}
