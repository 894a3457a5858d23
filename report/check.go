package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/avatar-project/avatar-sync/internal/printable"
	"github.com/avatar-project/avatar-sync/reconcile"
)

// RenderCheckText writes the device table of `check` (and of plan's and apply's preflight) and a
// summary line. It is pure apart from writing to w.
func RenderCheckText(w io.Writer, rep reconcile.Report, color bool) error {
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
			checkStatusText(r.Status, color), lat, oneCell(r.Detail))
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
		fmt.Fprintf(&b, "%s: all ok.", Count(n, "device"))
		return b.String()
	}
	fmt.Fprintf(&b, "%s: %d ok, %d failed", Count(n, "device"), n-len(failed), len(failed))
	if req := rep.RequiredFailures(); len(req) > 0 {
		fmt.Fprintf(&b, " (required: %s)", strings.Join(reconcile.DeviceNames(req), ", "))
	} else {
		b.WriteString(" (none required)")
	}
	b.WriteString(".")
	return b.String()
}

func checkStatusText(st reconcile.CheckStatus, color bool) string {
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

// CheckJSON is the `check -o json` document: stable keys for scripts (documented in docs/devices.md).
type CheckJSON struct {
	OK             bool              `json:"ok"`
	Devices        []CheckDeviceJSON `json:"devices"`
	Failed         []string          `json:"failed"`
	RequiredFailed []string          `json:"requiredFailed"`
}

// CheckDeviceJSON is one device of CheckJSON.
type CheckDeviceJSON struct {
	Name      string                `json:"name"`
	Kind      string                `json:"kind"`
	Address   string                `json:"address"`
	Required  bool                  `json:"required"`
	Status    reconcile.CheckStatus `json:"status"`
	LatencyMs float64               `json:"latencyMs"`
	Detail    string                `json:"detail"`
	Facts     map[string]string     `json:"facts,omitempty"`
}

// RenderCheckJSON writes the `check -o json` document.
func RenderCheckJSON(w io.Writer, rep reconcile.Report) error {
	out := CheckJSON{OK: rep.OK(), Devices: []CheckDeviceJSON{}, Failed: []string{}, RequiredFailed: []string{}}
	for _, r := range rep.Results {
		out.Devices = append(out.Devices, CheckDeviceJSON{
			Name: r.Device, Kind: r.Kind, Address: r.Address, Required: r.Required, Status: r.Status,
			LatencyMs: math.Round(float64(r.Latency)/float64(time.Millisecond)*100) / 100,
			Detail:    r.Detail, Facts: r.Facts,
		})
	}
	out.Failed = append(out.Failed, reconcile.DeviceNames(rep.Failures())...)
	out.RequiredFailed = append(out.RequiredFailed, reconcile.DeviceNames(rep.RequiredFailures())...)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
