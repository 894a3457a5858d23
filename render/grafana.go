package render

import (
	"encoding/json"
	"fmt"
)

// The Grafana dashboard for the watch daemon's /metrics (issue 24). `render` writes it as
// grafana/avatar-sync-dashboard.json (import it by hand) and, in each overlay whose target runs the
// in-cluster daemon, as a ConfigMap labelled grafana_dashboard: "1", which the Grafana Helm
// chart's sidecar (kube-prometheus-stack's default) loads. Every query uses only metrics the
// daemon exports: TestGrafanaDashboardQueriesExist checks them against a scrape.

const (
	// GrafanaDashboardFile is the dashboard's path in the rendered tree.
	GrafanaDashboardFile = "grafana/avatar-sync-dashboard.json"
	// GrafanaDashboardUID is the dashboard's stable uid (links to it survive re-imports).
	GrafanaDashboardUID = "avatar-sync-watch"
	grafanaConfigMap    = "avatar-sync-grafana-dashboard"
	// GrafanaSidecarLabel is the label the Grafana sidecar looks for on ConfigMaps.
	GrafanaSidecarLabel = "grafana_dashboard"
)

type panel struct {
	Title string
	Type  string // timeseries or stat
	Unit  string
	Exprs []query
}

type query struct{ Expr, Legend string }

// grafanaPanels answer the lab's questions in the page's order: is Kafka healthy, are the pods
// and devices up, is the prediction service keeping up, what does the traffic look like.
var grafanaPanels = []panel{
	{"Kafka healthy", "stat", "none", []query{{"avatar_sync_kafka_healthy", "{{cluster}}"}}},
	{"In sync with the spec", "stat", "none", []query{{"avatar_sync_in_sync", "in sync"}}},
	{"Brokers up", "stat", "none", []query{{"sum(avatar_sync_broker_up)", "up"}}},
	{"Devices answering", "stat", "none", []query{{"sum(avatar_sync_device_up)", "answering"}}},
	{"Consumer lag per group", "timeseries", "short", []query{{"avatar_sync_consumer_group_lag_messages", "{{group}}"}}},
	{"Messages in per topic", "timeseries", "short", []query{{"avatar_sync_topic_messages_in_per_second", "{{topic}}"}}},
	{"Bytes in per topic", "timeseries", "Bps", []query{{"avatar_sync_topic_bytes_in_per_second", "{{topic}}"}}},
	{"Topic size on disk", "timeseries", "bytes", []query{{"avatar_sync_topic_size_bytes", "{{topic}}"}}},
	{"Broker disk used", "timeseries", "bytes", []query{{"avatar_sync_broker_disk_used_bytes", "broker {{broker}}"}}},
	{"Leaders per broker", "timeseries", "short", []query{{"avatar_sync_broker_leader_partitions", "broker {{broker}}"}}},
	{"StatefulSets ready", "timeseries", "short", []query{
		{"avatar_sync_statefulset_ready_replicas", "{{statefulset}} ready"},
		{"avatar_sync_statefulset_desired_replicas", "{{statefulset}} desired"}}},
	{"Drifting Kubernetes fields", "timeseries", "short", []query{{"avatar_sync_kubernetes_drifting_fields", "fields"}}},
	{"Reconcile passes", "timeseries", "ops", []query{{"sum by (result) (rate(avatar_sync_reconcile_passes_total[5m]))", "{{result}}"}}},
	{"Pass duration (p90)", "timeseries", "s", []query{{"histogram_quantile(0.9, sum by (le) (rate(avatar_sync_reconcile_duration_seconds_bucket[5m])))", "p90"}}},
	{"Pending changes", "timeseries", "short", []query{{"avatar_sync_pending_changes", "pending"}}},
}

// GrafanaQueries lists every PromQL expression of the dashboard (for the test against a scrape).
func GrafanaQueries() []string {
	var out []string
	for _, p := range grafanaPanels {
		for _, q := range p.Exprs {
			out = append(out, q.Expr)
		}
	}
	return out
}

// GrafanaDashboard is the dashboard JSON (Grafana's dashboard model, schemaVersion 39), with a
// Prometheus data source variable so it imports into any Grafana.
func GrafanaDashboard() (string, error) {
	type target struct {
		RefID        string         `json:"refId"`
		Datasource   map[string]any `json:"datasource"`
		Expr         string         `json:"expr"`
		LegendFormat string         `json:"legendFormat"`
	}
	ds := map[string]any{"type": "prometheus", "uid": "${datasource}"}
	var panels []any
	x, y := 0, 0
	for i, p := range grafanaPanels {
		w, h := 12, 8
		if p.Type == "stat" {
			w, h = 6, 4
		}
		if x+w > 24 {
			x, y = 0, y+h
		}
		var targets []target
		for j, q := range p.Exprs {
			targets = append(targets, target{RefID: string(rune('A' + j)), Datasource: ds, Expr: q.Expr, LegendFormat: q.Legend})
		}
		panels = append(panels, map[string]any{
			"id": i + 1, "type": p.Type, "title": p.Title, "datasource": ds,
			"gridPos":     map[string]int{"x": x, "y": y, "w": w, "h": h},
			"fieldConfig": map[string]any{"defaults": map[string]any{"unit": p.Unit}, "overrides": []any{}},
			"targets":     targets,
		})
		x += w
		if x >= 24 {
			x, y = 0, y+h
		}
	}
	d := map[string]any{
		"uid": GrafanaDashboardUID, "title": "avatar-sync: Kafka, Kubernetes and devices",
		"tags": []string{"avatar-sync", "kafka"}, "timezone": "browser", "schemaVersion": 39, "version": 1,
		"refresh": "30s", "time": map[string]string{"from": "now-6h", "to": "now"},
		"templating": map[string]any{"list": []any{map[string]any{
			"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
		}}},
		"panels": panels,
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return "", fmt.Errorf("grafana dashboard: %w", err)
	}
	return string(b) + "\n", nil
}

// grafanaConfigMapDoc is the dashboard as a ConfigMap for the Grafana sidecar.
func (m *model) grafanaConfigMapDoc(dashboard string) (string, error) {
	labels := m.watchLabels()
	labels[GrafanaSidecarLabel] = "1"
	return yamlDocs(m.header("#"), omap{
		{"apiVersion", "v1"},
		{"kind", "ConfigMap"},
		{"metadata", omap{{"name", grafanaConfigMap}, {"labels", strMap(labels)}}},
		{"data", omap{{"avatar-sync.json", dashboard}}},
	})
}
