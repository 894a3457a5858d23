package kube

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func obj(kind string, fields map[string]any) *unstructured.Unstructured {
	o := map[string]any{"apiVersion": "v1", "kind": kind, "metadata": map[string]any{"name": "x", "resourceVersion": "1", "uid": "u"}}
	for k, v := range fields {
		o[k] = v
	}
	return &unstructured.Unstructured{Object: o}
}

// fieldDiffs is pure; the API server tests (make test-k8s) cover it end to end.
func TestFieldDiffs(t *testing.T) {
	containers := func(image string) map[string]any {
		return map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "kafka", "image": image}}}}}
	}
	cases := map[string]struct {
		before, after *unstructured.Unstructured
		want          []FieldDiff
	}{
		"list element by index": {
			obj("StatefulSet", map[string]any{"spec": containers("apache/kafka:3.8.1")}),
			obj("StatefulSet", map[string]any{"spec": containers("apache/kafka:3.9.0")}),
			[]FieldDiff{{Path: "spec.template.spec.containers[0].image", Before: "apache/kafka:3.8.1", After: "apache/kafka:3.9.0"}},
		},
		"status and server bookkeeping are not changes": {
			obj("Service", map[string]any{"spec": map[string]any{"type": "NodePort"}, "status": map[string]any{"x": 1}}),
			obj("Service", map[string]any{"spec": map[string]any{"type": "NodePort"}, "status": map[string]any{"x": 2}}),
			nil,
		},
		"label keys with dots and slashes are bracketed": {
			&unstructured.Unstructured{Object: map[string]any{"kind": "Service", "metadata": map[string]any{"labels": map[string]any{"app.kubernetes.io/name": "kafka"}}}},
			&unstructured.Unstructured{Object: map[string]any{"kind": "Service", "metadata": map[string]any{"labels": map[string]any{"app.kubernetes.io/name": "kafka2"}}}},
			[]FieldDiff{{Path: "metadata.labels[app.kubernetes.io/name]", Before: "kafka", After: "kafka2"}},
		},
		"added and removed fields": {
			obj("ConfigMap", map[string]any{"data": map[string]any{"old": "1"}}),
			obj("ConfigMap", map[string]any{"data": map[string]any{"new": "2"}}),
			[]FieldDiff{{Path: "data.new", Before: absent, After: "2"}, {Path: "data.old", Before: "1", After: absent}},
		},
		"secret values are never shown": {
			obj("Secret", map[string]any{"data": map[string]any{"password": "b2xk", "gone": "eA=="}}),
			obj("Secret", map[string]any{"data": map[string]any{"password": "bmV3", "added": "eQ=="}}),
			[]FieldDiff{{Path: "data.added", Before: absent, After: Sensitive}, {Path: "data.gone", Before: Sensitive, After: absent}, {Path: "data.password", Before: Sensitive, After: Sensitive}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, fieldDiffs(tc.before, tc.after)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestImmutableChangesCompareOnlyWhatTheRenderDeclares(t *testing.T) {
	vct := func(storage string, extra map[string]any) map[string]any {
		spec := map[string]any{"accessModes": []any{"ReadWriteOnce"}, "resources": map[string]any{"requests": map[string]any{"storage": storage}}}
		for k, v := range extra {
			spec[k] = v
		}
		return map[string]any{"volumeClaimTemplates": []any{map[string]any{"metadata": map[string]any{"name": "data"}, "spec": spec}}}
	}
	desired := obj("StatefulSet", map[string]any{"spec": vct("10Gi", nil)})
	live := obj("StatefulSet", map[string]any{"spec": vct("10Gi", map[string]any{"volumeMode": "Filesystem"})})
	if got := immutableChanges(desired, live); len(got) != 0 {
		t.Errorf("server defaults reported as changes: %v", got)
	}
	bigger := obj("StatefulSet", map[string]any{"spec": vct("20Gi", nil)})
	want := []FieldDiff{{Path: "spec.volumeClaimTemplates[0].spec.resources.requests.storage", Before: "10Gi", After: "20Gi"}}
	if diff := cmp.Diff(want, immutableChanges(bigger, live)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestChangeLinesAndSummary(t *testing.T) {
	p := Plan{Changes: []ObjectChange{
		{Object: ObjectRef{Kind: "Namespace", Name: "avatar"}, Action: NoOp},
		{Object: ObjectRef{Kind: "StatefulSet", Namespace: "avatar", Name: "kafka-broker-2"}, Action: Update,
			Fields:    []FieldDiff{{Path: "spec.template.spec.containers[0].image", Before: "apache/kafka:3.8.1", After: "apache/kafka:3.9.0"}},
			Conflicts: []Conflict{{Field: "spec.template.spec.containers[name=\"kafka\"].image", Manager: "kubectl-set"}}},
		{Object: ObjectRef{Kind: "PodDisruptionBudget", Namespace: "avatar", Name: "kafka"}, Action: Delete, Reason: "left the render"},
	}}
	want := []string{
		"~ StatefulSet avatar/kafka-broker-2",
		"    spec.template.spec.containers[0].image: apache/kafka:3.8.1 → apache/kafka:3.9.0",
		`    conflict: spec.template.spec.containers[name="kafka"].image is owned by kubectl-set (taking it needs --force-conflicts)`,
	}
	if diff := cmp.Diff(want, p.Changes[1].Lines()); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	if got, want := p.Summary(), "Kubernetes: 0 to create, 1 to update, 0 to replace, 1 to delete, 1 with conflicts."; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	if !p.Pending() || (Plan{Changes: p.Changes[:1]}).Pending() {
		t.Error("Pending should be true exactly when a change is not a no-op")
	}
}

// A plan reads back from JSON with the same fingerprint; the fingerprint covers the live versions.
// (Verifying a saved plan is reconcile's: it re-plans the pinned manifests, issue 20.)
func TestPlanFingerprintRoundTrips(t *testing.T) {
	saved := Plan{Target: "lab", Namespace: "avatar", Inventory: "avatar", Changes: []ObjectChange{
		{Object: ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: "avatar"}, Action: NoOp, Broker: -1, Live: "aa"},
		{Object: ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: "avatar", Name: "kafka-broker-1"}, Action: Replace, Broker: 1, Live: "bb",
			Fields: []FieldDiff{{Path: "spec.volumeClaimTemplates[0].spec.resources.requests.storage", Before: "10Gi", After: "20Gi"}}, Reason: "r"},
	}}
	data, err := json.Marshal(saved)
	if err != nil {
		t.Fatal(err)
	}
	var read Plan
	if err := json.Unmarshal(data, &read); err != nil {
		t.Fatal(err)
	}
	if read.Fingerprint() != saved.Fingerprint() {
		t.Error("fingerprint changed by a JSON round trip")
	}
	edited := read
	edited.Changes = append([]ObjectChange(nil), read.Changes...)
	edited.Changes[1].Live = "cc" // someone edited the StatefulSet since
	if edited.Fingerprint() == saved.Fingerprint() {
		t.Error("the fingerprint does not cover the live versions")
	}
	var a Action
	if err := a.UnmarshalText([]byte("bogus")); err == nil {
		t.Error("an unknown action parsed")
	}
}
