package reconcile

// Run is one plan over a fleet of targets (issue 20: `--cluster lab-east,lab-west`): one
// TargetPlan per target, in the order the user gave them, which is the order apply promotes in.
// A one-target plan is a Run with one target.
type Run struct {
	Targets []TargetPlan
}

// TargetPlan is one target's part of a Run. A target that could not be planned (unreachable,
// refused) carries Err instead of a plan: it fails its own section and never hides the others'.
type TargetPlan struct {
	Target string
	Plan   Plan
	Err    error
}
