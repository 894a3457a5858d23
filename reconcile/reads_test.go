package reconcile_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/clusters/clustertest"
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

func (s *readSpy) DescribeScope(ctx context.Context, scope reconcile.ReadScope) (plans.Live, error) {
	s.record("settle")
	return s.Admin.DescribeScope(ctx, scope)
}

func (s *readSpy) AcquireLease(ctx context.Context, holder string, ttl time.Duration) (reconcile.Lease, error) {
	s.record("lease")
	return s.Admin.AcquireLease(ctx, holder, ttl)
}

// TestApplyReadsTheClusterOnceBeforeTheLease: plan then apply reads the cluster once before the
// lease (the plan's read; apply verifies against it), once under it (the fingerprint) and, to
// prove convergence, what the apply changed (the settle read, issue 23), and asks for confirmation once, after every check (issue 20: apply used to
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
	if got, want := spy.calls, []string{"describe", "lease", "describe", "settle"}; !slices.Equal(got, want) || confirmed != 1 {
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
	if got, want := spy.calls, []string{"describe", "lease", "describe", "settle"}; !slices.Equal(got, want) {
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

// TestLockedApplyReadsTheClusterOnce is issue 23: an apply nobody confirms between its plan and its
// execution (apply --auto-approve) takes the lock first (Planner.Lock), plans from the read under
// it and executes without reading the whole cluster again: one DescribeConfigs of every topic per
// apply, where the prompt's order sends two, and a settle read of what changed. The lock is
// released when the apply ends. A saved plan (apply --plan --auto-approve) likewise: lock, the
// read that checks it, execute, settle.
func TestLockedApplyReadsTheClusterOnce(t *testing.T) {
	e := newEnv(t)
	spy := &readSpy{Admin: e.admin}
	pl := &reconcile.Planner{Target: reconcile.KafkaTarget("embedded", spy)}
	want := avatarSpec()
	opts := reconcile.ApplyOptions{PollInterval: 10 * time.Millisecond}
	e.cluster.ResetRequests()
	if err := pl.Lock(e.ctx, opts, nil); err != nil {
		t.Fatal(err)
	}
	p, err := pl.Plan(e.ctx, want, reconcile.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := pl.Apply(e.ctx, p, opts, nil)
	if err != nil || !res.Converged() || res.Count(plans.Applied) != 3 {
		t.Fatalf("apply: %v, converged %v, %d applied", err, res.Converged(), res.Count(plans.Applied))
	}
	if got, want := spy.calls, []string{"lease", "describe", "settle"}; !slices.Equal(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	if n := e.cluster.Requests()[clustertest.APIDescribeConfigs]; n != 2 {
		t.Errorf("%d DescribeConfigs requests; want 2: the plan's read under the lock and the settle read", n)
	}
	lease, err := e.admin.AcquireLease(e.ctx, "next apply", time.Minute)
	if err != nil {
		t.Fatalf("the lock after a locked apply: %v", err)
	}
	if err := lease.Release(e.ctx); err != nil {
		t.Fatal(err)
	}

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
	if err := fresh.Lock(e.ctx, opts, nil); err != nil {
		t.Fatal(err)
	}
	if p, err = fresh.CheckSaved(e.ctx, p, want); err != nil {
		t.Fatal(err)
	}
	if res, err := fresh.Apply(e.ctx, p, opts, nil); err != nil || !res.Converged() {
		t.Fatalf("apply --plan: %v, converged %v", err, res.Converged())
	}
	if got, want := spy.calls, []string{"lease", "describe", "settle"}; !slices.Equal(got, want) {
		t.Errorf("apply --plan: calls %v, want %v", got, want)
	}
}

// TestLockedApplyExcludesOthersFromItsRead: while a planner holds the lock it took before reading,
// no other apply can change the cluster between that read and the execution: a lock that is held
// refuses the other apply, naming the holder, before it reads anything; once released (Unlock,
// here after a plan the opt-ins refuse) the next apply takes it at once.
func TestLockedApplyExcludesOthersFromItsRead(t *testing.T) {
	e := newEnv(t)
	opts := reconcile.ApplyOptions{PollInterval: 10 * time.Millisecond, Holder: "alice@lab pid 42"}
	pl := &reconcile.Planner{Target: reconcile.KafkaTarget("embedded", e.admin)}
	if err := pl.Lock(e.ctx, opts, nil); err != nil {
		t.Fatal(err)
	}
	p, err := pl.Plan(e.ctx, avatarSpec(), reconcile.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}

	spy := &readSpy{Admin: e.admin}
	other := &reconcile.Planner{Target: reconcile.KafkaTarget("embedded", spy)}
	err = other.Lock(e.ctx, reconcile.ApplyOptions{Holder: "bob@ci pid 7"}, nil)
	if !errors.Is(err, reconcile.ErrLeaseHeld) || !strings.Contains(err.Error(), "alice@lab pid 42") {
		t.Fatalf("a second locked apply: %v; want ErrLeaseHeld naming alice@lab pid 42", err)
	}
	if got, want := spy.calls, []string{"lease"}; !slices.Equal(got, want) {
		t.Errorf("the refused apply: calls %v, want %v (nothing read)", got, want)
	}
	sneaky := avatarSpec()
	sneaky.Topics = []spec.Topic{{Name: "sneaky", Partitions: 1, ReplicationFactor: 1}}
	op, err := other.Plan(e.ctx, sneaky, reconcile.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Apply(e.ctx, op, reconcile.ApplyOptions{}, nil); !errors.Is(err, reconcile.ErrLeaseHeld) {
		t.Fatalf("an apply between the locked read and its execution: %v; want ErrLeaseHeld", err)
	}
	if res, err := pl.Apply(e.ctx, p, opts, nil); err != nil || !res.Converged() {
		t.Fatalf("the locked apply: %v, converged %v", err, res.Converged())
	}
	live, err := e.admin.Describe(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := live.Topics["sneaky"]; ok {
		t.Error("the other apply changed the cluster while the lock was held")
	}

	// A plan the opt-ins refuse leaves the lock held until Unlock.
	lowered := avatarSpec()
	lowered.Topics[0].Config["retention.ms"] = "60000"
	if err := pl.Lock(e.ctx, opts, nil); err != nil {
		t.Fatal(err)
	}
	if p, err = pl.Plan(e.ctx, lowered, reconcile.PlanOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pl.Apply(e.ctx, p, opts, nil); !errors.Is(err, reconcile.ErrRefused) {
		t.Fatalf("a data-loss plan without the opt-in: %v, want ErrRefused", err)
	}
	pl.Unlock(e.ctx)
	lease, err := e.admin.AcquireLease(e.ctx, "next apply", time.Minute)
	if err != nil {
		t.Fatalf("the lock after Unlock: %v", err)
	}
	if err := lease.Release(e.ctx); err != nil {
		t.Fatal(err)
	}
}

// lyingCluster is the real Admin that reports config changes and creations as done while the
// cluster did not make them as asked: a config change is not sent, a topic is created with one
// partition and none of its configs.
type lyingCluster struct{ *clusters.Admin }

func (c lyingCluster) AlterTopicConfigs(_ context.Context, changes []reconcile.ConfigChange) (reconcile.Outcome, error) {
	out := reconcile.Outcome{}
	for _, ch := range changes {
		out[ch.Topic] = nil
	}
	return out, nil
}

func (c lyingCluster) CreateTopics(ctx context.Context, create []spec.Topic) (reconcile.Outcome, error) {
	var bare []spec.Topic
	for _, t := range create {
		bare = append(bare, spec.Topic{Name: t.Name, Partitions: 1, ReplicationFactor: t.ReplicationFactor})
	}
	return c.Admin.CreateTopics(ctx, bare)
}

// TestSettleReadJudgesConvergence: the settle read (issue 23) reads only what the apply touched,
// and a change that did not land as planned is still found there: a config change the cluster
// did not make, a created topic with fewer partitions and without its configs. The apply fails
// saying what did not converge.
func TestSettleReadJudgesConvergence(t *testing.T) {
	e := newEnv(t)
	want := avatarSpec()
	e.converge(want, reconcile.ApplyOptions{})
	want.Topics[0].Config["retention.ms"] = "7200000"
	want.Topics = append(want.Topics, spec.Topic{Name: "replays", Partitions: 3, ReplicationFactor: 1, Config: map[string]string{"retention.ms": "60000"}})
	p := e.plan(want, reconcile.DiffOptions{})
	res, err := reconcile.Apply(e.ctx, p, lyingCluster{e.admin}, reconcile.ApplyOptions{PollInterval: 10 * time.Millisecond}, nil)
	if err == nil || !strings.Contains(err.Error(), "did not converge") {
		t.Fatalf("apply: %v; want the cluster not to converge", err)
	}
	var residual []string
	for _, c := range res.Residual {
		residual = append(residual, plans.Headline(c))
	}
	slices.Sort(residual)
	if want := []string{"update topic eeg-brainwave-data config", "update topic replays config", "update topic replays partitions"}; !slices.Equal(residual, want) {
		t.Errorf("residual %v, want %v", residual, want)
	}
}

// TestLockedPlanEditedIsVerified: the plan a planner made under its lock is applied without being
// derived again, but only that plan: one with other changes is read for afresh and verified
// (issue 23 dropped the read the locked plan was made from), and refused as edited.
func TestLockedPlanEditedIsVerified(t *testing.T) {
	e := newEnv(t)
	spy := &readSpy{Admin: e.admin}
	pl := &reconcile.Planner{Target: reconcile.KafkaTarget("embedded", spy)}
	opts := reconcile.ApplyOptions{PollInterval: 10 * time.Millisecond}
	if err := pl.Lock(e.ctx, opts, nil); err != nil {
		t.Fatal(err)
	}
	defer pl.Unlock(e.ctx)
	p, err := pl.Plan(e.ctx, avatarSpec(), reconcile.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	edited := p
	kafka := p.Part(plans.PlaneKafka)
	kafka.Changes = slices.Clone(kafka.Changes[1:])
	edited.Parts = []plans.Part{kafka}
	if _, err := pl.Apply(e.ctx, edited, opts, nil); !errors.Is(err, plans.ErrTampered) {
		t.Fatalf("a plan with a change dropped: %v, want ErrTampered", err)
	}
	if got, want := spy.calls, []string{"lease", "describe", "describe"}; !slices.Equal(got, want) {
		t.Errorf("calls %v, want %v (the edited plan read for afresh)", got, want)
	}
	live, err := e.admin.Describe(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range avatarSpec().Topics {
		if _, ok := live.Topics[topic.Name]; ok {
			t.Errorf("the edited plan changed the cluster: topic %s exists", topic.Name)
		}
	}
}

// TestLockedPlanWithAnotherSnapshotIsVerified: a plan with the locked plan's changes but another
// desired snapshot (a hand-edited deletion policy here) is not the plan made under the lock: it
// is read for afresh and verified before anything changes.
func TestLockedPlanWithAnotherSnapshotIsVerified(t *testing.T) {
	e := newEnv(t)
	spy := &readSpy{Admin: e.admin}
	pl := &reconcile.Planner{Target: reconcile.KafkaTarget("embedded", spy)}
	opts := reconcile.ApplyOptions{PollInterval: 10 * time.Millisecond}
	if err := pl.Lock(e.ctx, opts, nil); err != nil {
		t.Fatal(err)
	}
	defer pl.Unlock(e.ctx)
	p, err := pl.Plan(e.ctx, avatarSpec(), reconcile.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	edited := p
	edited.Desired.Topics = slices.Clone(p.Desired.Topics)
	edited.Desired.Deletion = spec.DeletionPrune
	_, _ = pl.Apply(e.ctx, edited, opts, nil)
	if len(spy.calls) < 3 || !slices.Equal(spy.calls[:3], []string{"lease", "describe", "describe"}) {
		t.Errorf("calls %v, want lease, describe, describe… (the edited plan read for afresh)", spy.calls)
	}
}
