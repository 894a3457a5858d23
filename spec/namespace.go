package spec

import "strings"

// namespaces refuses the namespaces avatar-sync must never manage (issue 21): apply enforces
// PodSecurity "restricted" on its target's namespace (with --force-conflicts, on one that already
// exists) and may prune what its inventory lists there, so kube-system, kube-public,
// kube-node-lease (every kube-* namespace Kubernetes reserves) and default are refused here, at
// validate, instead of being taken over at apply.
func (v *validator) namespaces() {
	if why := reservedNamespace(v.s.Metadata.Namespace); why != "" {
		v.errorf("metadata.namespace", "metadata.namespace %q %s; use a namespace of its own (e.g. avatar)", v.s.Metadata.Namespace, why)
	}
	for _, c := range v.s.Clusters {
		if c.Kubernetes == nil {
			continue
		}
		p := "clusters." + c.Name + ".kubernetes.namespace"
		if why := reservedNamespace(c.Kubernetes.Namespace); why != "" {
			v.errorf(p, "%s %q %s; use a namespace of its own (e.g. avatar)", p, c.Kubernetes.Namespace, why)
		}
	}
}

// reservedNamespace explains why ns may not be a target's namespace ("" when it may).
func reservedNamespace(ns string) string {
	switch {
	case ns == "default":
		return "is Kubernetes' default namespace, shared with whatever else runs there: avatar-sync would enforce PodSecurity restricted on it and could prune in it"
	case strings.HasPrefix(ns, "kube-"):
		return "is reserved for Kubernetes itself (kube-*): avatar-sync would enforce PodSecurity restricted on it and could prune in it"
	}
	return ""
}
