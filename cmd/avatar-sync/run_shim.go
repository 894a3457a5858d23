package main

// Stand-ins for the Run document and views engineer "runviews" writes (issue 20:
// reconcile.WriteRun/ReadRun with formatVersion 4, report.RenderRunText/JSON/Markdown,
// report.RenderRunResultJSON). They keep the same signatures, so that once those land this file
// is deleted and the calls are renamed. A one-target run reads and writes as today's plan.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/report"
	"github.com/avatar-project/avatar-sync/session"
)

func renderRunText(w io.Writer, run reconcile.Run, ro report.RenderOptions) error {
	if len(run.Targets) == 1 && run.Targets[0].Err == nil {
		return report.RenderText(w, run.Targets[0].Plan, ro)
	}
	for _, tp := range run.Targets {
		fmt.Fprintf(w, "=== target %s ===\n", tp.Target)
		if tp.Err != nil {
			fmt.Fprintf(w, "Error: %v\n\n", tp.Err)
			continue
		}
		if err := report.RenderText(w, tp.Plan, ro); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	_, err := fmt.Fprintln(w, runSummary(run))
	return err
}

func renderRunJSON(w io.Writer, run reconcile.Run) error { return session.WriteRun(w, run) }

func renderRunMarkdown(w io.Writer, run reconcile.Run) error {
	if len(run.Targets) == 1 && run.Targets[0].Err == nil {
		return report.RenderMarkdown(w, run.Targets[0].Plan)
	}
	fmt.Fprintf(w, "## avatar-sync plan: %s\n\n", runSummary(run))
	for _, tp := range run.Targets {
		if tp.Err != nil {
			fmt.Fprintf(w, "### avatar-sync plan: cluster `%s`\n\n**Could not be planned:** %v\n\n", tp.Target, tp.Err)
			continue
		}
		if err := report.RenderMarkdown(w, tp.Plan); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	return nil
}

// runSummary is the fleet's one line: how many targets have changes, are in sync, failed.
func runSummary(run reconcile.Run) string {
	var changes, deferred, inSync, failed int
	for _, tp := range run.Targets {
		switch {
		case tp.Err != nil:
			failed++
		case tp.Plan.HasChanges():
			changes++
		case tp.Plan.TopicsDeferred():
			deferred++
		default:
			inSync++
		}
	}
	return fmt.Sprintf("Fleet: %d target(s): %d with changes, %d in sync, %d with topics not planned, %d failed.", len(run.Targets), changes, inSync, deferred, failed)
}

func renderRunResultJSON(w io.Writer, run reconcile.Run, results []reconcile.Result, applyErr error) error {
	if len(run.Targets) == 1 {
		return report.RenderResultJSON(w, run.Targets[0].Plan, results[0], applyErr)
	}
	var docs []json.RawMessage
	for i, tp := range run.Targets {
		var b bytes.Buffer
		if err := report.RenderResultJSON(&b, tp.Plan, results[i], nil); err != nil {
			return err
		}
		docs = append(docs, b.Bytes())
	}
	doc := struct {
		Targets []json.RawMessage `json:"targets"`
		Error   string            `json:"error,omitempty"`
	}{Targets: docs}
	if applyErr != nil {
		doc.Error = applyErr.Error()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
