package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/avatar-project/avatar-sync/internal/printable"
	"github.com/avatar-project/avatar-sync/plugins/devices"
	"github.com/avatar-project/avatar-sync/reconcile"
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
			selected, err := selectDevices(sp.Devices, names)
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
					return renderCheckJSON(s.out, reconcile.Report{})
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
				err = renderCheckJSON(s.out, rep)
			} else {
				err = renderCheckText(s.out, rep, g.color(s.out))
			}
			if err != nil {
				return err
			}
			if failed := rep.RequiredFailures(); len(failed) > 0 {
				return withExitCode(exitError, fmt.Errorf("%s failed: %s", count(len(failed), "required device"), resultNames(failed)))
			}
			return nil
		},
	}
	cmd.ValidArgsFunction = func(_ *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
		return withPrefix(deviceNames(g.file, args), prefix), cobra.ShellCompDirectiveNoFileComp
	}
	cmd.Flags().DurationVar(&o.timeout, "timeout", defaultCheckTimeout, "bound on the whole run (each device also has its own timeout, default 3s)")
	return cmd
}

// selectDevices returns the devices named (all of them when names is empty), in spec order.
// Unknown names are reported together, with the known ones, so a typo is fixed in one go.
func selectDevices(all []spec.Device, names []string) ([]spec.Device, error) {
	if len(names) == 0 {
		return all, nil
	}
	known := make([]string, len(all))
	for i, d := range all {
		known[i] = d.Name
	}
	var unknown []string
	for _, n := range names {
		if !slices.Contains(known, n) {
			u := fmt.Sprintf("%q", n)
			// tello-3 is not a typo of tello-1: names differing only in digits are other devices.
			if sug := spec.Suggest(n, known); sug != "" && stripDigits(sug) != stripDigits(n) {
				u += fmt.Sprintf(" (did you mean %q?)", sug)
			}
			unknown = append(unknown, u)
		}
	}
	if len(unknown) > 0 {
		list := "none: the spec declares no devices"
		if len(known) > 0 {
			list = strings.Join(known, ", ")
		}
		noun := "device"
		if len(unknown) > 1 {
			noun = "devices"
		}
		return nil, fmt.Errorf("unknown %s %s; known devices: %s", noun, strings.Join(unknown, ", "), list)
	}
	var out []spec.Device
	for _, d := range all {
		if slices.Contains(names, d.Name) {
			out = append(out, d)
		}
	}
	return out, nil
}

// stripDigits drops the digits of s.
func stripDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return -1
		}
		return r
	}, s)
}

// validateDevices runs each device plugin's spec validation (session.CheckDevices). plan, apply
// and watch call it right after loadSpec, always (issue 6): warnings go to stderr, errors come
// back as one invalid-spec error listing each. It returns the registry it validated with, so a
// following runPreflight reuses its cached plugin answers. Without plugins (plan without
// --plugins) no external plugin is started (issue 10 item 7); it says on stderr which devices
// went unchecked and returns their names.
func validateDevices(ctx context.Context, s *streams, sp *spec.Spec, plugins bool) (reg reconcile.Registry, notRun []string, err error) {
	reg, notRun, err = checkDevices(ctx, s, sp, plugins)
	if err == nil && len(notRun) > 0 {
		fmt.Fprintf(s.err, "note: %s served by external plugins (%s) not checked and not probed: --plugins runs the plugins (only for a spec you trust)\n",
			count(len(notRun), "device"), strings.Join(notRun, ", "))
	}
	return reg, notRun, err
}

// checkDevices is validateDevices without the note on plugins not run.
func checkDevices(ctx context.Context, s *streams, sp *spec.Spec, plugins bool) (reg reconcile.Registry, notRun []string, err error) {
	dc, err := session.CheckDevices(ctx, sp, plugins)
	for _, w := range dc.Warnings {
		fmt.Fprintln(s.err, w)
	}
	return dc.Registry, dc.NotRun, err
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

// runPreflight probes the spec's devices when session.DecidePreflight says so (--preflight, or
// the --cluster target's preflight: true, unless --skip-preflight). It prints the device table on
// stderr (stdout stays the plan). With blocking (apply), a failed required device is an exit-1
// error, returned before anything changes; without it (plan) the failure is a warning. reg must be
// the registry validateDevices returned, so no external plugin runs a second time; the devices
// named in notRun are left out.
func runPreflight(ctx context.Context, g *globalOptions, s *streams, sp *spec.Spec, reg reconcile.Registry, notRun []string, f preflightFlags, blocking bool) error {
	d := session.DecidePreflight(sp, g.cluster, notRun, f.run, f.skip)
	switch d.Skip {
	case session.PreflightNotWanted:
		return nil
	case session.PreflightSkipped:
		fmt.Fprintf(s.err, "Preflight skipped (--skip-preflight): devices were not probed.\n")
		return nil
	case session.PreflightNoDevices:
		fmt.Fprintf(s.err, "Preflight: the spec declares no devices.\n")
		return nil
	case session.PreflightAllExternal:
		fmt.Fprintf(s.err, "Preflight: every device is served by an external plugin, which runs only with --plugins.\n")
		return nil
	}
	fmt.Fprintf(s.err, "Preflight (%s): checking %s…\n", d.Why, count(len(d.Devices), "device"))
	rep, failed, err := session.Probe(ctx, d.Devices, reg)
	if err != nil {
		return err
	}
	if err := renderCheckText(s.err, rep, g.color(s.err)); err != nil {
		return err
	}
	if len(failed) == 0 {
		return nil
	}
	lines := make([]string, len(failed))
	for i, r := range failed {
		lines[i] = "  " + printable.Line(r.Line())
	}
	if !blocking {
		fmt.Fprintf(s.err, "warning: preflight: %s failed; apply will refuse to run until %s:\n%s\n",
			count(len(failed), "required device"), passOrSkip(len(failed)), strings.Join(lines, "\n"))
		return nil
	}
	return withExitCode(exitError, fmt.Errorf("preflight: %s failed, so nothing was changed:\n%s\nfix the device(s) and retry, or pass --skip-preflight to apply without probing",
		count(len(failed), "required device"), strings.Join(lines, "\n")))
}

func passOrSkip(n int) string {
	if n == 1 {
		return "it passes (or --skip-preflight is given)"
	}
	return "they pass (or --skip-preflight is given)"
}

// renderCheckText writes the device table and a summary line. It is pure apart from writing to w.
func renderCheckText(w io.Writer, rep reconcile.Report, color bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tKIND\tADDRESS\tSTATUS\tLATENCY\tDETAIL")
	for _, r := range rep.Results {
		name := r.Device
		if r.Required {
			name += " *"
		}
		lat := latencyText(r.Latency)
		if r.Status == reconcile.CheckError {
			lat = "-" // the probe never ran: a time here would only measure the failure to start it
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", oneCell(name), oneCell(r.Kind), oneCell(dash(r.Address)),
			statusText(r.Status, color), lat, oneCell(r.Detail))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, checkSummary(rep))
	return err
}

// checkSummary is the line under the table: "* required. 3 devices: 2 ok, 1 failed (required: tello-1)."
func checkSummary(rep reconcile.Report) string {
	n := len(rep.Results)
	failed := rep.Failures()
	var b strings.Builder
	if slices.ContainsFunc(rep.Results, func(r reconcile.CheckResult) bool { return r.Required }) {
		b.WriteString("* required. ")
	}
	if len(failed) == 0 {
		fmt.Fprintf(&b, "%s: all ok.", count(n, "device"))
		return b.String()
	}
	fmt.Fprintf(&b, "%s: %d ok, %d failed", count(n, "device"), n-len(failed), len(failed))
	if req := rep.RequiredFailures(); len(req) > 0 {
		fmt.Fprintf(&b, " (required: %s)", resultNames(req))
	} else {
		b.WriteString(" (none required)")
	}
	b.WriteString(".")
	return b.String()
}

func statusText(st reconcile.CheckStatus, color bool) string {
	s := strings.ToUpper(st.String())
	if !color {
		return s
	}
	code := map[reconcile.CheckStatus]string{reconcile.CheckOK: "32", reconcile.CheckFail: "31", reconcile.CheckError: "33"}[st]
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// latencyText prints 3.0s, 12ms, 0.4ms; "-" when the probe never got as far as measuring.
func latencyText(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d >= time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%dms", d.Milliseconds())
	default:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
}

// oneCell keeps a table cell on its line: details come from devices and external plugins, and a
// tab, line break or terminal escape sequence in them would break the table or the terminal.
func oneCell(s string) string { return printable.Line(s) }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func resultNames(rs []reconcile.CheckResult) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Device
	}
	return strings.Join(out, ", ")
}

// checkJSON is `check -o json`: stable keys for scripts (documented in docs/devices.md).
type checkJSON struct {
	OK             bool              `json:"ok"`
	Devices        []checkDeviceJSON `json:"devices"`
	Failed         []string          `json:"failed"`
	RequiredFailed []string          `json:"requiredFailed"`
}

type checkDeviceJSON struct {
	Name      string                `json:"name"`
	Kind      string                `json:"kind"`
	Address   string                `json:"address"`
	Required  bool                  `json:"required"`
	Status    reconcile.CheckStatus `json:"status"`
	LatencyMs float64               `json:"latencyMs"`
	Detail    string                `json:"detail"`
	Facts     map[string]string     `json:"facts,omitempty"`
}

func renderCheckJSON(w io.Writer, rep reconcile.Report) error {
	out := checkJSON{OK: rep.OK(), Devices: []checkDeviceJSON{}, Failed: []string{}, RequiredFailed: []string{}}
	for _, r := range rep.Results {
		out.Devices = append(out.Devices, checkDeviceJSON{
			Name: r.Device, Kind: r.Kind, Address: r.Address, Required: r.Required, Status: r.Status,
			LatencyMs: math.Round(float64(r.Latency)/float64(time.Millisecond)*100) / 100,
			Detail:    r.Detail, Facts: r.Facts,
		})
	}
	for _, r := range rep.Failures() {
		out.Failed = append(out.Failed, r.Device)
	}
	for _, r := range rep.RequiredFailures() {
		out.RequiredFailed = append(out.RequiredFailed, r.Device)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
