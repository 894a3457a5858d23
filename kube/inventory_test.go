package kube

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/render"
	"github.com/avatar-project/avatar-sync/spec"
)

// Only objects of the rendered kinds in the target's namespace, and that Namespace itself, may be
// pruned from an inventory (issue 21); everything else a hand-edited inventory lists is ignored.
func TestOutOfScope(t *testing.T) {
	cases := map[string]struct {
		ref  plans.ObjectRef
		want string
	}{
		"the target's namespace":       {plans.ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: "avatar"}, ""},
		"a broker StatefulSet":         {plans.ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: "avatar", Name: "kafka-broker-1"}, ""},
		"a PodDisruptionBudget":        {plans.ObjectRef{APIVersion: "policy/v1", Kind: "PodDisruptionBudget", Namespace: "avatar", Name: "kafka"}, ""},
		"the watch Role":               {plans.ObjectRef{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role", Namespace: "avatar", Name: "avatar-sync-watch"}, ""},
		"another namespace":            {plans.ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: "victim-ns"}, "another namespace than the target's avatar"},
		"a Namespace with a namespace": {plans.ObjectRef{APIVersion: "v1", Kind: "Namespace", Namespace: "avatar", Name: "avatar"}, "another namespace than the target's avatar"},
		"an object elsewhere":          {plans.ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "victim-ns", Name: "data"}, "an object in namespace victim-ns, not the target's avatar"},
		"a cluster-scoped object":      {plans.ObjectRef{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "cluster-admin"}, "a cluster-scoped object"},
		"a kind render never makes":    {plans.ObjectRef{APIVersion: "v1", Kind: "PersistentVolumeClaim", Namespace: "avatar", Name: "data-kafka-broker-1-0"}, "a kind avatar-sync does not render (/PersistentVolumeClaim)"},
		"a kind in another group":      {plans.ObjectRef{APIVersion: "example.com/v1", Kind: "StatefulSet", Namespace: "avatar", Name: "kafka-broker-1"}, "a kind avatar-sync does not render (example.com/StatefulSet)"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := outOfScope(tc.ref, "avatar"); got != tc.want {
				t.Errorf("outOfScope(%s) = %q, want %q", tc.ref, got, tc.want)
			}
		})
	}
}

// Every namespaced kind render produces (with the watch daemon) is one the inventory may prune,
// so a kind added to render is never silently left behind when it leaves the render; the
// cluster-scoped ones are the target's Namespace and the daemon's ClusterRole(Binding), which are
// never pruned.
func TestPrunableKindsCoverTheRender(t *testing.T) {
	src := `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar, namespace: avatar }
brokers:
  - { id: 1, host: kafka-broker-1, ports: { plaintext: 9092, internal: 29092 } }
clusters:
  lab:
    bootstrap: [lab:9092]
    kubernetes: { namespace: avatar, watch: { enabled: true, git: "https://git.example.org/avatar/lab.git", path: lab/avatar.yaml } }
`
	s, diags := spec.Parse("avatar.yaml", []byte(src))
	if err := diags.Err(); err != nil {
		t.Fatal(err)
	}
	out, err := render.BuildSpec(s, t.TempDir(), "lab", filesys.MakeFsInMemory())
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	var clusterScoped []string
	for _, o := range objs {
		r := refOf(o)
		if r.Namespace == "" {
			clusterScoped = append(clusterScoped, r.Kind)
			continue
		}
		if why := outOfScope(r, "avatar"); why != "" {
			t.Errorf("render produces %s, which the inventory would never prune: %s", r, why)
		}
	}
	if got := strings.Join(clusterScoped, ","); got != "Namespace,ClusterRole,ClusterRoleBinding" {
		t.Errorf("cluster-scoped objects of the render: %s", got)
	}
}
