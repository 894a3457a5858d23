package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/avatar-project/avatar-sync/health"
	"github.com/avatar-project/avatar-sync/internal/printable"
)

// RenderStatusJSON writes the `status -o json` document (docs/status.md), one JSON object.
func RenderStatusJSON(w io.Writer, r health.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// FleetStatusDoc is `status -o json` for several targets (docs/status.md): every target's report,
// in the order given, and healthy when all are.
type FleetStatusDoc struct {
	Version int             `json:"version"`
	Healthy bool            `json:"healthy"`
	Targets []health.Report `json:"targets"`
}

// FleetHealthy reports whether every target of a fleet is healthy (status exits 1 otherwise).
func FleetHealthy(reports []health.Report) bool {
	for _, r := range reports {
		if !r.Healthy {
			return false
		}
	}
	return true
}

// RenderFleetStatusJSON writes `status -o json --cluster a,b`: one document, every target's report.
func RenderFleetStatusJSON(w io.Writer, reports []health.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(FleetStatusDoc{Version: health.ReportVersion, Healthy: FleetHealthy(reports), Targets: reports})
}

// RenderFleetStatusText writes `status --cluster a,b`: each target's screen in the order given,
// a blank line between them.
func RenderFleetStatusText(w io.Writer, reports []health.Report, color bool) error {
	for i, r := range reports {
		if i > 0 {
			if _, err := fmt.Fprintln(w); err != nil {
				return err
			}
		}
		if err := RenderStatusText(w, r, color); err != nil {
			return err
		}
	}
	return nil
}

// RenderStatusText writes the status for people, one screen: verdict and spec agreement, brokers,
// managed topics, consumer groups with lag per partition, then the problems that decide the exit
// code. Names from the cluster go through printable.Line: a group name is not trusted text.
func RenderStatusText(w io.Writer, r health.Report, color bool) error {
	pw := &printer{w: w, color: color}
	verdict, col := "HEALTHY", ansiGreen
	if !r.Healthy {
		verdict, col = "UNHEALTHY", ansiRed
	}
	pw.linef("%sCluster %q (cluster id %s): %s%s%s", pw.c(ansiBold), r.Cluster, orNone(r.ClusterID), pw.c(col), verdict, pw.c(ansiReset))
	if r.Spec != nil {
		pw.linef("Spec: %s", specLine(*r.Spec))
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "BROKER\tADDRESS\tRACK\tCONTROLLER\tSTATE\tLEADERS\tDISK")
	for _, b := range r.Brokers {
		ctl := ""
		if b.Controller {
			ctl = "yes"
		}
		state := b.State
		if b.Error != "" {
			state += " (" + printable.Line(b.Error) + ")"
		}
		name := fmt.Sprint(b.ID)
		if b.Name != "" {
			name = b.Name
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", name, dash(printable.Line(b.Address)), dash(printable.Line(b.Rack)), ctl, state, b.Leaders, health.Bytes(b.DiskUsedBytes))
	}

	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "TOPIC\tPARTITIONS\tRF\tIN-SYNC\tMIN-ISR\tUNDER-REPLICATED\tOFFLINE\tUNDER-MIN-ISR\tNOT-PREFERRED-LEADER\tSIZE\tRETENTION\tMSG/S IN\tBYTES/S IN")
	for _, t := range r.Topics {
		if t.Missing {
			fmt.Fprintf(tw, "%s\tmissing\t\t\t\t\t\t\t\n", printable.Line(t.Name))
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d/%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", printable.Line(t.Name), t.Partitions, t.ReplicationFactor,
			t.InSyncReplicas, t.Replicas, minISR(t.MinInSyncReplicas), partList(t.UnderReplicated), partList(t.Offline), partList(t.UnderMinISR), partList(t.NotPreferredLeader),
			health.Bytes(t.SizeBytes), health.Retention(t.RetentionMs, t.RetentionBytes), health.PerSecond(t.MessagesPerSec), health.BytesPerSecond(t.BytesPerSec))
	}
	s := r.Summary
	fmt.Fprintf(tw, "total: %d topics\t%d\t\t\t\t%d\t%d\t%d\t%d\t\t\t\t\n", s.Topics, s.Partitions, s.UnderReplicated, s.Offline, s.UnderMinISR, s.NotPreferredLeader)

	fmt.Fprintln(tw)
	if len(r.Groups) == 0 {
		fmt.Fprintln(tw, "No consumer groups.")
	} else {
		fmt.Fprintln(tw, "GROUP\tSTATE\tMEMBERS\tTOPIC\tPARTITION\tCOMMITTED\tLOG-END\tLAG")
	}
	for _, g := range r.Groups {
		name := printable.Line(g.Name)
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%s\t%d\n", name, dash(g.State), g.Members, printable.Line(t.Topic), p.Partition, p.Committed, logEnd(p.LogEnd), p.Lag)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\ttotal\t\t\t\t%d%s\n", name, dash(g.State), g.Members, g.Lag, rate(g.LagRate))
	}
	if k := r.Kubernetes; k != nil {
		fmt.Fprintln(tw)
		fmt.Fprintf(tw, "KUBERNETES (namespace %s)\n", dash(printable.Line(k.Namespace)))
		fmt.Fprintln(tw, "STATEFULSET\tREADY\tIMAGE\tROLLOUT")
		for _, st := range k.StatefulSets {
			rollout := "done"
			if st.Rollout {
				rollout = fmt.Sprintf("in progress (%d/%d updated)", st.Updated, st.Desired)
			}
			fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\n", printable.Line(st.Name), st.Ready, st.Desired, dash(printable.Line(strings.Join(st.Images, ", "))), rollout)
		}
		if len(k.Drift) == 0 && k.Error == "" {
			fmt.Fprintln(tw, "No object drifts from the plan.")
		}
		if len(k.Drift) > 0 {
			verb := "the daemon heals them"
			if k.Mode == "report" {
				verb = "reported, not healed"
			}
			fmt.Fprintf(tw, "\nDrifting from the plan (%s):\n", verb)
			fmt.Fprintln(tw, "KIND\tNAME\tFIELD\tLIVE → WANTED\tACTION")
			for _, d := range k.Drift {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s → %s\t%s\n", printable.Line(d.Kind), printable.Line(d.Name), printable.Line(d.Field), printable.Line(d.Live), printable.Line(d.Wanted), d.Action)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(r.Warnings) > 0 {
		pw.linef("")
		for _, m := range r.Warnings {
			pw.linef("%swarning:%s %s", pw.c(ansiYellow), pw.c(ansiReset), printable.Line(m))
		}
	}
	pw.linef("")
	if r.Healthy {
		pw.linef("%sHealthy.%s", pw.c(ansiGreen), pw.c(ansiReset))
	} else {
		for _, m := range r.Problems {
			pw.linef("%sproblem:%s %s", pw.c(ansiRed), pw.c(ansiReset), printable.Line(m))
		}
		pw.linef("%sUnhealthy: %d problem(s).%s", pw.c(ansiRed), len(r.Problems), pw.c(ansiReset))
	}
	return pw.err
}

// specLine is the spec agreement in one line, as status and the status page print it.
func specLine(a health.SpecAgreement) string {
	switch {
	case a.Error != "":
		return "unknown (" + printable.Line(a.Error) + ")"
	case a.InSync:
		return "in sync with the spec"
	default:
		return fmt.Sprintf("%d change(s) pending (run avatar-sync plan)", a.PendingChanges)
	}
}

// SpecLine is specLine for other views (the status page).
func SpecLine(a health.SpecAgreement) string { return specLine(a) }

func partList(ps []int32) string {
	if len(ps) == 0 {
		return "0"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprint(p)
	}
	return fmt.Sprintf("%d [%s]", len(ps), strings.Join(s, ","))
}

func minISR(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

func logEnd(n int64) string {
	if n < 0 {
		return "unknown"
	}
	return fmt.Sprint(n)
}

func rate(r *float64) string {
	if r == nil {
		return ""
	}
	return fmt.Sprintf(" (%+.1f/s)", *r)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// RenderProbeJSON writes the `verify -o json` document (docs/status.md).
func RenderProbeJSON(w io.Writer, r health.ProbeReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// RenderProbeText writes verify's result: one line per partition with its latencies, then the
// failures naming topic and partition, then a summary line.
func RenderProbeText(w io.Writer, r health.ProbeReport, color bool) error {
	pw := &printer{w: w, color: color}
	if r.ProduceOnly {
		pw.linef("%sVerify on cluster %q: produce only (nothing is read back)%s", pw.c(ansiBold), r.Cluster, pw.c(ansiReset))
	} else {
		pw.linef("%sVerify on cluster %q through consumer group %s%s", pw.c(ansiBold), r.Cluster, printable.Line(r.Group), pw.c(ansiReset))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tOFFSET\tPRODUCE\tROUND-TRIP\tRESULT")
	var maxRT, sumRT int64
	topicsSeen := map[string]bool{}
	ok := 0
	for _, p := range r.Results {
		topicsSeen[p.Topic] = true
		part, off, prod, rt, res := fmt.Sprint(p.Partition), fmt.Sprint(p.Offset), ms(int64(p.Produce)), ms(int64(p.RoundTrip)), "ok"
		if p.Partition < 0 {
			part = "-"
		}
		if p.Offset < 0 {
			off, prod = "-", "-"
		}
		if r.ProduceOnly || p.RoundTrip == 0 {
			rt = "-"
		}
		if p.Error != "" {
			res = "FAILED"
		} else {
			ok++
			maxRT, sumRT = max(maxRT, int64(p.RoundTrip)), sumRT+int64(p.RoundTrip)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", printable.Line(p.Topic), part, off, prod, rt, res)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !r.ProduceOnly && len(r.Topics) > 1 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "TOPIC\tPASSED\tROUND-TRIP AVG\tROUND-TRIP MAX")
		for _, t := range r.Topics {
			fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\n", printable.Line(t.Topic), t.Passed, t.Partitions, ms(int64(t.AvgRoundTrip)), ms(int64(t.MaxRoundTrip)))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	pw.linef("")
	for _, f := range r.Failures {
		pw.linef("%sfailed:%s %s", pw.c(ansiRed), pw.c(ansiReset), printable.Line(f))
	}
	switch {
	case !r.OK:
		pw.linef("%sVerify failed: %d of %d partitions passed.%s", pw.c(ansiRed), ok, len(r.Results), pw.c(ansiReset))
	case r.ProduceOnly:
		pw.linef("%sVerified: a probe record was written to all %d partitions of %d topics.%s", pw.c(ansiGreen), ok, len(topicsSeen), pw.c(ansiReset))
	default:
		avg := int64(0)
		if ok > 0 {
			avg = sumRT / int64(ok)
		}
		pw.linef("%sVerified: all %d partitions of %d topics carried a record end to end (round trip avg %s, max %s); group %s deleted.%s",
			pw.c(ansiGreen), ok, len(topicsSeen), ms(avg), ms(maxRT), printable.Line(r.Group), pw.c(ansiReset))
	}
	return pw.err
}

// ms prints a duration in nanoseconds as milliseconds with one decimal.
func ms(ns int64) string { return fmt.Sprintf("%.1fms", float64(ns)/1e6) }
