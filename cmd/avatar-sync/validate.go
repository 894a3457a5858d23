package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/avatar-project/avatar-sync/plugins/devices"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/session"
	"github.com/avatar-project/avatar-sync/spec"
)

// validateOptions are the flags of `avatar-sync validate`.
type validateOptions struct {
	strict bool
	// plugins runs external device plugins' validate op; off by default because validate judges
	// untrusted pull requests, and a plugin: path in one is code chosen by its author (issue 10).
	plugins bool
}

// validateReport is validate's JSON output.
type validateReport struct {
	File        string           `json:"file"`
	Valid       bool             `json:"valid"`
	Errors      int              `json:"errors"`
	Warnings    int              `json:"warnings"`
	Diagnostics spec.Diagnostics `json:"diagnostics"`
	// PluginsNotRun are the devices whose external plugin was not run (no --plugins), so their
	// parameters are unchecked.
	PluginsNotRun []string `json:"pluginsNotRun,omitempty"`
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
				// Kind-specific device keys are the plugins' to judge (minBattery, expectStatus, ...).
				devs := sp.Devices
				if len(diags.Errors()) > 0 {
					devs = decodedDevices(devs, diags)
				}
				reg := devices.NewRegistry()
				reg.NoExternalRun = !o.plugins
				diags = append(diags, reconcile.ValidateDevices(cmd.Context(), devs, reg)...)
				if !o.plugins {
					notRun = externalDevices(devs, reg)
				}
				slices.SortStableFunc(diags, func(a, b spec.Diagnostic) int {
					return cmp.Or(a.Pos.Line-b.Pos.Line, a.Pos.Col-b.Pos.Col)
				})
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
			errs, warns := diags.Errors(), diags.Warnings()
			valid := len(errs) == 0 && (!o.strict || len(warns) == 0)
			if g.output == "json" {
				if diags == nil {
					diags = spec.Diagnostics{}
				}
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(validateReport{File: g.file, Valid: valid, Errors: len(errs), Warnings: len(warns), Diagnostics: diags, PluginsNotRun: notRun}); err != nil {
					return err
				}
			} else {
				for _, d := range diags {
					fmt.Fprintln(s.err, d)
				}
				if len(notRun) > 0 {
					fmt.Fprintf(s.err, "note: the parameters of %s served by external plugins (%s) were not checked; --plugins runs the plugins' validate op (only for a spec you trust)\n",
						count(len(notRun), "device"), strings.Join(notRun, ", "))
				}
				switch {
				case len(errs) > 0:
					fmt.Fprintf(s.err, "%s is invalid: %s, %s\n", g.file, count(len(errs), "error"), count(len(warns), "warning"))
				case !valid:
					fmt.Fprintf(s.err, "%s has %s and --strict is set\n", g.file, count(len(warns), "warning"))
				default:
					fmt.Fprintf(s.out, "%s is valid: %s, %s, %s, %s%s\n", g.file,
						count(len(sp.Brokers), "broker"), count(len(sp.Topics), "topic"),
						count(len(sp.Clusters), "cluster target"), count(len(sp.Devices), "device"),
						warningsTail(len(warns)))
				}
			}
			if !valid {
				return withExitCode(exitError, nil)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.strict, "strict", false, "treat warnings as errors (exit 1)")
	cmd.Flags().BoolVar(&o.plugins, "plugins", false, "also run external device plugins' validate op (executes the spec's plugins: use only on a spec you trust)")
	return cmd
}

// externalDevices names the devices an installed external plugin serves (session.ExternalDevices).
func externalDevices(devs []spec.Device, reg reconcile.Registry) []string {
	return session.ExternalDevices(devs, reg)
}

// decodedDevices are the devices the plugins judge in a spec with errors (session.DecodedDevices).
func decodedDevices(all []spec.Device, diags spec.Diagnostics) []spec.Device {
	return session.DecodedDevices(all, diags)
}

// count renders "1 error", "3 errors".
func count(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func warningsTail(n int) string {
	if n == 0 {
		return ""
	}
	return " (" + count(n, "warning") + ")"
}
