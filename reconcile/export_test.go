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

// Apply applies a Kafka-only plan to a cluster through Planner.Apply, the one apply entry point
// (issue 20), for a target of the plan's name that pins opts.ExpectClusterID: the tests of
// applyTopics' steps call it.
func Apply(ctx context.Context, plan plans.Plan, cluster Cluster, opts ApplyOptions, progress Progress) (plans.Result, error) {
	target := KafkaTarget(plan.Cluster, cluster)
	target.ClusterID = opts.ExpectClusterID
	return (&Planner{Target: target}).Apply(ctx, plan, opts, progress)
}
