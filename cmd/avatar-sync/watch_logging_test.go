package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWatchLogsRepeatedFailureOnce: a pass refused the same way again and again (here a spec with
// an error, retried with back-off) is one ERROR line, the repeats are DEBUG lines with a count.
func TestWatchLogsRepeatedFailureOnce(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "avatar.yaml")
	if err := os.WriteFile(f, []byte(exampleSpec(t, "retention: 6h", "retention: 6 hours")), 0o644); err != nil {
		t.Fatal(err)
	}
	log, stop, _ := runWatch(t, "-f", f, "-v", "--state-dir", filepath.Join(dir, "state"))
	waitLog(t, log, `"msg":"pass failed; will retry"`, 3) // 1 s, 2 s back-off
	stop()
	var errorsLogged, repeats int
	for _, l := range logLines(t, log, "pass failed; will retry") {
		switch l["level"] {
		case "ERROR":
			errorsLogged++
		case "DEBUG":
			repeats++
			if l["repeated"] == nil {
				t.Errorf("a repeated failure lacks its count: %v", l)
			}
		}
	}
	if errorsLogged != 1 || repeats < 2 {
		t.Errorf("want one ERROR and the repeats at DEBUG, got %d ERROR and %d DEBUG:\n%s", errorsLogged, repeats, log.String())
	}
}

// TestWatchUnknownClusterExitsAtStart: watch --cluster <typo> stops at once with the did-you-mean
// error (exit 1) instead of retrying forever (issue 21), for -f and for --git.
func TestWatchUnknownClusterExitsAtStart(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "avatar.yaml")
	if err := os.WriteFile(f, []byte(exampleSpec(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut lockedBuffer
	start := time.Now()
	code := run(ctx, []string{"watch", "-f", f, "--cluster", "mikrok8s", "--state-dir", filepath.Join(dir, "state"), "--metrics-addr", "127.0.0.1:0"},
		strings.NewReader(""), &out, &errOut)
	if code != exitError || ctx.Err() != nil || time.Since(start) > 10*time.Second {
		t.Fatalf("watch exited %d after %s (ctx %v):\n%s", code, time.Since(start), ctx.Err(), errOut.String())
	}
	if !strings.Contains(errOut.String(), `--cluster "mikrok8s" is not a target in`) || !strings.Contains(errOut.String(), `did you mean "microk8s"?`) {
		t.Errorf("stderr lacks the did-you-mean error:\n%s", errOut.String())
	}
	if strings.Contains(errOut.String(), "will retry") {
		t.Errorf("a typo is not a failure to retry:\n%s", errOut.String())
	}
}
