package main

import (
	"cmp"
	"fmt"
	"os"
	"slices"
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
		return withPrefix(clusterNames(g.file), prefix), cobra.ShellCompDirectiveNoFileComp
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

// completionSpec is what completion knows of the spec at path: whatever the loader could decode,
// since the file is often mid-edit (and invalid) exactly when someone presses TAB. Nil when the file
// cannot be read or is not a YAML mapping.
func completionSpec(path string) *spec.Spec {
	if path == "-" {
		return nil // standard input is the command's, not completion's
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	s, _ := spec.ParsePartial(path, data)
	return s
}

// clusterNames lists the targets of the spec at path with a short description; an unreadable spec
// still offers the embedded target, which every spec has.
func clusterNames(path string) []string {
	s := completionSpec(path)
	if s == nil {
		return []string{spec.EmbeddedCluster + "\tin-process cluster"}
	}
	out := make([]string, 0, len(s.Clusters))
	for _, c := range s.Clusters {
		if c.Name == "" {
			continue
		}
		desc := "in-process cluster"
		if !c.Embedded() {
			desc = strings.TrimSpace(cmp.Or(c.Security, spec.SecurityPlaintext) + " " + c.Bootstrap[0])
		}
		out = append(out, c.Name+"\t"+desc)
	}
	return out
}

// deviceNames lists the devices of the spec at path (for `check NAME`), with kind and address,
// leaving out those already on the command line.
func deviceNames(path string, given []string) []string {
	s := completionSpec(path)
	if s == nil {
		return nil
	}
	var out []string
	for _, d := range s.Devices {
		if d.Name == "" || slices.Contains(given, d.Name) {
			continue
		}
		out = append(out, d.Name+"\t"+strings.TrimSpace(d.Kind+" "+d.Address))
	}
	return out
}
