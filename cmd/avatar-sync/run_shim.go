package main

// Stand-ins for the Run document and views engineer "runviews" writes (issue 20:
// reconcile.WriteRun/ReadRun with formatVersion 4, report.RenderRunText/JSON/Markdown,
// report.RenderRunResultJSON). They keep the same signatures, so that once those land this file
// is deleted and the calls are renamed. A one-target run reads and writes as today's plan.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/report"
)

type runTargetDoc struct {
	Target string          `json:"target"`
	Plan   json.RawMessage `json:"plan,omitempty"`
	Error  string          `json:"error,omitempty"`
}

func writeRun(w io.Writer, run reconcile.Run) error {
	if len(run.Targets) == 1 && run.Targets[0].Err == nil {
		return reconcile.WritePlan(w, run.Targets[0].Plan)
	}
	doc := struct {
		Targets []runTargetDoc `json:"targets"`
	}{}
	for _, tp := range run.Targets {
		td := runTargetDoc{Target: tp.Target}
		if tp.Err != nil {
			td.Error = tp.Err.Error()
		} else {
			var b bytes.Buffer
			if err := reconcile.WritePlan(&b, tp.Plan); err != nil {
				return err
			}
			td.Plan = b.Bytes()
		}
		doc.Targets = append(doc.Targets, td)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func readRun(r io.Reader) (reconcile.Run, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return reconcile.Run{}, err
	}
	var doc struct {
		Targets []runTargetDoc `json:"targets"`
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.Targets == nil {
		p, err := reconcile.ReadPlan(bytes.NewReader(data))
		if err != nil {
			return reconcile.Run{}, err
		}
		return reconcile.Run{Targets: []reconcile.TargetPlan{{Target: p.Cluster, Plan: p}}}, nil
	}
	var run reconcile.Run
	for _, td := range doc.Targets {
		tp := reconcile.TargetPlan{Target: td.Target}
		if td.Error != "" {
			tp.Err = errors.New(td.Error)
		} else if tp.Plan, err = reconcile.ReadPlan(bytes.NewReader(td.Plan)); err != nil {
			return reconcile.Run{}, fmt.Errorf("target %s: %w", td.Target, err)
		} else if tp.Plan.Cluster != td.Target {
			return reconcile.Run{}, fmt.Errorf("target %s: its plan was computed for target %q: %w", td.Target, tp.Plan.Cluster, reconcile.ErrTampered)
		}
		run.Targets = append(run.Targets, tp)
	}
	return run, nil
}

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

func renderRunJSON(w io.Writer, run reconcile.Run) error { return writeRun(w, run) }

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
