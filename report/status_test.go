package report

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/avatar-project/avatar-sync/health"
)

// statusFixture is an unhealthy cluster: broker 3 missing, one partition under min ISR, one group
// lagging with a rate, and pending changes.
func statusFixture() health.Report {
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	snap := health.Snapshot{
		ClusterID: "lab-cluster-id", Controller: 1,
		Brokers: []health.BrokerState{{ID: 1, Host: "kafka-broker-1", Port: 9092, Rack: "lab-a", Reachable: true, DiskUsed: 3 << 20}, {ID: 2, Host: "kafka-broker-2", Port: 9093, Rack: "lab-b", Reachable: true, DiskUsed: -1}},
		Topics: map[string]health.TopicState{"eeg-brainwave-data": {Name: "eeg-brainwave-data", MinISR: 2, RetentionMs: 7 * 24 * 3600 * 1000, RetentionBytes: -1, Partitions: []health.PartitionState{
			{ID: 0, Leader: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}, LogEnd: 120, Sizes: map[int32]int64{1: 12000, 2: 12000, 3: 11000}},
			{ID: 1, Leader: 1, Replicas: []int32{2, 3, 1}, ISR: []int32{1}, LogEnd: 80, Sizes: map[int32]int64{1: 8000, 2: 8000, 3: 8000}},
		}}},
		Groups: []health.GroupState{{Name: "prediction", State: "Stable", Members: 2, Committed: map[string]map[int32]int64{"eeg-brainwave-data": {0: 100, 1: 80}}}},
	}
	exp := health.Expectation{Cluster: "microk8s", Topics: []string{"eeg-brainwave-data", "drone-commands"}, Brokers: []health.ExpectedBroker{
		{ID: 1, Name: "broker 1 (kafka-broker-1)"}, {ID: 2, Name: "broker 2 (kafka-broker-2)"}, {ID: 3, Name: "broker 3 (kafka-broker-3)"}}}
	prev := health.Assess(snap, exp, at.Add(-5*time.Second))
	prev.Groups[0].Lag = 10
	prev.Topics[0].LogEnd -= 50     // 10 messages/s in
	prev.Topics[0].LogBytes -= 5120 // 1 KiB/s in
	r := health.WithRates(prev, health.Assess(snap, exp, at))
	r.Spec = &health.SpecAgreement{PendingChanges: 1}
	r.Kubernetes = &health.KubeReport{Namespace: "avatar", Mode: "report",
		StatefulSets: []health.StatefulSetState{
			{Name: "kafka-broker-1", Ready: 1, Desired: 1, Updated: 1, Images: []string{"apache/kafka:3.9.0"}},
			{Name: "kafka-broker-2", Ready: 0, Desired: 1, Updated: 0, Images: []string{"apache/kafka:3.8.0"}, Rollout: true}},
		Drift: []health.ObjectDrift{{Kind: "StatefulSet", Name: "kafka-broker-2", Field: "spec.template.spec.containers[0].image",
			Live: "apache/kafka:3.8.0", Wanted: "apache/kafka:3.9.0", Action: "update"}}}
	return r
}

func probeFixture() health.ProbeReport {
	return health.ProbeReport{Version: 1, Cluster: "microk8s", Group: "avatar-sync-verify-lab-0123456789ab", GroupDeleted: true, Results: []health.ProbeResult{
		{Topic: "eeg-brainwave-data", Partition: 0, Offset: 120, Produce: 3 * time.Millisecond, RoundTrip: 9 * time.Millisecond},
		{Topic: "drone-commands", Partition: 0, Offset: 7, Produce: 3 * time.Millisecond, RoundTrip: 5 * time.Millisecond},
		{Topic: "eeg-brainwave-data", Partition: 1, Offset: -1, Error: "produce: kafka server: Messages are rejected since there are fewer in-sync replicas than required"},
	}}.Finish()
}

func TestStatusAndVerifyGolden(t *testing.T) {
	renders := map[string]func(io.Writer) error{
		"status.txt":  func(w io.Writer) error { return RenderStatusText(w, statusFixture(), false) },
		"status.json": func(w io.Writer) error { return RenderStatusJSON(w, statusFixture()) },
		"verify.txt":  func(w io.Writer) error { return RenderProbeText(w, probeFixture(), false) },
		"verify.json": func(w io.Writer) error { return RenderProbeJSON(w, probeFixture()) },
	}
	for name, render := range renders {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := render(&buf); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./report -update)", err)
			}
			if d := cmp.Diff(string(want), buf.String()); d != "" {
				t.Errorf("%s differs (-golden +got); run with -update if intended:\n%s", golden, d)
			}
		})
	}
}

// TestFleetStatusViews: status --cluster a,b in text is each target's screen in order, and in JSON
// one document that is unhealthy when any target is (the views moved out of cmd, issue 20).
func TestFleetStatusViews(t *testing.T) {
	sick := statusFixture()
	well := health.Report{Cluster: "dev", ClusterID: "dev-id", Healthy: true}
	reports := []health.Report{well, sick}
	if FleetHealthy(reports) || !FleetHealthy(reports[:1]) {
		t.Errorf("FleetHealthy: %v for both, %v for the healthy one alone", FleetHealthy(reports), FleetHealthy(reports[:1]))
	}
	var text, one bytes.Buffer
	if err := RenderFleetStatusText(&text, reports, false); err != nil {
		t.Fatal(err)
	}
	if err := RenderStatusText(&one, sick, false); err != nil {
		t.Fatal(err)
	}
	devAt, labAt := bytes.Index(text.Bytes(), []byte(`Cluster "dev"`)), bytes.Index(text.Bytes(), []byte(`Cluster "microk8s"`))
	if devAt != 0 || labAt < 0 || !bytes.HasSuffix(text.Bytes(), append([]byte("\n"), one.Bytes()...)) {
		t.Errorf("fleet text: each target's screen in order, a blank line between:\n%s", text.String())
	}
	var js bytes.Buffer
	if err := RenderFleetStatusJSON(&js, reports); err != nil {
		t.Fatal(err)
	}
	var doc FleetStatusDoc
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != health.ReportVersion || doc.Healthy || len(doc.Targets) != 2 || doc.Targets[0].Cluster != "dev" || doc.Targets[1].Cluster != "microk8s" {
		t.Errorf("fleet JSON: %s", js.String())
	}
}
