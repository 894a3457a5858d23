package kube

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/avatar-project/avatar-sync/plans"
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
		want          []plans.ObjectField
	}{
		"list element by index": {
			obj("StatefulSet", map[string]any{"spec": containers("apache/kafka:3.8.1")}),
			obj("StatefulSet", map[string]any{"spec": containers("apache/kafka:3.9.0")}),
			[]plans.ObjectField{{Path: "spec.template.spec.containers[0].image", Before: "apache/kafka:3.8.1", After: "apache/kafka:3.9.0"}},
		},
		"status and server bookkeeping are not changes": {
			obj("Service", map[string]any{"spec": map[string]any{"type": "NodePort"}, "status": map[string]any{"x": 1}}),
			obj("Service", map[string]any{"spec": map[string]any{"type": "NodePort"}, "status": map[string]any{"x": 2}}),
			nil,
		},
		"label keys with dots and slashes are bracketed": {
			&unstructured.Unstructured{Object: map[string]any{"kind": "Service", "metadata": map[string]any{"labels": map[string]any{"app.kubernetes.io/name": "kafka"}}}},
			&unstructured.Unstructured{Object: map[string]any{"kind": "Service", "metadata": map[string]any{"labels": map[string]any{"app.kubernetes.io/name": "kafka2"}}}},
			[]plans.ObjectField{{Path: "metadata.labels[app.kubernetes.io/name]", Before: "kafka", After: "kafka2"}},
		},
		"added and removed fields": {
			obj("ConfigMap", map[string]any{"data": map[string]any{"old": "1"}}),
			obj("ConfigMap", map[string]any{"data": map[string]any{"new": "2"}}),
			[]plans.ObjectField{{Path: "data.new", Before: absent, After: "2"}, {Path: "data.old", Before: "1", After: absent}},
		},
		"secret values are never shown": {
			obj("Secret", map[string]any{"data": map[string]any{"password": "b2xk", "gone": "eA=="}}),
			obj("Secret", map[string]any{"data": map[string]any{"password": "bmV3", "added": "eQ=="}}),
			[]plans.ObjectField{{Path: "data.added", Before: absent, After: Sensitive}, {Path: "data.gone", Before: Sensitive, After: absent}, {Path: "data.password", Before: Sensitive, After: Sensitive}},
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
	want := []plans.ObjectField{{Path: "spec.volumeClaimTemplates[0].spec.resources.requests.storage", Before: "10Gi", After: "20Gi"}}
	if diff := cmp.Diff(want, immutableChanges(bigger, live)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// The fingerprint covers every object examined and its live version, in sync ones included.
// (Verifying a saved plan is reconcile's: it re-plans the pinned manifests, issue 20.)
func TestFingerprintCoversTheLiveVersions(t *testing.T) {
	ns := plans.ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: "avatar"}
	sts := plans.ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: "avatar", Name: "kafka-broker-1"}
	saved := []examined{{ref: ns, broker: -1, live: "aa"}, {ref: sts, broker: 1, action: plans.Replace, live: "bb"}}
	if fingerprint(saved) != fingerprint(slices.Clone(saved)) {
		t.Error("the fingerprint is not stable")
	}
	edited := slices.Clone(saved)
	edited[1].live = "cc" // someone edited the StatefulSet since
	if fingerprint(edited) == fingerprint(saved) {
		t.Error("the fingerprint does not cover the live versions")
	}
	if fingerprint(saved[:1]) == fingerprint(saved) {
		t.Error("the fingerprint does not cover every object examined")
	}
	sts.APIVersion = "apps/v1beta2"
	if fingerprint([]examined{saved[0], {ref: sts, broker: 1, live: "bb"}}) != fingerprint(saved) {
		t.Error("the fingerprint depends on the API version an object was read with")
	}
}
