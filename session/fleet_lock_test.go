package session

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/clusters/clustertest"
	"github.com/avatar-project/avatar-sync/reconcile"
)

// takeLock takes c's apply lock as holder and fails the test unless it is free.
func takeLock(t *testing.T, c *clustertest.Cluster, holder string) reconcile.Lease {
	t.Helper()
	a, err := c.Connect(t.Context(), clusters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	lease, err := a.AcquireLease(t.Context(), holder, time.Minute)
	if err != nil {
		t.Fatalf("the apply lock is not free: %v", err)
	}
	return lease
}

// TestFleetLock is issue 23's order for `apply --auto-approve --cluster east,west`: every
// target's lock is taken, in order, before anything is planned; a lock another apply holds fails
// the run naming the target and its holder and releases the locks already taken; each target's
// lock is released once it is applied, and Unlock releases those of targets never applied.
func TestFleetLock(t *testing.T) {
	east, west, sp := fleetSpec(t)
	other := takeLock(t, west, "alice@lab pid 42")
	f := openTestFleet(t, sp, "east", "west")
	err := f.Lock(t.Context(), reconcile.ApplyOptions{}, nil)
	if !errors.Is(err, reconcile.ErrLeaseHeld) || !strings.Contains(err.Error(), "target west:") || !strings.Contains(err.Error(), "alice@lab pid 42") {
		t.Fatalf("Lock with west's lock held: %v; want ErrLeaseHeld naming west and its holder", err)
	}
	if err := takeLock(t, east, "check").Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := other.Release(t.Context()); err != nil {
		t.Fatal(err)
	}

	if err := f.Lock(t.Context(), reconcile.ApplyOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	run := f.Plan(t.Context(), reconcile.PlanOptions{})
	east.ResetRequests()
	if _, err := f.Apply(t.Context(), run, ApplyOptions{}, ApplyHooks{}); err != nil {
		t.Fatal(err)
	}
	if n := east.Requests()[clustertest.APIDescribeConfigs]; n != 1 {
		t.Errorf("east: %d DescribeConfigs requests while applying; want 1 (the settle read: the plan was read under the lock)", n)
	}
	for _, c := range []*clustertest.Cluster{east, west} {
		if err := takeLock(t, c, "next apply").Release(t.Context()); err != nil {
			t.Fatal(err)
		}
	}

	// Locks taken for a run that is never applied (refused, nothing to do) are released by Unlock.
	if err := f.Lock(t.Context(), reconcile.ApplyOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	f.Unlock(t.Context())
	for _, c := range []*clustertest.Cluster{east, west} {
		if err := takeLock(t, c, "after unlock").Release(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}
