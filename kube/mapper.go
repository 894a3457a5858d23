package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
)

// mapper resolves a kind to its resource and scope from the API server's discovery documents, read
// with a plain REST client: what kube needs of client-go's discovery client and
// DeferredDiscoveryRESTMapper, without linking them. They import
// k8s.io/client-go/kubernetes/scheme, whose package init (every typed API group registered, ~4-10
// ms and ~670 KB) every avatar-sync command paid before main (issue 23).
//
// It asks for aggregated discovery (one document for /api, one for /apis, with every resource of
// every group-version: the two requests client-go's discovery made), and reads a group-version's
// own document (/api/v1, /apis/<group>/<version>) from a server without aggregated discovery.
// Each document is read once per process, on first use, and kept.
type mapper struct {
	rc *rest.RESTClient

	mu sync.Mutex
	// docs are the discovery documents read, by path ("/api", "/apis", "/apis/apps/v1").
	docs map[string]bool
	// aggregated is whether the server answered /api (or /apis) with aggregated discovery.
	aggregated map[string]bool
	// mappings are the resources known, by group/version/kind.
	mappings map[schema.GroupVersionKind]*meta.RESTMapping
	// served are the group-versions a read document lists (a kind absent from them is unknown).
	served map[schema.GroupVersion]bool
	// gets counts the discovery documents read (tests).
	gets int
}

// acceptDiscovery asks for aggregated discovery, else the classic documents.
const acceptDiscovery = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"

func newMapper(cfg *rest.Config, httpClient *http.Client) (*mapper, error) {
	c := rest.CopyConfig(cfg)
	c.APIPath = "/"
	c.GroupVersion = &schema.GroupVersion{}
	c.NegotiatedSerializer = serializer.NewCodecFactory(runtime.NewScheme()).WithoutConversion()
	rc, err := rest.UnversionedRESTClientForConfigAndClient(c, httpClient)
	if err != nil {
		return nil, err
	}
	return &mapper{rc: rc, docs: map[string]bool{}, aggregated: map[string]bool{},
		mappings: map[schema.GroupVersionKind]*meta.RESTMapping{}, served: map[schema.GroupVersion]bool{}}, nil
}

// probe reads the core group's discovery document: it tells an absent server, refused credentials
// and a user not let in apart, and it is the document every plan needs (namespaces, secrets).
func (m *mapper) probe(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.read(ctx, "/api")
}

// RESTMapping is meta.RESTMapper's: the resource of kind gk in the first of versions the server
// serves (gk's preferred version is not needed: every object avatar-sync applies names its version).
func (m *mapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range versions {
		gvk := gk.WithVersion(v)
		if err := m.load(ctx, gvk.GroupVersion()); err != nil {
			return nil, err
		}
		if mp, ok := m.mappings[gvk]; ok {
			return mp, nil
		}
	}
	return nil, &meta.NoKindMatchError{GroupKind: gk, SearchedVersions: versions}
}

// load reads the discovery document that lists gv's resources, unless it has been read.
func (m *mapper) load(ctx context.Context, gv schema.GroupVersion) error {
	top := "/apis"
	if gv.Group == "" {
		top = "/api"
	}
	if err := m.read(ctx, top); err != nil {
		return err
	}
	if m.aggregated[top] {
		return nil
	}
	if !m.served[gv] {
		return nil // the server does not serve gv: the kind is unknown
	}
	path := "/apis/" + gv.Group + "/" + gv.Version
	if gv.Group == "" {
		path = "/api/" + gv.Version
	}
	return m.read(ctx, path)
}

// read GETs one discovery document once and records what it lists.
func (m *mapper) read(ctx context.Context, path string) error {
	if m.docs[path] {
		return nil
	}
	m.gets++
	body, err := m.rc.Get().AbsPath(path).SetHeader("Accept", acceptDiscovery).DoRaw(ctx)
	if err != nil {
		return err
	}
	var doc discoveryDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("discovery document %s: %w", path, err)
	}
	m.docs[path] = true
	switch doc.Kind {
	case "APIGroupDiscoveryList": // aggregated: every group-version's resources
		m.aggregated[path] = true
		for _, g := range doc.Items {
			for _, v := range g.Versions {
				gv := schema.GroupVersion{Group: g.Metadata.Name, Version: v.Version}
				m.served[gv] = true
				for _, r := range v.Resources {
					if r.ResponseKind.Kind == "" {
						continue
					}
					m.add(gv, r.Resource, r.ResponseKind.Kind, r.Scope == "Namespaced")
				}
			}
		}
	case "APIVersions": // /api: the core group's versions
		for _, v := range doc.Versions {
			m.served[schema.GroupVersion{Version: v}] = true
		}
	case "APIGroupList": // /apis: the groups and their versions
		for _, g := range doc.Groups {
			for _, v := range g.Versions {
				m.served[schema.GroupVersion{Group: g.Name, Version: v.Version}] = true
			}
		}
	case "APIResourceList": // one group-version's resources
		gv, err := schema.ParseGroupVersion(doc.GroupVersion)
		if err != nil {
			return fmt.Errorf("discovery document %s: %w", path, err)
		}
		for _, r := range doc.Resources {
			if strings.Contains(r.Name, "/") {
				continue // a subresource
			}
			m.add(gv, r.Name, r.Kind, r.Namespaced)
		}
	default:
		return fmt.Errorf("discovery document %s: unexpected kind %q", path, doc.Kind)
	}
	return nil
}

func (m *mapper) add(gv schema.GroupVersion, resource, kind string, namespaced bool) {
	gvk := gv.WithKind(kind)
	if _, ok := m.mappings[gvk]; ok {
		return // the first resource of a kind is its own (later ones are e.g. a status view)
	}
	scope := meta.RESTScopeRoot
	if namespaced {
		scope = meta.RESTScopeNamespace
	}
	m.mappings[gvk] = &meta.RESTMapping{Resource: gv.WithResource(resource), GroupVersionKind: gvk, Scope: scope}
}

// discoveryDoc is the union of the discovery documents' fields read: aggregated discovery
// (apidiscovery.k8s.io/v2 APIGroupDiscoveryList), APIVersions, APIGroupList and APIResourceList.
type discoveryDoc struct {
	Kind string `json:"kind"`
	// APIGroupDiscoveryList
	Items []struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Versions []struct {
			Version   string `json:"version"`
			Resources []struct {
				Resource     string `json:"resource"`
				ResponseKind struct {
					Kind string `json:"kind"`
				} `json:"responseKind"`
				Scope string `json:"scope"`
			} `json:"resources"`
		} `json:"versions"`
	} `json:"items"`
	// APIVersions
	Versions []string `json:"versions"`
	// APIGroupList
	Groups []struct {
		Name     string `json:"name"`
		Versions []struct {
			Version string `json:"version"`
		} `json:"versions"`
	} `json:"groups"`
	// APIResourceList
	GroupVersion string `json:"groupVersion"`
	Resources    []struct {
		Name       string `json:"name"`
		Kind       string `json:"kind"`
		Namespaced bool   `json:"namespaced"`
	} `json:"resources"`
}
