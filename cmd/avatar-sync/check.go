package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/avatar-project/avatar-sync/internal/printable"
	"github.com/avatar-project/avatar-sync/plugins/devices"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/report"
	"github.com/avatar-project/avatar-sync/session"
	"github.com/avatar-project/avatar-sync/spec"
)

// checkOptions are the flags of `avatar-sync check`.
type checkOptions struct {
	timeout time.Duration
}

// defaultCheckTimeout bounds a whole check run; each device is also bounded by its own timeout
// (3s unless the spec says otherwise), so this only matters for very slow plugins.
const defaultCheckTimeout = 15 * time.Second

func newCheckCmd(g *globalOptions, s *streams) *cobra.Command {
	o := &checkOptions{}
	cmd := &cobra.Command{
		Use:   "check [NAME...]",
		Short: "Probe the lab's devices (headset, drones, services) and report which answer",
		Long: `check probes every device of the spec (or only the NAMEs given) in parallel: Tello drones over
their UDP SDK (battery level included), the OpenBCI WiFi Shield over HTTP, the Cyton dongle's serial
port, plain tcp/udp/http endpoints, and any kind served by an external avatar-sync-plugin-<kind>.

Each device is bounded by its own timeout (default 3s) and the whole run by --timeout. The table
shows status (ok, fail: the device answered badly or not at all, error: the probe could not run),
latency and a one-line reason. Exit status: 0 when every required: true device passed (failures of
other devices are shown but do not fail the run), 1 otherwise. See docs/devices.md.`,
		Example: `  avatar-sync check
  avatar-sync check tello-1 openbci-headset --timeout 5s
  avatar-sync check -o json | jq '.devices[] | select(.status != "ok")'`,
		RunE: func(cmd *cobra.Command, names []string) error {
			if err := g.checkOutput("text", "json"); err != nil {
				return err
			}
			if o.timeout <= 0 {
				return fmt.Errorf("--timeout %s must be positive", o.timeout)
			}
			sp, err := loadSpec(cmd.Context(), g, s)
			if err != nil {
				return err
			}
			selected, err := reconcile.SelectDevices(sp.Devices, names)
			if err != nil {
				return err
			}
			// --timeout bounds the whole run, the plugins' validate runs included.
			ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
			defer cancel()
			reg := devices.NewRegistry()
			if err := reportDeviceDiagnostics(s, sp.File, reconcile.ValidateDevices(ctx, selected, reg)); err != nil {
				return err
			}
			if err := cmd.Context().Err(); err != nil {
				return fmt.Errorf("check interrupted while validating the devices: %w", err)
			}
			if len(selected) == 0 {
				if g.output == "json" {
					return report.RenderCheckJSON(s.out, reconcile.Report{})
				}
				_, err := fmt.Fprintf(s.out, "%s declares no devices; add them under devices: (see docs/devices.md)\n", sp.File)
				return err
			}
			if g.output == "text" {
				fmt.Fprintf(s.err, "Checking %s (timeout %s)…\n", count(len(selected), "device"), o.timeout)
			}
			rep, err := reconcile.Preflight(ctx, selected, reg)
			if err != nil {
				return err
			}
			if g.output == "json" {
				err = report.RenderCheckJSON(s.out, rep)
			} else {
				err = report.RenderCheckText(s.out, rep, g.color(s.out))
			}
			if err != nil {
				return err
			}
			if failed := rep.RequiredFailures(); len(failed) > 0 {
				return withExitCode(exitError, fmt.Errorf("%s failed: %s", count(len(failed), "required device"), strings.Join(reconcile.DeviceNames(failed), ", ")))
			}
			return nil
		},
	}
	cmd.ValidArgsFunction = func(_ *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
		return withPrefix(spec.CompleteDevices(g.file, args), prefix), cobra.ShellCompDirectiveNoFileComp
	}
	cmd.Flags().DurationVar(&o.timeout, "timeout", defaultCheckTimeout, "bound on the whole run (each device also has its own timeout, default 3s)")
	return cmd
}

// notePluginsNotRun says on stderr which devices went unchecked because their external plugins
// were not run (plan without --plugins, issue 10 item 7).
func notePluginsNotRun(s *streams, notRun []string) {
	if len(notRun) > 0 {
		fmt.Fprintf(s.err, "note: %s served by external plugins (%s) not checked and not probed: --plugins runs the plugins (only for a spec you trust)\n",
			count(len(notRun), "device"), strings.Join(notRun, ", "))
	}
}

func reportDeviceDiagnostics(s *streams, file string, diags spec.Diagnostics) error {
	for _, w := range diags.Warnings() {
		fmt.Fprintln(s.err, w)
	}
	return session.DiagnosticsErr(file, diags)
}

// preflightFlags are the flags plan and apply bind to opt in to (or out of) device probes.
type preflightFlags struct {
	run  bool // --preflight
	skip bool // --skip-preflight
}

// bind adds --preflight and --skip-preflight to a command's flags.
func (f *preflightFlags) bind(fs *pflag.FlagSet) {
	fs.BoolVar(&f.run, "preflight", false, "probe the spec's devices first (also on when the cluster target sets preflight: true)")
	fs.BoolVar(&f.skip, "skip-preflight", false, "do not probe devices, overriding --preflight and the cluster target's preflight: true")
}

// preflightPolicy is the session's preflight policy for --preflight/--skip-preflight (the
// --cluster target's preflight: true asks for it too), with its views on stderr (stdout stays the
// plan): what the preflight does, then the device table. With refuse (apply, watch), a failed
// required device is an exit-1 error, returned before any target is opened; without it (plan)
// the failure is a warning.
func preflightPolicy(g *globalOptions, s *streams, f preflightFlags, refuse bool) session.PreflightPolicy {
	return session.PreflightPolicy{Run: f.run, Skip: f.skip, Refuse: refuse, Hooks: session.PreflightHooks{
		Decided: func(d session.PreflightDecision) {
			switch d.Skip {
			case session.PreflightNotWanted:
			case session.PreflightSkipped:
				fmt.Fprintf(s.err, "Preflight skipped (--skip-preflight): devices were not probed.\n")
			case session.PreflightNoDevices:
				fmt.Fprintf(s.err, "Preflight: the spec declares no devices.\n")
			case session.PreflightAllExternal:
				fmt.Fprintf(s.err, "Preflight: every device is served by an external plugin, which runs only with --plugins.\n")
			default:
				fmt.Fprintf(s.err, "Preflight (%s): checking %s…\n", d.Why, count(len(d.Devices), "device"))
			}
		},
		Probed: func(rep reconcile.Report, failed []reconcile.CheckResult) error {
			if err := report.RenderCheckText(s.err, rep, g.color(s.err)); err != nil {
				return err
			}
			if len(failed) == 0 {
				return nil
			}
			lines := make([]string, len(failed))
			for i, r := range failed {
				lines[i] = "  " + printable.Line(r.Line())
			}
			if !refuse {
				fmt.Fprintf(s.err, "warning: preflight: %s failed; apply will refuse to run until %s:\n%s\n",
					count(len(failed), "required device"), passOrSkip(len(failed)), strings.Join(lines, "\n"))
				return nil
			}
			return withExitCode(exitError, fmt.Errorf("preflight: %s failed, so nothing was changed:\n%s\nfix the device(s) and retry, or pass --skip-preflight to apply without probing",
				count(len(failed), "required device"), strings.Join(lines, "\n")))
		},
	}}
}

func passOrSkip(n int) string {
	if n == 1 {
		return "it passes (or --skip-preflight is given)"
	}
	return "they pass (or --skip-preflight is given)"
}
