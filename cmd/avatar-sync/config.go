package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/avatar-project/avatar-sync/spec"
)

func newConfigCmd(g *globalOptions, s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "Print the spec as --cluster sees it: the target's overrides merged in",
		Long: `config prints avatar.yaml as plan, apply, render and validate --cluster see it for the target named
by --cluster: that target's overrides (brokers, topicDefaults, topic settings) merged over the spec's,
and every topic with its effective values (topicDefaults merged in). Paths are as avatar-sync resolves
them (relative to the working directory). The output is itself a valid spec.`,
		Example: `  avatar-sync config --cluster dev
  avatar-sync config --cluster microk8s -f deploy/avatar.yaml | diff avatar.yaml -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.checkOutput("text"); err != nil {
				return err
			}
			sp, err := loadSpec(cmd.Context(), g, s)
			if err != nil {
				return err
			}
			if _, err := targetCluster(g, sp); err != nil {
				return err
			}
			_, err = s.out.Write(spec.Encode(mergedDocument(sp, g.file, g.cluster)))
			return err
		},
	}
}

// mergedDocument is what config prints: the loaded spec with the overrides it merged taken out of
// its targets (they are applied) and topicDefaults folded into the topics.
func mergedDocument(sp *spec.Spec, file, target string) spec.Document {
	out := *sp
	out.TopicDefaults = spec.TopicDefaults{}
	out.Clusters = make([]spec.Cluster, 0, len(sp.Clusters))
	for _, c := range sp.Clusters {
		if c.Name == spec.EmbeddedCluster && c.Overrides == nil && len(c.Bootstrap) == 0 && c.Kubernetes == nil && !c.Preflight {
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
	return spec.Document{Spec: &out, Header: []string{
		fmt.Sprintf("%s as --cluster %s sees it: %s.", file, target, how),
		"Topics show their effective values (topicDefaults merged in).",
	}}
}
