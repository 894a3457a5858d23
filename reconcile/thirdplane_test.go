package reconcile_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
)

// registryPlane is a plane the Planner was not written for: a schema registry's subjects, each
// with a schema, kept in memory. It sits after the Kafka plane in its target (subjects follow
// their topics), the opposite of the Kubernetes plane's place, and implements reconcile's
// Plane directly, not through an adapter the Planner knows. The kind table is closed, so its
// changes travel as object changes (its target has no Kubernetes plane). It records its calls in
// the spy's log.
type registryPlane struct {
	spy *readSpy
	// held is asked while the plane executes: is the target's apply lock held right now?
	held func(ctx context.Context) error

	mu         sync.Mutex
	live, want map[string]string
	heldErr    error
}

func (r *registryPlane) Kind() plans.PlaneID { return plans.PlaneKubernetes }

func (r *registryPlane) Observe(_ context.Context, q reconcile.Query) (reconcile.Observation, error) {
	r.spy.record("registry observe")
	r.mu.Lock()
	defer r.mu.Unlock()
	want := maps.Clone(r.want)
	if q.Saved != nil {
		// A saved plan is checked against its own subjects, never today's.
		want = map[string]string{}
		for _, m := range q.Saved.Desired.Objects.Manifests {
			var s map[string]string
			if err := json.Unmarshal(m, &s); err != nil {
				return nil, err
			}
			want[s["subject"]] = s["schema"]
		}
	}
	return &registryObservation{live: maps.Clone(r.live), want: want}, nil
}

func (r *registryPlane) Execute(ctx context.Context, part plans.Plan, x reconcile.Execution) (plans.Result, error) {
	r.spy.record("registry execute")
	r.heldErr = r.held(ctx)
	o, err := r.Observe(ctx, reconcile.Query{Saved: &part})
	if err != nil {
		return plans.Result{}, err
	}
	if err := o.Verify(part); err != nil {
		return plans.Result{}, err
	}
	var res plans.Result
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, c := range part.AllChanges() {
		r.live[c.Object.Object.Name] = o.(*registryObservation).want[c.Object.Object.Name]
		res.Changes = append(res.Changes, plans.ChangeResult{Change: c, Status: plans.Applied})
		x.Progress(plans.Event{Index: i + 1, Total: len(part.AllChanges()), Change: c, Status: plans.Applied})
	}
	// Converged: a fresh read has nothing left.
	r.mu.Unlock()
	after, err := r.Observe(ctx, reconcile.Query{Saved: &part})
	r.mu.Lock()
	if err != nil {
		return res, err
	}
	res.Residual = append(res.Residual, after.(*registryObservation).changes()...)
	res.Verified = true
	return res, nil
}

func (r *registryPlane) Deferred(d plans.Deferral) plans.Advisory {
	return plans.Advisory{Subject: "subjects", Status: "deferred", Reason: d.Reason}
}

// registryObservation is one read of the registry: the live subjects and the wanted ones.
type registryObservation struct{ live, want map[string]string }

func (o *registryObservation) Fingerprint() string {
	h := sha256.New()
	for _, s := range sortedNames(o.live) {
		fmt.Fprintf(h, "%s=%s;", s, o.live[s])
	}
	return "registry:" + hex.EncodeToString(h.Sum(nil))
}

func (o *registryObservation) changes() []plans.Change {
	var out []plans.Change
	for _, s := range sortedNames(o.want) {
		action := plans.Update
		switch have, ok := o.live[s]; {
		case !ok:
			action = plans.Create
		case have == o.want[s]:
			continue
		}
		ref := plans.ObjectRef{APIVersion: "registry/v1", Kind: "Subject", Name: s}
		out = append(out, plans.Change{Kind: plans.KindObject, Name: ref.String(), Action: action,
			Object: &plans.ObjectPayload{Object: ref, Broker: -1}})
	}
	return out
}

func (o *registryObservation) Diff(p *plans.Plan) error {
	p.SetPart(plans.Part{Plane: plans.PlaneKubernetes, Fingerprint: o.Fingerprint(), Changes: o.changes()})
	snap := &plans.DesiredObjects{Inventory: "registry"}
	for _, s := range sortedNames(o.want) {
		m, _ := json.Marshal(map[string]string{"subject": s, "schema": o.want[s]})
		snap.Manifests = append(snap.Manifests, m)
	}
	p.Desired.Objects = snap
	return nil
}

func (o *registryObservation) Verify(p plans.Plan) error {
	if fp := o.Fingerprint(); fp != p.Part(plans.PlaneKubernetes).Fingerprint {
		return fmt.Errorf("%w: the registry changed since the plan (plan %s, live %s)", reconcile.ErrStalePlan, p.Part(plans.PlaneKubernetes).Fingerprint, fp)
	}
	var saved []string
	for _, c := range p.AllChanges() {
		if c.Kind == plans.KindObject {
			saved = append(saved, c.Name+" "+c.Action.String())
		}
	}
	var fresh []string
	for _, c := range o.changes() {
		fresh = append(fresh, c.Name+" "+c.Action.String())
	}
	if !slices.Equal(saved, fresh) {
		return fmt.Errorf("%w: registry changes %v, its subjects give %v", plans.ErrTampered, saved, fresh)
	}
	return nil
}

// TestPlannerDrivesAPlaneItDoesNotKnow: the Planner is generic over its target's planes (issue
// 20). A third plane, placed after the Kafka plane, has its changes planned after the topics (the
// target's order), is checked before anything changes, executes after the topics, under the one
// apply lock the Kafka plane holds, and converges; a saved plan it moved on from is refused as
// stale by CheckSaved and by Apply, before the lock and before any plane changes anything.
func TestPlannerDrivesAPlaneItDoesNotKnow(t *testing.T) {
	e := newEnv(t)
	spy := &readSpy{Admin: e.admin}
	reg := &registryPlane{spy: spy, live: map[string]string{"eeg-value": "v1"},
		want: map[string]string{"eeg-value": "v2", "prediction-value": "v1"}}
	reg.held = func(ctx context.Context) error {
		_, err := e.admin.AcquireLease(ctx, "another apply", time.Minute)
		return err
	}
	target := reconcile.Target{Name: "embedded", Planes: []reconcile.Plane{reconcile.KafkaPlane(spy, nil), reg}}
	pl := &reconcile.Planner{Target: target}
	p, err := pl.Plan(e.ctx, avatarSpec(), reconcile.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, c := range p.AllChanges() {
		order = append(order, plans.Headline(c))
	}
	want := []string{"create topic drone-commands", "create topic eeg-brainwave-data", "create topic prediction-results",
		"update Subject eeg-value", "create Subject prediction-value"}
	if !slices.Equal(order, want) {
		t.Errorf("planned\n%q\nwant the topics, then the registry's subjects:\n%q", order, want)
	}

	// A saved plan the registry moved on from: refused before anything changes.
	reg.mu.Lock()
	reg.live["eeg-value"] = "v1.1"
	reg.mu.Unlock()
	fresh := &reconcile.Planner{Target: target}
	if _, err := fresh.CheckSaved(e.ctx, p, avatarSpec()); !errors.Is(err, reconcile.ErrStalePlan) {
		t.Errorf("CheckSaved of a plan the registry moved on from: %v, want ErrStalePlan", err)
	}
	spy.calls = nil
	if _, err := (&reconcile.Planner{Target: target}).Apply(e.ctx, p, reconcile.ApplyOptions{}, nil); !errors.Is(err, reconcile.ErrStalePlan) {
		t.Errorf("Apply of a plan the registry moved on from: %v, want ErrStalePlan", err)
	}
	if slices.Contains(spy.calls, "lease") || slices.Contains(spy.calls, "registry execute") {
		t.Errorf("calls %v: a stale plan took the lock or changed the registry", spy.calls)
	}
	live, err := e.admin.Describe(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := live.Topics["eeg-brainwave-data"]; ok {
		t.Error("a stale plan created topics")
	}

	// Planned again, applied: the topics, then the subjects, under one lock.
	reg.mu.Lock()
	reg.live["eeg-value"] = "v1"
	reg.mu.Unlock()
	if p, err = pl.Plan(e.ctx, avatarSpec(), reconcile.PlanOptions{}); err != nil {
		t.Fatal(err)
	}
	spy.calls = nil
	var applied []string
	res, err := pl.Apply(e.ctx, p, reconcile.ApplyOptions{}, func(ev plans.Event) {
		if ev.Status == plans.Applied {
			applied = append(applied, plans.Headline(ev.Change))
		}
	})
	if err != nil || !res.Converged() {
		t.Fatalf("apply: %v, converged %v", err, res.Converged())
	}
	if got, want := spy.calls, []string{"lease", "describe", "settle", "registry execute", "registry observe", "registry observe"}; !slices.Equal(got, want) {
		t.Errorf("calls %v, want %v: the lease, the topics (fingerprint, the settle read of what changed), then the registry", got, want)
	}
	if !errors.Is(reg.heldErr, reconcile.ErrLeaseHeld) {
		t.Errorf("another apply's lock while the registry executed: %v, want ErrLeaseHeld (the lock held across planes)", reg.heldErr)
	}
	if !slices.Equal(applied, want) || len(res.Changes) != len(want) {
		t.Errorf("applied %q (%d results), want %q", applied, len(res.Changes), want)
	}
	if reg.live["eeg-value"] != "v2" || reg.live["prediction-value"] != "v1" {
		t.Errorf("registry after apply: %v", reg.live)
	}
}
