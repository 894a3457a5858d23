package main

import (
	"context"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/avatar-project/avatar-sync/health"
	"github.com/avatar-project/avatar-sync/render"
	"github.com/avatar-project/avatar-sync/statuspage"
)

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
// conventions (promlint through testutil.GatherAndLint: base units, _total counters, help text).
func TestWatchMetricsLint(t *testing.T) {
	m := newWatchMetrics()
	b := newBoardMetrics(m.reg)
	b.observe(boardReport())
	b.observeDevices([]statuspage.Device{{Name: "tello-1", OK: true}})
	problems, err := testutil.GatherAndLint(m.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestGrafanaDashboardQueriesExist: every metric the rendered Grafana dashboard queries is in a
// scrape of /metrics. The daemon, serving the lab cluster with a device, a lagging group and two
// reads (for the rates), exports all but the Kubernetes plane's; those are scraped from the same
// handler after a status read with a Kubernetes plane (the kube-apiserver test runs the daemon
// against a real API server).
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

	m := newWatchMetrics()
	newBoardMetrics(m.reg).observe(boardReport())
	srv := httptest.NewServer(m.handler())
	defer srv.Close()
	kube := scrape(t, srv.URL)

	names := regexp.MustCompile(`avatar_sync_[a-z_]+`)
	for _, q := range render.GrafanaQueries() {
		for _, name := range names.FindAllString(q, -1) {
			series := regexp.MustCompile(`(?m)^` + name + `[{ ]`)
			switch {
			case series.MatchString(daemon):
			case strings.HasPrefix(name, "avatar_sync_statefulset_") || name == "avatar_sync_kubernetes_drifting_fields":
				if !series.MatchString(kube) {
					t.Errorf("dashboard query %q: %s is not exported even with a Kubernetes plane", q, name)
				}
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
