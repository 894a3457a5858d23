package kube

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
)

// fakeDiscovery serves the discovery documents of a server with (aggregated) or without
// aggregated discovery, counting the GETs per path and checking the user agent.
func fakeDiscovery(t *testing.T, aggregated bool) (*httptest.Server, func() map[string]int) {
	var mu sync.Mutex
	gets := map[string]int{}
	docs := map[string]string{
		"/api":                               `{"kind":"APIVersions","versions":["v1"]}`,
		"/apis":                              `{"kind":"APIGroupList","groups":[{"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}]},{"name":"rbac.authorization.k8s.io","versions":[{"groupVersion":"rbac.authorization.k8s.io/v1","version":"v1"}]}]}`,
		"/api/v1":                            `{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"namespaces","kind":"Namespace","namespaced":false},{"name":"namespaces/status","kind":"Namespace","namespaced":false},{"name":"secrets","kind":"Secret","namespaced":true}]}`,
		"/apis/apps/v1":                      `{"kind":"APIResourceList","groupVersion":"apps/v1","resources":[{"name":"statefulsets","kind":"StatefulSet","namespaced":true},{"name":"statefulsets/scale","kind":"Scale","namespaced":true}]}`,
		"/apis/rbac.authorization.k8s.io/v1": `{"kind":"APIResourceList","groupVersion":"rbac.authorization.k8s.io/v1","resources":[{"name":"clusterroles","kind":"ClusterRole","namespaced":false}]}`,
	}
	if aggregated {
		docs = map[string]string{
			"/api":  `{"kind":"APIGroupDiscoveryList","apiVersion":"apidiscovery.k8s.io/v2","items":[{"metadata":{"name":""},"versions":[{"version":"v1","resources":[{"resource":"namespaces","responseKind":{"group":"","version":"v1","kind":"Namespace"},"scope":"Cluster","subresources":[{"subresource":"status","responseKind":{"kind":"Namespace"}}]},{"resource":"secrets","responseKind":{"group":"","version":"v1","kind":"Secret"},"scope":"Namespaced"}]}]}]}`,
			"/apis": `{"kind":"APIGroupDiscoveryList","apiVersion":"apidiscovery.k8s.io/v2","items":[{"metadata":{"name":"apps"},"versions":[{"version":"v1","resources":[{"resource":"statefulsets","responseKind":{"group":"apps","version":"v1","kind":"StatefulSet"},"scope":"Namespaced"}]}]},{"metadata":{"name":"rbac.authorization.k8s.io"},"versions":[{"version":"v1","resources":[{"resource":"clusterroles","responseKind":{"group":"rbac.authorization.k8s.io","version":"v1","kind":"ClusterRole"},"scope":"Cluster"}]}]}]}`,
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.UserAgent() != UserAgent {
			t.Errorf("user agent %q, want %q", r.UserAgent(), UserAgent)
		}
		mu.Lock()
		gets[r.URL.Path]++
		mu.Unlock()
		doc, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if aggregated {
			if !strings.Contains(r.Header.Get("Accept"), "as=APIGroupDiscoveryList") {
				t.Errorf("GET %s without asking for aggregated discovery: Accept %q", r.URL.Path, r.Header.Get("Accept"))
			}
			w.Header().Set("Content-Type", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		w.Write([]byte(doc))
	}))
	t.Cleanup(srv.Close)
	return srv, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for k, v := range gets {
			out[k] = v
		}
		return out
	}
}

// Issue 23: kube's own mapper (in place of client-go's discovery and restmapper, whose
// kubernetes/scheme init every command paid) tells namespaced from cluster-scoped kinds, names an
// unknown kind, and reads each discovery document once, with or without aggregated discovery.
func TestKubeMapper(t *testing.T) {
	for _, aggregated := range []bool{true, false} {
		name := "classic discovery"
		if aggregated {
			name = "aggregated discovery"
		}
		t.Run(name, func(t *testing.T) {
			srv, gets := fakeDiscovery(t, aggregated)
			cfg := &rest.Config{Host: srv.URL, UserAgent: UserAgent}
			hc, err := rest.HTTPClientFor(cfg)
			if err != nil {
				t.Fatal(err)
			}
			m, err := newMapper(cfg, hc)
			if err != nil {
				t.Fatal(err)
			}
			if err := probe(context.Background(), "lab", srv.URL, m); err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				gvk        schema.GroupVersionKind
				resource   string
				namespaced bool
			}{
				{schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, "namespaces", false},
				{schema.GroupVersionKind{Version: "v1", Kind: "Secret"}, "secrets", true},
				{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}, "statefulsets", true},
				{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, "clusterroles", false},
			}
			for range 2 {
				for _, tc := range cases {
					mp, err := m.RESTMapping(tc.gvk.GroupKind(), tc.gvk.Version)
					if err != nil {
						t.Fatalf("%s: %v", tc.gvk, err)
					}
					if mp.Resource != tc.gvk.GroupVersion().WithResource(tc.resource) || (mp.Scope.Name() == meta.RESTScopeNameNamespace) != tc.namespaced || mp.GroupVersionKind != tc.gvk {
						t.Errorf("%s: mapping %+v, scope %s; want %s, namespaced %v", tc.gvk, mp.Resource, mp.Scope.Name(), tc.resource, tc.namespaced)
					}
				}
			}
			for _, gvk := range []schema.GroupVersionKind{
				{Group: "apps", Version: "v1", Kind: "Widget"},
				{Group: "example.com", Version: "v1", Kind: "Widget"},
				{Group: "apps", Version: "v2", Kind: "StatefulSet"},
			} {
				_, err := m.RESTMapping(gvk.GroupKind(), gvk.Version)
				if !meta.IsNoMatchError(err) || !strings.Contains(err.Error(), `no matches for kind "`+gvk.Kind+`"`) {
					t.Errorf("%s: error %v, want a no-match error naming the kind", gvk, err)
				}
			}
			want := map[string]int{"/api": 1, "/apis": 1}
			if !aggregated {
				want["/api/v1"], want["/apis/apps/v1"], want["/apis/rbac.authorization.k8s.io/v1"] = 1, 1, 1
			}
			got := gets()
			if len(got) != len(want) {
				t.Errorf("GETs %v, want %v", got, want)
			}
			for p, n := range want {
				if got[p] != n {
					t.Errorf("GETs %v, want %v (one per discovery document)", got, want)
					break
				}
			}
		})
	}
}

// A server that refuses the credentials is told apart by the probe, as before.
func TestKubeMapperProbeUnauthorized(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`))
	}))
	defer srv.Close()
	cfg := &rest.Config{Host: srv.URL, UserAgent: UserAgent}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := newMapper(cfg, hc)
	if err != nil {
		t.Fatal(err)
	}
	if err := probe(context.Background(), "lab", srv.URL, m); err == nil || !strings.Contains(err.Error(), "401 Unauthorized") {
		t.Errorf("probe error %v, want the 401 explained", err)
	}
}
