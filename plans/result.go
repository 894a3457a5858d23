package plans

import (
	"strings"
)

// Status is where one change stands after Apply.
type Status int

// Statuses.
const (
	NotAttempted Status = iota // never sent: an earlier step failed or the apply was refused
	Running                    // sent, waiting for the cluster (progress events only)
	Applied                    // the live state shows the change
	Failed                     // not applied: the cluster refused it, or it is not in the live state
	// Unknown: the request timed out or was interrupted and the live state could not be re-read
	// to tell (issue 10); run plan to see.
	Unknown
)

var statusNames = []string{"not attempted", "running", "applied", "failed", "unknown"}

// String names the status in progress lines and summaries.
func (s Status) String() string { return enumName(statusNames, int(s)) }

// ChangeResult is the outcome of one pending change.
type ChangeResult struct {
	Change Change
	Status Status
	Err    error
}

// Result says exactly what Apply did: every pending change of the plan with its status, and what
// a fresh diff of the plan's own snapshot still finds afterwards.
type Result struct {
	ClusterID string
	Changes   []ChangeResult
	// Verified is set when the live state was re-read and diffed after applying.
	Verified bool
	// Residual are the pending changes the verifying diff still found (empty = converged).
	Residual []Change
	// Continued is the Kafka plane of a plan that deferred it, planned because the brokers answered
	// at apply (issue 20), from the one read of that plane under the apply lock, which is taken
	// before the objects phase (it also checks the cluster's identity before anything changes): what
	// the objects phase then changes shows at the next plan. It is reported, never applied: it was
	// not part of the reviewed plan. nil when nothing was deferred or the brokers still do not
	// answer.
	Continued *Plan
}

// Count returns how many changes ended with status s.
func (r Result) Count(s Status) int {
	n := 0
	for _, c := range r.Changes {
		if c.Status == s {
			n++
		}
	}
	return n
}

// Converged reports whether the verifying diff found nothing left to do.
func (r Result) Converged() bool { return r.Verified && len(r.Residual) == 0 }

// Event is one progress report: a change started (Running) or finished (Applied/Failed), or a
// wait made progress (Message set).
type Event struct {
	Index, Total int
	Change       Change
	Status       Status
	Err          error
	Message      string
}

// MarshalText is the status's JSON name: "not-attempted", "running", "applied", "failed", "unknown".
func (s Status) MarshalText() ([]byte, error) {
	return []byte(strings.ReplaceAll(s.String(), " ", "-")), nil
}
