package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is an io.Writer the watch goroutine writes while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitLog waits (bounded) until the log holds want at least n times.
func waitLog(t *testing.T, log *lockedBuffer, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(log.String(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("log never had %q %d time(s):\n%s", want, n, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWatchReconcilesOnFileChanges runs the daemon against the embedded cluster: it creates the
// topics at start, applies a safe edit, refuses a data-loss edit without the flag, survives an
// invalid file, and stops cleanly on cancel, leaving the cluster matching the last good spec.
func TestWatchReconcilesOnFileChanges(t *testing.T) {
	f, state := kafkaWorkspace(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	log := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"watch", "-f", f, "--state-dir", state, "--interval", "0", "--debounce", "20ms", "-o", "json"},
			strings.NewReader(""), &stdout, log)
	}()

	waitLog(t, log, `"msg":"applied"`, 1)
	if !strings.Contains(log.String(), `"create":3`) {
		t.Errorf("first pass did not plan the three topics:\n%s", log.String())
	}

	editSpec(t, f, "retention: 24h", "retention: 48h")
	waitLog(t, log, `"msg":"applied"`, 2)
	// The log says what changed, not only which topic.
	if !strings.Contains(log.String(), `"change":"update topic drone-commands config","detail":"retention.ms: 86400000 → 172800000","risk":"none"`) {
		t.Errorf("plan log line lacks the change's detail:\n%s", log.String())
	}

	editSpec(t, f, "retention: 48h", "retention: 1h")
	waitLog(t, log, "--allow-data-loss", 1)

	editSpec(t, f, "retention: 1h }", "retention: 1h, retension: 2h }")
	waitLog(t, log, `did you mean \"retention\"`, 1)

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("watch exited %d:\n%s", code, log.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("watch did not stop after cancel")
	}

	// The cluster holds the last applied spec: 48h, not the refused 1h.
	editSpec(t, f, "retention: 1h, retension: 2h }", "retention: 48h }")
	code, out, errOut := runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state)
	if code != exitOK {
		t.Fatalf("plan after watch: code %d\n%s\n%s", code, out, errOut)
	}
}

// TestPlanWhileWatchRuns: watch holds the embedded cluster for as long as it runs, so it announces
// it like dev up; a plan in another terminal joins it instead of waiting 30 s for the state
// directory and failing.
func TestPlanWhileWatchRuns(t *testing.T) {
	f, state := kafkaWorkspace(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"watch", "-f", f, "--state-dir", state, "--interval", "0", "-o", "json"},
			strings.NewReader(""), &bytes.Buffer{}, log)
	}()
	waitLog(t, log, `"msg":"applied"`, 1)

	code, out, errOut := runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state)
	if code != exitOK || strings.Contains(errOut, "in use by another") {
		t.Errorf("plan while watch runs: code %d\n%s\n%s", code, out, errOut)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("watch exited %d:\n%s", code, log.String())
	}
}
