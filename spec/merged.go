package spec

import "fmt"

// MergedDocument is what `avatar-sync config` prints: the loaded spec (loaded for target from
// file) with the overrides it merged taken out of its targets (they are applied) and
// topicDefaults folded into the topics.
func MergedDocument(sp *Spec, file, target string) Document {
	out := *sp
	out.TopicDefaults = TopicDefaults{}
	out.Clusters = make([]Cluster, 0, len(sp.Clusters))
	for _, c := range sp.Clusters {
		if c.Name == EmbeddedCluster && c.Overrides == nil && len(c.Bootstrap) == 0 && c.Kubernetes == nil && !c.Preflight {
			continue // implicit; every spec has it
		}
		if c.Name == sp.Overridden {
			c.Overrides = nil
		}
		out.Clusters = append(out.Clusters, c)
	}
	how := fmt.Sprintf("no overrides of target %s", target)
	if sp.Overridden != "" {
		how = fmt.Sprintf("clusters.%s.overrides merged in", sp.Overridden)
	}
	return Document{Spec: &out, Header: []string{
		fmt.Sprintf("%s as --cluster %s sees it: %s.", file, target, how),
		"Topics show their effective values (topicDefaults merged in).",
	}}
}
