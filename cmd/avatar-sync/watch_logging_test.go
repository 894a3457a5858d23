package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// TestFailureLog: a failure is logged at ERROR when new, then only every failureRepeat with the
// count of failed passes; a different error or a success starts afresh (issue 21).
func TestFailureLog(t *testing.T) {
	t0 := time.Unix(0, 0)
	conflict := errors.New("conflict with kubectl-edit")
	steps := []struct {
		name      string
		err       error
		at        time.Duration
		loud      bool
		wantCount int
	}{
		{"first failure", conflict, 0, true, 1},
		{"again after 1s", conflict, time.Second, false, 2},
		{"again after 4s", conflict, 4 * time.Second, false, 3},
		{"after the repeat period", conflict, failureRepeat, true, 4},
		{"soon after", conflict, failureRepeat + time.Second, false, 5},
		{"another error", errors.New("brokers down"), failureRepeat + 2*time.Second, true, 1},
		{"success", nil, failureRepeat + 3*time.Second, false, 0},
		{"the first error again is new", conflict, failureRepeat + 4*time.Second, true, 1},
	}
	var f failureLog
	for _, s := range steps {
		loud, count := f.next(s.err, t0.Add(s.at))
		if loud != s.loud || count != s.wantCount {
			t.Errorf("%s: loud=%v count=%d, want %v %d", s.name, loud, count, s.loud, s.wantCount)
		}
	}
}

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

// TestConnectionSettings: only a change of what the connection was made with reconnects; a commit
// that moves the target down the file (topics added above it) or edits its overrides does not.
func TestConnectionSettings(t *testing.T) {
	base := exampleSpec(t)
	parse := func(t *testing.T, text string) spec.Cluster {
		t.Helper()
		sp, diags := spec.ParseSources("avatar.yaml", []spec.Source{{Name: "avatar.yaml", Data: []byte(text)}}, "microk8s")
		if len(diags.Errors()) > 0 {
			t.Fatal(diags)
		}
		c, err := sp.Target("microk8s")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	before := parse(t, base)
	tests := map[string]struct {
		text string
		same bool
	}{
		"topic added above": {exampleSpec(t, "  - { name: drone-commands, retention: 24h }", telemetryTopic), true},
		"bootstrap changed": {exampleSpec(t, "kafka-broker-1:9192", "kafka-broker-1:9195"), false},
		"namespace changed": {exampleSpec(t, "context: microk8s, namespace: avatar", "context: microk8s, namespace: avatar2"), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			after := parse(t, tc.text)
			if same := reflect.DeepEqual(connectionSettings(before), connectionSettings(after)); same != tc.same {
				t.Errorf("same=%v, want %v", same, tc.same)
			}
		})
	}
}

// TestProgressLineHasOneMsg: a progress line of the daemon carries one "msg" key; the event's text
// is "detail" (issue 21).
func TestProgressLineHasOneMsg(t *testing.T) {
	var buf lockedBuffer
	w := &watcher{log: newLogger(&globalOptions{output: "json"}, &streams{err: &buf})}
	w.logEvent(reconcile.Event{Status: reconcile.Running, Message: "waiting up to 30s for the apply lock held by ops"})
	line := strings.TrimSpace(buf.String())
	if strings.Count(line, `"msg"`) != 1 {
		t.Fatalf("line has %d msg keys: %s", strings.Count(line, `"msg"`), line)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil || m["msg"] != "progress" || m["detail"] != "waiting up to 30s for the apply lock held by ops" {
		t.Errorf("line %s (%v)", line, err)
	}
}
