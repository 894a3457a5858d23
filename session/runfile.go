package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/avatar-project/avatar-sync/reconcile"
)

// SaveRun writes the run's plan document (plan --out) atomically: a crash never leaves half a
// plan to apply.
func SaveRun(path string, run reconcile.Run) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".plan-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := WriteRun(tmp, run); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// LoadRun reads a saved run (apply --plan) and checks, before anything connects, that it was made
// for the targets names, in the same order: apply promotes in that order.
func LoadRun(path string, names []string) (reconcile.Run, error) {
	f, err := os.Open(path)
	if pe := (*os.PathError)(nil); errors.As(err, &pe) {
		return reconcile.Run{}, fmt.Errorf("%s: %w", path, pe.Err)
	} else if err != nil {
		return reconcile.Run{}, err
	}
	defer f.Close()
	run, err := ReadRun(f)
	if err != nil {
		return reconcile.Run{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := sameTargets(run, names); err != nil {
		return reconcile.Run{}, fmt.Errorf("%s %w", path, err)
	}
	return run, nil
}

// sameTargets refuses a run whose targets are not names, in the same order.
func sameTargets(run reconcile.Run, names []string) error {
	planned := make([]string, len(run.Targets))
	for i, tp := range run.Targets {
		planned[i] = tp.Target
	}
	got, want := strings.Join(planned, ","), strings.Join(names, ",")
	switch {
	case got == want:
		return nil
	case len(planned) == 1 && len(names) == 1:
		return fmt.Errorf("was computed for cluster target %q, but --cluster is %q", got, want)
	}
	return fmt.Errorf("was computed for targets %s, but --cluster is %s: give --cluster %s (the plan's targets, in its order), or plan again", got, want, got)
}

// WriteRun and ReadRun stand in for reconcile.WriteRun/ReadRun (formatVersion 4, engineer
// "runviews") until they land: a one-target run is today's plan document, a fleet a list of them.
type runTargetDoc struct {
	Target string          `json:"target"`
	Plan   json.RawMessage `json:"plan,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// WriteRun writes the run's document (see runTargetDoc).
func WriteRun(w io.Writer, run reconcile.Run) error {
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

// ReadRun reads what WriteRun wrote; every target's plan is checked as reconcile.ReadPlan does.
func ReadRun(r io.Reader) (reconcile.Run, error) {
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
