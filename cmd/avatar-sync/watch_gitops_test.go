package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/internal/gittest"
)

// webhook is a local HTTP server recording every notification body.
type webhook struct {
	mu     sync.Mutex
	bodies []string
	srv    *httptest.Server
}

func newWebhook(t *testing.T) *webhook {
	h := &webhook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, string(b))
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// events returns the "event" field of every body received, in order.
func (h *webhook) events(t *testing.T) (kinds []string, bodies []string) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, b := range h.bodies {
		var ev struct {
			Event string `json:"event"`
			Text  string `json:"text"`
		}
		if err := json.Unmarshal([]byte(b), &ev); err != nil || ev.Text == "" {
			t.Errorf("notification is not a Slack-style JSON message with text: %v %s", err, b)
		}
		kinds = append(kinds, ev.Event)
	}
	return kinds, append([]string(nil), h.bodies...)
}

// exampleSpec is examples/avatar.yaml with edits applied (old → new, in order).
func exampleSpec(t *testing.T, edits ...string) string {
	t.Helper()
	data, err := os.ReadFile("../../examples/avatar.yaml")
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

const telemetryTopic = "  - { name: drone-commands, retention: 24h }\n  - { name: drone-telemetry, retention: 2h }"

// runWatch starts watch with args and returns its log, a stop function (which asserts a clean
// exit) and the metrics base URL when --metrics-addr was given.
func runWatch(t *testing.T, args ...string) (log *lockedBuffer, stop func(), base string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log = &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"watch", "-o", "json"}, args...), strings.NewReader(""), io.Discard, log)
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
		case code := <-done:
			if code != exitOK {
				t.Errorf("watch exited %d:\n%s", code, log.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatal("watch did not stop after cancel")
		}
	}
	t.Cleanup(stop)
	for _, a := range args {
		if a == "--metrics-addr" {
			waitLog(t, log, `"msg":"serving metrics"`, 1)
			m := regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"`).FindStringSubmatch(log.String())
			if m == nil {
				t.Fatalf("no metrics address in the log:\n%s", log.String())
			}
			base = "http://" + m[1]
		}
	}
	return log, stop, base
}

func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// counter sums the samples of a counter in /metrics (every label set).
func counter(t *testing.T, base, name string) float64 {
	t.Helper()
	sum := 0.0
	for _, m := range regexp.MustCompile(`(?m)^`+name+`(?:\{[^}]*\})? (\S+)$`).FindAllStringSubmatch(scrape(t, base), -1) {
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sum += v
	}
	return sum
}

// logLines returns the JSON log lines whose msg is msg.
func logLines(t *testing.T, log *lockedBuffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(log.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// TestWatchFollowsGitBranch is issue 12's GitOps loop against a real repository: the first
// commit is applied, a pushed commit adding a topic is applied with its revision in the log and in
// /metrics, a pushed invalid spec applies nothing and is logged with file:line:col at its revision
// while the previous revision stays in force, and a force-push that rewrites the branch is
// followed. The webhook gets exactly one event per state change, and never the keystore password,
// even though the invalid commit quotes it in a place the error message echoes. Once the branch
// stands still it is polled without passes (issue 20).
func TestWatchFollowsGitBranch(t *testing.T) {
	const secret = "kEyst0re-s3cret"
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", secret)
	remote := gittest.New(t)
	first := remote.Commit("initial spec", map[string]string{"lab/avatar.yaml": exampleSpec(t)})
	hook := newWebhook(t)
	state := filepath.Join(t.TempDir(), "state")
	log, stop, base := runWatch(t, "--git", remote.URL, "--branch", "main", "--path", "lab/avatar.yaml",
		"--git-interval", "100ms", "--state-dir", state, "--metrics-addr", "127.0.0.1:0", "--notify", hook.srv.URL+"/hooks/T0K3N")

	waitLog(t, log, `"msg":"applied"`, 1)
	if applied := logLines(t, log, "applied"); applied[0]["revision"] != first[:12] || applied[0]["revisionSubject"] != "initial spec" {
		t.Errorf("applied line lacks the revision: %v", applied[0])
	}
	// The revision turns "in force" when the pass is recorded, just after its last log line.
	waitFor(t, func() bool {
		return strings.Contains(scrape(t, base), fmt.Sprintf(`avatar_sync_revision_info{branch="main",revision="%s",subject="initial spec"} 1`, first))
	})

	// The status page on / (issue 13) names the commit and where the spec comes from.
	waitFor(t, func() bool {
		resp, err := http.Get(base + "/")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		page, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(page), first[:12]) && strings.Contains(string(page), "main:lab/avatar.yaml")
	})

	second := remote.Commit("add drone-telemetry", map[string]string{"lab/avatar.yaml": exampleSpec(t, "  - { name: drone-commands, retention: 24h }", telemetryTopic)})
	waitLog(t, log, `"change":"create topic drone-telemetry"`, 1)
	waitLog(t, log, `"msg":"applied"`, 2)
	applied := logLines(t, log, "applied")
	if applied[1]["revision"] != second[:12] || applied[1]["revisionSubject"] != "add drone-telemetry" {
		t.Errorf("second applied line: %v", applied[1])
	}
	for _, pending := range logLines(t, log, "changes pending") {
		if pending["revision"] == nil {
			t.Errorf("the plan header lacks the revision: %v", pending)
		}
	}
	waitFor(t, func() bool {
		return strings.Contains(scrape(t, base), fmt.Sprintf(`avatar_sync_revision_info{branch="main",revision="%s",subject="add drone-telemetry"} 1`, second))
	})

	bad := remote.Commit("typo in retention", map[string]string{"lab/avatar.yaml": exampleSpec(t,
		"  - { name: drone-commands, retention: 24h }", telemetryTopic, "retention: 6h }", "retention: "+secret+" }")})
	waitLog(t, log, `lab/avatar.yaml:20:44: topics[1].retention`, 1)
	failed := logLines(t, log, "pass failed; will retry")
	if len(failed) == 0 || failed[0]["revision"] != bad[:12] {
		t.Errorf("failure not logged at the bad revision %s: %v", bad[:12], failed)
	}
	metrics := scrape(t, base)
	if !strings.Contains(metrics, fmt.Sprintf(`revision="%s"`, second)) || strings.Contains(metrics, bad) {
		t.Errorf("the previous revision must stay in force after an invalid one:\n%s", metrics)
	}

	// Rewrite the branch: drop the bad commit and force-push another.
	remote.Rewind(second)
	rewritten := remote.Commit("rewritten: longer telemetry retention", map[string]string{"lab/avatar.yaml": exampleSpec(t,
		"  - { name: drone-commands, retention: 24h }", strings.Replace(telemetryTopic, "retention: 2h", "retention: 3h", 1))})
	waitLog(t, log, `"msg":"applied"`, 3)
	if applied := logLines(t, log, "applied"); applied[2]["revision"] != rewritten[:12] {
		t.Errorf("force-push not followed: %v", applied[2])
	}
	// A branch that stands still is polled, not reconciled (issue 20): three more fetches after the
	// last change, and not one more pass.
	waitFor(t, func() bool { kinds, _ := hook.events(t); return len(kinds) >= 4 })
	fetches, passes := counter(t, base, "avatar_sync_git_fetches_total"), counter(t, base, "avatar_sync_reconcile_passes_total")
	waitFor(t, func() bool { return counter(t, base, "avatar_sync_git_fetches_total") >= fetches+3 })
	if now := counter(t, base, "avatar_sync_reconcile_passes_total"); now != passes {
		t.Errorf("%.0f passes while the branch did not move (every poll ran a pass)", now-passes)
	}
	stop()

	// issue 21: the commits changed topics only, never the target's connection settings.
	if strings.Contains(log.String(), "cluster target settings changed; reconnecting") {
		t.Errorf("a topic-only commit was logged as a change of the target's settings:\n%s", log.String())
	}
	kinds, bodies := hook.events(t)
	if want := []string{"applied", "applied", "failed", "recovered"}; strings.Join(kinds, ",") != strings.Join(want, ",") {
		t.Errorf("notifications %v, want exactly %v", kinds, want)
	}
	for _, b := range bodies {
		if strings.Contains(b, secret) {
			t.Errorf("a notification contains the keystore password: %s", b)
		}
	}
	if len(bodies) == 4 && (!strings.Contains(bodies[1], "create topic drone-telemetry") || !strings.Contains(bodies[2], "lab/avatar.yaml:20:44") ||
		!strings.Contains(bodies[3], rewritten)) {
		t.Errorf("notification bodies lack the change list, the error or the revision:\n%s", strings.Join(bodies, "\n"))
	}
	if !strings.Contains(log.String(), `"msg":"notified"`) || strings.Contains(log.String(), "T0K3N") {
		t.Errorf("the log must say it notified without the webhook's token:\n%s", log.String())
	}
}

// TestWatchGitUnreachableBacksOff: a remote that cannot be fetched fails passes without crashing
// the daemon, retried with growing back-off (not every --git-interval), and the daemon recovers
// when the remote appears.
func TestWatchGitUnreachableBacksOff(t *testing.T) {
	remote := gittest.New(t)
	remote.Commit("initial spec", map[string]string{"avatar.yaml": exampleSpec(t)})
	later := filepath.Join(t.TempDir(), "later.git")
	// -v: a failure that repeats is logged at ERROR once, its repeats at DEBUG (issue 21).
	log, _, base := runWatch(t, "--git", later, "--git-interval", "50ms", "--state-dir", filepath.Join(t.TempDir(), "state"),
		"--metrics-addr", "127.0.0.1:0", "-v")

	waitLog(t, log, `"msg":"pass failed; will retry"`, 3)
	failed := logLines(t, log, "pass failed; will retry")
	t0, _ := time.Parse(time.RFC3339Nano, failed[0]["time"].(string))
	t2, _ := time.Parse(time.RFC3339Nano, failed[2]["time"].(string))
	// Back-off waits 1s, then 2s: the third failure comes 3s after the first at the earliest. With
	// the 50ms poll cutting the back-off short it would come after about 0.1s.
	if gap := t2.Sub(t0); gap < 2500*time.Millisecond {
		t.Errorf("three failed fetches within %s: no back-off", gap)
	}
	if !strings.Contains(failed[0]["err"].(string), "later.git") {
		t.Errorf("the error does not name the remote: %v", failed[0]["err"])
	}
	if !strings.Contains(scrape(t, base), "avatar_sync_git_fetch_failures_total 3") {
		t.Errorf("/metrics does not count the failed fetches")
	}

	if err := os.Rename(remote.URL, later); err != nil {
		t.Fatal(err)
	}
	waitLog(t, log, `"msg":"applied"`, 1)
}

// TestWatchReportModeNeverChangesCluster: in report mode a pushed change is found, logged and
// counted per kind in /metrics, and notified once, but the cluster is untouched: a second client
// (plan, joining the embedded cluster the daemon serves) still sees every change pending, while
// the daemon runs and after it stopped.
func TestWatchReportModeNeverChangesCluster(t *testing.T) {
	f, state := kafkaWorkspace(t)
	if code, out, errOut := runCLI(t, "apply", "--auto-approve", "-f", f, "--state-dir", state); code != exitOK {
		t.Fatalf("apply: %d\n%s\n%s", code, out, errOut)
	}
	changed := exampleSpec(t, "  - { name: drone-commands, retention: 24h }", telemetryTopic, "retention: 6h", "retention: 12h")
	remote := gittest.New(t)
	remote.Commit("telemetry and longer predictions", map[string]string{"avatar.yaml": changed})
	hook := newWebhook(t)
	// The webhook comes from the environment here, as the systemd unit and the Deployment pass it.
	t.Setenv("AVATAR_SYNC_NOTIFY", hook.srv.URL)
	// --interval: the branch does not move, so only the resync runs the passes after the first;
	// each finds the same drift and none notifies again.
	log, stop, base := runWatch(t, "--git", remote.URL, "--git-interval", "50ms", "--interval", "50ms", "--mode", "report", "--state-dir", state,
		"--metrics-addr", "127.0.0.1:0", "--allow-data-loss", "--allow-delete")

	waitLog(t, log, `"msg":"drift: the cluster differs from the spec; report mode applies nothing"`, 3)
	metrics := scrape(t, base)
	for _, want := range []string{`avatar_sync_drift_changes{action="create",kind="topic"} 1`, `avatar_sync_drift_changes{action="update",kind="config"} 1`,
		"avatar_sync_applied_changes_total 0", "avatar_sync_in_sync 0"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if err := os.WriteFile(f, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state)
	if code != exitChanges || !strings.Contains(out, "+ create topic drone-telemetry") || !strings.Contains(out, "prediction-results") {
		t.Errorf("second client while watch runs: code %d\n%s\n%s", code, out, errOut)
	}
	stop()
	if code, out, _ := runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state); code != exitChanges {
		t.Errorf("after report mode the cluster changed: plan code %d\n%s", code, out)
	}
	if strings.Contains(log.String(), `"msg":"applied"`) {
		t.Errorf("report mode applied:\n%s", log.String())
	}
	if kinds, _ := hook.events(t); strings.Join(kinds, ",") != "drift" {
		t.Errorf("notifications %v, want exactly one drift", kinds)
	}
}

func TestWatchGitFlags(t *testing.T) {
	tests := map[string]struct {
		args []string
		want string
	}{
		"mode":           {[]string{"--mode", "fix"}, `--mode "fix": want heal or report`},
		"path no git":    {[]string{"--path", "x.yaml"}, "--path needs --git"},
		"file and git":   {[]string{"--git", "/nowhere", "-f", "a.yaml"}, "-f and --git exclude each other"},
		"notify":         {[]string{"--notify", "hooks.example.org/x"}, "want an http:// or https:// URL"},
		"plugins no git": {[]string{"--plugins"}, "--plugins needs --git"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runCLI(t, append([]string{"watch"}, tc.args...)...)
			if code != exitError || !strings.Contains(errOut, tc.want) {
				t.Errorf("code %d, stderr %q, want %q", code, errOut, tc.want)
			}
		})
	}
}

// TestWatchReportsInterruptedPass: SIGTERM (here: cancelling the context) during a pass that
// hangs on a fetch ends the daemon cleanly, and the pass is logged as interrupted, not failed.
func TestWatchReportsInterruptedPass(t *testing.T) {
	gittest.New(t) // requires git
	asked, released := make(chan struct{}, 1), make(chan struct{}, 1)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case asked <- struct{}{}:
		default:
		}
		<-r.Context().Done()
		select {
		case released <- struct{}{}:
		default:
		}
	}))
	defer hang.Close()
	log, stop, _ := runWatch(t, "--git", hang.URL+"/avatar.git", "--state-dir", filepath.Join(t.TempDir(), "state"))
	select {
	case <-asked:
	case <-time.After(30 * time.Second):
		t.Fatalf("git never asked the remote:\n%s", log.String())
	}
	stop()
	// git's https helper must not outlive the daemon, holding the connection open.
	select {
	case <-released:
	case <-time.After(15 * time.Second):
		t.Error("git's remote helper still holds the connection after shutdown")
		hang.CloseClientConnections()
	}
	if !strings.Contains(log.String(), `"msg":"pass interrupted by shutdown; the next start reconciles again"`) {
		t.Errorf("the interrupted pass is not reported:\n%s", log.String())
	}
	if strings.Contains(log.String(), `"msg":"pass failed; will retry"`) {
		t.Errorf("an interrupted pass was reported as failed:\n%s", log.String())
	}
}

// TestWatchGitDefaultStateDir is issue 21's new-user run: watch --git with the default, relative
// --state-dir, from the directory the user is in. git resolved the relative private index inside
// the checkout and every pass failed with "lab/avatar.yaml: not in this revision".
func TestWatchGitDefaultStateDir(t *testing.T) {
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "kEyst0re-s3cret")
	remote := gittest.New(t)
	remote.Commit("initial spec", map[string]string{"lab/avatar.yaml": exampleSpec(t)})
	cwd := t.TempDir()
	t.Chdir(cwd)
	log, stop, _ := runWatch(t, "--git", remote.URL, "--path", "lab/avatar.yaml", "--git-interval", "100ms")
	waitLog(t, log, `"msg":"applied"`, 1)
	stop()
	if strings.Contains(log.String(), "not in this revision") {
		t.Errorf("a pass failed with the default --state-dir:\n%s", log.String())
	}
	if _, err := os.Stat(filepath.Join(cwd, clusters.DefaultStateDir, "git")); err != nil {
		t.Errorf("the private clone is not under the default state dir in the working directory: %v", err)
	}
}

// TestWatchGitNeverReadsOutsideTree is issue 21's hostile commit: --path names a directory, and
// the branch commits symbolic links in it to host files (a spec fragment with a topic, an env file
// with a password). Neither is read: the host topic is never created and no byte of the env file
// reaches the log, a webhook or the status page; the links are named in one warning.
func TestWatchGitNeverReadsOutsideTree(t *testing.T) {
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "kEyst0re-s3cret")
	hostDir := t.TempDir()
	const hostSecret = "h0st-env-s3cret"
	hostTopics := filepath.Join(hostDir, "topics.yaml")
	hostEnv := filepath.Join(hostDir, "kafka.env")
	if err := os.WriteFile(hostTopics, []byte("topics:\n  - { name: host-topic }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hostEnv, []byte("KEYSTORE_PASSWORD="+hostSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	remote := gittest.New(t)
	remote.Commit("initial spec", map[string]string{"lab/avatar.yaml": exampleSpec(t)})
	remote.Link("host topics", "lab/host.yaml", hostTopics)
	remote.Link("host env", "lab/zz-env.yaml", strings.Repeat("../", 40)+strings.TrimPrefix(hostEnv, "/"))
	hook := newWebhook(t)
	log, stop, base := runWatch(t, "--git", remote.URL, "--path", "lab", "--git-interval", "100ms",
		"--state-dir", filepath.Join(t.TempDir(), "state"), "--metrics-addr", "127.0.0.1:0", "--notify", hook.srv.URL)
	waitLog(t, log, `"msg":"applied"`, 1)
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	stop()
	_, bodies := hook.events(t)
	for where, text := range map[string]string{"log": log.String(), "status page": string(page), "webhook": strings.Join(bodies, "\n")} {
		if strings.Contains(text, hostSecret) || strings.Contains(text, "KEYSTORE_PASSWORD=") {
			t.Errorf("the %s holds bytes of the host file:\n%s", where, text)
		}
		if strings.Contains(text, "host-topic") {
			t.Errorf("the %s names the host file's topic:\n%s", where, text)
		}
	}
	warned := logLines(t, log, "symbolic links leading out of the repository were left out of the checkout; nothing outside the repository is read")
	if len(warned) != 1 || fmt.Sprint(warned[0]["links"]) != "[lab/host.yaml lab/zz-env.yaml]" {
		t.Errorf("want one warning naming both links, got %v", warned)
	}
	if strings.Contains(log.String(), hostDir) {
		t.Errorf("the log names the host path the links point at:\n%s", log.String())
	}
}

// TestWatchGitPathThroughLinkRefused: a --path that is itself a committed link out of the
// repository fails the pass, saying so (issue 21).
func TestWatchGitPathThroughLinkRefused(t *testing.T) {
	host := filepath.Join(t.TempDir(), "avatar.yaml")
	if err := os.WriteFile(host, []byte(exampleSpec(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	remote := gittest.New(t)
	remote.Link("spec from the host", "lab/avatar.yaml", host)
	log, _, _ := runWatch(t, "--git", remote.URL, "--path", "lab/avatar.yaml", "--git-interval", "100ms",
		"--state-dir", filepath.Join(t.TempDir(), "state"))
	waitLog(t, log, `lab/avatar.yaml: lab/avatar.yaml is a symbolic link leading out of the repository`, 1)
	if strings.Contains(log.String(), `"msg":"applied"`) {
		t.Errorf("a spec read through a link out of the repository was applied:\n%s", log.String())
	}
}

// TestWatchHidesURLUserinfo is issue 21: a token written as the user name of the --git URL
// (https://<token>@host/…, GitHub's usual form) appears in no log line and no webhook body, though
// git quotes the URL in its error.
func TestWatchHidesURLUserinfo(t *testing.T) {
	gittest.New(t) // requires git
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	const token = "ghp_T0KEN4u5er"
	hook := newWebhook(t)
	log, stop, _ := runWatch(t, "--git", strings.Replace(srv.URL, "http://", "http://"+token+"@", 1)+"/lab.git",
		"--state-dir", filepath.Join(t.TempDir(), "state"), "--notify", hook.srv.URL)
	waitLog(t, log, `"msg":"pass failed; will retry"`, 1)
	stop()
	_, bodies := hook.events(t)
	if len(bodies) != 1 {
		t.Fatalf("want one failed event, got %q", bodies)
	}
	for where, text := range map[string]string{"log": log.String(), "webhook": bodies[0]} {
		if strings.Contains(text, token) {
			t.Errorf("the %s shows the token:\n%s", where, text)
		}
		if !strings.Contains(text, "***@127.0.0.1") {
			t.Errorf("the %s does not name the redacted URL:\n%s", where, text)
		}
	}
}

// TestWatchGitRunsBranchPluginsOnlyWithFlag is issue 21: a plugin: committed to the followed
// branch is code from whoever can push; the daemon runs it only with --plugins on its own command
// line. Without the flag the pass still applies, names the device once, and nothing runs.
func TestWatchGitRunsBranchPluginsOnlyWithFlag(t *testing.T) {
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "kEyst0re-s3cret")
	marker := filepath.Join(t.TempDir(), "plugin-ran")
	remote := gittest.New(t)
	remote.Executable("a probe", "lab/probe.sh", "#!/bin/sh\ntouch "+marker+"\ncat >/dev/null\n"+
		`echo '{"protocol":"avatar-sync.device/v1","findings":[{"ok":true,"message":"ok"}]}'`+"\n")
	remote.Commit("spec with a plugin", map[string]string{"lab/avatar.yaml": exampleSpec(t,
		"devices:\n", "devices:\n  - { name: lidar, kind: lidar, address: 'lidar:7000', plugin: ./probe.sh }\n")})

	// With the status page, whose device check once ran every plugin (issue 20).
	// --interval: resync passes on a branch that stands still, which must not repeat the note.
	log, stop, _ := runWatch(t, "--git", remote.URL, "--path", "lab/avatar.yaml", "--git-interval", "50ms", "--interval", "50ms",
		"--state-dir", filepath.Join(t.TempDir(), "state"), "--metrics-addr", "127.0.0.1:0")
	waitLog(t, log, `"msg":"in sync"`, 3)
	stop()
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("watch --git ran a plugin from the branch without --plugins:\n%s", log.String())
	}
	notes := logLines(t, log, "device plugins from the followed branch not run: watch runs a branch's plugins only with --plugins (code from the branch on this host)")
	if len(notes) != 1 || fmt.Sprint(notes[0]["devices"]) != "[lidar]" {
		t.Errorf("want one note naming the device, got %v\n%s", notes, log.String())
	}

	log, stop, _ = runWatch(t, "--git", remote.URL, "--path", "lab/avatar.yaml", "--git-interval", "50ms",
		"--state-dir", filepath.Join(t.TempDir(), "state"), "--plugins")
	waitLog(t, log, `"msg":"applied"`, 1)
	stop()
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("with --plugins the branch's plugin did not run: %v\n%s", err, log.String())
	}
}
