package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// stateFiles maps every file of an embedded state directory (the lock file aside) to its mode and
// content.
func stateFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "lock" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		out[strings.TrimPrefix(p, dir)] = fmt.Sprintf("%s %s %q", info.Mode(), info.ModTime(), b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPlanNeverWritesState (issue 10 item 9): plan with --state-dir leaves every file of the
// embedded cluster's state as it was, and refuses damaged state (here: topics.json deleted, which
// kfake would take for an empty cluster) naming the file, still writing nothing.
func TestPlanNeverWritesState(t *testing.T) {
	f, state := kafkaWorkspace(t)
	if code, out, errOut := runCLI(t, "apply", "--auto-approve", "-f", f, "--state-dir", state); code != exitOK {
		t.Fatalf("apply: %d\n%s%s", code, out, errOut)
	}
	before := stateFiles(t, state)
	if code, out, errOut := runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state); code != exitOK {
		t.Fatalf("plan: %d\n%s%s", code, out, errOut)
	}
	if d := cmp.Diff(before, stateFiles(t, state)); d != "" {
		t.Errorf("plan changed the state directory:\n%s", d)
	}

	topicsFile := filepath.Join(state, "data", "topics.json")
	if err := os.Remove(topicsFile); err != nil {
		t.Fatal(err)
	}
	before = stateFiles(t, state)
	code, out, errOut := runCLI(t, "plan", "-f", f, "--state-dir", state)
	if code != exitError || !strings.Contains(errOut, topicsFile+": missing") || strings.Contains(out, "+ create") {
		t.Fatalf("plan on state without topics.json: code %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if d := cmp.Diff(before, stateFiles(t, state)); d != "" {
		t.Errorf("a refused plan changed the state directory:\n%s", d)
	}
}
