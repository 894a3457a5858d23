package main

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/avatar-project/avatar-sync/health"
	"github.com/avatar-project/avatar-sync/statuspage"
)

// boardMetrics export what the status page shows (issue 24), so Prometheus and the Grafana
// dashboard `render` writes keep the long history the page's last hour cannot: lag per group,
// throughput and size per topic, disk and leaders per broker, devices, StatefulSets.
type boardMetrics struct {
	kafkaHealthy *prometheus.GaugeVec
	lag          *prometheus.GaugeVec
	messagesIn   *prometheus.GaugeVec
	bytesIn      *prometheus.GaugeVec
	logEnd       *prometheus.GaugeVec
	topicSize    *prometheus.GaugeVec
	brokerUp     *prometheus.GaugeVec
	brokerDisk   *prometheus.GaugeVec
	leaders      *prometheus.GaugeVec
	deviceUp     *prometheus.GaugeVec
	stsReady     *prometheus.GaugeVec
	stsDesired   *prometheus.GaugeVec
	driftFields  prometheus.Gauge
}

func newBoardMetrics(reg *prometheus.Registry) *boardMetrics {
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	}
	m := &boardMetrics{
		kafkaHealthy: gauge("avatar_sync_kafka_healthy", "1 when the last status read found the cluster healthy (the status command's exit code 0).", "cluster"),
		lag:          gauge("avatar_sync_consumer_group_lag_messages", "Consumer lag of a group: log-end offset minus committed offset, summed over its partitions.", "group"),
		messagesIn:   gauge("avatar_sync_topic_messages_in_per_second", "Messages per second written to a managed topic, from log-end offsets between two reads.", "topic"),
		bytesIn:      gauge("avatar_sync_topic_bytes_in_per_second", "Bytes per second written to a managed topic (growth of its leaders' logs) between two reads.", "topic"),
		logEnd:       gauge("avatar_sync_topic_log_end_offset", "Sum of the log-end offsets of a managed topic's partitions (rate() of it is messages in).", "topic"),
		topicSize:    gauge("avatar_sync_topic_size_bytes", "Size on disk of a managed topic over all its replicas (DescribeLogDirs).", "topic"),
		brokerUp:     gauge("avatar_sync_broker_up", "1 when a broker is in the metadata and answers, 0 when missing or unreachable.", "broker"),
		brokerDisk:   gauge("avatar_sync_broker_disk_used_bytes", "Bytes of every replica a broker holds (DescribeLogDirs).", "broker"),
		leaders:      gauge("avatar_sync_broker_leader_partitions", "Managed partitions a broker leads.", "broker"),
		deviceUp:     gauge("avatar_sync_device_up", "1 when a device answered its last probe.", "device"),
		stsReady:     gauge("avatar_sync_statefulset_ready_replicas", "Ready replicas of a StatefulSet of the target's Kubernetes plane.", "statefulset"),
		stsDesired:   gauge("avatar_sync_statefulset_desired_replicas", "Desired replicas of a StatefulSet of the target's Kubernetes plane.", "statefulset"),
		driftFields:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "avatar_sync_kubernetes_drifting_fields", Help: "Fields of Kubernetes objects that differ from the plan at the last status read."}),
	}
	reg.MustRegister(m.kafkaHealthy, m.lag, m.messagesIn, m.bytesIn, m.logEnd, m.topicSize, m.brokerUp, m.brokerDisk, m.leaders,
		m.deviceUp, m.stsReady, m.stsDesired, m.driftFields)
	return m
}

// observe replaces the series with one status read's: a group or topic gone from the cluster
// drops out instead of keeping its last value.
func (m *boardMetrics) observe(r health.Report) {
	for _, v := range []*prometheus.GaugeVec{m.kafkaHealthy, m.lag, m.messagesIn, m.bytesIn, m.logEnd, m.topicSize, m.brokerUp, m.brokerDisk, m.leaders, m.stsReady, m.stsDesired} {
		v.Reset()
	}
	m.kafkaHealthy.WithLabelValues(r.Cluster).Set(boolGauge(r.Healthy))
	for _, g := range r.Groups {
		m.lag.WithLabelValues(g.Name).Set(float64(g.Lag))
	}
	for _, t := range r.Topics {
		if t.Missing {
			continue
		}
		if t.MessagesPerSec != nil {
			m.messagesIn.WithLabelValues(t.Name).Set(*t.MessagesPerSec)
		}
		if t.BytesPerSec != nil {
			m.bytesIn.WithLabelValues(t.Name).Set(*t.BytesPerSec)
		}
		if t.LogEnd >= 0 {
			m.logEnd.WithLabelValues(t.Name).Set(float64(t.LogEnd))
		}
		if t.SizeBytes >= 0 {
			m.topicSize.WithLabelValues(t.Name).Set(float64(t.SizeBytes))
		}
	}
	for _, b := range r.Brokers {
		id := fmt.Sprint(b.ID)
		m.brokerUp.WithLabelValues(id).Set(boolGauge(b.State == "up" || b.State == "unexpected"))
		m.leaders.WithLabelValues(id).Set(float64(b.Leaders))
		if b.DiskUsedBytes >= 0 {
			m.brokerDisk.WithLabelValues(id).Set(float64(b.DiskUsedBytes))
		}
	}
	m.driftFields.Set(0)
	if k := r.Kubernetes; k != nil {
		for _, s := range k.StatefulSets {
			m.stsReady.WithLabelValues(s.Name).Set(float64(s.Ready))
			m.stsDesired.WithLabelValues(s.Name).Set(float64(s.Desired))
		}
		m.driftFields.Set(float64(len(k.Drift)))
	}
}

// observeDevices records one device check.
func (m *boardMetrics) observeDevices(rows []statuspage.Device) {
	m.deviceUp.Reset()
	for _, d := range rows {
		m.deviceUp.WithLabelValues(d.Name).Set(boolGauge(d.OK))
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
