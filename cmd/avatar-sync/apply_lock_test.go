package main

import (
	"strings"
	"testing"
)

// TestApplyAutoApproveLocksBeforeReading is issue 23: `apply --auto-approve` takes the apply lock
// before it reads the cluster, so a lock another apply holds is reported, naming the holder, before
// any plan is computed or shown (the prompt's order still shows the plan first: the person reviews
// it, then the lock is taken). Once the lock is free the same command plans and applies under it.
func TestApplyAutoApproveLocksBeforeReading(t *testing.T) {
	f, state := kafkaWorkspace(t)
	id := holdApplyLock(t, f, state)

	code, out, errOut := runCLI(t, "apply", "--auto-approve", "--lock-timeout", "0", "-f", f, "--state-dir", state)
	if code != exitError || !strings.Contains(errOut, "another apply holds the lock on this cluster: alice@lab pid 4242") {
		t.Fatalf("apply --auto-approve under a held lock: code %d, want 1 naming the holder\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out, "Plan:") || strings.Contains(out, "to create") {
		t.Errorf("apply --auto-approve planned before taking the lock:\n%s", out)
	}

	if code, out, errOut := runCLI(t, "unlock", id, "--force", "--auto-approve", "-f", f, "--state-dir", state); code != exitOK {
		t.Fatalf("unlock: code %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "apply", "--auto-approve", "-f", f, "--state-dir", state)
	if code != exitOK || !strings.Contains(out, "Plan:") || !strings.Contains(out, "converged: a fresh plan has no changes") {
		t.Fatalf("apply --auto-approve once the lock is free: code %d\n%s\n%s", code, out, errOut)
	}
	// The lock was released: the next apply takes it at once.
	if code, out, errOut := runCLI(t, "apply", "--auto-approve", "--lock-timeout", "0", "-f", f, "--state-dir", state); code != exitOK {
		t.Fatalf("apply after a locked apply: code %d\n%s\n%s", code, out, errOut)
	}
}
