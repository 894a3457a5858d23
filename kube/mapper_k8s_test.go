//go:build kubeapiserver

package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/avatar-project/avatar-sync/internal/kubetest"
)

// Issue 23, on a real API server: kube's mapper maps every kind avatar-sync applies to its
// resource and scope, names an unknown kind, and reads discovery in two requests (the probe's
// /api, then /apis, aggregated discovery), whatever the number of kinds and group-versions.
func TestKubeMapperOnAnAPIServer(t *testing.T) {
	srv := kubetest.Start(t, kubetest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Connect(ctx, Target{Name: "lab", Kubeconfig: srv.Kubeconfig, Context: kubetest.ContextName})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		gvk        schema.GroupVersionKind
		resource   string
		namespaced bool
	}{
		{schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, "namespaces", false},
		{schema.GroupVersionKind{Version: "v1", Kind: "Secret"}, "secrets", true},
		{schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, "configmaps", true},
		{schema.GroupVersionKind{Version: "v1", Kind: "Service"}, "services", true},
		{schema.GroupVersionKind{Version: "v1", Kind: "ServiceAccount"}, "serviceaccounts", true},
		{schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, "pods", true},
		{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}, "statefulsets", true},
		{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, "deployments", true},
		{schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}, "jobs", true},
		{schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"}, "poddisruptionbudgets", true},
		{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"}, "roles", true},
		{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"}, "rolebindings", true},
		{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, "clusterroles", false},
		{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"}, "clusterrolebindings", false},
	}
	for _, tc := range cases {
		mp, err := c.mapping(tc.gvk)
		if err != nil {
			t.Errorf("%s: %v", tc.gvk, err)
			continue
		}
		if mp.Resource != tc.gvk.GroupVersion().WithResource(tc.resource) || (mp.Scope.Name() == meta.RESTScopeNameNamespace) != tc.namespaced {
			t.Errorf("%s: resource %s, scope %s; want %s, namespaced %v", tc.gvk, mp.Resource, mp.Scope.Name(), tc.resource, tc.namespaced)
		}
	}
	unknown := schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}
	if _, err := c.mapping(unknown); !meta.IsNoMatchError(err) || !strings.Contains(err.Error(), `no matches for kind "Widget" in version "example.com/v1"`) {
		t.Errorf("unknown kind: %v, want a no-match error naming it", err)
	}
	if c.mapper.gets != 2 || !c.mapper.aggregated["/api"] || !c.mapper.aggregated["/apis"] {
		t.Errorf("discovery: %d GETs (aggregated %v), want 2: /api and /apis, aggregated", c.mapper.gets, c.mapper.aggregated)
	}
}
