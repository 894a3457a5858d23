package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestConfigChangeSurvivesKilledDevUp: Kafka acknowledges a config change once it is in its
// metadata log, and the embedded cluster once it is in its state directory (kfake's seventh patch
// appends it to topics.log instead of rewriting every topic; issue 23). `dev up` killed with
// SIGKILL right after an apply changed every topic's retention comes back, as `dev up` or the
// embedded target of `plan`, with the change: a plan of the changed spec has nothing to do.
func TestConfigChangeSurvivesKilledDevUp(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	before := write("avatar.yaml", cliBenchSpec(20))
	after := write("retention.yaml", strings.ReplaceAll(cliBenchSpec(20), "retention: 7d", "retention: 9d"))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// `avatar-sync` on PATH is this test binary, which runs main (testmain_test.go).
	up := exec.CommandContext(ctx, "avatar-sync", "dev", "up", "-f", before, "--state-dir", state, "--ports", "0,0,0")
	stdout, err := up.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	up.Stderr = &stderr
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	defer up.Process.Kill() //nolint:errcheck // killed below in the normal case
	served := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "bootstrap: ") {
				served <- true
			}
		}
		close(served)
	}()
	select {
	case ok := <-served:
		if !ok {
			t.Fatalf("dev up ended before serving: %s", stderr.String())
		}
	case <-ctx.Done():
		t.Fatalf("dev up did not serve: %s", stderr.String())
	}

	cli := func(want int, args ...string) string {
		t.Helper()
		var out, errOut syncBuffer
		if code := run(ctx, args, strings.NewReader(""), &out, &errOut); code != want {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, want, out.String(), errOut.String())
		}
		return out.String()
	}
	cli(exitOK, "apply", "--auto-approve", "-f", before, "--state-dir", state)
	if out := cli(exitOK, "apply", "--auto-approve", "-f", after, "--state-dir", state); !strings.Contains(out, "20 applied, 0 failed") {
		t.Fatalf("the retention change did not apply to the 20 topics:\n%s", out)
	}

	if err := up.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = up.Wait()
	if strings.Contains(stderr.String(), "state saved") {
		t.Fatalf("dev up saved its state on the way out; it was to be killed first:\n%s", stderr.String())
	}

	// The change is in topics.log, not yet in topics.json: the restart must replay it.
	if fi, err := os.Stat(filepath.Join(state, "data", "topics.log")); err != nil || fi.Size() == 0 {
		t.Fatalf("no config change in the killed cluster's topics.log (%v)", err)
	}
	cli(exitOK, "plan", "--detailed-exitcode", "-f", after, "--state-dir", state)
	// And the change is not a plan that agrees with anything: the old spec is 20 changes away.
	if out := cli(exitChanges, "plan", "--detailed-exitcode", "-f", before, "--state-dir", state); !strings.Contains(out, "Plan: 0 to create, 20 to update, 0 to delete.") {
		t.Errorf("plan of the old retention after the restart does not change the 20 topics back:\n%s", out)
	}
}
