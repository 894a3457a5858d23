package daemon

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/internal/gittest"
	"github.com/avatar-project/avatar-sync/notify"
)

// counter sums a series of /metrics over its label sets.
func counter(t *testing.T, base, name string) float64 {
	t.Helper()
	sum := 0.0
	for _, m := range regexp.MustCompile(`(?m)^`+name+`(?:\{[^}]*\})? (\S+)$`).FindAllStringSubmatch(get(t, base+"/metrics"), -1) {
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sum += v
	}
	return sum
}

// eventRecorder is a webhook receiver keeping the events in order.
type eventRecorder struct {
	mu     sync.Mutex
	events []string
}

func (r *eventRecorder) serve(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var ev notify.Event
		if err := json.NewDecoder(req.Body).Decode(&ev); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		r.mu.Lock()
		r.events = append(r.events, string(ev.Event))
		r.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (r *eventRecorder) list() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.events, ",")
}

// logTimes are the times of the JSON log lines whose msg is msg.
func logTimes(t *testing.T, log *lockedBuffer, msg string) []time.Time {
	t.Helper()
	var out []time.Time
	for _, line := range strings.Split(log.String(), "\n") {
		var m struct {
			Time time.Time `json:"time"`
			Msg  string    `json:"msg"`
		}
		if json.Unmarshal([]byte(line), &m) == nil && m.Msg == msg {
			out = append(out, m.Time)
		}
	}
	return out
}

// TestGitSourceDaemon is watch --git over a real repository and a real cluster with the loop's
// source (issue 20): the branch is polled every 50ms but a pass runs only when it moves; a fetch
// that fails once the branch was followed fails one pass (/readyz 503, one "failed" webhook), the
// remote is then fetched only on the loop's retries, each after a longer back-off; the recovery
// clears it (/readyz 200, one "recovered"), and the polls go on without passes.
func TestGitSourceDaemon(t *testing.T) {
	c := startCluster(t)
	f := fleetSpec(t, map[string][]string{"lab": c.Bootstrap()}, []string{"lab"})
	text, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	remote := gittest.New(t)
	remote.Commit("two topics", map[string]string{"lab/avatar.yaml": string(text)})
	hook := &eventRecorder{}
	log, base, stop := runDaemonWith(t, Config{Targets: []string{"lab"}, Interval: time.Hour, Notify: []string{hook.serve(t)},
		Git: Git{URL: remote.URL, Branch: "main", Path: "lab/avatar.yaml", Interval: 50 * time.Millisecond}})

	passes := func() float64 { return counter(t, base, "avatar_sync_reconcile_passes_total") }
	fetches := func() float64 { return counter(t, base, "avatar_sync_git_fetches_total") }
	quiet := func(what string) {
		t.Helper()
		p, n := passes(), fetches()
		waitFor(t, "four polls "+what, func() bool { return fetches() >= n+4 })
		if now := passes(); now != p {
			t.Errorf("%.0f passes %s although the branch did not move", now-p, what)
		}
	}
	waitFor(t, "the first pass", func() bool { return counter(t, base, "avatar_sync_in_sync") == 1 })
	quiet("after the first pass")

	p := passes()
	second := remote.Commit("a third topic", map[string]string{"lab/avatar.yaml": strings.Replace(string(text),
		"topics:\n", "topics:\n  - { name: drone-telemetry, retention: 2h }\n", 1)})
	waitFor(t, "the pass on the pushed commit", func() bool {
		return strings.Contains(get(t, base+"/metrics"), `avatar_sync_revision_info{branch="main",revision="`+second+`"`)
	})
	if got := passes(); got != p+1 {
		t.Errorf("%.0f passes for one push, want 1", got-p)
	}
	quiet("after the push")

	if err := os.Rename(remote.URL, remote.URL+".away"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three failed fetches", func() bool { return len(logTimes(t, log, "pass failed; will retry")) == 3 })
	if n := counter(t, base, "avatar_sync_git_fetch_failures_total"); n != 3 {
		t.Errorf("%.0f failed fetches for three failed passes: the source polled while the loop backed off", n)
	}
	failed := logTimes(t, log, "pass failed; will retry")
	if first, second := failed[1].Sub(failed[0]), failed[2].Sub(failed[1]); first < 900*time.Millisecond || second < 1900*time.Millisecond {
		t.Errorf("failed passes %s then %s apart: want the back-off, 1s then 2s (the poll is 50ms)", first, second)
	}
	code, body := getCode(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "remote.git") {
		t.Errorf("/readyz during the failed fetches: %d %s", code, body)
	}
	if got := hook.list(); got != "applied,applied,failed" {
		t.Errorf("webhooks %s, want one failed after the two applied", got)
	}

	if err := os.Rename(remote.URL+".away", remote.URL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the recovery", func() bool { code, _ := getCode(t, base+"/readyz"); return code == http.StatusOK })
	waitFor(t, "the recovered webhook", func() bool { return hook.list() == "applied,applied,failed,recovered" })
	quiet("after the recovery")
	stop()
	if got := hook.list(); got != "applied,applied,failed,recovered" {
		t.Errorf("webhooks %s, want one per state change", got)
	}
}
