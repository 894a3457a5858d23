package reconcile_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// readSpy is the real kfake admin, recording the order of its reads and the lease: the question
// is how often apply reads the cluster, which only the calls can tell.
type readSpy struct {
	*clusters.Admin
	mu    sync.Mutex
	calls []string
}

func (s *readSpy) record(c string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

func (s *readSpy) Describe(ctx context.Context) (plans.Live, error) {
	s.record("describe")
	return s.Admin.Describe(ctx)
}

func (s *readSpy) AcquireLease(ctx context.Context, holder string, ttl time.Duration) (reconcile.Lease, error) {
	s.record("lease")
	return s.Admin.AcquireLease(ctx, holder, ttl)
}

// TestApplyReadsTheClusterOnceBeforeTheLease: plan then apply reads the cluster once before the
// lease (the plan's read; apply verifies against it), once under it (the fingerprint) and once to
// prove convergence, and asks for confirmation once, after every check (issue 20: apply used to
// read it four times and check the opt-ins three times). A change made between the plan and the
// lease is still refused: the fingerprint is checked against the read under the lease.
func TestApplyReadsTheClusterOnceBeforeTheLease(t *testing.T) {
	e := newEnv(t)
	spy := &readSpy{Admin: e.admin}
	pl := &reconcile.Planner{Target: reconcile.KafkaTarget("embedded", spy)}
	want := avatarSpec()
	p, err := pl.Plan(e.ctx, want, reconcile.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	confirmed := 0
	opts := reconcile.ApplyOptions{PollInterval: 10 * time.Millisecond, Confirm: func(context.Context) error { confirmed++; return nil }}
	res, err := pl.Apply(e.ctx, p, opts, nil)
	if err != nil || !res.Converged() {
		t.Fatalf("apply: %v, converged %v", err, res.Converged())
	}
	if got, want := spy.calls, []string{"describe", "lease", "describe", "describe"}; !slices.Equal(got, want) || confirmed != 1 {
		t.Errorf("calls %v, confirmed %d times; want %v and once", got, confirmed, want)
	}

	// A saved plan: apply --plan reads the cluster once to check it (CheckSaved), and Apply
	// verifies against that read.
	want.Topics[0].Partitions = 6
	if p, err = pl.Plan(e.ctx, want, reconcile.PlanOptions{}); err != nil {
		t.Fatal(err)
	}
	var saved bytes.Buffer
	if err := reconcile.WritePlan(&saved, p); err != nil {
		t.Fatal(err)
	}
	if p, err = reconcile.ReadPlan(&saved); err != nil {
		t.Fatal(err)
	}
	spy.calls = nil
	fresh := &reconcile.Planner{Target: reconcile.KafkaTarget("embedded", spy)}
	if p, err = fresh.CheckSaved(e.ctx, p, want); err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.Apply(e.ctx, p, opts, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := spy.calls, []string{"describe", "lease", "describe", "describe"}; !slices.Equal(got, want) {
		t.Errorf("apply --plan: calls %v, want %v", got, want)
	}

	// Stale between plan and lease: the plan verifies against the planned state, the read under
	// the lease refuses it.
	want.Topics = append(want.Topics, spec.Topic{Name: "drone-telemetry", Partitions: 3, ReplicationFactor: 3})
	if p, err = pl.Plan(e.ctx, want, reconcile.PlanOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.CreateTopics(e.ctx, []spec.Topic{{Name: "sneaky", Partitions: 1, ReplicationFactor: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pl.Apply(e.ctx, p, opts, nil); !errors.Is(err, reconcile.ErrStalePlan) {
		t.Errorf("a plan the cluster moved on from: %v, want ErrStalePlan", err)
	}
	live, err := e.admin.Describe(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := live.Topics["drone-telemetry"]; ok {
		t.Error("the stale plan was applied")
	}

	// A plan the opt-ins refuse is refused before anyone is asked.
	confirmed = 0
	lowered := avatarSpec()
	lowered.Topics[0].Config["retention.ms"] = "60000"
	if p, err = pl.Plan(e.ctx, lowered, reconcile.PlanOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pl.Apply(e.ctx, p, opts, nil); !errors.Is(err, reconcile.ErrRefused) || confirmed != 0 {
		t.Errorf("a data-loss plan without the opt-in: %v, confirmed %d times; want ErrRefused before asking", err, confirmed)
	}
}

// TestApplyDropsTheReadItVerifiedAgainst: once Apply goes ahead it no longer trusts (nor holds in
// memory, issue 23) the read the plan was verified against, so applying the same plan again on the
// same planner reads the cluster before the lease and refuses the plan as stale there, without
// taking the lease.
func TestApplyDropsTheReadItVerifiedAgainst(t *testing.T) {
	e := newEnv(t)
	spy := &readSpy{Admin: e.admin}
	pl := &reconcile.Planner{Target: reconcile.KafkaTarget("embedded", spy)}
	p, err := pl.Plan(e.ctx, avatarSpec(), reconcile.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	opts := reconcile.ApplyOptions{PollInterval: 10 * time.Millisecond}
	if res, err := pl.Apply(e.ctx, p, opts, nil); err != nil || !res.Converged() {
		t.Fatalf("apply: %v, converged %v", err, res.Converged())
	}
	spy.calls = nil
	_, err = pl.Apply(e.ctx, p, opts, nil)
	if !errors.Is(err, reconcile.ErrStalePlan) {
		t.Fatalf("second apply of the same plan: %v, want ErrStalePlan", err)
	}
	if got, want := spy.calls, []string{"describe"}; !slices.Equal(got, want) {
		t.Errorf("calls %v, want %v (a fresh read, no lease)", got, want)
	}
}
