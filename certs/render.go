package certs

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// RenderStatus writes the `certs inspect` table: one row per certificate, then each certificate's
// SANs and the reason for its status, then a tally. It is pure, so the layout is pinned by a golden
// file (testdata/inspect.golden).
func RenderStatus(w io.Writer, sts []CertStatus) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSTATUS\tNOT AFTER\tDAYS LEFT\tSUBJECT\tISSUER")
	tally := map[State]int{}
	for _, c := range sts {
		tally[c.Status]++
		notAfter, days := "-", "-"
		if !c.NotAfter.IsZero() {
			notAfter, days = c.NotAfter.Format(time.DateOnly), fmt.Sprint(c.DaysLeft)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, c.Role, c.Status, notAfter, days, dash(c.Subject), dash(c.Issuer))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var b strings.Builder
	for _, c := range sts {
		if len(c.SANs) == 0 && c.Reason == "" {
			continue
		}
		fmt.Fprintf(&b, "\n%s (%s)\n", c.Name, c.File)
		if len(c.SANs) > 0 {
			fmt.Fprintf(&b, "  SANs:     %s\n", strings.Join(c.SANs, ", "))
		}
		if c.Reason != "" {
			fmt.Fprintf(&b, "  %-9s %s\n", string(c.Status)+":", c.Reason)
		}
	}
	var parts []string
	for _, st := range []State{StateOK, StateRenew, StateExpired, StateMismatch, StateMissing} {
		parts = append(parts, fmt.Sprintf("%d %s", tally[st], st))
	}
	fmt.Fprintf(&b, "\nCertificates: %s.\n", strings.Join(parts, ", "))
	_, err := io.WriteString(w, b.String())
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
