package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/avatar-project/avatar-sync/internal/gctune"
	"github.com/avatar-project/avatar-sync/plugins/devices"
	"github.com/avatar-project/avatar-sync/report"
	"github.com/avatar-project/avatar-sync/spec"
)

// validateOptions are the flags of `avatar-sync validate`.
type validateOptions struct {
	strict bool
	// plugins runs external device plugins' validate op; off by default because validate judges
	// untrusted pull requests, and a plugin: path in one is code chosen by its author (issue 10).
	plugins bool
}

func newValidateCmd(g *globalOptions, s *streams) *cobra.Command {
	o := &validateOptions{}
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check avatar.yaml and report every problem with its line and column",
		Long: `validate loads the spec named by -f and reports every problem at once, one per line as
file:line:col: message, so editors and CI can jump to each. Warnings are printed but only fail the
run with --strict. Exit status: 0 valid, 1 invalid (or warnings with --strict).

validate runs no code from the spec: the parameters of devices served by external plugins
(avatar-sync-plugin-<kind>, plugin:) are only checked with --plugins, which runs each plugin's
validate op. Leave it off when validating a pull request you have not reviewed; plan runs them
only with --plugins too; check, apply and watch always run the plugins.`,
		Example: `  avatar-sync validate -f examples/avatar.yaml
  avatar-sync validate --strict -o json
  git show HEAD:avatar.yaml | avatar-sync validate -f -
  avatar-sync validate --plugins`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.checkOutput("text", "json"); err != nil {
				return err
			}
			defer gctune.ForCommand()() // a lazier collector (issue 23)
			// ParsePartial: even when the spec has errors, the devices it could decode still get
			// their plugins' checks, so one run reports every problem.
			// With --cluster the spec is validated as that target sees it (its overrides merged,
			// issue 15); without, as written and as every target with overrides sees it.
			explicit := cmd.Flags().Changed("cluster")
			sp, diags := readSpecWith(cmd.Context(), g, s, func(name string, srcs []spec.Source) (*spec.Spec, spec.Diagnostics) {
				if explicit {
					return spec.ParsePartialSources(name, srcs, g.cluster)
				}
				return spec.ParsePartialAllTargets(name, srcs)
			})
			var notRun []string
			if sp != nil {
				diags, notRun = devices.ValidateSpec(cmd.Context(), sp, diags, o.plugins)
				if len(diags.Errors()) > 0 {
					sp = nil
				}
			}
			if sp != nil && cmd.Flags().Changed("cluster") {
				// An explicit --cluster is checked too, so CI can validate the target it deploys to.
				if _, err := targetCluster(g, sp); err != nil {
					diags = append(diags, spec.Diagnostic{Severity: spec.SeverityError, Message: err.Error()})
					sp = nil
				}
			}
			rep := report.NewValidateReport(g.file, sp, diags, notRun, o.strict)
			var err error
			if g.output == "json" {
				err = report.RenderValidateJSON(s.out, rep)
			} else {
				err = report.RenderValidateText(s.out, s.err, rep)
			}
			if err != nil {
				return err
			}
			if !rep.Valid {
				return withExitCode(exitError, nil)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.strict, "strict", false, "treat warnings as errors (exit 1)")
	cmd.Flags().BoolVar(&o.plugins, "plugins", false, "also run external device plugins' validate op (executes the spec's plugins: use only on a spec you trust)")
	return cmd
}

// count renders "1 error", "3 errors".
func count(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
