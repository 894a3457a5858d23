package session

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/avatar-project/avatar-sync/health"
	"github.com/avatar-project/avatar-sync/plans"
)

func TestObjectDrift(t *testing.T) {
	sts := plans.ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: "avatar", Name: "kafka-broker-1"}
	cm := plans.ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "avatar", Name: "kafka-broker-1-config"}
	p := plans.Plan{Parts: []plans.Part{{Plane: plans.PlaneKubernetes, Fingerprint: "kube:1", Changes: []plans.Change{
		{Kind: plans.KindObject, Action: plans.Update, Object: &plans.ObjectPayload{Object: sts, Fields: []plans.ObjectField{
			{Path: "spec.template.spec.containers[0].image", Before: "apache/kafka:3.8.0", After: "apache/kafka:3.9.0"},
			{Path: "spec.replicas", Before: "2", After: "1"}}}},
		{Kind: plans.KindObject, Action: plans.Create, Object: &plans.ObjectPayload{Object: cm}},
		{Kind: plans.KindObject, Action: plans.Replace, Object: &plans.ObjectPayload{Object: sts,
			Fields: []plans.ObjectField{{Path: "spec.volumeClaimTemplates[0].spec.resources.requests.storage", Before: "10Gi", After: "20Gi"}}}},
		{Kind: plans.KindObject, Action: plans.NoOp, Object: &plans.ObjectPayload{Object: cm}},
	}}, {Plane: plans.PlaneKafka, Fingerprint: "sha256:1", Changes: []plans.Change{
		{Kind: plans.KindTopic, Name: "eeg", Action: plans.Create, Topic: &plans.TopicPayload{}},
	}}}}
	want := []health.ObjectDrift{
		{Kind: "StatefulSet", Name: "kafka-broker-1", Field: "spec.template.spec.containers[0].image", Live: "apache/kafka:3.8.0", Wanted: "apache/kafka:3.9.0", Action: "update"},
		{Kind: "StatefulSet", Name: "kafka-broker-1", Field: "spec.replicas", Live: "2", Wanted: "1", Action: "update"},
		{Kind: "ConfigMap", Name: "kafka-broker-1-config", Field: "(whole object)", Action: "create"},
		{Kind: "StatefulSet", Name: "kafka-broker-1", Field: "spec.volumeClaimTemplates[0].spec.resources.requests.storage", Live: "10Gi", Wanted: "20Gi", Action: "replace"},
	}
	if d := cmp.Diff(want, ObjectDrift(p)); d != "" {
		t.Errorf("drift (-want +got):\n%s", d)
	}
}
