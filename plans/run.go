package plans

import "slices"

// Run is one plan over a fleet of targets (issue 20: `--cluster lab-east,lab-west`): one
// TargetPlan per target, in the order the user gave them, which is the order apply promotes in.
// A one-target plan is a Run with one target. WriteRun and ReadRun are its one encoding
// (docs/plan-json.md, formatVersion 5).
type Run struct {
	Targets []TargetPlan
}

// TargetPlan is one target's part of a Run. A target that could not be planned (unreachable,
// refused) carries Err instead of a plan: it fails its own section and never hides the others'.
type TargetPlan struct {
	// Target is the target's name in the spec (--cluster); it is the plan's Cluster.
	Target string
	Plan   Plan
	Err    error
}

// RunSummary is a fleet's totals: how many targets, how many of them have changes or failed,
// and their changes counted together.
type RunSummary struct {
	Targets     int `json:"targets"`
	WithChanges int `json:"withChanges"`
	Failed      int `json:"failed"`
	// Summary adds up the plans of the targets that were planned.
	Summary
}

// HasChanges reports whether any planned target has a pending change. A failed target has no
// plan, so no changes: Failed says whether one failed.
func (r Run) HasChanges() bool {
	return slices.ContainsFunc(r.Targets, func(t TargetPlan) bool { return t.Err == nil && t.Plan.HasChanges() })
}

// Failed lists the targets that could not be planned, in order.
func (r Run) Failed() []TargetPlan {
	var failed []TargetPlan
	for _, t := range r.Targets {
		if t.Err != nil {
			failed = append(failed, t)
		}
	}
	return failed
}

// Summary adds up the fleet: targets, targets with changes, failed targets and every planned
// target's changes by action.
func (r Run) Summary() RunSummary {
	s := RunSummary{Targets: len(r.Targets)}
	for _, t := range r.Targets {
		if t.Err != nil {
			s.Failed++
			continue
		}
		if t.Plan.HasChanges() {
			s.WithChanges++
		}
		ts := t.Plan.Summary()
		s.Create += ts.Create
		s.Update += ts.Update
		s.Replace += ts.Replace
		s.Adopt += ts.Adopt
		s.Delete += ts.Delete
		s.Unsupported += ts.Unsupported
		s.NoOp += ts.NoOp
	}
	return s
}

// SingleRun is the Run of one target's plan, named after the plan's cluster.
func SingleRun(p Plan) Run { return Run{Targets: []TargetPlan{{Target: p.Cluster, Plan: p}}} }
