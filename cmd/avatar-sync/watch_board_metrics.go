package main

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/avatar-project/avatar-sync/health"
	"github.com/avatar-project/avatar-sync/statuspage"
)

// boardMetrics export what the status page shows (issue 24), so Prometheus and the Grafana
// dashboard `render` writes keep the long history the page's last hour cannot: lag per group,
// throughput and size per topic, disk and leaders per broker, devices, StatefulSets. It is a
// collector over the last status read and device check: a scrape sees one read whole (never a
// half-updated set of series), and a group or topic gone from the cluster drops out.
type boardMetrics struct {
	mu      sync.Mutex
	report  *health.Report
	devices []statuspage.Device
}

var (
	boardKafkaHealthy = prometheus.NewDesc("avatar_sync_kafka_healthy", "1 when the last status read found the cluster healthy (the status command's exit code 0).", []string{"cluster"}, nil)
	boardLag          = prometheus.NewDesc("avatar_sync_consumer_group_lag_messages", "Consumer lag of a group: log-end offset minus committed offset, summed over its partitions.", []string{"group"}, nil)
	boardMessagesIn   = prometheus.NewDesc("avatar_sync_topic_messages_in_per_second", "Messages per second written to a managed topic, from log-end offsets between two reads.", []string{"topic"}, nil)
	boardBytesIn      = prometheus.NewDesc("avatar_sync_topic_bytes_in_per_second", "Bytes per second written to a managed topic (growth of its leaders' logs) between two reads.", []string{"topic"}, nil)
	boardLogEnd       = prometheus.NewDesc("avatar_sync_topic_log_end_offset", "Sum of the log-end offsets of a managed topic's partitions (rate() of it is messages in).", []string{"topic"}, nil)
	boardTopicSize    = prometheus.NewDesc("avatar_sync_topic_size_bytes", "Size on disk of a managed topic over all its replicas (DescribeLogDirs).", []string{"topic"}, nil)
	boardBrokerUp     = prometheus.NewDesc("avatar_sync_broker_up", "1 when a broker is in the metadata and answers, 0 when missing or unreachable.", []string{"broker"}, nil)
	boardBrokerDisk   = prometheus.NewDesc("avatar_sync_broker_disk_used_bytes", "Bytes of every replica a broker holds (DescribeLogDirs).", []string{"broker"}, nil)
	boardLeaders      = prometheus.NewDesc("avatar_sync_broker_leader_partitions", "Managed partitions a broker leads.", []string{"broker"}, nil)
	boardDeviceUp     = prometheus.NewDesc("avatar_sync_device_up", "1 when a device answered its last probe.", []string{"device"}, nil)
	boardStsReady     = prometheus.NewDesc("avatar_sync_statefulset_ready_replicas", "Ready replicas of a StatefulSet of the target's Kubernetes plane.", []string{"statefulset"}, nil)
	boardStsDesired   = prometheus.NewDesc("avatar_sync_statefulset_desired_replicas", "Desired replicas of a StatefulSet of the target's Kubernetes plane.", []string{"statefulset"}, nil)
	boardDriftFields  = prometheus.NewDesc("avatar_sync_kubernetes_drifting_fields", "Fields of Kubernetes objects that differ from the plan at the last status read.", nil, nil)
)

func newBoardMetrics(reg *prometheus.Registry) *boardMetrics {
	m := &boardMetrics{}
	reg.MustRegister(m)
	return m
}

// observe keeps one status read for the next scrapes.
func (m *boardMetrics) observe(r health.Report) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.report = &r
}

// observeDevices keeps one device check.
func (m *boardMetrics) observeDevices(rows []statuspage.Device) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.devices = rows
}

// Describe implements prometheus.Collector.
func (m *boardMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{boardKafkaHealthy, boardLag, boardMessagesIn, boardBytesIn, boardLogEnd, boardTopicSize,
		boardBrokerUp, boardBrokerDisk, boardLeaders, boardDeviceUp, boardStsReady, boardStsDesired, boardDriftFields} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the series of the last read and device check.
func (m *boardMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	r, devices := m.report, m.devices
	m.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, d := range devices {
		gauge(boardDeviceUp, boolGauge(d.OK), d.Name)
	}
	if r == nil {
		return
	}
	gauge(boardKafkaHealthy, boolGauge(r.Healthy), r.Cluster)
	for _, g := range r.Groups {
		gauge(boardLag, float64(g.Lag), g.Name)
	}
	for _, t := range r.Topics {
		if t.Missing {
			continue
		}
		if t.MessagesPerSec != nil {
			gauge(boardMessagesIn, *t.MessagesPerSec, t.Name)
		}
		if t.BytesPerSec != nil {
			gauge(boardBytesIn, *t.BytesPerSec, t.Name)
		}
		if t.LogEnd >= 0 {
			gauge(boardLogEnd, float64(t.LogEnd), t.Name)
		}
		if t.SizeBytes >= 0 {
			gauge(boardTopicSize, float64(t.SizeBytes), t.Name)
		}
	}
	for _, b := range r.Brokers {
		id := fmt.Sprint(b.ID)
		gauge(boardBrokerUp, boolGauge(b.State == "up" || b.State == "unexpected"), id)
		gauge(boardLeaders, float64(b.Leaders), id)
		if b.DiskUsedBytes >= 0 {
			gauge(boardBrokerDisk, float64(b.DiskUsedBytes), id)
		}
	}
	if k := r.Kubernetes; k != nil {
		for _, s := range k.StatefulSets {
			gauge(boardStsReady, float64(s.Ready), s.Name)
			gauge(boardStsDesired, float64(s.Desired), s.Name)
		}
		gauge(boardDriftFields, float64(len(k.Drift)))
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
