package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/session"
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

// TestWatchServesMetricsAndReadiness scrapes the daemon's endpoints: /readyz turns ready after the
// first good pass and unready with the error after an invalid edit; /metrics counts both passes.
func TestWatchServesMetricsAndReadiness(t *testing.T) {
	f, state := kafkaWorkspace(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"watch", "-f", f, "--state-dir", state, "--interval", "0", "--debounce", "20ms",
			"--metrics-addr", "127.0.0.1:0", "-o", "json"}, strings.NewReader(""), io.Discard, log)
	}()
	waitLog(t, log, `"msg":"serving metrics"`, 1)
	m := regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"`).FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("no metrics address in the log:\n%s", log.String())
	}
	base := "http://" + m[1]
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	waitLog(t, log, `"msg":"applied"`, 1)
	waitFor(t, func() bool { code, _ := get("/readyz"); return code == http.StatusOK })
	_, metrics := get("/metrics")
	for _, want := range []string{`avatar_sync_reconcile_passes_total{result="ok"} 1`, "avatar_sync_applied_changes_total 3",
		"avatar_sync_in_sync 1", "avatar_sync_pending_changes 3", "avatar_sync_reconcile_duration_seconds_count 1"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	editSpec(t, f, "retention: 24h }", "retention: 24h, retension: 2h }")
	waitFor(t, func() bool { code, _ := get("/readyz"); return code == http.StatusServiceUnavailable })
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, `did you mean "retention"`) {
		t.Errorf("/readyz after an invalid edit: %d %q", code, body)
	}
	if _, metrics := get("/metrics"); !strings.Contains(metrics, `avatar_sync_reconcile_passes_total{result="error"} 1`) {
		t.Errorf("/metrics does not count the failed pass:\n%s", metrics)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d while running", code)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("watch exited %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("watch did not stop after cancel")
	}
}

// waitFor polls cond (bounded) until it holds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(20 * time.Millisecond)
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

// TestWatchNeverMassDeletes is issue 10 item 12: a spec whose topics vanished (with deletion:
// prune) makes a running `watch --allow-delete --force` delete nothing: the pass is refused as a
// mass delete, which watch never does on its own, and the three topics survive.
func TestWatchNeverMassDeletes(t *testing.T) {
	f, state := kafkaWorkspace(t)
	original, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"watch", "-f", f, "--state-dir", state, "--interval", "0", "--debounce", "20ms", "-o", "json", "--allow-delete", "--force"},
			strings.NewReader(""), io.Discard, log)
	}()
	waitLog(t, log, `"msg":"applied"`, 1)

	// One write, so no pass sees half the edit.
	emptied := regexp.MustCompile(`(?m)^topics:\n(.*\n)*?clusters:`).ReplaceAllString(string(original), "deletion: prune\ntopics: []\nclusters:")
	if emptied == string(original) {
		t.Fatal("test spec edit did not apply")
	}
	if err := os.WriteFile(f, []byte(emptied), 0o644); err != nil {
		t.Fatal(err)
	}
	waitLog(t, log, "--allow-mass-delete", 1)
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("watch did not stop after cancel")
	}
	if err := os.WriteFile(f, original, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state); code != exitOK {
		t.Fatalf("the topics did not survive: plan code %d\n%s\n%s", code, out, errOut)
	}
}

func TestWatchRefusesStdin(t *testing.T) {
	code, _, errOut := runCLI(t, "watch", "-f", "-")
	if code != exitError || !strings.Contains(errOut, "watch cannot read the spec from stdin (-f -)") {
		t.Fatalf("watch -f -: code %d\n%s", code, errOut)
	}
}

// TestWatchClusterList: --cluster takes the targets of a fleet in order; an empty or repeated name
// is refused before the daemon starts, and an unknown one ends it at start with the did-you-mean
// error, as for one target.
func TestWatchClusterList(t *testing.T) {
	for flag, want := range map[string]string{
		"lab,,embedded":     `--cluster "lab,,embedded" has an empty target name`,
		"lab,embedded,":     `--cluster "lab,embedded," has an empty target name`,
		"embedded,embedded": `--cluster "embedded,embedded" names target "embedded" twice`,
	} {
		code, _, errOut := runCLI(t, "watch", "--cluster", flag, "--state-dir", t.TempDir())
		if code != exitError || !strings.Contains(errOut, want) {
			t.Errorf("--cluster %s: code %d\n%s", flag, code, errOut)
		}
	}
	f := filepath.Join(t.TempDir(), "avatar.yaml")
	if err := os.WriteFile(f, []byte(exampleSpec(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "watch", "-f", f, "--cluster", "embedded,mikrok8s", "--state-dir", t.TempDir())
	if code != exitError || !strings.Contains(errOut, `did you mean "microk8s"?`) {
		t.Errorf("--cluster embedded,mikrok8s: code %d\n%s", code, errOut)
	}
	if got, err := session.SplitTargets("lab-east, lab-west"); err != nil || strings.Join(got, "|") != "lab-east|lab-west" {
		t.Errorf("SplitTargets: %v %v", got, err)
	}
}
