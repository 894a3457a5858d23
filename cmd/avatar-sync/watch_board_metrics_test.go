package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/render"
)

// TestGrafanaDashboardQueriesExist: every metric the rendered Grafana dashboard queries is in a
// scrape of /metrics. The daemon, serving the lab cluster with a device, a lagging group and two
// reads (for the rates), exports all but the Kubernetes plane's; those are checked by
// daemon.TestGrafanaKubeQueriesExist after a status read with a Kubernetes plane (the
// kube-apiserver test runs the daemon against a real API server).
func TestGrafanaDashboardQueriesExist(t *testing.T) {
	c, f := labCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := c.CommitOffsets(ctx, "prediction", "eeg-brainwave-data", map[int32]int64{0: 0}); err != nil {
		t.Fatal(err)
	}
	appendFile(t, f, "devices:\n  - { name: tello-1, kind: tcp, address: \"127.0.0.1:1\", timeout: 1s }\n")
	_, stop, base := runWatch(t, "-f", f, "--cluster", "lab", "--interval", "1s", "--state-dir", t.TempDir(), "--metrics-addr", "127.0.0.1:0")
	waitFor(t, func() bool {
		s := scrape(t, base)
		return strings.Contains(s, "avatar_sync_topic_messages_in_per_second{") && strings.Contains(s, "avatar_sync_device_up{")
	})
	daemon := scrape(t, base)
	stop()

	names := regexp.MustCompile(`avatar_sync_[a-z_]+`)
	for _, q := range render.GrafanaQueries() {
		for _, name := range names.FindAllString(q, -1) {
			series := regexp.MustCompile(`(?m)^` + name + `[{ ]`)
			switch {
			case series.MatchString(daemon):
			case strings.HasPrefix(name, "avatar_sync_statefulset_") || name == "avatar_sync_kubernetes_drifting_fields":
				// daemon.TestGrafanaKubeQueriesExist
			default:
				t.Errorf("dashboard query %q: no %s in the daemon's scrape", q, name)
			}
		}
	}
	dashboard, err := render.GrafanaDashboard()
	if err != nil || !strings.Contains(dashboard, `"uid": "avatar-sync-watch"`) {
		t.Fatalf("dashboard: %v", err)
	}
}

// TestBoardKeepsPasswordsOffThePage: a spec error that quotes the keystore password (a typo put it
// where a retention belongs) reaches neither the status page nor the journal on disk; *** stands
// in for it.
func TestBoardKeepsPasswordsOffThePage(t *testing.T) {
	const secret = "kEyst0re-s3cret"
	_, f := labCluster(t)
	for i, port := range []string{"9092", "9093", "9094"} {
		editSpec(t, f, "plaintext: "+port+" }", fmt.Sprintf("plaintext: %s, ssl: 919%d }", port, 2+i))
	}
	editSpec(t, f, "topicDefaults:", "tls: { enabled: true, passwordEnv: AVATAR_KEYSTORE_PASSWORD, validity: 825d, renewBefore: 30d }\ntopicDefaults:")
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", secret)
	if code, out, errOut := runCLI(t, "certs", "generate", "-f", f); code != exitOK {
		t.Fatalf("certs generate: %d\n%s%s", code, out, errOut)
	}
	state := t.TempDir()
	log, _, base := runWatch(t, "-f", f, "--cluster", "lab", "--interval", "1s", "--state-dir", state, "--metrics-addr", "127.0.0.1:0")
	waitLog(t, log, `"msg":"in sync"`, 1)
	editSpec(t, f, "retention: 6h }", "retention: "+secret+" }")
	var page string
	waitFor(t, func() bool {
		resp, err := http.Get(base + "/")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		page = string(b)
		return strings.Contains(page, `<p id="failed-revision">`)
	})
	journal, err := os.ReadFile(filepath.Join(state, "watch-journal-lab.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(page, secret) || strings.Contains(string(journal), secret) {
		t.Errorf("the keystore password reached the page or the journal:\n%s\n%s", page, journal)
	}
	if !strings.Contains(page, "***") || !strings.Contains(string(journal), "***") {
		t.Errorf("the error lost its place for the password (want ***):\n%s\n%s", page, journal)
	}
}
