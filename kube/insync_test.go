package kube

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// inSync decides locally that applying an object would change nothing, or says it cannot tell
// (the plan then dry-runs it): it must never call in sync what the apply would change.
func TestInSync(t *testing.T) {
	desired := func() *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "StatefulSet",
			"metadata": map[string]any{"name": "kafka-broker-1", "namespace": "avatar", "labels": map[string]any{"app": "kafka"}},
			"spec": map[string]any{"replicas": int64(1), "template": map[string]any{"spec": map[string]any{
				"containers": []any{map[string]any{"name": "kafka", "image": "apache/kafka:3.8.1",
					"ports": []any{map[string]any{"containerPort": int64(9092)}}}}}}},
		}}
	}
	// live is desired as the server stores it: defaults filled in, status, bookkeeping, and the
	// fields avatar-sync's apply owns.
	live := func(owned string) *unstructured.Unstructured {
		u := desired().DeepCopy()
		u.Object["status"] = map[string]any{"readyReplicas": int64(1)}
		_ = unstructured.SetNestedField(u.Object, "avatar", "metadata", "labels", "kubernetes.io/metadata.name")
		cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		c := cs[0].(map[string]any)
		c["terminationMessagePath"] = "/dev/termination-log"
		c["ports"] = []any{map[string]any{"containerPort": float64(9092), "protocol": "TCP"}}
		_ = unstructured.SetNestedSlice(u.Object, cs, "spec", "template", "spec", "containers")
		u.SetResourceVersion("42")
		if owned != "" {
			u.SetManagedFields([]metav1.ManagedFieldsEntry{
				{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status",
					FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:status":{"f:readyReplicas":{}}}`)},
				{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationApply,
					FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(owned)},
			})
		}
		return u
	}
	const owns = `{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{` +
		`"k:{\"name\":\"kafka\"}":{".":{},"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":9092,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}`
	cases := map[string]struct {
		desired func() *unstructured.Unstructured
		live    *unstructured.Unstructured
		want    bool
	}{
		"applied, defaults and status beside": {desired, live(owns), true},
		"no managedFields of avatar-sync":     {desired, live(""), true},
		"an image another manager changed": {desired, func() *unstructured.Unstructured {
			u := live(owns)
			cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
			cs[0].(map[string]any)["image"] = "apache/kafka:edited"
			_ = unstructured.SetNestedSlice(u.Object, cs, "spec", "template", "spec", "containers")
			return u
		}(), false},
		"a label the render dropped (the apply removes it)": {desired, live(`{"f:metadata":{"f:labels":{"f:app":{},"f:tier":{}}}}`), false},
		"a container field the render dropped":              {desired, live(`{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"kafka\"}":{"f:args":{}}}}}}}`), false},
		"a container the render dropped":                    {desired, live(`{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"sidecar\"}":{}}}}}}`), false},
		"a new annotation": {func() *unstructured.Unstructured {
			u := desired()
			u.SetAnnotations(map[string]string{"note": "x"})
			return u
		}, live(owns), false},
		"one more port": {func() *unstructured.Unstructured {
			u := desired()
			cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
			c := cs[0].(map[string]any)
			c["ports"] = append(c["ports"].([]any), map[string]any{"containerPort": int64(9093)})
			_ = unstructured.SetNestedSlice(u.Object, cs, "spec", "template", "spec", "containers")
			return u
		}, live(owns), false},
		"replicas as a float from JSON": {desired, func() *unstructured.Unstructured {
			u := live(owns)
			_ = unstructured.SetNestedField(u.Object, float64(1), "spec", "replicas")
			return u
		}(), true},
		"replicas changed": {func() *unstructured.Unstructured {
			u := desired()
			_ = unstructured.SetNestedField(u.Object, int64(3), "spec", "replicas")
			return u
		}, live(owns), false},
		"finalizers declared (not judged locally)": {func() *unstructured.Unstructured {
			u := desired()
			u.SetFinalizers([]string{"x"})
			return u
		}, live(owns), false},
		"an ownership entry it cannot read": {desired, live(`{"f:spec":{"x:unknown":{}}}`), false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := inSync(tc.desired(), tc.live); got != tc.want {
				t.Errorf("inSync = %v, want %v", got, tc.want)
			}
		})
	}
}
