package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/clusters/clustertest"
	"github.com/avatar-project/avatar-sync/health"
	"github.com/avatar-project/avatar-sync/notify"
	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/render"
	"github.com/avatar-project/avatar-sync/session"
	"github.com/avatar-project/avatar-sync/spec"
	"github.com/avatar-project/avatar-sync/statuspage"
)

// lockedBuffer is a log the daemon writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

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

// exampleSpec is examples/avatar.yaml with edits applied (old → new, in order).
func exampleSpec(t *testing.T, edits ...string) string {
	t.Helper()
	data, err := os.ReadFile("../examples/avatar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(s, edits[i]) {
			t.Fatalf("example spec lacks %q", edits[i])
		}
		s = strings.Replace(s, edits[i], edits[i+1], 1)
	}
	return s
}

// TestConnectionSettings: only a change of what the connection was made with reconnects; a commit
// that moves the target down the file (topics added above it) or edits its overrides does not.
func TestConnectionSettings(t *testing.T) {
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
	before := parse(t, exampleSpec(t))
	tests := map[string]struct {
		text string
		same bool
	}{
		"topic added above": {exampleSpec(t, "  - { name: drone-commands, retention: 24h }", "  - { name: drone-commands, retention: 24h }\n  - { name: drone-telemetry, retention: 2h }"), true},
		"bootstrap changed": {exampleSpec(t, "kafka-broker-1:9192", "kafka-broker-1:9195"), false},
		"namespace changed": {exampleSpec(t, "context: microk8s, namespace: avatar", "context: microk8s, namespace: avatar2"), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			after := parse(t, tc.text)
			if same := session.SameConnection(before, after); same != tc.same {
				t.Errorf("same=%v, want %v", same, tc.same)
			}
		})
	}
}

// TestProgressLineHasOneMsg: a progress line of the daemon carries one "msg" key; the event's text
// is "detail" (issue 21).
func TestProgressLineHasOneMsg(t *testing.T) {
	var buf lockedBuffer
	f := &follower{d: &daemon{}, log: NewLogger(&buf, true, false)}
	f.logEvent(plans.Event{Status: plans.Running, Message: "waiting up to 30s for the apply lock held by ops"})
	line := strings.TrimSpace(buf.String())
	if strings.Count(line, `"msg"`) != 1 {
		t.Fatalf("line has %d msg keys: %s", strings.Count(line, `"msg"`), line)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil || m["msg"] != "progress" || m["detail"] != "waiting up to 30s for the apply lock held by ops" {
		t.Errorf("line %s (%v)", line, err)
	}
}

// TestRedactingHandler: every message and attribute of the daemon's log, errors and groups
// included, has URL user information hidden (issue 21).
func TestRedactingHandler(t *testing.T) {
	var buf strings.Builder
	log := NewLogger(&buf, true, false).With("git", "https://a:b@h/x")
	log.Info("fetch https://tok@h/x", "err", fmt.Errorf("repository 'https://tok@h/x/' not found"), slog.Group("g", "u", "ssh://git@h/y"))
	if out := buf.String(); strings.Contains(out, "tok@") || strings.Contains(out, "a:b@") || strings.Contains(out, "git@") || strings.Count(out, "***@") != 4 {
		t.Errorf("log line: %s", out)
	}
}

// boardReport is a status read with every part the board's metrics export: lag, rates, sizes,
// brokers and a Kubernetes plane.
func boardReport() health.Report {
	msgs, bps := 200.0, 4096.0
	return health.Report{Cluster: "lab", Healthy: true,
		Brokers: []health.BrokerReport{{ID: 0, State: "up", Leaders: 3, DiskUsedBytes: 1 << 20}},
		Topics:  []health.TopicReport{{Name: "eeg-brainwave-data", MessagesPerSec: &msgs, BytesPerSec: &bps, LogEnd: 1200, SizeBytes: 3 << 20}},
		Groups:  []health.GroupReport{{Name: "prediction", Lag: 25}},
		Kubernetes: &health.KubeReport{StatefulSets: []health.StatefulSetState{{Name: "kafka-broker-1", Ready: 1, Desired: 1}},
			Drift: []health.ObjectDrift{{Kind: "StatefulSet", Name: "kafka-broker-1", Field: "spec.replicas"}}},
	}
}

// TestWatchMetricsLint holds every daemon metric, the board's included, to Prometheus'
// conventions (promlint through testutil.GatherAndLint: base units, _total counters, help text),
// for one target and for a fleet.
func TestWatchMetricsLint(t *testing.T) {
	for _, fleet := range []bool{false, true} {
		m := newMetrics(fleet)
		newGitopsMetrics(m.reg, fleet)
		b := newBoardMetrics(m.reg, fleet)
		b.observe("lab", boardReport())
		b.observeDevices("lab", []statuspage.Device{{Name: "tello-1", OK: true}})
		problems, err := testutil.GatherAndLint(m.reg)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("fleet=%v: %s: %s", fleet, p.Metric, p.Text)
		}
	}
}

// TestGrafanaKubeQueriesExist: the Kubernetes plane's series the rendered Grafana dashboard
// queries are in a scrape after a status read with a Kubernetes plane (cmd's
// TestGrafanaDashboardQueriesExist checks the others against a running daemon).
func TestGrafanaKubeQueriesExist(t *testing.T) {
	m := newMetrics(false)
	newBoardMetrics(m.reg, false).observe("lab", boardReport())
	srv := httptest.NewServer(m.handler())
	defer srv.Close()
	scrape := get(t, srv.URL+"/metrics")
	names := regexp.MustCompile(`avatar_sync_(statefulset_[a-z_]+|kubernetes_drifting_fields)`)
	found := 0
	for _, q := range render.GrafanaQueries() {
		for _, name := range names.FindAllString(q, -1) {
			found++
			if !regexp.MustCompile(`(?m)^` + name + `[{ ]`).MatchString(scrape) {
				t.Errorf("dashboard query %q: %s is not exported with a Kubernetes plane", q, name)
			}
		}
	}
	if found == 0 {
		t.Fatal("the dashboard queries no Kubernetes series: the test checks nothing")
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	code, body := getCode(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	return body
}

func getCode(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// fleetSpec writes a spec with a target per name, each at its cluster's bootstrap addresses
// (a nil bootstrap is a target nothing answers at).
func fleetSpec(t *testing.T, targets map[string][]string, order []string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar, namespace: avatar }
brokers:
  - { id: 1, host: kafka-broker-1, ports: { plaintext: 9092 } }
topicDefaults: { partitions: 1, replicationFactor: 1 }
topics:
  - { name: eeg-brainwave-data, retention: 1h }
  - { name: drone-commands, retention: 24h }
clusters:
`)
	for _, name := range order {
		boot := targets[name]
		if boot == nil {
			boot = []string{"127.0.0.1:1"}
		}
		fmt.Fprintf(&b, "  %s: { bootstrap: [%q] }\n", name, strings.Join(boot, `", "`))
	}
	path := filepath.Join(t.TempDir(), "avatar.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func startCluster(t *testing.T) *clustertest.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c, err := clustertest.Start(ctx, &spec.Spec{Brokers: []spec.Broker{{ID: 1}}}, clusters.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// runDaemon runs a daemon over file's targets with a status server and returns its log, the
// server's base URL and a stop function that asserts a clean exit.
func runDaemon(t *testing.T, file string, targets ...string) (log *lockedBuffer, base string, stop func()) {
	t.Helper()
	return runDaemonWith(t, Config{File: file, Targets: targets})
}

// runDaemonWith is runDaemon with more of the Config set.
func runDaemonWith(t *testing.T, cfg Config) (log *lockedBuffer, base string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log = &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		if cfg.Interval == 0 {
			cfg.Interval = 300 * time.Millisecond
		}
		cfg.Debounce, cfg.MetricsAddr = 50*time.Millisecond, "127.0.0.1:0"
		cfg.Apply = reconcile.ApplyOptions{LockWait: 10 * time.Second}
		cfg.Session = session.Options{StateDir: t.TempDir(), Serve: true, Objects: true}
		cfg.Log = NewLogger(log, true, true)
		done <- Run(ctx, cfg)
	}()
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon stopped with %v:\n%s", err, log.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatal("daemon did not stop after cancel")
		}
	}
	t.Cleanup(stop)
	addr := regexp.MustCompile(`"msg":"serving metrics","addr":"(127\.0\.0\.1:\d+)"`)
	waitFor(t, "the metrics server", func() bool { return addr.MatchString(log.String()) })
	return log, "http://" + addr.FindStringSubmatch(log.String())[1], stop
}

// inSync plans target against its cluster afresh: no pending change means the daemon converged it.
func inSync(t *testing.T, file, target string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	sp, _, err := session.LoadSpec(ctx, file, strings.NewReader(""), target)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := session.Open(ctx, sp, target, session.Options{StateDir: t.TempDir(), ReadOnly: true, Notice: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	p, err := tg.Planner().Plan(ctx, sp, reconcile.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return !p.HasChanges()
}

// TestFleetWatchConvergesEveryTarget: watch --cluster east,west reconciles both clusters on every
// pass, each over its own connection; the metrics and the status pages carry the target.
func TestFleetWatchConvergesEveryTarget(t *testing.T) {
	east, west := startCluster(t), startCluster(t)
	f := fleetSpec(t, map[string][]string{"east": east.Bootstrap(), "west": west.Bootstrap()}, []string{"east", "west"})
	log, base, stop := runDaemon(t, f, "east", "west")
	waitFor(t, "both targets in sync", func() bool {
		s := get(t, base+"/metrics")
		return strings.Contains(s, `avatar_sync_in_sync{cluster="east"} 1`) && strings.Contains(s, `avatar_sync_in_sync{cluster="west"} 1`)
	})
	if code, body := getCode(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz: %d %s", code, body)
	}
	for _, name := range []string{"east", "west"} {
		if page := get(t, base+"/clusters/"+name); !strings.Contains(page, name) {
			t.Errorf("/clusters/%s does not name its target:\n%s", name, page)
		}
	}
	if code, _ := getCode(t, base+"/clusters/north"); code != http.StatusNotFound {
		t.Errorf("/clusters/north: %d, want 404", code)
	}
	stop()
	for _, name := range []string{"east", "west"} {
		if !inSync(t, f, name) {
			t.Errorf("target %s not converged:\n%s", name, log.String())
		}
	}
	// One connection per target, opened once: no reconnect while the settings stay.
	if n := strings.Count(log.String(), "reconnecting"); n != 0 {
		t.Errorf("%d reconnects:\n%s", n, log.String())
	}
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, `"msg":"in sync"`) && !strings.Contains(line, `"cluster":"east"`) && !strings.Contains(line, `"cluster":"west"`) {
			t.Errorf("an in-sync line without its target: %s", line)
		}
	}
}

// TestFleetWatchFailingTargetDoesNotStopOthers: a target nothing answers at fails its own pass
// (logged with its name, counted, /readyz not ready) while the next target is still converged.
func TestFleetWatchFailingTargetDoesNotStopOthers(t *testing.T) {
	west := startCluster(t)
	f := fleetSpec(t, map[string][]string{"west": west.Bootstrap()}, []string{"down", "west"})
	log, base, stop := runDaemon(t, f, "down", "west")
	waitFor(t, "west in sync and down failed", func() bool {
		s := get(t, base+"/metrics")
		return strings.Contains(s, `avatar_sync_in_sync{cluster="west"} 1`) &&
			regexp.MustCompile(`avatar_sync_reconcile_passes_total\{cluster="down",result="error"\} [1-9]`).MatchString(s)
	})
	code, body := getCode(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "cluster down: last pass failed") || strings.Contains(body, "cluster west") {
		t.Errorf("/readyz: %d %s", code, body)
	}
	stop()
	if !inSync(t, f, "west") {
		t.Errorf("west not converged:\n%s", log.String())
	}
	if !regexp.MustCompile(`"level":"ERROR","msg":"pass failed; will retry".*"cluster":"down"`).MatchString(log.String()) {
		t.Errorf("the failed target is not logged with its name:\n%s", log.String())
	}
}

// TestFleetWatchNotifiesPerTarget: each target has its own state for the webhooks: the target
// that fails sends "failed" naming it, the one that converges "applied" naming it, and neither
// repeats on later passes.
func TestFleetWatchNotifiesPerTarget(t *testing.T) {
	var mu sync.Mutex
	var events []notify.Event
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev notify.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}))
	defer hook.Close()
	west := startCluster(t)
	f := fleetSpec(t, map[string][]string{"west": west.Bootstrap()}, []string{"down", "west"})
	log, base, stop := runDaemonWith(t, Config{File: f, Targets: []string{"down", "west"}, Notify: []string{hook.URL}})
	waitFor(t, "three passes", func() bool {
		return regexp.MustCompile(`avatar_sync_reconcile_passes_total\{cluster="west",result="ok"\} [3-9]`).MatchString(get(t, base+"/metrics"))
	})
	stop()
	mu.Lock()
	defer mu.Unlock()
	got := map[string]int{}
	for _, ev := range events {
		got[ev.Cluster+" "+string(ev.Event)]++
		if ev.Cluster == "west" && ev.Event == notify.Applied && len(ev.Changes) != 2 {
			t.Errorf("west applied %v, want its two topics", ev.Changes)
		}
	}
	if len(got) != 2 || got["down failed"] != 1 || got["west applied"] != 1 {
		t.Errorf("webhook events %v, want one failed for down and one applied for west\n%s", got, log.String())
	}
}

// TestPreflightFailureSkipsThePass: the pass's prelude (session.Prepare) probes a target with
// preflight: true; a failing required device fails the pass before anything changes, in the
// session's words when Config.Preflight does not show it.
func TestPreflightFailureSkipsThePass(t *testing.T) {
	c := startCluster(t)
	f := fleetSpec(t, map[string][]string{"lab": c.Bootstrap()}, []string{"lab"})
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), `"] }`, `"], preflight: true }`, 1) +
		"devices:\n  - { name: door, kind: tcp, address: \"127.0.0.1:1\", required: true, timeout: 1s }\n"
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	log, _, stop := runDaemon(t, f, "lab")
	waitFor(t, "the refused pass", func() bool {
		return strings.Contains(log.String(), `preflight: 1 required device failed, so nothing was changed: door`)
	})
	stop()
	if inSync(t, f, "lab") {
		t.Errorf("the pass changed the cluster although a required device failed:\n%s", log.String())
	}
}
