package reconcile_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/clusters/clustertest"
	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
)

// fakePlane is a stateful Kubernetes plane (issue 20 asks for one): named objects with a content
// each, live and rendered, so the engine's ordering, the lease across planes and deferrals are
// tested without an API server. It records when it changes anything in the spy's log.
type fakePlane struct {
	spy      *readSpy
	mu       sync.Mutex
	live     map[string]string
	rendered map[string]string
	// applied, when set, runs once the objects are applied, with the context they were applied in.
	applied func(ctx context.Context)
}

func (f *fakePlane) PlanObjects(_ context.Context, opts reconcile.ObjectPlanOptions) (reconcile.ObjectPlan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	want, snap := f.rendered, opts.Pinned
	if snap != nil {
		want = map[string]string{}
		for _, m := range snap.Manifests {
			var o map[string]string
			if err := json.Unmarshal(m, &o); err != nil {
				return reconcile.ObjectPlan{}, err
			}
			want[o["name"]] = o["content"]
		}
	} else {
		snap = &plans.DesiredObjects{Inventory: "avatar", Salt: base64.StdEncoding.EncodeToString(opts.Salt)}
		for _, name := range sortedNames(want) {
			m, _ := json.Marshal(map[string]string{"name": name, "content": want[name]})
			snap.Manifests = append(snap.Manifests, m)
		}
	}
	h := sha256.New()
	out := reconcile.ObjectPlan{Desired: snap}
	for _, name := range sortedNames(want) {
		have, ok := f.live[name]
		fmt.Fprintf(h, "%s=%s;", name, have)
		action := plans.Update
		switch {
		case !ok:
			action = plans.Create
		case have == want[name]:
			continue
		}
		ref := plans.ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "avatar", Name: name}
		out.Changes = append(out.Changes, plans.Change{Kind: plans.KindObject, Name: ref.String(), Action: action,
			Object: &plans.ObjectPayload{Object: ref, Broker: -1}})
	}
	out.Fingerprint = "fake:" + hex.EncodeToString(h.Sum(nil))
	return out, nil
}

func (f *fakePlane) ApplyObjects(ctx context.Context, p reconcile.ObjectPlan, _ reconcile.ObjectApplyOptions, progress func(reconcile.ObjectEvent)) error {
	f.spy.record("apply objects")
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range p.Desired.Manifests {
		var o map[string]string
		if err := json.Unmarshal(m, &o); err != nil {
			return err
		}
		f.live[o["name"]] = o["content"]
	}
	for _, c := range p.Changes {
		progress(reconcile.ObjectEvent{Name: c.Name, Done: true})
	}
	if f.applied != nil {
		f.applied(ctx)
	}
	return nil
}

func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestDeferredPlanTakesTheLockOnceTheBrokersAnswer: a plan made while the brokers did not answer
// (the Kafka plane deferred) never bypasses the apply lock. Applied once they answer, while another
// apply holds the lock, it changes no object; released, it takes the lock before the objects
// phase, applies the planned objects (not what the render says by then) and plans the topics
// under the lock, reporting them without applying them (issue 20).
func TestDeferredPlanTakesTheLockOnceTheBrokersAnswer(t *testing.T) {
	e := newEnv(t)
	spy := &readSpy{Admin: e.admin}
	plane := &fakePlane{spy: spy, live: map[string]string{}, rendered: map[string]string{"kafka-config": "image=3.8.1"}}
	down := &reconcile.Planner{Target: reconcile.Target{Name: "lab", Planes: []reconcile.Plane{reconcile.ObjectsPlane(plane), reconcile.KafkaPlane(nil, errors.New("connection refused"))}}}
	p, err := down.Plan(e.ctx, avatarSpec(), reconcile.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.TopicsDeferred() || len(p.AllChanges()) != 1 || p.AllChanges()[0].Action != plans.Create {
		t.Fatalf("a plan without brokers: deferred %v, changes %+v", p.TopicsDeferred(), p.AllChanges())
	}
	plane.rendered["kafka-config"] = "image=9.9.9" // the spec edited after the plan: not applied

	// The brokers answer now; another apply holds the lock.
	other, err := e.admin.AcquireLease(e.ctx, "watch@lab pid 4242", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	up := &reconcile.Planner{Target: reconcile.Target{Name: "lab", Planes: []reconcile.Plane{reconcile.ObjectsPlane(plane), reconcile.KafkaPlane(spy, nil)}}}
	opts := reconcile.ApplyOptions{PollInterval: 10 * time.Millisecond}
	if _, err := up.Apply(e.ctx, p, opts, nil); err == nil || !strings.Contains(err.Error(), "watch@lab pid 4242") {
		t.Fatalf("apply under another's lock: %v", err)
	}
	if slices.Contains(spy.calls, "apply objects") || len(plane.live) != 0 {
		t.Fatalf("objects changed under another apply's lock: %v, live %v", spy.calls, plane.live)
	}
	if err := other.Release(e.ctx); err != nil {
		t.Fatal(err)
	}

	spy.calls = nil
	res, err := up.Apply(e.ctx, p, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	lease, objects := slices.Index(spy.calls, "lease"), slices.Index(spy.calls, "apply objects")
	if lease < 0 || objects < lease {
		t.Errorf("calls %v: want the lease before the objects phase", spy.calls)
	}
	if plane.live["kafka-config"] != "image=3.8.1" {
		t.Errorf("applied %q, want the planned image=3.8.1", plane.live["kafka-config"])
	}
	if res.Continued == nil || len(res.Continued.AllChanges()) != 3 || res.Continued.AllChanges()[0].Action != plans.Create {
		t.Fatalf("the topics planned under the lock: %+v", res.Continued)
	}
	live, err := e.admin.Describe(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := live.Topics["eeg-brainwave-data"]; ok {
		t.Error("the deferred topics were applied: they were never reviewed")
	}
}

// TestSavedPlanPinsTheTargetsNamespace: the Kubernetes half of a target's pinned identity is its
// namespace (issue 20). A plan whose objects live in another namespace than the target's — the
// spec's namespace changed since, or the plan is another target's — is refused by CheckSaved and
// by Apply before the API server is asked anything, and changes nothing.
func TestSavedPlanPinsTheTargetsNamespace(t *testing.T) {
	e := newEnv(t)
	spy := &readSpy{Admin: e.admin}
	plane := &fakePlane{spy: spy, live: map[string]string{}, rendered: map[string]string{"kafka-config": "image=3.8.1"}}
	target := func(ns string) reconcile.Target {
		return reconcile.Target{Name: "lab", Namespace: ns, Planes: []reconcile.Plane{reconcile.ObjectsPlane(plane), reconcile.KafkaPlane(spy, nil)}}
	}
	p, err := (&reconcile.Planner{Target: target("avatar")}).Plan(e.ctx, avatarSpec(), reconcile.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&reconcile.Planner{Target: target("avatar")}).CheckSaved(e.ctx, p, avatarSpec()); err != nil {
		t.Fatalf("the plan on its own target: %v", err)
	}
	moved := &reconcile.Planner{Target: target("avatar-staging")}
	if _, err := moved.CheckSaved(e.ctx, p, avatarSpec()); !errors.Is(err, reconcile.ErrClusterMismatch) || !strings.Contains(err.Error(), `namespace avatar, but target "lab"'s is "avatar-staging"`) {
		t.Errorf("CheckSaved in another namespace: %v, want ErrClusterMismatch naming both", err)
	}
	spy.calls = nil
	if _, err := moved.Apply(e.ctx, p, reconcile.ApplyOptions{PollInterval: 10 * time.Millisecond}, nil); !errors.Is(err, reconcile.ErrClusterMismatch) {
		t.Errorf("Apply in another namespace: %v, want ErrClusterMismatch", err)
	}
	if slices.Contains(spy.calls, "lease") || slices.Contains(spy.calls, "apply objects") || len(plane.live) != 0 {
		t.Errorf("calls %v, live %v: a plan for another namespace took the lock or changed objects", spy.calls, plane.live)
	}
}

// TestDeferredPlaneIsObservedOnceUnderTheLease: applying a plan that deferred the Kafka plane, once
// the brokers answer, reads the cluster once for it, under the lease and before any object
// changes: that one read checks the cluster's identity and is what the topics are planned from
// (issue 20: it was read before the lease to learn whether the brokers answer, and again under
// it). One read of the cluster asks the embedded cluster for its ACLs and quotas once each.
func TestDeferredPlaneIsObservedOnceUnderTheLease(t *testing.T) {
	e := newEnv(t)
	spy := &readSpy{Admin: e.admin}
	plane := &fakePlane{spy: spy, live: map[string]string{}, rendered: map[string]string{"kafka-config": "image=3.8.1"}}
	down := &reconcile.Planner{Target: reconcile.Target{Name: "lab", Planes: []reconcile.Plane{reconcile.ObjectsPlane(plane), reconcile.KafkaPlane(nil, errors.New("connection refused"))}}}
	p, err := down.Plan(e.ctx, avatarSpec(), reconcile.PlanOptions{})
	if err != nil || !p.TopicsDeferred() {
		t.Fatalf("a plan without brokers: %v, deferred %v", err, p.TopicsDeferred())
	}
	up := &reconcile.Planner{Target: reconcile.Target{Name: "lab", Planes: []reconcile.Plane{reconcile.ObjectsPlane(plane), reconcile.KafkaPlane(spy, nil)}}}
	e.cluster.ResetRequests()
	res, err := up.Apply(e.ctx, p, reconcile.ApplyOptions{PollInterval: 10 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := spy.calls, []string{"lease", "describe", "apply objects"}; !slices.Equal(got, want) {
		t.Errorf("calls %v, want %v: one read of the deferred plane, under the lease, before the objects change", got, want)
	}
	if r := e.cluster.Requests(); requestsNamed(r, "DescribeACLs") != 1 || requestsNamed(r, "DescribeClientQuotas") != 1 {
		t.Errorf("requests %v: want one DescribeACLs and one DescribeClientQuotas, the deferred plane's one read", r)
	}
	if res.Continued == nil || len(res.Continued.AllChanges()) != 3 {
		t.Fatalf("the topics planned from that read: %+v", res.Continued)
	}

	// A cluster that is not the pinned one is refused by that read, before any object changes.
	plane.live = map[string]string{}
	spy.calls = nil
	pinned := &reconcile.Planner{Target: reconcile.Target{Name: "lab", ClusterID: "another-cluster", Planes: []reconcile.Plane{reconcile.ObjectsPlane(plane), reconcile.KafkaPlane(spy, nil)}}}
	if _, err := pinned.Apply(e.ctx, p, reconcile.ApplyOptions{PollInterval: 10 * time.Millisecond}, nil); !errors.Is(err, reconcile.ErrClusterMismatch) {
		t.Errorf("a deferred plan on another cluster: %v, want ErrClusterMismatch", err)
	}
	if got, want := spy.calls, []string{"lease", "describe"}; !slices.Equal(got, want) || len(plane.live) != 0 {
		t.Errorf("calls %v (want %v), objects %v: another cluster's objects changed", got, want, plane.live)
	}
}

// requestsNamed is the count of the requests of the API Kafka calls name (clustertest names only
// the APIs tests usually count).
func requestsNamed(r map[clustertest.API]int, name string) int {
	for api, n := range r {
		if api.String() == name {
			return n
		}
	}
	return 0
}

// TestLeaseLostAfterTheObjectsStopsBeforeTheTopics: one lease covers both planes of a target, and
// the objects are applied first. When the lease is lost once the objects are applied (`avatar-sync
// unlock` by someone else), the apply stops there: no topic change is sent, the topics are
// reported not attempted, and the error says who released the lease and where the apply stopped.
func TestLeaseLostAfterTheObjectsStopsBeforeTheTopics(t *testing.T) {
	e := newEnv(t)
	spy := &readSpy{Admin: e.admin}
	const reason = "avatar-sync unlock by bob@lab pid 9"
	plane := &fakePlane{spy: spy, live: map[string]string{}, rendered: map[string]string{"kafka-config": "image=3.8.1"}}
	plane.applied = func(ctx context.Context) {
		cur, err := e.admin.ApplyLock(e.ctx)
		if err != nil || cur == nil {
			t.Errorf("apply lock while the objects are applied: %+v, %v", cur, err)
			return
		}
		if err := e.admin.Unlock(e.ctx, cur.ID, reason); err != nil {
			t.Error(err)
			return
		}
		// The lease keeper notices at its next renewal and ends the apply's context.
		waitFor(t, e.ctx, "the apply to notice its lost lease", ctx.Done())
	}
	pl := &reconcile.Planner{Target: reconcile.Target{Name: "lab", Planes: []reconcile.Plane{reconcile.ObjectsPlane(plane), reconcile.KafkaPlane(spy, nil)}}}
	p, err := pl.Plan(e.ctx, avatarSpec(), reconcile.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Summary(); s.Create != 4 {
		t.Fatalf("plan %+v: want the object and the three topics created", s)
	}
	// The lock's own topic exists before the apply, so that the apply sends no topic creation of
	// its own once the lease holds.
	first, err := e.admin.AcquireLease(e.ctx, "setup", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Release(e.ctx); err != nil {
		t.Fatal(err)
	}
	spy.calls = nil
	e.cluster.ResetRequests()
	res, err := pl.Apply(e.ctx, p, reconcile.ApplyOptions{Holder: "lab apply", LeaseTTL: 600 * time.Millisecond, PollInterval: 10 * time.Millisecond}, nil)
	if !errors.Is(err, reconcile.ErrLeaseLost) || !strings.Contains(err.Error(), reason) || !strings.Contains(err.Error(), "stopped before create topic") {
		t.Fatalf("apply whose lease was lost after the objects: %v; want ErrLeaseLost naming the unlock and the topic it stopped before", err)
	}
	if got, want := spy.calls, []string{"lease", "apply objects"}; !slices.Equal(got, want) {
		t.Errorf("calls %v, want %v: the lease before the objects, nothing after them", got, want)
	}
	if plane.live["kafka-config"] != "image=3.8.1" {
		t.Errorf("objects %v: want the planned object applied before the lease was lost", plane.live)
	}
	if n := e.cluster.Requests()[clustertest.APICreateTopics]; n != 0 {
		t.Errorf("%d topic creations sent after the lease was lost", n)
	}
	status := map[plans.Kind][]plans.Status{}
	for _, cr := range res.Changes {
		status[cr.Change.Kind] = append(status[cr.Change.Kind], cr.Status)
	}
	if !slices.Equal(status[plans.KindObject], []plans.Status{plans.Applied}) ||
		!slices.Equal(status[plans.KindTopic], []plans.Status{plans.NotAttempted, plans.NotAttempted, plans.NotAttempted}) {
		t.Errorf("statuses %v: want the object applied, every topic not attempted", status)
	}
	live, err := e.admin.Describe(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range avatarSpec().Topics {
		if _, ok := live.Topics[topic.Name]; ok {
			t.Errorf("topic %s was created after the lease was lost", topic.Name)
		}
	}
}
