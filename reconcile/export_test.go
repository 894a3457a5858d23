package reconcile

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/avatar-project/avatar-sync/plans"
)

// CountAllowedChecks counts the opt-in checks (CheckAllowed) made until the test ends.
func CountAllowedChecks(t *testing.T) *atomic.Int64 {
	var n atomic.Int64
	check := checkAllowed
	checkAllowed = func(p plans.Plan, opts ApplyOptions) error {
		n.Add(1)
		return check(p, opts)
	}
	t.Cleanup(func() { checkAllowed = check })
	return &n
}

// Apply runs the Kafka part of a plan against a cluster with every step of applyTopics, without a
// Planner: the tests of those steps call it. Avatar-sync itself applies only through
// Planner.Apply (issue 20: one apply entry point).
func Apply(ctx context.Context, plan plans.Plan, cluster Cluster, opts ApplyOptions, progress Progress) (plans.Result, error) {
	opts.defaults()
	if progress == nil {
		progress = func(plans.Event) {}
	}
	return applyTopics(ctx, plan, cluster, opts, progress, nil, unchecked)
}
