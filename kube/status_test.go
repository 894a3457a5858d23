package kube

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestWorkloadOf(t *testing.T) {
	sts := func(gen, observed, replicas, ready, updated int64, current, update string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "StatefulSet",
			"metadata": map[string]any{"name": "kafka-broker-1", "namespace": "avatar", "generation": gen},
			"spec": map[string]any{"replicas": replicas, "template": map[string]any{"spec": map[string]any{
				"containers": []any{map[string]any{"name": "kafka", "image": "apache/kafka:3.9.0"}}}}},
			"status": map[string]any{"observedGeneration": observed, "readyReplicas": ready, "updatedReplicas": updated,
				"currentRevision": current, "updateRevision": update},
		}}
		return u
	}
	tests := map[string]struct {
		u              *unstructured.Unstructured
		ready, rollout bool
	}{
		"settled":                {sts(2, 2, 1, 1, 1, "r2", "r2"), true, false},
		"new spec not observed":  {sts(3, 2, 1, 1, 1, "r2", "r2"), true, true},
		"pods on old revision":   {sts(3, 3, 1, 1, 0, "r2", "r3"), true, true},
		"revision not yet moved": {sts(3, 3, 1, 1, 1, "r2", "r3"), true, true},
		"pod not ready":          {sts(2, 2, 1, 0, 1, "r2", "r2"), false, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := workloadOf(tc.u)
			if (w.Ready >= w.Desired) != tc.ready || w.Rollout != tc.rollout {
				t.Errorf("%+v: want ready %v rollout %v", w, tc.ready, tc.rollout)
			}
			if len(w.Images) != 1 || w.Images[0] != "apache/kafka:3.9.0" || w.Name != "kafka-broker-1" {
				t.Errorf("%+v", w)
			}
		})
	}
}
