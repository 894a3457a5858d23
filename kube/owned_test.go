//go:build kubeapiserver

package kube

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Prune deletes an object only while it carries both owner labels (issue 23: the check fluxcd/pkg/ssa's
// Delete made, now kube's own): one without them, or with another inventory's, is left alone; one
// already gone counts as deleted.
func TestDeleteIfOwnedChecksTheLiveOwnerLabels(t *testing.T) {
	c, ns := connectLab(t)
	ctx := testCtx(t)
	owner := c.ownerLabels("lab", ns)
	cm := func(name string, labels map[string]string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name, "namespace": ns}, "data": map[string]any{"k": "v"}}}
		u.SetLabels(labels)
		return u
	}
	mustApply(t, c, mustPlan(t, c, rendered{}.desired(t, ns), planOpts{}), applyOpts{NoWait: true})
	for _, tc := range []struct {
		name    string
		labels  map[string]string
		deleted bool
	}{
		{"owned", owner, true},
		{"unlabelled", nil, false},
		{"one-label", map[string]string{ownerGroup + "/name": "lab"}, false},
		{"other-inventory", c.ownerLabels("other", ns), false},
	} {
		obj := cm("owned-"+tc.name, tc.labels)
		if err := c.client().Create(ctx, obj.DeepCopy()); err != nil {
			t.Fatal(err)
		}
		deleted, err := c.deleteIfOwned(ctx, objectFor(refOf(obj)), owner, metav1.DeletePropagationBackground)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		live, err := c.get(ctx, refOf(obj))
		if err != nil {
			t.Fatal(err)
		}
		if deleted != tc.deleted || (live == nil) != tc.deleted {
			t.Errorf("%s: deleted = %v, still there = %v; want deleted %v", tc.name, deleted, live != nil, tc.deleted)
		}
	}
	deleted, err := c.deleteIfOwned(ctx, objectFor(refOf(cm("never-there", nil))), owner, metav1.DeletePropagationBackground)
	if err != nil || !deleted {
		t.Errorf("absent object: deleted = %v, %v; want true, nil", deleted, err)
	}
}
