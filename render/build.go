package render

import (
	"fmt"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/avatar-project/avatar-sync/spec"
)

// Build runs kustomize in-process (krusty, with the same load restrictions as `kubectl kustomize`)
// on dir/overlays/<cluster> and returns the manifests as one YAML stream.
func Build(fSys filesys.FileSystem, dir, cluster string) ([]byte, error) {
	overlay := filepath.Join(dir, "overlays", cluster)
	if !fSys.IsDir(overlay) {
		return nil, fmt.Errorf("no overlay %s: render it first, or pick a cluster with a kubernetes: block", overlay)
	}
	// Legacy order, as `kustomize build` and `kubectl kustomize` print: the Namespace first, then
	// config and Secrets, Services, workloads, so `render --build | kubectl apply -f -` works on a
	// fresh cluster (issue 11: in file order the Namespace came last and the apply failed).
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	resMap, err := krusty.MakeKustomizer(opts).Run(fSys, overlay)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", overlay, err)
	}
	out, err := resMap.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: encode: %w", overlay, err)
	}
	return out, nil
}

// BuildSpec renders the spec's tree in memory, as if into dir, and builds the overlay of cluster
// without writing anything. Only the certificate files are read, from certs (normally the disk), since
// the TLS Secret carries their bytes.
func BuildSpec(s *spec.Spec, dir, cluster string, certs filesys.FileSystem) ([]byte, error) {
	if err := checkKubernetesCluster(s, cluster); err != nil {
		return nil, err
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", dir, err)
	}
	files, err := KustomizeFiles(s, absDir)
	if err != nil {
		return nil, err
	}
	mem := filesys.MakeFsInMemory()
	if _, err := Write(mem, absDir, TargetKustomize, files); err != nil {
		return nil, err
	}
	if m, _ := newModel(s); m != nil && m.tls {
		tlsDir, err := filepath.Abs(m.tlsDir)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", m.tlsDir, err)
		}
		var missing []string
		for _, f := range m.tlsFiles() {
			data, err := certs.ReadFile(filepath.Join(tlsDir, f))
			if err != nil {
				missing = append(missing, f)
				continue
			}
			if err := mem.WriteFile(filepath.Join(tlsDir, f), data); err != nil {
				return nil, err
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("tls.dir %s lacks %s; run `avatar-sync certs generate` first", m.tlsDir, strings.Join(missing, ", "))
		}
	}
	return Build(mem, absDir, cluster)
}

// checkKubernetesCluster explains which names would have worked.
func checkKubernetesCluster(s *spec.Spec, cluster string) error {
	names := overlayClusters(s)
	c, ok := s.FindCluster(cluster)
	switch {
	case ok && c.Kubernetes != nil:
		return nil
	case len(names) == 0:
		return fmt.Errorf("--cluster %q: no target in clusters: has a kubernetes: block, so there is nothing to build", cluster)
	case ok:
		return fmt.Errorf("--cluster %q has no kubernetes: block; targets with one: %s", cluster, strings.Join(names, ", "))
	default:
		return fmt.Errorf("--cluster %q is not a target in clusters:; targets with a kubernetes: block: %s", cluster, strings.Join(names, ", "))
	}
}
