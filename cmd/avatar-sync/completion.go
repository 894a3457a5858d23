package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/avatar-project/avatar-sync/spec"
)

// registerCompletions finishes shell completion: cobra's `completion` command (bash, zsh, fish,
// powershell) prints the scripts, and the functions here answer the scripts' questions: --cluster
// completes the targets declared in the spec named by -f (so a mistyped target never reaches a
// cluster), -o the output formats, -f YAML files. Call it after every command is added.
func registerCompletions(root *cobra.Command, g *globalOptions) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			// cobra prints help and exits 0 for `completion tcsh`; a script piped into a shell
			// config deserves a failure it can notice.
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return cmd.Help()
				}
				return fmt.Errorf("completion: unknown shell %q (use bash, zsh, fish or powershell)", args[0])
			}
		}
	}
	_ = root.RegisterFlagCompletionFunc("cluster", func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		return withPrefix(spec.CompleteTargets(g.file), prefix), cobra.ShellCompDirectiveNoFileComp
	})
	_ = root.RegisterFlagCompletionFunc("output", func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		formats := []string{"text\thuman-readable", "json\tmachine-readable", "markdown\tdocuments (some commands)"}
		return withPrefix(formats, prefix), cobra.ShellCompDirectiveNoFileComp
	})
	_ = root.MarkPersistentFlagFilename("file", "yaml", "yml")
}

// withPrefix keeps the candidates ("value\tdescription") whose value starts with prefix.
func withPrefix(candidates []string, prefix string) []string {
	var out []string
	for _, c := range candidates {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}
