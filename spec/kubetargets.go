package spec

// KubernetesTargets names the targets with a kubernetes: block (those render writes an overlay
// for), in the spec's order.
func (s *Spec) KubernetesTargets() []string {
	var names []string
	for _, c := range s.Clusters {
		if c.Kubernetes != nil {
			names = append(names, c.Name)
		}
	}
	return names
}
