package daemon

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
// collector over each target's last status read and device check: a scrape sees one read whole
// (never a half-updated set of series), and a group or topic gone from the cluster drops out. In
// a fleet every series also has the target's cluster label.
type boardMetrics struct {
	fleet bool
	descs boardDescs

	mu      sync.Mutex
	order   []string // targets in the order first observed
	reports map[string]*health.Report
	devices map[string][]statuspage.Device
}

type boardDescs struct {
	kafkaHealthy, lag, messagesIn, bytesIn, logEnd, topicSize, brokerUp, brokerDisk, leaders,
	deviceUp, stsReady, stsDesired, driftFields *prometheus.Desc
}

func newBoardMetrics(reg *prometheus.Registry, fleet bool) *boardMetrics {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, targetLabels(fleet, labels...), nil)
	}
	m := &boardMetrics{fleet: fleet, reports: map[string]*health.Report{}, devices: map[string][]statuspage.Device{}}
	m.descs = boardDescs{
		// avatar_sync_kafka_healthy always had the target's name as its cluster label.
		kafkaHealthy: prometheus.NewDesc("avatar_sync_kafka_healthy", "1 when the last status read found the cluster healthy (the status command's exit code 0).", []string{"cluster"}, nil),
		lag:          desc("avatar_sync_consumer_group_lag_messages", "Consumer lag of a group: log-end offset minus committed offset, summed over its partitions.", "group"),
		messagesIn:   desc("avatar_sync_topic_messages_in_per_second", "Messages per second written to a managed topic, from log-end offsets between two reads.", "topic"),
		bytesIn:      desc("avatar_sync_topic_bytes_in_per_second", "Bytes per second written to a managed topic (growth of its leaders' logs) between two reads.", "topic"),
		logEnd:       desc("avatar_sync_topic_log_end_offset", "Sum of the log-end offsets of a managed topic's partitions (rate() of it is messages in).", "topic"),
		topicSize:    desc("avatar_sync_topic_size_bytes", "Size on disk of a managed topic over all its replicas (DescribeLogDirs).", "topic"),
		brokerUp:     desc("avatar_sync_broker_up", "1 when a broker is in the metadata and answers, 0 when missing or unreachable.", "broker"),
		brokerDisk:   desc("avatar_sync_broker_disk_used_bytes", "Bytes of every replica a broker holds (DescribeLogDirs).", "broker"),
		leaders:      desc("avatar_sync_broker_leader_partitions", "Managed partitions a broker leads.", "broker"),
		deviceUp:     desc("avatar_sync_device_up", "1 when a device answered its last probe.", "device"),
		stsReady:     desc("avatar_sync_statefulset_ready_replicas", "Ready replicas of a StatefulSet of the target's Kubernetes plane.", "statefulset"),
		stsDesired:   desc("avatar_sync_statefulset_desired_replicas", "Desired replicas of a StatefulSet of the target's Kubernetes plane.", "statefulset"),
		driftFields:  desc("avatar_sync_kubernetes_drifting_fields", "Fields of Kubernetes objects that differ from the plan at the last status read."),
	}
	reg.MustRegister(m)
	return m
}

func (m *boardMetrics) seen(name string) {
	if _, ok := m.reports[name]; !ok {
		if _, ok := m.devices[name]; !ok {
			m.order = append(m.order, name)
		}
	}
}

// observe keeps a target's status read for the next scrapes.
func (m *boardMetrics) observe(name string, r health.Report) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen(name)
	m.reports[name] = &r
}

// observeDevices keeps a target's device check.
func (m *boardMetrics) observeDevices(name string, rows []statuspage.Device) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen(name)
	m.devices[name] = rows
}

// Describe implements prometheus.Collector.
func (m *boardMetrics) Describe(ch chan<- *prometheus.Desc) {
	d := m.descs
	for _, x := range []*prometheus.Desc{d.kafkaHealthy, d.lag, d.messagesIn, d.bytesIn, d.logEnd, d.topicSize,
		d.brokerUp, d.brokerDisk, d.leaders, d.deviceUp, d.stsReady, d.stsDesired, d.driftFields} {
		ch <- x
	}
}

// Collect implements prometheus.Collector: the series of each target's last read and device check.
func (m *boardMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	order := append([]string(nil), m.order...)
	reports, devices := map[string]*health.Report{}, map[string][]statuspage.Device{}
	for k, v := range m.reports {
		reports[k] = v
	}
	for k, v := range m.devices {
		devices[k] = v
	}
	m.mu.Unlock()
	for _, name := range order {
		m.collect(ch, name, reports[name], devices[name])
	}
}

func (m *boardMetrics) collect(ch chan<- prometheus.Metric, name string, r *health.Report, devices []statuspage.Device) {
	d := m.descs
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		if m.fleet && desc != d.kafkaHealthy {
			labels = append(labels, name)
		}
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	for _, dev := range devices {
		gauge(d.deviceUp, boolGauge(dev.OK), dev.Name)
	}
	if r == nil {
		return
	}
	gauge(d.kafkaHealthy, boolGauge(r.Healthy), r.Cluster)
	for _, g := range r.Groups {
		gauge(d.lag, float64(g.Lag), g.Name)
	}
	for _, t := range r.Topics {
		if t.Missing {
			continue
		}
		if t.MessagesPerSec != nil {
			gauge(d.messagesIn, *t.MessagesPerSec, t.Name)
		}
		if t.BytesPerSec != nil {
			gauge(d.bytesIn, *t.BytesPerSec, t.Name)
		}
		if t.LogEnd >= 0 {
			gauge(d.logEnd, float64(t.LogEnd), t.Name)
		}
		if t.SizeBytes >= 0 {
			gauge(d.topicSize, float64(t.SizeBytes), t.Name)
		}
	}
	for _, b := range r.Brokers {
		id := fmt.Sprint(b.ID)
		gauge(d.brokerUp, boolGauge(b.State == "up" || b.State == "unexpected"), id)
		gauge(d.leaders, float64(b.Leaders), id)
		if b.DiskUsedBytes >= 0 {
			gauge(d.brokerDisk, float64(b.DiskUsedBytes), id)
		}
	}
	if k := r.Kubernetes; k != nil {
		for _, s := range k.StatefulSets {
			gauge(d.stsReady, float64(s.Ready), s.Name)
			gauge(d.stsDesired, float64(s.Desired), s.Name)
		}
		gauge(d.driftFields, float64(len(k.Drift)))
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
