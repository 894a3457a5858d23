package reconcile

import (
	"context"
	"fmt"
	"time"

	"github.com/avatar-project/avatar-sync/spec"
)

// Checker is a device plugin: it validates one device's spec entry and probes the device. The
// plugins packages implement it (built-in probes chosen by kind, and the runner for external
// avatar-sync-plugin-<kind> executables); reconcile only composes them (issue 6).
type Checker interface {
	// Name is the plugin's name as users see it: the built-in kind, or the external executable.
	Name() string
	// Validate checks the kind-specific parts of d (Params, Address format) without probing the
	// device or touching the network, anchoring each problem at its position in the spec. It runs
	// on every validate/plan/apply, so it must be cheap: built-ins parse only, and an external
	// plugin's validate op is a local process bounded by a short hard timeout. ctx carries Ctrl-C
	// to that process (issue 9): when ctx ends, Validate returns at once, its process killed.
	Validate(ctx context.Context, d spec.Device) spec.Diagnostics
	// Check probes one device. OK=false in the result is a finding (the device answered badly or
	// not at all); a non-nil error means the probe itself could not run (bad plugin, no socket).
	// d.Timeout is already the effective timeout, and ctx expires with it.
	Check(ctx context.Context, d spec.Device) (CheckResult, error)
}

// Registry picks the Checker for a device, normally by its kind. An error means no plugin can
// serve the device at all (for example a mistyped kind); it names the fix.
type Registry interface {
	Checker(d spec.Device) (Checker, error)
}

// CheckResult is what one probe found. Checkers fill OK, Latency, Detail and Facts; Preflight adds
// the device's identity and Status so a result can be printed on its own.
type CheckResult struct {
	Device   string
	Kind     string
	Address  string
	Required bool
	Status   CheckStatus
	// OK is the checker's verdict: the device answered as the spec expects.
	OK bool
	// Latency is the round trip of the probe's main exchange (or the time spent giving up).
	Latency time.Duration
	// Detail is one line a person can act on: "battery 87%", or what failed and what to try.
	Detail string
	// Facts are what the probe learned, for machines (-o json): battery, board, channels, status.
	Facts map[string]string
}

// Line renders the result the way the issue phrases reasons:
// `tello-1 192.168.10.1:8889: no answer to "command" after 3 tries in 3s — is the laptop on the drone's Wi-Fi?`.
func (r CheckResult) Line() string {
	where := r.Device
	if r.Address != "" {
		where += " " + r.Address
	}
	return fmt.Sprintf("%s: %s", where, r.Detail)
}

// Failed reports whether the device did not pass, for either reason (finding or probe error).
func (r CheckResult) Failed() bool { return r.Status != CheckOK }

// CheckStatus is the outcome class of one device check.
type CheckStatus int

// Statuses. CheckFail and CheckError are kept apart because they call for different fixes: the
// first is about the device (charge it, join its Wi-Fi), the second about avatar-sync's set-up
// (install the plugin, fix the spec).
const (
	CheckOK    CheckStatus = iota // the device answered as expected
	CheckFail                     // a finding: the device answered badly or not at all
	CheckError                    // the probe could not run
)

// String is the status as `check -o json` writes it: ok, fail or error.
func (s CheckStatus) String() string {
	switch s {
	case CheckOK:
		return "ok"
	case CheckFail:
		return "fail"
	case CheckError:
		return "error"
	default:
		return fmt.Sprintf("CheckStatus(%d)", int(s))
	}
}

// MarshalText makes statuses appear as "ok", "fail", "error" in JSON.
func (s CheckStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads what MarshalText wrote, so tools can decode `check -o json` into CheckStatus.
func (s *CheckStatus) UnmarshalText(b []byte) error {
	for _, st := range []CheckStatus{CheckOK, CheckFail, CheckError} {
		if string(b) == st.String() {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("unknown check status %q (want ok, fail or error)", b)
}
