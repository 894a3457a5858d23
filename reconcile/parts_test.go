package reconcile_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// TestPlanPartsFollowTheTargetsPlanes: a plan holds one part per plane of its target, in the
// target's plane order, whatever that order is; each part holds only changes of its plane's kinds
// and its own fingerprint, a deferred plane's part its deferral and nothing else; the flat view is
// the parts one after the other (issue 20). The parts survive the plan file.
func TestPlanPartsFollowTheTargetsPlanes(t *testing.T) {
	e := newEnv(t)
	spy := &readSpy{Admin: e.admin}
	objects := func() reconcile.Plane {
		return reconcile.ObjectsPlane(&fakePlane{spy: spy, live: map[string]string{}, rendered: map[string]string{"kafka-config": "image=3.8.1"}})
	}
	registry := &registryPlane{spy: spy, live: map[string]string{}, want: map[string]string{"eeg-value": "v1"},
		held: func(context.Context) error { return nil }}
	down := errors.New("connection refused")
	kube, kafka := plans.PlaneKubernetes, plans.PlaneKafka
	tests := map[string]struct {
		planes   []reconcile.Plane
		want     []plans.PlaneID
		deferred []bool
	}{
		"kafka only":                 {[]reconcile.Plane{reconcile.KafkaPlane(spy, nil)}, []plans.PlaneID{kafka}, []bool{false}},
		"objects, then kafka":        {[]reconcile.Plane{objects(), reconcile.KafkaPlane(spy, nil)}, []plans.PlaneID{kube, kafka}, []bool{false, false}},
		"objects, kafka deferred":    {[]reconcile.Plane{objects(), reconcile.KafkaPlane(nil, down)}, []plans.PlaneID{kube, kafka}, []bool{false, true}},
		"kafka, then a third plane":  {[]reconcile.Plane{reconcile.KafkaPlane(spy, nil), registry}, []plans.PlaneID{kafka, kube}, []bool{false, false}},
		"objects alone (no brokers)": {[]reconcile.Plane{objects()}, []plans.PlaneID{kube}, []bool{false}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := (&reconcile.Planner{Target: reconcile.Target{Name: "lab", Planes: tc.planes}}).Plan(e.ctx, avatarSpec(), reconcile.PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var got []plans.PlaneID
			var flat []plans.Change
			for _, pt := range p.Parts {
				got = append(got, pt.Plane)
				flat = append(flat, pt.Changes...)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("parts %v, want %v (the target's plane order)", got, tc.want)
			}
			for i, pt := range p.Parts {
				switch {
				case tc.deferred[i] && (pt.Deferral == nil || pt.Fingerprint != "" || len(pt.Changes) != 0):
					t.Errorf("%s part %+v: want a deferral and neither fingerprint nor changes", pt.Plane, pt)
				case !tc.deferred[i] && (pt.Deferral != nil || pt.Fingerprint == "" || len(pt.Changes) == 0):
					t.Errorf("%s part %+v: want a fingerprint and changes, no deferral", pt.Plane, pt)
				}
				for _, c := range pt.Changes {
					if c.Kind.Plane() != pt.Plane {
						t.Errorf("%s part holds %s, a change of the %s plane", pt.Plane, plans.Headline(c), c.Kind.Plane())
					}
				}
			}
			if !slices.EqualFunc(p.AllChanges(), flat, func(a, b plans.Change) bool { return a.Name == b.Name && a.Kind == b.Kind }) {
				t.Errorf("AllChanges %v is not the parts in order %v", p.AllChanges(), flat)
			}
			var buf bytes.Buffer
			if err := plans.WriteRun(&buf, plans.SingleRun(p)); err != nil {
				t.Fatal(err)
			}
			back, err := plans.ReadRun(&buf)
			if err != nil {
				t.Fatal(err)
			}
			for i, pt := range back.Targets[0].Plan.Parts {
				if pt.Plane != got[i] || pt.Fingerprint != p.Parts[i].Fingerprint || len(pt.Changes) != len(p.Parts[i].Changes) || (pt.Deferral == nil) != !tc.deferred[i] {
					t.Errorf("part %d read back as %+v, saved %+v", i, pt, p.Parts[i])
				}
			}
		})
	}
}

// TestSavedPlanStalePartNamesItsPlane: a saved plan is checked part by part, each against its
// plane's fingerprint, and the refusal names the plane that moved on: the Kubernetes objects
// changed, or the Kafka cluster did (issue 20). Nothing is changed either way.
func TestSavedPlanStalePartNamesItsPlane(t *testing.T) {
	tests := map[string]struct {
		change   func(e *env, objects *fakePlane) error
		stale    string
		notStale string
	}{
		"kubernetes": {func(_ *env, objects *fakePlane) error {
			objects.mu.Lock()
			defer objects.mu.Unlock()
			objects.live["kafka-config"] = "image=3.7.0" // made by hand since the plan
			return nil
		}, "its kubernetes part: the Kubernetes objects changed since the plan was computed", "its kafka part"},
		"kafka": {func(e *env, _ *fakePlane) error {
			_, err := e.admin.CreateACLs(e.ctx, []spec.ACLRule{{Principal: "User:intruder", Host: "*", Resource: "topic", Name: "eeg-brainwave-data",
				Pattern: "literal", Operation: "Read", Permission: "allow"}})
			return err
		}, "its kafka part: the cluster changed since the plan was computed", "its kubernetes part"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			spy := &readSpy{Admin: e.admin}
			objects := &fakePlane{spy: spy, live: map[string]string{}, rendered: map[string]string{"kafka-config": "image=3.8.1"}}
			target := reconcile.Target{Name: "lab", Planes: []reconcile.Plane{reconcile.ObjectsPlane(objects), reconcile.KafkaPlane(spy, nil)}}
			p, err := (&reconcile.Planner{Target: target}).Plan(e.ctx, avatarSpec(), reconcile.PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := plans.WriteRun(&buf, plans.SingleRun(p)); err != nil {
				t.Fatal(err)
			}
			run, err := plans.ReadRun(&buf)
			if err != nil {
				t.Fatal(err)
			}
			saved := run.Targets[0].Plan
			if _, err := (&reconcile.Planner{Target: target}).CheckSaved(e.ctx, saved, avatarSpec()); err != nil {
				t.Fatalf("the saved plan before anything changed: %v", err)
			}
			if err := tc.change(e, objects); err != nil {
				t.Fatal(err)
			}
			_, err = (&reconcile.Planner{Target: target}).CheckSaved(e.ctx, saved, avatarSpec())
			if !errors.Is(err, reconcile.ErrStalePlan) || !strings.Contains(err.Error(), tc.stale) || strings.Contains(err.Error(), tc.notStale) {
				t.Fatalf("CheckSaved: %v\nwant ErrStalePlan saying %q", err, tc.stale)
			}
			spy.calls = nil
			_, err = (&reconcile.Planner{Target: target}).Apply(e.ctx, saved, reconcile.ApplyOptions{PollInterval: 10 * time.Millisecond}, nil)
			if !errors.Is(err, reconcile.ErrStalePlan) || !strings.Contains(err.Error(), tc.stale) {
				t.Fatalf("Apply: %v\nwant ErrStalePlan saying %q", err, tc.stale)
			}
			if slices.Contains(spy.calls, "lease") || slices.Contains(spy.calls, "apply objects") {
				t.Errorf("calls %v: a stale plan took the lock or changed objects", spy.calls)
			}
			live, err := e.admin.Describe(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := live.Topics["eeg-brainwave-data"]; ok {
				t.Error("the stale plan created topics")
			}
		})
	}
}

// TestSavedPlanPartsMustBeTheTargetsPlanes: a saved plan is applied only to a target whose planes
// its parts are, in order: a plan lacking a part for one of the target's planes, or holding one
// for a plane the target lacks, is refused before any plane is read or changed.
func TestSavedPlanPartsMustBeTheTargetsPlanes(t *testing.T) {
	e := newEnv(t)
	spy := &readSpy{Admin: e.admin}
	objects := &fakePlane{spy: spy, live: map[string]string{}, rendered: map[string]string{"kafka-config": "image=3.8.1"}}
	both := reconcile.Target{Name: "lab", Planes: []reconcile.Plane{reconcile.ObjectsPlane(objects), reconcile.KafkaPlane(spy, nil)}}
	kafkaOnly := reconcile.KafkaTarget("lab", spy)
	withObjects, err := (&reconcile.Planner{Target: both}).Plan(e.ctx, avatarSpec(), reconcile.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	topicsOnly, err := (&reconcile.Planner{Target: kafkaOnly}).Plan(e.ctx, avatarSpec(), reconcile.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	swapped := withObjects
	swapped.Parts = []plans.Part{withObjects.Parts[1], withObjects.Parts[0]}
	// A second kafka part would be counted and checked but never verified or executed.
	twice := withObjects
	twice.Parts = []plans.Part{withObjects.Parts[0], withObjects.Parts[1], withObjects.Parts[1]}
	tests := map[string]struct {
		target reconcile.Target
		plan   plans.Plan
		want   string
	}{
		"a part the target lacks": {kafkaOnly, withObjects, `the plan has a kubernetes part but target "lab" has no kubernetes plane`},
		"no part for a plane":     {both, topicsOnly, `the plan has no kubernetes part in the place of target "lab"'s kubernetes plane (its parts: kafka)`},
		"parts out of order":      {both, swapped, `(its parts: kafka, kubernetes)`},
		"a plane's part twice":    {both, twice, `the plan has 3 parts (kubernetes, kafka, kafka) for target "lab"'s 2 planes`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spy.calls = nil
			_, err := (&reconcile.Planner{Target: tc.target}).Apply(e.ctx, tc.plan, reconcile.ApplyOptions{PollInterval: 10 * time.Millisecond}, nil)
			if !errors.Is(err, reconcile.ErrRefused) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Apply: %v\nwant ErrRefused saying %q", err, tc.want)
			}
			if len(spy.calls) != 0 || len(objects.live) != 0 {
				t.Errorf("calls %v, objects %v: a plan for other planes was read for or applied", spy.calls, objects.live)
			}
		})
	}
}
