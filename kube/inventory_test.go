package kube

import "testing"

// Only objects of the rendered kinds in the target's namespace, and that Namespace itself, may be
// pruned from an inventory (issue 21); everything else a hand-edited inventory lists is ignored.
func TestOutOfScope(t *testing.T) {
	cases := map[string]struct {
		ref  ObjectRef
		want string
	}{
		"the target's namespace":       {ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: "avatar"}, ""},
		"a broker StatefulSet":         {ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: "avatar", Name: "kafka-broker-1"}, ""},
		"a PodDisruptionBudget":        {ObjectRef{APIVersion: "policy/v1", Kind: "PodDisruptionBudget", Namespace: "avatar", Name: "kafka"}, ""},
		"the watch Role":               {ObjectRef{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role", Namespace: "avatar", Name: "avatar-sync-watch"}, ""},
		"another namespace":            {ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: "victim-ns"}, "another namespace than the target's avatar"},
		"a Namespace with a namespace": {ObjectRef{APIVersion: "v1", Kind: "Namespace", Namespace: "avatar", Name: "avatar"}, "another namespace than the target's avatar"},
		"an object elsewhere":          {ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "victim-ns", Name: "data"}, "an object in namespace victim-ns, not the target's avatar"},
		"a cluster-scoped object":      {ObjectRef{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "cluster-admin"}, "a cluster-scoped object"},
		"a kind render never makes":    {ObjectRef{APIVersion: "v1", Kind: "PersistentVolumeClaim", Namespace: "avatar", Name: "data-kafka-broker-1-0"}, "a kind avatar-sync does not render (/PersistentVolumeClaim)"},
		"a kind in another group":      {ObjectRef{APIVersion: "example.com/v1", Kind: "StatefulSet", Namespace: "avatar", Name: "kafka-broker-1"}, "a kind avatar-sync does not render (example.com/StatefulSet)"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := outOfScope(tc.ref, "avatar"); got != tc.want {
				t.Errorf("outOfScope(%s) = %q, want %q", tc.ref, got, tc.want)
			}
		})
	}
}
