package main

import (
	"github.com/spf13/cobra"

	"github.com/avatar-project/avatar-sync/spec"
)

func newSchemaCmd(g *globalOptions, s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of avatar.yaml (or its reference with -o markdown)",
		Long: `schema prints the JSON Schema (draft-07) of avatar.yaml, generated from the same tables validate
checks against. Point yaml-language-server at it for completion and checks in your editor:

  # yaml-language-server: $schema=./schema/avatar.schema.json

The repository commits the output as schema/avatar.schema.json. With -o markdown it prints the
avatar.yaml reference instead (docs/avatar-yaml.md).`,
		Example: `  avatar-sync schema > avatar.schema.json
  avatar-sync schema -o markdown`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.checkOutput("text", "json", "markdown"); err != nil {
				return err
			}
			out := spec.JSONSchema()
			if g.output == "markdown" {
				out = spec.Reference()
			}
			_, err := s.out.Write(out)
			return err
		},
	}
}
