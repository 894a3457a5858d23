package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/plans"
)

// objectChange is a Kubernetes object change as the kube adapter returns it.
func objectChange(action plans.Action, kind, name string, p plans.ObjectPayload) plans.Change {
	p.Object = plans.ObjectRef{APIVersion: "apps/v1", Kind: kind, Namespace: "avatar", Name: name}
	c := plans.Change{Kind: plans.KindObject, Name: p.Object.String(), Action: action, Object: &p}
	c.Risk = plans.ObjectRiskOf(c)
	return c
}

// Every object opt-in refuses its change without the flag, names what it is about, and lets it
// through with the flag (issue 11). A conflict names the other field manager.
func TestCheckAllowedObjects(t *testing.T) {
	conflict := objectChange(plans.Update, "StatefulSet", "kafka-broker-2", plans.ObjectPayload{Broker: 2,
		Fields:    []plans.ObjectField{{Path: "spec.template.spec.containers[0].image", Before: "apache/kafka:3.9.0", After: "apache/kafka:3.8.1"}},
		Conflicts: []plans.ObjectConflict{{Field: "spec.template.spec.containers[name=\"kafka\"].image", Manager: "kubectl-set"}}})
	replace := objectChange(plans.Replace, "StatefulSet", "kafka-broker-1", plans.ObjectPayload{Broker: 1,
		Fields: []plans.ObjectField{{Path: "spec.volumeClaimTemplates[0].spec.resources.requests.storage", Before: "10Gi", After: "20Gi"}}})
	prune := objectChange(plans.Delete, "ConfigMap", "kafka-ui", plans.ObjectPayload{Broker: -1})
	tests := map[string]struct {
		c    plans.Change
		opts ApplyOptions
		want string // "" = allowed
	}{
		"conflict refused":          {conflict, ApplyOptions{}, `update StatefulSet avatar/kafka-broker-2: spec.template.spec.containers[name="kafka"].image is owned by field manager "kubectl-set"; taking them needs --force-conflicts`},
		"conflict forced":           {conflict, ApplyOptions{ForceConflicts: true}, ""},
		"replace refused":           {replace, ApplyOptions{}, "replace StatefulSet avatar/kafka-broker-1 (spec.volumeClaimTemplates[0].spec.resources.requests.storage: 10Gi → 20Gi): Kubernetes cannot change this in place; it needs --allow-replace"},
		"replace allowed":           {replace, ApplyOptions{AllowReplace: true}, ""},
		"replace is not forced":     {replace, ApplyOptions{ForceConflicts: true, AllowDelete: true}, "needs --allow-replace"},
		"prune refused":             {prune, ApplyOptions{}, "delete ConfigMap avatar/kafka-ui needs --allow-delete"},
		"prune allowed":             {prune, ApplyOptions{AllowDelete: true}, ""},
		"prune is not a mass topic": {prune, ApplyOptions{AllowDelete: true}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := plans.Plan{Cluster: "lab", ManagedTopics: 0, Parts: []plans.Part{kubePart("kube:1", tc.c)}}
			err := CheckAllowed(p, tc.opts)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want ErrRefused containing %q", err, tc.want)
			}
		})
	}
}

func TestObjectSummaryAndRisk(t *testing.T) {
	p := plans.Plan{Parts: []plans.Part{kubePart("kube:1",
		objectChange(plans.Replace, "StatefulSet", "a", plans.ObjectPayload{}),
		objectChange(plans.Update, "StatefulSet", "b", plans.ObjectPayload{}),
		objectChange(plans.Create, "Namespace", "c", plans.ObjectPayload{}),
		objectChange(plans.NoOp, "Service", "d", plans.ObjectPayload{}),
	)}}
	if s := p.Summary(); s.Replace != 1 || s.Update != 1 || s.Create != 1 || s.NoOp != 1 {
		t.Errorf("summary %+v, want 1 replace (not counted as update), 1 update, 1 create, 1 no-op", s)
	}
	if p.AllChanges()[0].Risk != plans.RiskHeavy || p.AllChanges()[1].Risk != plans.RiskNone {
		t.Errorf("risks %s, %s; want a replace HEAVY and an update none", p.AllChanges()[0].Risk, p.AllChanges()[1].Risk)
	}
	if h := plans.Headline(p.AllChanges()[0]); h != "replace StatefulSet avatar/a" {
		t.Errorf("headline %q", h)
	}
}

// A saved plan's object side is applied only while it is exactly what planning gives now: a live
// object that changed makes it stale, an edited change (same live objects) makes it not verify.
func TestVerifyObjects(t *testing.T) {
	image := objectChange(plans.Update, "StatefulSet", "kafka-broker-1", plans.ObjectPayload{Broker: 1, Live: "aa",
		Fields: []plans.ObjectField{{Path: "spec.template.spec.containers[0].image", Before: "apache/kafka:3.8.1", After: "apache/kafka:3.9.0"}}})
	saved := plans.Plan{Parts: []plans.Part{kubePart("kube:1", image)}}
	if err := verifyObjects(saved, ObjectPlan{Fingerprint: "kube:1", Changes: []plans.Change{image}}); err != nil {
		t.Errorf("an unchanged plan does not verify: %v", err)
	}
	if err := verifyObjects(saved, ObjectPlan{Fingerprint: "kube:2", Changes: []plans.Change{image}}); !errors.Is(err, ErrStalePlan) || !strings.Contains(err.Error(), "its kubernetes part: the Kubernetes objects changed") {
		t.Errorf("live objects changed: %v, want ErrStalePlan naming the kubernetes part", err)
	}
	edited := image
	payload := *image.Object
	payload.Fields = []plans.ObjectField{{Path: "spec.template.spec.containers[0].image", Before: "apache/kafka:3.8.1", After: "evil/kafka:latest"}}
	edited.Object = &payload
	if err := verifyObjects(plans.Plan{Parts: []plans.Part{kubePart("kube:1", edited)}}, ObjectPlan{Fingerprint: "kube:1", Changes: []plans.Change{image}}); !errors.Is(err, plans.ErrTampered) {
		t.Errorf("edited change: %v, want ErrTampered", err)
	}
	if err := verifyObjects(plans.Plan{Parts: []plans.Part{kubePart("kube:1")}}, ObjectPlan{Fingerprint: "kube:1", Changes: []plans.Change{image}}); !errors.Is(err, plans.ErrTampered) || !strings.Contains(err.Error(), "lacks update StatefulSet avatar/kafka-broker-1") {
		t.Errorf("dropped change: %v, want ErrTampered naming it", err)
	}
}

// The topic side's Verify ignores object changes (the API server verifies those), and a plan
// whose topics were deferred may not carry topic changes.
func TestVerifyWithObjects(t *testing.T) {
	p, have := fullPlan()
	if err := Verify(p, have); err != nil {
		t.Errorf("a plan with an object change does not verify its topic side: %v", err)
	}
	deferred := plans.Plan{Cluster: "lab", Parts: []plans.Part{{Plane: plans.PlaneKafka, Deferral: kafkaDeferred(), Changes: []plans.Change{topicCreate("sneaky")}}}}
	pl := &Planner{Target: Target{Name: "lab", Planes: []Plane{KafkaPlane(nil, errors.New("connection refused"))}}}
	if err := pl.verifySaved(context.Background(), deferred); !errors.Is(err, plans.ErrTampered) {
		t.Errorf("deferred plan with a topic change: %v, want ErrTampered", err)
	}
	// The package's Apply knows the Kafka plane only: it refuses rather than skip the objects.
	if _, err := Apply(context.Background(), p, nil, ApplyOptions{}, nil); !errors.Is(err, ErrRefused) {
		t.Errorf("Apply with object changes: %v, want ErrRefused", err)
	}
}

func kafkaDeferred() *plans.Deferral { return &plans.Deferral{Reason: "the brokers do not answer yet"} }

// kubePart and kafkaPart are a plan's part for the plane, planned against fp.
func kubePart(fp string, cs ...plans.Change) plans.Part {
	return plans.Part{Plane: plans.PlaneKubernetes, Fingerprint: fp, Changes: cs}
}

func kafkaPart(fp string, cs ...plans.Change) plans.Part {
	return plans.Part{Plane: plans.PlaneKafka, Fingerprint: fp, Changes: cs}
}

func topicCreate(name string) plans.Change {
	return plans.Change{Kind: plans.KindTopic, Name: name, Action: plans.Create, Topic: &plans.TopicPayload{Partitions: 1, ReplicationFactor: 1}}
}

// A fresh cluster's plan has no Kafka fingerprint: it saves and loads on its objects' fingerprint.
func TestDeferredPlanFileRoundTrip(t *testing.T) {
	p := plans.Plan{Cluster: "lab",
		Desired: plans.Desired{Objects: &plans.DesiredObjects{Inventory: "avatar", Salt: "c2FsdHNhbHRzYWx0c2FsdA==", Manifests: []json.RawMessage{[]byte(`{"kind":"Namespace"}`)}}},
		Parts: []plans.Part{kubePart("kube:1", objectChange(plans.Create, "Namespace", "avatar", plans.ObjectPayload{Broker: -1})),
			{Plane: plans.PlaneKafka, Deferral: kafkaDeferred()}}}
	var buf bytes.Buffer
	if err := WritePlan(&buf, p); err != nil {
		t.Fatal(err)
	}
	read, err := ReadPlan(&buf)
	if err != nil {
		t.Errorf("deferred plan: %v", err)
	}
	if !read.TopicsDeferred() || read.Desired.Objects == nil || len(read.Desired.Objects.Manifests) != 1 {
		t.Errorf("the deferral or the manifests did not round-trip: %+v", read)
	}
	// A Kubernetes side without its manifests is not a plan apply can pin.
	noManifests := p
	noManifests.Desired.Objects = nil
	buf.Reset()
	if err := WritePlan(&buf, noManifests); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPlan(&buf); err == nil || !strings.Contains(err.Error(), "no manifests") {
		t.Errorf("a Kubernetes side without manifests: %v", err)
	}
	p.Parts = []plans.Part{{Plane: plans.PlaneKubernetes}, {Plane: plans.PlaneKafka, Deferral: kafkaDeferred()}}
	buf.Reset()
	if err := WritePlan(&buf, p); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPlan(&buf); err == nil || !strings.Contains(err.Error(), "no fingerprint") {
		t.Errorf("a plan with no fingerprint at all: %v", err)
	}
}
