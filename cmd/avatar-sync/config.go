package main

import (
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
			_, err = s.out.Write(spec.Encode(spec.MergedDocument(sp, g.file, g.cluster)))
			return err
		},
	}
}
