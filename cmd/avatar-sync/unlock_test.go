package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/spec"
)

// holdApplyLock takes the apply lock of the embedded cluster in stateDir from this (running) test
// process and leaves it held, as an apply that is still running would.
func holdApplyLock(t *testing.T, specPath, stateDir string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sp, diags := spec.LoadFile(specPath)
	if diags.Err() != nil {
		t.Fatal(diags.Err())
	}
	a, err := clusters.Open(ctx, sp, "embedded", clusters.Options{StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.AcquireLease(ctx, "alice@lab pid 4242", time.Hour); err != nil {
		t.Fatal(err)
	}
	cur, err := a.ApplyLock(ctx)
	if err != nil || cur == nil {
		t.Fatalf("lock not held after acquire: %+v %v", cur, err)
	}
	return cur.ID
}

// TestUnlockCommand: the lock-held error of apply names the lock ID; unlock refuses an unknown
// ID, a holder that is still running (without --force) and a missing confirmation, and releases
// the lock with --force --auto-approve (issue 10 item 10).
func TestUnlockCommand(t *testing.T) {
	f, state := kafkaWorkspace(t)
	id := holdApplyLock(t, f, state)

	code, out, errOut := runCLI(t, "apply", "--auto-approve", "--lock-timeout", "0", "-f", f, "--state-dir", state)
	if code != exitError || !strings.Contains(errOut, "lock ID "+id) || !strings.Contains(errOut, "avatar-sync unlock "+id) {
		t.Fatalf("apply under a held lock: code %d, want 1 and the lock ID with the unlock command\n%s\n%s", code, out, errOut)
	}

	code, _, errOut = runCLI(t, "unlock", "0000feedbeef", "-f", f, "--state-dir", state, "--auto-approve")
	if code != exitError || !strings.Contains(errOut, `no such apply lock "0000feedbeef"`) || !strings.Contains(errOut, id) {
		t.Errorf("unlock of an unknown id: code %d, stderr %q; want a refusal naming the real lock ID", code, errOut)
	}

	// The holder is this test process: it runs on this machine, so it is live.
	code, out, errOut = runCLI(t, "unlock", id, "-f", f, "--state-dir", state, "--auto-approve")
	if code != exitError || !strings.Contains(errOut, "still running") || !strings.Contains(errOut, "--force") {
		t.Errorf("unlock of a live holder without --force: code %d, stderr %q; want a refusal pointing at --force", code, errOut)
	}
	if !strings.Contains(out, "alice@lab pid 4242") || !strings.Contains(out, id) {
		t.Errorf("unlock does not show the holder before refusing:\n%s", out)
	}

	code, _, errOut = runCLI(t, "unlock", id, "--force", "-f", f, "--state-dir", state)
	if code != exitError || !strings.Contains(errOut, "--auto-approve") {
		t.Errorf("unlock without a terminal or --auto-approve: code %d, stderr %q; want a refusal", code, errOut)
	}

	code, out, errOut = runCLI(t, "unlock", id, "--force", "--auto-approve", "-f", f, "--state-dir", state)
	if code != exitOK || !strings.Contains(out, "Apply lock "+id+" released.") {
		t.Fatalf("unlock --force --auto-approve: code %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "apply", "--auto-approve", "-f", f, "--state-dir", state); code != exitOK {
		t.Fatalf("apply after unlock: code %d\n%s\n%s", code, out, errOut)
	}
}
