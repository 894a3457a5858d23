package reconcile

import (
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
