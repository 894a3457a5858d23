package session

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
)

// SaveRun writes the run's plan document (plan --out) atomically (spec.WriteFile): a crash never
// leaves half a plan to apply.
func SaveRun(path string, run plans.Run) error {
	var buf bytes.Buffer
	if err := plans.WriteRun(&buf, run); err != nil {
		return err
	}
	return spec.WriteFile(path, buf.Bytes(), true)
}

// LoadRun reads a saved run (apply --plan) and checks, before anything connects, that it was made
// for the targets names, in the same order: apply promotes in that order.
func LoadRun(path string, names []string) (plans.Run, error) {
	f, err := os.Open(path)
	if pe := (*os.PathError)(nil); errors.As(err, &pe) {
		return plans.Run{}, fmt.Errorf("%s: %w", path, pe.Err)
	} else if err != nil {
		return plans.Run{}, err
	}
	defer f.Close()
	run, err := plans.ReadRun(f)
	if err != nil {
		return plans.Run{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := sameTargets(run, names); err != nil {
		return plans.Run{}, fmt.Errorf("%s %w", path, err)
	}
	return run, nil
}

// sameTargets refuses a run whose targets are not names, in the same order.
func sameTargets(run plans.Run, names []string) error {
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
