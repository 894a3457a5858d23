package main

import (
	"github.com/spf13/cobra"

	"github.com/avatar-project/avatar-sync/report"
	"github.com/avatar-project/avatar-sync/spec"
)

func newExplainCmd(g *globalOptions, s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "explain [KEY]",
		Short: "Explain a Kafka topic config: what it does, type, default, allowed values, units",
		Long: `explain describes a Kafka topic config key as avatar.yaml accepts it under config: (or the
topic key retention): what it does, its type, Kafka's default, the allowed values and the human units
avatar-sync reads (7d, 512MiB, forever, ...). It reads the same table validation checks against.
Without KEY it lists every key.`,
		Example: `  avatar-sync explain retention.ms
  avatar-sync explain cleanup.policy -o json
  avatar-sync explain`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeConfigKeys,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.checkOutput("text", "json"); err != nil {
				return err
			}
			var list []spec.Explanation
			if len(args) == 0 {
				all, err := spec.ExplainAll()
				if err != nil {
					return err
				}
				list = all
			} else {
				e, err := spec.Explain(args[0])
				if err != nil {
					return err
				}
				list = append(list, e)
			}
			if g.output == "json" {
				return report.RenderExplainJSON(s.out, list, len(args) == 1)
			}
			return report.RenderExplainText(s.out, list, len(args) == 1)
		},
	}
}

// completeConfigKeys completes explain's KEY from the config table.
func completeConfigKeys(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var keys []string
	for _, d := range spec.TopicConfigs() {
		keys = append(keys, d.Key)
	}
	return keys, cobra.ShellCompDirectiveNoFileComp
}
