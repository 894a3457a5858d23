package reconcile_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/clusters/clustertest"
	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// pausedConfigs is the real Admin whose config request waits, before it is sent, until the test
// resumes it: an apply that runs longer than its lease's TTL (kfake answers too fast to take long
// on its own). It stops waiting when the apply's context ends.
type pausedConfigs struct {
	*clusters.Admin
	reached chan struct{} // closed when the request is about to be sent
	resume  chan struct{}
}

func (c *pausedConfigs) AlterTopicConfigs(ctx context.Context, changes []reconcile.ConfigChange) (reconcile.Outcome, error) {
	close(c.reached)
	select {
	case <-c.resume:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	return c.Admin.AlterTopicConfigs(ctx, changes)
}

// applyResult is what an apply running in the background returned.
type applyResult struct {
	res plans.Result
	err error
}

// waitFor waits for ch, bounded by the test's context.
func waitFor[T any](t *testing.T, ctx context.Context, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatalf("waiting for %s: %v", what, ctx.Err())
	}
	var zero T
	return zero
}

// TestApplyRenewsItsLease: an apply that runs past its lease's TTL still holds the apply lock — a
// concurrent apply is refused after the TTL has passed — and finishes. Without renewal the lock
// lapsed mid-apply and a second apply could change the cluster at the same time.
func TestApplyRenewsItsLease(t *testing.T) {
	e := newEnv(t)
	want := avatarSpec()
	e.converge(want, reconcile.ApplyOptions{})
	want.Topics[0].Config["retention.ms"] = "7200000"
	want.Topics[1].Config["retention.ms"] = "43200000"
	p := e.plan(want, reconcile.DiffOptions{})

	const ttl = 2 * time.Second
	slow := &pausedConfigs{Admin: e.admin, reached: make(chan struct{}), resume: make(chan struct{})}
	done := make(chan applyResult, 1)
	go func() {
		res, err := reconcile.Apply(e.ctx, p, slow, reconcile.ApplyOptions{Holder: "slow apply", LeaseTTL: ttl, PollInterval: 10 * time.Millisecond}, nil)
		done <- applyResult{res, err}
	}()
	waitFor(t, e.ctx, "the apply to reach its config request", slow.reached)
	cur, err := e.admin.ApplyLock(e.ctx)
	if err != nil || cur == nil || cur.Holder != "slow apply" {
		close(slow.resume)
		t.Fatalf("apply lock while the apply runs: %+v, %v; want it held by the apply", cur, err)
	}
	// Let the claim's own TTL pass while the apply is still running.
	if err := sleepUntil(e.ctx, cur.Since.Add(ttl+500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	other, err := e.admin.AcquireLease(e.ctx, "second apply", time.Minute)
	var held *reconcile.LeaseHeldError
	if !errors.As(err, &held) || held.Holder != "slow apply" {
		if other != nil {
			other.Release(e.ctx)
		}
		close(slow.resume)
		t.Fatalf("a second apply after the running apply's TTL passed: got %v, want *LeaseHeldError naming the running apply", err)
	}
	close(slow.resume)
	r := waitFor(t, e.ctx, "the apply to finish", done)
	if r.err != nil || !r.res.Converged() || r.res.Count(plans.Applied) != 2 {
		t.Fatalf("apply that renewed its lease: %v, %+v", r.err, r.res)
	}
	if cur, err := e.admin.ApplyLock(e.ctx); err != nil || cur != nil {
		t.Errorf("apply lock after the apply: %+v, %v; want it released", cur, err)
	}
}

// heldCreate is the real Admin whose topic creation, once sent, does not answer until the apply's
// context ends (or a bound passes): a request in flight when the lease is lost. It counts config
// requests, which must never be sent after that.
type heldCreate struct {
	*clusters.Admin
	reached chan struct{}
	configs atomic.Int32
}

func (c *heldCreate) CreateTopics(ctx context.Context, create []spec.Topic) (reconcile.Outcome, error) {
	out, err := c.Admin.CreateTopics(ctx, create)
	close(c.reached)
	t := time.NewTimer(20 * time.Second) // without fencing, the apply goes on after this
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	case <-t.C:
		return out, err
	}
}

func (c *heldCreate) AlterTopicConfigs(ctx context.Context, changes []reconcile.ConfigChange) (reconcile.Outcome, error) {
	c.configs.Add(1)
	return c.Admin.AlterTopicConfigs(ctx, changes)
}

// TestUnlockStopsRunningApply: `avatar-sync unlock` of a running apply's lock (clusters.Unlock is
// what the command calls) makes that apply stop before its next step, with ErrLeaseLost saying who
// released it; the change in flight is settled from the live state, the rest are not attempted.
// Without fencing, the apply went on changing the cluster while another apply could take the lock.
func TestUnlockStopsRunningApply(t *testing.T) {
	e := newEnv(t)
	want := avatarSpec()
	e.converge(want, reconcile.ApplyOptions{})
	want.Topics = append(want.Topics, spec.Topic{Name: "replays", Partitions: 1, ReplicationFactor: 1})
	want.Topics[0].Config["retention.ms"] = "7200000"
	p := e.plan(want, reconcile.DiffOptions{})
	if got := pendingNames(p); len(got) != 2 {
		t.Fatalf("plan: %v", got)
	}

	c := &heldCreate{Admin: e.admin, reached: make(chan struct{})}
	done := make(chan applyResult, 1)
	go func() {
		res, err := reconcile.Apply(e.ctx, p, c, reconcile.ApplyOptions{Holder: "running apply", LeaseTTL: 2 * time.Second, PollInterval: 10 * time.Millisecond}, nil)
		done <- applyResult{res, err}
	}()
	waitFor(t, e.ctx, "the apply to send its topic creation", c.reached)
	cur, err := e.admin.ApplyLock(e.ctx)
	if err != nil || cur == nil || cur.Holder != "running apply" {
		t.Fatalf("apply lock while the apply runs: %+v, %v", cur, err)
	}
	const reason = "avatar-sync unlock by bob@lab pid 9"
	if err := e.admin.Unlock(e.ctx, cur.ID, reason); err != nil {
		t.Fatal(err)
	}
	r := waitFor(t, e.ctx, "the apply to stop", done)
	if !errors.Is(r.err, reconcile.ErrLeaseLost) || !strings.Contains(r.err.Error(), reason) ||
		!strings.Contains(r.err.Error(), "stopped before update topic eeg-brainwave-data config (1 change not attempted)") {
		t.Fatalf("apply whose lock was unlocked: %v; want ErrLeaseLost naming the unlock and the step it stopped before", r.err)
	}
	if n := c.configs.Load(); n != 0 {
		t.Errorf("%d config requests sent after the lock was lost", n)
	}
	status := map[string]plans.Status{}
	for _, cr := range r.res.Changes {
		status[plans.Headline(cr.Change)] = cr.Status
	}
	if status["create topic replays"] != plans.Applied || status["update topic eeg-brainwave-data config"] != plans.NotAttempted {
		t.Errorf("statuses: %v; want the creation in flight settled as applied, the config change not attempted", status)
	}
	live, err := e.admin.Describe(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v := live.Topics["eeg-brainwave-data"].Config["retention.ms"].Value; v != "3600000" {
		t.Errorf("retention.ms of eeg-brainwave-data is %s after the apply lost its lock; want it unchanged", v)
	}
}

// TestAppliesNeverOverlapPastTheTTL races two slow applies with a tiny TTL: the second waits for the
// first's lock well past the TTL and gets it only once the first released it.
func TestAppliesNeverOverlapPastTheTTL(t *testing.T) {
	e := newEnv(t)
	want := avatarSpec()
	e.converge(want, reconcile.ApplyOptions{})
	want.Topics[0].Config["retention.ms"] = "7200000"
	p := e.plan(want, reconcile.DiffOptions{})

	const ttl = 2 * time.Second
	slow := &pausedConfigs{Admin: e.admin, reached: make(chan struct{}), resume: make(chan struct{})}
	first := make(chan applyResult, 1)
	go func() {
		res, err := reconcile.Apply(e.ctx, p, slow, reconcile.ApplyOptions{Holder: "first", LeaseTTL: ttl, PollInterval: 10 * time.Millisecond}, nil)
		first <- applyResult{res, err}
	}()
	waitFor(t, e.ctx, "the first apply to reach its config request", slow.reached)

	var (
		mu      sync.Mutex
		waiting []string
	)
	second := make(chan applyResult, 1)
	go func() {
		a, err := e.cluster.Connect(e.ctx, clusters.Options{})
		if err != nil {
			second <- applyResult{err: err}
			return
		}
		defer a.Close()
		res, err := reconcile.Apply(e.ctx, p, a, reconcile.ApplyOptions{Holder: "second", LeaseTTL: ttl, LockWait: time.Minute, PollInterval: 20 * time.Millisecond}, func(ev plans.Event) {
			if strings.Contains(ev.Message, "apply lock") {
				mu.Lock()
				waiting = append(waiting, ev.Message)
				mu.Unlock()
			}
		})
		second <- applyResult{res, err}
	}()
	// Hold the first apply past three TTLs while the second polls for the lock.
	if err := sleepUntil(e.ctx, time.Now().Add(3*ttl)); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-second:
		close(slow.resume)
		t.Fatalf("the second apply ended while the first still ran: %v, %+v", r.err, r.res)
	default:
	}
	close(slow.resume)
	if r := waitFor(t, e.ctx, "the first apply", first); r.err != nil {
		t.Fatalf("first apply: %v", r.err)
	}
	// The second ran after the first: its plan is stale now.
	if r := waitFor(t, e.ctx, "the second apply", second); !errors.Is(r.err, reconcile.ErrStalePlan) {
		t.Fatalf("second apply: %v; want it to wait for the first and then find its plan stale", r.err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(waiting) != 1 || !strings.Contains(waiting[0], "held by first") {
		t.Errorf("lock wait progress: %q; want one line naming the first apply", waiting)
	}
}

// sleepUntil waits until t or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// TestApplyStopsWhenItCannotRenew: when no renewal succeeds before the lease would expire (here the
// lock partition refuses every write), the apply stops at the expiry instead of running on
// unlocked: another apply may take the lock from then on.
func TestApplyStopsWhenItCannotRenew(t *testing.T) {
	e := newEnv(t)
	want := avatarSpec()
	e.converge(want, reconcile.ApplyOptions{})
	want.Topics[0].Config["retention.ms"] = "7200000"
	p := e.plan(want, reconcile.DiffOptions{})

	slow := &pausedConfigs{Admin: e.admin, reached: make(chan struct{}), resume: make(chan struct{})}
	defer close(slow.resume)
	done := make(chan applyResult, 1)
	go func() {
		res, err := reconcile.Apply(e.ctx, p, slow, reconcile.ApplyOptions{LeaseTTL: 2 * time.Second, PollInterval: 10 * time.Millisecond, CleanupTimeout: 5 * time.Second}, nil)
		done <- applyResult{res, err}
	}()
	waitFor(t, e.ctx, "the apply to reach its config request", slow.reached)
	// Only the keeper produces while the apply waits: every renewal fails from now on.
	remove, err := e.cluster.Fail(clustertest.Failure{API: clustertest.APIProduce, Times: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer remove()
	bound, cancel := context.WithTimeout(e.ctx, 30*time.Second) // without fencing, the apply waits on
	defer cancel()
	r := waitFor(t, bound, "the apply to stop at its lease's expiry", done)
	if !errors.Is(r.err, reconcile.ErrLeaseLost) || !strings.Contains(r.err.Error(), "no renewal succeeded before it expired") {
		t.Fatalf("apply that could not renew: %v; want ErrLeaseLost saying no renewal succeeded", r.err)
	}
	// The config request was in flight (cancelled before it was sent): settled from the live state.
	if n := r.res.Count(plans.Failed); n != 1 {
		t.Errorf("statuses %+v; want the cancelled config change settled as failed (not applied)", r.res.Changes)
	}
	live, err := e.admin.Describe(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v := live.Topics["eeg-brainwave-data"].Config["retention.ms"].Value; v != "3600000" {
		t.Errorf("retention.ms of eeg-brainwave-data is %s after the apply's lease lapsed; want it unchanged", v)
	}
}
