package report

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"

	"github.com/avatar-project/avatar-sync/plans"
)

// RenderRunText writes a run for people. A one-target run is exactly RenderText of its plan; a
// fleet has one section per target ("Target lab-east (cluster id …)") with its plan or the error
// that kept it from being planned, then the fleet summary line.
func RenderRunText(w io.Writer, run plans.Run, opts RenderOptions) error {
	if len(run.Targets) == 1 && run.Targets[0].Err == nil {
		return RenderText(w, run.Targets[0].Plan, opts)
	}
	pw := &printer{w: w, color: opts.Color}
	for i, t := range run.Targets {
		if i > 0 {
			pw.linef("")
		}
		if t.Err != nil {
			pw.linef("%sTarget %s: not planned%s", pw.c(ansiBold+ansiRed), t.Target, pw.c(ansiReset))
			pw.linef("")
			pw.linef("%s", indent(t.Err.Error(), "  "))
			continue
		}
		pw.linef("%sTarget %s (%s)%s", pw.c(ansiBold), t.Target, clusterIDText(t.Plan.ClusterID, "cluster id %s"), pw.c(ansiReset))
		pw.planText(t.Plan, opts)
	}
	if len(run.Targets) > 1 {
		pw.linef("")
		pw.linef("%s%s%s", pw.c(ansiBold), fleetLine(run), pw.c(ansiReset))
	}
	return pw.err
}

// fleetLine is "Fleet: 3 targets, 1 with changes (1 to create, 0 to update, 0 to delete), 1 failed
// (lab-north)."
func fleetLine(run plans.Run) string {
	s := run.Summary()
	line := fmt.Sprintf("Fleet: %d targets", s.Targets)
	if s.WithChanges > 0 {
		line += fmt.Sprintf(", %d with changes (%s", s.WithChanges, counts(s.Summary))
		if s.Unsupported > 0 {
			line += fmt.Sprintf(", %d unsupported", s.Unsupported)
		}
		line += ")"
	} else {
		line += ", none with changes"
	}
	if failed := run.Failed(); len(failed) > 0 {
		names := make([]string, len(failed))
		for i, t := range failed {
			names[i] = t.Target
		}
		line += fmt.Sprintf(", %d failed (%s)", len(failed), strings.Join(names, ", "))
	}
	return line + "."
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// RenderRunJSON writes the plan document of docs/plan-json.md (reconcile.DocumentOf): for a run
// whose every target was planned it is byte for byte the document `plan --out` saves, so what a
// machine reads is what apply loads. A target that could not be planned appears with its error
// (such a document is never saved: plans.WriteRun refuses it).
func RenderRunJSON(w io.Writer, run plans.Run) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(plans.DocumentOf(run))
}

// RenderRunMarkdown writes a run for a pull-request comment. A one-target run is exactly
// RenderMarkdown of its plan; a fleet starts with its summary line, then one collapsible block per
// target whose title says what it does (or that it failed) and whose body is its plan or error.
func RenderRunMarkdown(w io.Writer, run plans.Run) error {
	if len(run.Targets) == 1 && run.Targets[0].Err == nil {
		return RenderMarkdown(w, run.Targets[0].Plan)
	}
	pw := &printer{w: w}
	pw.linef("### avatar-sync plan: %d target(s)", len(run.Targets))
	pw.linef("")
	line := "**" + fleetLine(run) + "**"
	if len(run.Failed()) > 0 {
		line = ":x: " + line
	}
	pw.linef("%s", line)
	for _, t := range run.Targets {
		pw.linef("")
		name := "<b>" + html.EscapeString(t.Target) + "</b>"
		if t.Err != nil {
			pw.linef("<details open><summary>:x: %s: not planned</summary>", name)
			pw.linef("")
			pw.linef("```")
			pw.linef("%s", strings.ReplaceAll(t.Err.Error(), "```", "'''"))
			pw.linef("```")
			pw.linef("")
			pw.linef("</details>")
			continue
		}
		p := t.Plan
		pw.linef("<details><summary>%s (%s): %s</summary>", name, clusterIDText(p.ClusterID, "id <code>%s</code>"), planTitle(p))
		pw.linef("")
		pw.planMarkdown(p)
		pw.linef("")
		pw.linef("</details>")
	}
	return pw.err
}

// planTitle is a target's one-line plan in a fleet's markdown: its summary line and whether it
// can lose data.
func planTitle(p plans.Plan) string {
	switch {
	case !p.HasChanges() && p.TopicsDeferred():
		return "no Kubernetes changes, topics not planned (brokers not answering)"
	case !p.HasChanges():
		return "no changes"
	}
	title := summaryLine(p.Summary())
	if n := countRisks(p); n.dataLoss+n.topicDeletes > 0 {
		title += fmt.Sprintf(" :warning: %d change(s) can lose data.", n.dataLoss+n.topicDeletes)
	}
	return title
}
