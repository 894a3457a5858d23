package reconcile_test

import (
	"bytes"
	"context"
	"errors"
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

// These tests apply plans to a real protocol peer: the in-process 3-broker kfake cluster of the
// clusters package, spoken to with sarama. kfake accepts partition reassignments but does not move
// replicas, so replication-factor changes are covered by the pure tests in topics and plan_test.go.

type env struct {
	t       *testing.T
	ctx     context.Context
	cluster *clustertest.Cluster
	admin   *clusters.Admin
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	e, err := clustertest.Start(ctx, nil, clusters.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	a, err := e.Connect(ctx, clusters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return &env{t: t, ctx: ctx, cluster: e, admin: a}
}

// avatarSpec is the three Avatar topics of examples/avatar.yaml, as the loader produces them.
func avatarSpec() *spec.Spec {
	cfg := func(retention string) map[string]string {
		return map[string]string{"min.insync.replicas": "2", "retention.ms": retention}
	}
	eeg := cfg("3600000")
	eeg["segment.ms"] = "600000"
	return &spec.Spec{Topics: []spec.Topic{
		{Name: "eeg-brainwave-data", Partitions: 3, ReplicationFactor: 3, Config: eeg},
		{Name: "prediction-results", Partitions: 3, ReplicationFactor: 3, Config: cfg("21600000")},
		{Name: "drone-commands", Partitions: 3, ReplicationFactor: 3, Config: cfg("86400000")},
	}}
}

func (e *env) plan(want *spec.Spec, opts reconcile.DiffOptions) plans.Plan {
	e.t.Helper()
	live, err := e.admin.Describe(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	opts.Cluster = "embedded"
	return reconcile.Diff(plans.DesiredOf(want), live, opts)
}

// apply applies p; want is what the caller planned from (Apply itself checks convergence against
// the plan's own snapshot, never against a spec).
func (e *env) apply(p plans.Plan, _ *spec.Spec, opts reconcile.ApplyOptions) (plans.Result, error) {
	e.t.Helper()
	opts.PollInterval = 10 * time.Millisecond
	return reconcile.Apply(e.ctx, p, e.admin, opts, nil)
}

// converge plans and applies want, and fails the test unless the cluster converged.
func (e *env) converge(want *spec.Spec, opts reconcile.ApplyOptions) plans.Result {
	e.t.Helper()
	res, err := e.apply(e.plan(want, reconcile.DiffOptions{AllowDelete: opts.AllowDelete}), want, opts)
	if err != nil {
		e.t.Fatalf("apply: %v", err)
	}
	if !res.Converged() {
		e.t.Fatalf("not converged: %+v", res.Residual)
	}
	return res
}

func pendingNames(p plans.Plan) []string {
	var out []string
	for _, c := range p.AllChanges() {
		if c.Pending() {
			out = append(out, plans.Headline(c))
		}
	}
	return out
}

func TestApplyCreatesThenNoOp(t *testing.T) {
	e := newEnv(t)
	want := avatarSpec()
	p := e.plan(want, reconcile.DiffOptions{})
	if s := p.Summary(); s.Create != 3 || s.Update+s.Delete+s.Unsupported != 0 {
		t.Fatalf("plan from empty: %+v", s)
	}
	e.cluster.ResetRequests()
	var events []plans.Event
	res, err := reconcile.Apply(e.ctx, p, e.admin, reconcile.ApplyOptions{}, func(ev plans.Event) { events = append(events, ev) })
	if err != nil || !res.Converged() || res.Count(plans.Applied) != 3 {
		t.Fatalf("apply: %v, %+v", err, res)
	}
	// All three topics in one CreateTopics request.
	if n := e.cluster.Requests()[clustertest.APICreateTopics]; n > 3 { // the lock and inventory topics may take one each
		t.Errorf("%d CreateTopics requests for 3 topics: creates are not batched", n)
	}
	var done int
	for _, ev := range events {
		if ev.Status == plans.Applied {
			done++
		}
	}
	if done != 3 {
		t.Errorf("progress reported %d applied changes, want 3: %+v", done, events)
	}
	live, err := e.admin.Describe(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	eeg := live.Topics["eeg-brainwave-data"]
	if eeg.Partitions() != 3 || eeg.ReplicationFactor() != 3 || eeg.Config["retention.ms"].Value != "3600000" {
		t.Errorf("eeg-brainwave-data live: %+v", eeg)
	}

	second := e.plan(want, reconcile.DiffOptions{})
	if second.HasChanges() {
		t.Fatalf("second plan not empty: %v", pendingNames(second))
	}
	res, err = e.apply(second, want, reconcile.ApplyOptions{})
	if err != nil || len(res.Changes) != 0 || !res.Converged() {
		t.Fatalf("second apply: %v %+v", err, res)
	}
}

func TestApplyRetentionChange(t *testing.T) {
	e := newEnv(t)
	want := avatarSpec()
	e.converge(want, reconcile.ApplyOptions{})

	// Raising retention is safe.
	want.Topics[2].Config["retention.ms"] = "172800000"
	p := e.plan(want, reconcile.DiffOptions{})
	if got := pendingNames(p); len(got) != 1 || got[0] != "update topic drone-commands config" || p.AllChanges()[0].Risk != plans.RiskNone {
		t.Fatalf("plan: %v %+v", got, p.AllChanges())
	}
	e.converge(want, reconcile.ApplyOptions{})

	// Lowering it is data loss: refused without the opt-in, applied with it.
	want.Topics[2].Config["retention.ms"] = "3600000"
	p = e.plan(want, reconcile.DiffOptions{})
	_, err := e.apply(p, want, reconcile.ApplyOptions{})
	if !errors.Is(err, reconcile.ErrRefused) || !strings.Contains(err.Error(), "--allow-data-loss") {
		t.Fatalf("lowering retention without --allow-data-loss: %v", err)
	}
	res, err := e.apply(p, want, reconcile.ApplyOptions{AllowDataLoss: true})
	if err != nil || !res.Converged() {
		t.Fatalf("with AllowDataLoss: %v %+v", err, res)
	}
	live, _ := e.admin.Describe(e.ctx)
	if v := live.Topics["drone-commands"].Config["retention.ms"].Value; v != "3600000" {
		t.Errorf("retention.ms = %s", v)
	}
}

func TestApplyPartitions(t *testing.T) {
	e := newEnv(t)
	want := avatarSpec()
	e.converge(want, reconcile.ApplyOptions{})

	want.Topics[0].Partitions = 6
	e.converge(want, reconcile.ApplyOptions{})
	live, _ := e.admin.Describe(e.ctx)
	if n := live.Topics["eeg-brainwave-data"].Partitions(); n != 6 {
		t.Fatalf("partitions = %d, want 6", n)
	}

	want.Topics[0].Partitions = 2
	p := e.plan(want, reconcile.DiffOptions{})
	if s := p.Summary(); s.Unsupported != 1 {
		t.Fatalf("decrease plan: %+v", p.AllChanges())
	}
	_, err := e.apply(p, want, reconcile.ApplyOptions{AllowDataLoss: true, AllowDelete: true, Force: true})
	if !errors.Is(err, reconcile.ErrRefused) || !strings.Contains(err.Error(), "recreate") {
		t.Fatalf("partition decrease: %v", err)
	}
	live, _ = e.admin.Describe(e.ctx)
	if n := live.Topics["eeg-brainwave-data"].Partitions(); n != 6 {
		t.Fatalf("refused apply changed partitions to %d", n)
	}
}

func TestUnmanagedAndDelete(t *testing.T) {
	e := newEnv(t)
	want := avatarSpec()
	legacy := &spec.Spec{Topics: []spec.Topic{{Name: "legacy-scores", Partitions: 1, ReplicationFactor: 1}}}
	e.converge(legacy, reconcile.ApplyOptions{})
	e.converge(want, reconcile.ApplyOptions{}) // listed, not deleted

	p := e.plan(want, reconcile.DiffOptions{AllowDelete: true})
	if p.HasChanges() || p.AllChanges()[len(p.AllChanges())-1].Name != "legacy-scores" || !strings.Contains(p.AllChanges()[len(p.AllChanges())-1].Reason, "no longer in the spec; kept") {
		t.Fatalf("without deletion: prune: %+v", p.AllChanges())
	}
	want.Deletion = spec.DeletionPrune
	p = e.plan(want, reconcile.DiffOptions{})
	if p.HasChanges() {
		t.Fatalf("prune without --allow-delete plans changes: %v", pendingNames(p))
	}
	p = e.plan(want, reconcile.DiffOptions{AllowDelete: true})
	if got := pendingNames(p); len(got) != 1 || got[0] != "delete topic legacy-scores" {
		t.Fatalf("both opt-ins: %v", got)
	}
	// A plan that deletes still needs the opt-ins at apply time.
	if _, err := e.apply(p, want, reconcile.ApplyOptions{AllowDataLoss: true}); !errors.Is(err, reconcile.ErrRefused) || !strings.Contains(err.Error(), "--allow-delete") {
		t.Fatalf("apply without AllowDelete: %v", err)
	}

	// Consumer groups with offsets block the delete, by name, unless Force.
	if err := e.cluster.CommitOffsets(e.ctx, "score-readers", "legacy-scores", map[int32]int64{0: 0}); err != nil {
		t.Fatal(err)
	}
	_, err := e.apply(p, want, reconcile.ApplyOptions{AllowDataLoss: true, AllowDelete: true})
	if !errors.Is(err, reconcile.ErrRefused) || !strings.Contains(err.Error(), "score-readers") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("delete with a consumer group: %v", err)
	}
	res, err := e.apply(p, want, reconcile.ApplyOptions{AllowDataLoss: true, AllowDelete: true, Force: true})
	if err != nil || !res.Converged() {
		t.Fatalf("forced delete: %v %+v", err, res)
	}
	live, _ := e.admin.Describe(e.ctx)
	if _, ok := live.Topics["legacy-scores"]; ok {
		t.Fatal("legacy-scores still exists")
	}
	if _, ok := live.Topics["__consumer_offsets"]; ok {
		if p := e.plan(want, reconcile.DiffOptions{AllowDelete: true}); p.HasChanges() {
			t.Fatalf("internal topics planned: %v", pendingNames(p))
		}
	}
}

func TestClusterIDMismatch(t *testing.T) {
	e := newEnv(t)
	want := avatarSpec()
	p := e.plan(want, reconcile.DiffOptions{})
	_, err := e.apply(p, want, reconcile.ApplyOptions{ExpectClusterID: "microk8s-lab"})
	if !errors.Is(err, reconcile.ErrClusterMismatch) || !strings.Contains(err.Error(), "microk8s-lab") || !strings.Contains(err.Error(), e.cluster.ClusterID()) {
		t.Fatalf("pinned id: %v", err)
	}
	p.ClusterID = "another-cluster"
	if _, err := e.apply(p, want, reconcile.ApplyOptions{}); !errors.Is(err, reconcile.ErrClusterMismatch) {
		t.Fatalf("plan from another cluster: %v", err)
	}
	live, _ := e.admin.Describe(e.ctx)
	for name := range live.Topics {
		if !strings.HasPrefix(name, "__") {
			t.Errorf("refused apply created %s", name)
		}
	}
}

func TestDriftDetected(t *testing.T) {
	e := newEnv(t)
	want := avatarSpec()
	e.converge(want, reconcile.ApplyOptions{})
	// Someone changes the topic by hand: a managed key and an unmanaged one.
	out, err := e.admin.AlterTopicConfigs(e.ctx, []reconcile.ConfigChange{{Topic: "prediction-results", Set: map[string]string{"retention.ms": "60000", "max.message.bytes": "2097152"}}})
	if err != nil || out["prediction-results"] != nil {
		t.Fatal(err, out)
	}
	p := e.plan(want, reconcile.DiffOptions{})
	var update, drift *plans.Change
	for i, c := range p.AllChanges() {
		switch {
		case c.Name == "prediction-results" && c.Action == plans.Update:
			update = &p.AllChanges()[i]
		case c.Name == "prediction-results" && c.Action == plans.NoOp:
			drift = &p.AllChanges()[i]
		}
	}
	if update == nil || update.Config.Keys["retention.ms"] != (plans.ConfigEdit{Before: "60000", After: "21600000"}) || update.Notes["retention.ms"] != "live value: set on the topic" {
		t.Fatalf("managed key changed by hand: %+v", update)
	}
	if drift == nil || drift.Config.Keys["max.message.bytes"].Before != "2097152" || !strings.Contains(drift.Reason, "prune") {
		t.Fatalf("unmanaged key set by hand: %+v", drift)
	}
	e.converge(want, reconcile.ApplyOptions{})
	live, _ := e.admin.Describe(e.ctx)
	if v := live.Topics["prediction-results"].Config["max.message.bytes"]; v.Value != "2097152" {
		t.Errorf("drift without prune was removed: %+v", v)
	}
	// With prune the hand-set key goes.
	want.Topics[1].Prune = true
	e.converge(want, reconcile.ApplyOptions{})
	live, _ = e.admin.Describe(e.ctx)
	if v, ok := live.Topics["prediction-results"].Config["max.message.bytes"]; ok && v.Value == "2097152" {
		t.Errorf("prune left max.message.bytes: %+v", v)
	}
}

func TestStalePlanRefused(t *testing.T) {
	e := newEnv(t)
	want := avatarSpec()
	var saved bytes.Buffer
	if err := reconcile.WritePlan(&saved, e.plan(want, reconcile.DiffOptions{})); err != nil {
		t.Fatal(err)
	}
	// The cluster changes between plan and apply.
	if _, err := e.admin.CreateTopics(e.ctx, []spec.Topic{{Name: "sneaky", Partitions: 1, ReplicationFactor: 1}}); err != nil {
		t.Fatal(err)
	}
	p, err := reconcile.ReadPlan(&saved)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.apply(p, want, reconcile.ApplyOptions{})
	if !errors.Is(err, reconcile.ErrStalePlan) {
		t.Fatalf("stale plan: %v", err)
	}
	live, _ := e.admin.Describe(e.ctx)
	if _, ok := live.Topics["eeg-brainwave-data"]; ok {
		t.Fatal("stale plan was applied")
	}
}

func TestFailureInTheMiddleThenReapply(t *testing.T) {
	e := newEnv(t)
	want := avatarSpec()
	e.converge(want, reconcile.ApplyOptions{})
	// One new topic (create phase) and two config changes (config phase); the config request fails.
	want.Topics = append(want.Topics, spec.Topic{Name: "drone-telemetry", Partitions: 3, ReplicationFactor: 3})
	want.Topics[0].Config["retention.ms"] = "7200000"
	want.Topics[1].Config["retention.ms"] = "43200000"
	want.Topics[1].Partitions = 4
	remove, err := e.cluster.Fail(clustertest.Failure{API: clustertest.APIIncrementalAlterConfigs, Code: "POLICY_VIOLATION"})
	if err != nil {
		t.Fatal(err)
	}
	p := e.plan(want, reconcile.DiffOptions{})
	res, err := e.apply(p, want, reconcile.ApplyOptions{})
	remove()
	if err == nil {
		t.Fatal("apply with a failing request succeeded")
	}
	status := map[string]plans.Status{}
	for _, cr := range res.Changes {
		status[plans.Headline(cr.Change)] = cr.Status
	}
	wantStatus := map[string]plans.Status{
		"create topic drone-telemetry":               plans.Applied,
		"update topic prediction-results partitions": plans.Applied,
		"update topic eeg-brainwave-data config":     plans.Failed,
		"update topic prediction-results config":     plans.Failed,
	}
	for h, s := range wantStatus {
		if status[h] != s {
			t.Errorf("%s: %v, want %v (all: %v)", h, status[h], s, status)
		}
	}
	if !strings.Contains(err.Error(), "2 applied, 2 failed, 0 unknown, 0 not attempted") {
		t.Errorf("error %q does not say what was applied", err)
	}
	// Running apply again finishes the job.
	again := e.plan(want, reconcile.DiffOptions{})
	if got := pendingNames(again); len(got) != 2 {
		t.Fatalf("re-plan: %v, want only the two config changes", got)
	}
	e.converge(want, reconcile.ApplyOptions{})
}

func TestConcurrentAppliesSerialize(t *testing.T) {
	e := newEnv(t)
	want := avatarSpec()
	p := e.plan(want, reconcile.DiffOptions{})

	// A held lease makes an apply fail fast, naming the holder, with nothing changed.
	held, err := e.admin.AcquireLease(e.ctx, "alice@lab pid 42", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.apply(p, want, reconcile.ApplyOptions{})
	if !errors.Is(err, reconcile.ErrLeaseHeld) || !strings.Contains(err.Error(), "alice@lab pid 42") {
		t.Fatalf("apply under a held lease: %v", err)
	}

	if err := held.Release(e.ctx); err != nil {
		t.Fatal(err)
	}

	// Two applies of the same plan race: one wins; the other waits for the lock, then finds the
	// plan stale because the first one changed the cluster. Never both.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := e.cluster.Connect(e.ctx, clusters.Options{})
			if err != nil {
				errs[i] = err
				return
			}
			defer a.Close()
			_, errs[i] = reconcile.Apply(e.ctx, p, a, reconcile.ApplyOptions{LockWait: 30 * time.Second, PollInterval: 20 * time.Millisecond}, nil)
		}()
	}
	wg.Wait()
	ok, stale := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, reconcile.ErrStalePlan):
			stale++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 || stale != 1 {
		t.Fatalf("racing applies: %d succeeded, %d stale: %v", ok, stale, errs)
	}
}

// TestReassignmentRunsThrottled drives a replication-factor change through Apply on the embedded
// cluster, which moves replicas as Kafka does (issue 22): one batched reassignment, throttled (set
// before the move, cleared after it), converges, and the next plan is empty.
func TestReassignmentRunsThrottled(t *testing.T) {
	e := newEnv(t)
	want := &spec.Spec{Topics: []spec.Topic{{Name: "replays", Partitions: 2, ReplicationFactor: 1}}}
	e.converge(want, reconcile.ApplyOptions{})
	want.Topics[0].ReplicationFactor = 3
	p := e.plan(want, reconcile.DiffOptions{})
	if got := pendingNames(p); len(got) != 1 || got[0] != "update topic replays replication" || p.AllChanges()[0].Risk != plans.RiskHeavy {
		t.Fatalf("plan: %v", p.AllChanges())
	}
	e.cluster.ResetRequests()
	res, err := e.apply(p, want, reconcile.ApplyOptions{ThrottleBytesPerSec: 10 << 20})
	if res.Count(plans.Applied) != 1 {
		t.Fatalf("reassignment not applied: %+v", res)
	}
	if err != nil || !res.Converged() {
		t.Fatalf("replication 1 -> 3 did not converge: %v %+v", err, res.Residual)
	}
	if again := pendingNames(e.plan(want, reconcile.DiffOptions{})); len(again) != 0 {
		t.Errorf("plan after the move: %v, want none", again)
	}
	reqs := e.cluster.Requests()
	if reqs[clustertest.APIAlterPartitionAssignment] != 1 {
		t.Errorf("%d AlterPartitionAssignments requests, want 1 (batched)", reqs[clustertest.APIAlterPartitionAssignment])
	}
	// The throttle is set before the move and cleared after it: at least two config alterations.
	if reqs[clustertest.APIIncrementalAlterConfigs] < 2 {
		t.Errorf("%d IncrementalAlterConfigs requests: throttle not set and cleared", reqs[clustertest.APIIncrementalAlterConfigs])
	}
}

// TestCancelledReassignmentDoesNotConverge: an operator cancels the move while Apply waits for it
// (kafka-reassign-partitions --cancel); the reassignment ends without the new replicas, and Apply
// must report "applied, did not converge" with the change still pending, not claim success.
func TestCancelledReassignmentDoesNotConverge(t *testing.T) {
	e := newEnv(t)
	want := &spec.Spec{Topics: []spec.Topic{{Name: "replays", Partitions: 1, ReplicationFactor: 1}}}
	e.converge(want, reconcile.ApplyOptions{})
	want.Topics[0].ReplicationFactor = 3
	p := e.plan(want, reconcile.DiffOptions{})
	e.cluster.SetReassignmentDelay(time.Hour)
	var cancelErr error
	cancelled := false
	progress := func(ev plans.Event) {
		if strings.Contains(ev.Message, "waiting for reassignment") && !cancelled {
			cancelled = true
			cancelErr = e.cluster.CancelReassignment(e.ctx, "replays", 0)
		}
	}
	res, err := reconcile.Apply(e.ctx, p, e.admin, reconcile.ApplyOptions{PollInterval: 10 * time.Millisecond}, progress)
	if !cancelled || cancelErr != nil {
		t.Fatalf("the move was not cancelled while apply waited: %v", cancelErr)
	}
	if res.Count(plans.Applied) != 1 || err == nil || !strings.Contains(err.Error(), "did not converge") || len(res.Residual) != 1 {
		t.Fatalf("a cancelled move must be reported as not converged: %v %+v", err, res.Residual)
	}
}

// TestLockWaitReportsHolderOnce: an apply waiting for another's lock says whom it waits for, with
// the expiry and its own budget, once, not once per poll (which printed a line a second).
func TestLockWaitReportsHolderOnce(t *testing.T) {
	e := newEnv(t)
	want := avatarSpec()
	p := e.plan(want, reconcile.DiffOptions{})
	held, err := e.admin.AcquireLease(e.ctx, "alice@lab pid 42", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		waits []string
	)
	released := make(chan error, 1)
	progress := func(ev plans.Event) {
		if !strings.Contains(ev.Message, "apply lock") {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, ev.Message)
		if len(waits) > 1 {
			return
		}
		// Let the waiting apply poll (each poll appends a claim) a few more times, then release.
		base := e.cluster.Requests()[clustertest.APIProduce]
		go func() {
			for i := 0; i < 3000 && e.cluster.Requests()[clustertest.APIProduce] < base+3; i++ {
				time.Sleep(5 * time.Millisecond)
			}
			released <- held.Release(e.ctx)
		}()
	}
	opts := reconcile.ApplyOptions{LockWait: time.Minute, PollInterval: 10 * time.Millisecond}
	if _, err := reconcile.Apply(e.ctx, p, e.admin, opts, progress); err != nil {
		t.Fatalf("apply after the lock was released: %v", err)
	}
	if err := <-released; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(waits) != 1 || !strings.Contains(waits[0], "waiting up to 1m0s for the apply lock held by alice@lab pid 42 (expires ") {
		t.Errorf("lock wait progress: %q", waits)
	}
}

// slowMoves is the real Admin with one thing kfake cannot model: reassignments that take a while.
// It reports the topics as still moving for the first polls.
type slowMoves struct {
	*clusters.Admin
	polls int
}

func (s *slowMoves) ReassignmentsInProgress(ctx context.Context, topics []string) ([]string, error) {
	if _, err := s.Admin.ReassignmentsInProgress(ctx, topics); err != nil {
		return nil, err
	}
	if s.polls--; s.polls >= 0 {
		return topics, nil
	}
	return nil, nil
}

// TestReassignmentWaitReportsChanges: waiting for a move says so when the set of moving topics
// changes (and every 30 s), not on every poll.
func TestReassignmentWaitReportsChanges(t *testing.T) {
	e := newEnv(t)
	want := &spec.Spec{Topics: []spec.Topic{{Name: "replays", Partitions: 2, ReplicationFactor: 1}}}
	e.converge(want, reconcile.ApplyOptions{})
	want.Topics[0].ReplicationFactor = 3
	p := e.plan(want, reconcile.DiffOptions{})
	var waits []string
	_, _ = reconcile.Apply(e.ctx, p, &slowMoves{Admin: e.admin, polls: 5}, reconcile.ApplyOptions{PollInterval: time.Millisecond}, func(ev plans.Event) {
		if strings.Contains(ev.Message, "reassignment") {
			waits = append(waits, ev.Message)
		}
	})
	if len(waits) != 1 || !strings.HasPrefix(waits[0], "waiting for reassignment of replays (") || !strings.HasSuffix(waits[0], "elapsed, up to 10m0s)") {
		t.Errorf("reassignment wait progress: %q", waits)
	}
}

// timesOut is the real Admin whose config request does what Kafka did in issue 10's report: the
// request lands (or, with lost, does not) but the answer never comes, so the call ends with a
// time-out; with cancel, the caller's context is cancelled at that moment too (SIGTERM mid-apply).
// kfake answers too fast to time out on its own, hence the wrapper around the real peer.
type timesOut struct {
	*clusters.Admin
	lost     bool
	cancel   context.CancelFunc
	describe error // when set, every Describe after the time-out fails with it
	timedOut bool
}

func (c *timesOut) AlterTopicConfigs(ctx context.Context, changes []reconcile.ConfigChange) (reconcile.Outcome, error) {
	if !c.lost {
		if _, err := c.Admin.AlterTopicConfigs(ctx, changes); err != nil {
			return nil, err
		}
	}
	c.timedOut = true
	if c.cancel != nil {
		c.cancel()
		return nil, context.Canceled
	}
	return nil, context.DeadlineExceeded
}

func (c *timesOut) Describe(ctx context.Context) (plans.Live, error) {
	if c.timedOut && c.describe != nil {
		return plans.Live{}, c.describe
	}
	return c.Admin.Describe(ctx)
}

// DescribeScope is the settle read (issue 23): it fails like Describe after the time-out.
func (c *timesOut) DescribeScope(ctx context.Context, scope reconcile.ReadScope) (plans.Live, error) {
	if c.timedOut && c.describe != nil {
		return plans.Live{}, c.describe
	}
	return c.Admin.DescribeScope(ctx, scope)
}

// TestApplyAfterTimeoutReportsWhatLanded is issue 10 item 3: a batched request that times out (or
// an apply interrupted mid-request) is reported as what the live state shows — applied when it
// landed, failed when it did not, unknown when the state cannot be read — never "failed" for
// changes that landed; and the lock is released with a fresh context, so the next apply need not
// wait for its TTL.
func TestApplyAfterTimeoutReportsWhatLanded(t *testing.T) {
	tests := map[string]struct {
		cluster    func(*clusters.Admin, context.CancelFunc) *timesOut
		wantStatus plans.Status
		wantErr    string
	}{
		"timed out but landed": {func(a *clusters.Admin, _ context.CancelFunc) *timesOut { return &timesOut{Admin: a} },
			plans.Applied, ""},
		"timed out and lost": {func(a *clusters.Admin, _ context.CancelFunc) *timesOut { return &timesOut{Admin: a, lost: true} },
			plans.Failed, "0 applied, 2 failed, 0 unknown"},
		"interrupted but landed": {func(a *clusters.Admin, cancel context.CancelFunc) *timesOut {
			return &timesOut{Admin: a, cancel: cancel}
		}, plans.Applied, "apply interrupted"},
		"state unreadable": {func(a *clusters.Admin, _ context.CancelFunc) *timesOut {
			return &timesOut{Admin: a, describe: errors.New("broker gone")}
		}, plans.Unknown, "broker gone"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			want := avatarSpec()
			e.converge(want, reconcile.ApplyOptions{})
			want.Topics[0].Config["retention.ms"] = "7200000"
			want.Topics[1].Config["retention.ms"] = "43200000"
			p := e.plan(want, reconcile.DiffOptions{})
			ctx, cancel := context.WithCancel(e.ctx)
			defer cancel()
			c := tc.cluster(e.admin, cancel)
			res, err := reconcile.Apply(ctx, p, c, reconcile.ApplyOptions{PollInterval: 10 * time.Millisecond, CleanupTimeout: 10 * time.Second}, nil)
			if got := res.Count(tc.wantStatus); got != 2 {
				t.Errorf("%d of 2 changes %s, want 2: %+v", got, tc.wantStatus, res.Changes)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("apply: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("apply error %v, want it to contain %q", err, tc.wantErr)
			}
			// The lock is free at once: another apply takes it without waiting.
			lease, err := e.admin.AcquireLease(e.ctx, "next apply", time.Minute)
			if err != nil {
				t.Fatalf("lock after an interrupted apply: %v", err)
			}
			lease.Release(e.ctx)
		})
	}
}
