package report

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
)

// ApplyProgress writes one line per change to w as apply runs (cmd gives it stderr), and the
// waits' messages indented under them.
func ApplyProgress(w io.Writer) reconcile.Progress { return applyProgress(w, time.Now) }

func applyProgress(w io.Writer, now func() time.Time) reconcile.Progress {
	start := map[int]time.Time{}
	return func(ev plans.Event) {
		switch {
		case ev.Message != "" && ev.Err != nil:
			fmt.Fprintf(w, "  %s: %v\n", ev.Message, ev.Err)
		case ev.Message != "":
			fmt.Fprintf(w, "  ... %s\n", ev.Message)
		case ev.Status == plans.Running:
			start[ev.Index] = now()
			fmt.Fprintf(w, "[%d/%d] %s ...\n", ev.Index, ev.Total, plans.Headline(ev.Change))
		case ev.Status == plans.Applied && start[ev.Index].IsZero():
			// Kubernetes objects report only when applied.
			fmt.Fprintf(w, "[%d/%d] %s: done\n", ev.Index, ev.Total, plans.Headline(ev.Change))
		case ev.Status == plans.Applied:
			fmt.Fprintf(w, "[%d/%d] %s: done (%s)\n", ev.Index, ev.Total, plans.Headline(ev.Change), now().Sub(start[ev.Index]).Round(time.Millisecond))
		case ev.Status == plans.Unknown:
			fmt.Fprintf(w, "[%d/%d] %s: NO ANSWER: %v (the live state is re-read to tell whether it landed)\n", ev.Index, ev.Total, plans.Headline(ev.Change), ev.Err)
		case ev.Status == plans.Failed:
			fmt.Fprintf(w, "[%d/%d] %s: FAILED: %v\n", ev.Index, ev.Total, plans.Headline(ev.Change), ev.Err)
		}
	}
}

// RenderApplyingTarget heads one target's progress lines when a fleet is applied (they follow each
// other on stderr).
func RenderApplyingTarget(w io.Writer, target string) error {
	_, err := fmt.Fprintf(w, "Applying target %s:\n", target)
	return err
}

// RenderAppliedTarget heads one target's result when a fleet is applied, saying so when nothing
// was changed on it (refused or stopped before its first change: the error below says why).
func RenderAppliedTarget(w io.Writer, target string, res plans.Result, err error) error {
	if _, werr := fmt.Fprintf(w, "\nTarget %s:\n", target); werr != nil {
		return werr
	}
	if err != nil && res.Count(plans.Applied)+res.Count(plans.Failed)+res.Count(plans.Unknown) == 0 {
		_, werr := fmt.Fprintln(w, "Nothing was changed on this target (the error below says why).")
		return werr
	}
	return nil
}

// RenderWaitingForBrokers says that apply waits for a fresh cluster's brokers before it plans its
// topics (issue 11).
func RenderWaitingForBrokers(w io.Writer, target string, timeout time.Duration) error {
	_, err := fmt.Fprintf(w, "\nWaiting up to %s for the brokers of %q to answer, then planning the topics ...\n", timeout, target)
	return err
}

// RenderApplyResultText writes the end of an apply: counts, what was not done, and the
// convergence proof. An apply refused before anything ran writes nothing: its error says why.
func RenderApplyResultText(w io.Writer, res plans.Result, err error) error {
	pw := &printer{w: w}
	applied, failed, unknown, skipped := res.Count(plans.Applied), res.Count(plans.Failed), res.Count(plans.Unknown), res.Count(plans.NotAttempted)
	if applied+failed+unknown == 0 && err != nil {
		return nil
	}
	state := "complete"
	if err != nil {
		state = "incomplete"
	}
	pw.linef("Apply %s: %d applied, %d failed, %d unknown, %d not attempted.", state, applied, failed, unknown, skipped)
	for _, cr := range res.Changes {
		if cr.Status != plans.Applied {
			pw.linef("  %-14s %s", cr.Status.String()+":", plans.Headline(cr.Change))
		}
	}
	switch {
	case res.Converged():
		pw.linef("Cluster %s converged: a fresh plan has no changes.", res.ClusterID)
	case res.Verified:
		pw.linef("Cluster %s has not converged; still pending:", res.ClusterID)
		for _, c := range res.Residual {
			pw.linef("  %s", plans.Headline(c))
		}
	}
	return pw.err
}

// RenderDeferredText says what became of the topics a plan deferred: planned under the apply lock
// when the brokers answered at apply (issue 20), and never changed, as they were not reviewed.
func RenderDeferredText(w io.Writer, target string, res plans.Result) error {
	pw := &printer{w: w}
	if res.Continued == nil {
		pw.linef("The topics were not planned (the brokers did not answer): run apply again once they do.")
		return pw.err
	}
	var pending []string
	for c := range res.Continued.EachChange() {
		if c.Pending() {
			pending = append(pending, plans.Headline(c))
		}
	}
	if len(pending) == 0 {
		pw.linef("The brokers of %q answered: the topics, planned under the apply lock, are in sync.", target)
		return pw.err
	}
	pw.linef("The brokers of %q answered: the topics were planned under the apply lock but are not part of this plan, so none was changed; %d change(s) pending (run plan and apply again):", target, len(pending))
	for _, h := range pending {
		pw.linef("  %s", h)
	}
	return pw.err
}

// Target states in the apply result document (docs/plan-json.md, "apply -o json").
const (
	// StateApplied: apply went through the target without an error (or it had no changes).
	StateApplied = "applied"
	// StateFailed: the apply of the target was refused or failed; error says why.
	StateFailed = "failed"
	// StateNotAttempted: an earlier target failed, so apply stopped before this one.
	StateNotAttempted = "not-attempted"
	// StateNotPlanned: the target could not be planned; error says why.
	StateNotPlanned = "not-planned"
)

type changeResultDoc struct {
	Kind   plans.Kind   `json:"kind"`
	Name   string       `json:"name"`
	Action plans.Action `json:"action"`
	Status plans.Status `json:"status"`
	Error  string       `json:"error,omitempty"`
}

type targetResultDoc struct {
	Target    string `json:"target"`
	ClusterID string `json:"clusterId"`
	State     string `json:"state"`
	// Summary and HasChanges are the target's plan's (absent for a target not planned).
	Summary      *plans.Summary    `json:"summary,omitempty"`
	HasChanges   bool              `json:"hasChanges"`
	Changes      []changeResultDoc `json:"changes"`
	Applied      int               `json:"applied"`
	Failed       int               `json:"failed"`
	Unknown      int               `json:"unknown"`
	NotAttempted int               `json:"notAttempted"`
	Verified     bool              `json:"verified"`
	Converged    bool              `json:"converged"`
	Residual     []plans.Change    `json:"residual"`
	// Continued is the deferred Kafka plane, planned under the lock once the brokers answered
	// (issue 20): reported, not applied.
	Continued []plans.Change `json:"continued,omitempty"`
	Error     string         `json:"error,omitempty"`
}

// RenderRunResultJSON writes the document `apply -o json` prints (docs/plan-json.md, "apply -o
// json"): per target, in the order applied, its plan's summary, every pending change's status,
// the convergence proof and its error; targets apply never reached are "not-attempted". results
// holds one Result per target apply went through, in order; err is the apply's error, which
// belongs to the last of them (or to the whole run when there is none: refused before any change).
func RenderRunResultJSON(w io.Writer, run plans.Run, results []plans.Result, applyErr error) error {
	doc := struct {
		FormatVersion int `json:"formatVersion"`
		// PlanDigest is the digest of the plan document applied (plan -o json, plan --out).
		PlanDigest string            `json:"planDigest"`
		Targets    []targetResultDoc `json:"targets"`
		Summary    plans.RunSummary  `json:"summary"`
		// Converged: every target was applied and a fresh plan of each has no changes.
		Converged bool   `json:"converged"`
		Error     string `json:"error,omitempty"`
	}{FormatVersion: plans.FormatVersion, PlanDigest: plans.DocumentOf(run).Digest, Targets: []targetResultDoc{},
		Summary: run.Summary(), Converged: len(run.Targets) > 0}
	if applyErr != nil {
		doc.Error = applyErr.Error()
		doc.Converged = false
	}
	for i, t := range run.Targets {
		td := targetResultDoc{Target: t.Target, ClusterID: t.Plan.ClusterID, Changes: []changeResultDoc{}, Residual: []plans.Change{}}
		if t.Err != nil {
			td.State, td.Error = StateNotPlanned, t.Err.Error()
			doc.Targets = append(doc.Targets, td)
			doc.Converged = false
			continue
		}
		s := t.Plan.Summary()
		td.Summary, td.HasChanges = &s, t.Plan.HasChanges()
		var res plans.Result
		switch {
		case i >= len(results):
			td.State = StateNotAttempted
		case applyErr != nil && i == len(results)-1:
			td.State, td.Error, res = StateFailed, applyErr.Error(), results[i]
		default:
			td.State, res = StateApplied, results[i]
		}
		if res.ClusterID != "" {
			td.ClusterID = res.ClusterID
		}
		td.Applied, td.Failed, td.Unknown = res.Count(plans.Applied), res.Count(plans.Failed), res.Count(plans.Unknown)
		td.Verified, td.Converged = res.Verified, res.Converged()
		if res.Residual != nil {
			td.Residual = res.Residual
		}
		if res.Continued != nil {
			td.Continued = res.Continued.AllChanges()
		}
		if td.State != StateApplied || (td.HasChanges && !td.Converged) {
			doc.Converged = false
		}
		// A refused or unreached apply has no per-change results: every pending change was not
		// attempted.
		changes := res.Changes
		if len(changes) == 0 {
			for c := range t.Plan.EachChange() {
				if c.Pending() {
					changes = append(changes, plans.ChangeResult{Change: c})
				}
			}
		}
		for _, cr := range changes {
			jc := changeResultDoc{Kind: cr.Change.Kind, Name: cr.Change.Name, Action: cr.Change.Action, Status: cr.Status}
			if cr.Err != nil {
				jc.Error = cr.Err.Error()
			}
			if cr.Status == plans.NotAttempted {
				td.NotAttempted++
			}
			td.Changes = append(td.Changes, jc)
		}
		doc.Targets = append(doc.Targets, td)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
