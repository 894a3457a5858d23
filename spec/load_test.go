package spec

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestExampleLoadsClean pins what examples/avatar.yaml means once loaded: defaults merged into every
// topic, units converted to Kafka's, clusters in file order plus nothing implicit (embedded is
// declared), positions filled in.
func TestExampleLoadsClean(t *testing.T) {
	s, diags := LoadFile("../examples/avatar.yaml")
	if len(diags) > 0 {
		t.Fatalf("example has diagnostics:\n%v", diags)
	}
	if s.APIVersion != APIVersion || s.Kind != Kind || s.Metadata.Name != "avatar" || s.Metadata.Namespace != "avatar" {
		t.Errorf("header: %+v %+v", s.APIVersion, s.Metadata)
	}
	if s.Kafka.Image != "apache/kafka:3.9.0" {
		t.Errorf("kafka.image = %q", s.Kafka.Image)
	}
	wantBrokers := []Broker{
		{ID: 1, Host: "kafka-broker-1", Rack: "lab-a", Ports: BrokerPorts{Plaintext: 9092, SSL: 9192, Internal: 29092}},
		{ID: 2, Host: "kafka-broker-2", Rack: "lab-b", Ports: BrokerPorts{Plaintext: 9093, SSL: 9193, Internal: 29093}},
		{ID: 3, Host: "kafka-broker-3", Rack: "lab-c", Ports: BrokerPorts{Plaintext: 9094, SSL: 9194, Internal: 29094}},
	}
	ignorePos := cmp.FilterPath(func(p cmp.Path) bool {
		f, ok := p.Last().(cmp.StructField)
		return ok && (f.Name() == "Pos" || f.Name() == "ConfigPos" || f.Name() == "ParamsPos")
	}, cmp.Ignore())
	if diff := cmp.Diff(wantBrokers, s.Brokers, ignorePos); diff != "" {
		t.Errorf("brokers (-want +got):\n%s", diff)
	}
	if s.Brokers[1].Pos.Line != 12 || s.Brokers[1].Pos.File != "../examples/avatar.yaml" {
		t.Errorf("brokers[1].Pos = %v", s.Brokers[1].Pos)
	}
	wantTLS := TLS{Enabled: true, Dir: "ssl-certs", KeystoreType: KeystorePKCS12, PasswordEnv: "AVATAR_KEYSTORE_PASSWORD",
		Validity: 825 * 24 * time.Hour, RenewBefore: 30 * 24 * time.Hour}
	if diff := cmp.Diff(wantTLS, s.TLS, ignorePos); diff != "" {
		t.Errorf("tls (-want +got):\n%s", diff)
	}
	wantTopics := []Topic{
		{Name: "eeg-brainwave-data", Partitions: 3, ReplicationFactor: 3,
			Config: map[string]string{"min.insync.replicas": "2", "retention.ms": "3600000", "segment.ms": "600000"}},
		{Name: "prediction-results", Partitions: 3, ReplicationFactor: 3,
			Config: map[string]string{"min.insync.replicas": "2", "retention.ms": "21600000"}},
		{Name: "drone-commands", Partitions: 3, ReplicationFactor: 3,
			Config: map[string]string{"min.insync.replicas": "2", "retention.ms": "86400000"}},
	}
	if diff := cmp.Diff(wantTopics, s.Topics, ignorePos); diff != "" {
		t.Errorf("topics (-want +got):\n%s", diff)
	}
	// Each config value points at where it was written: the topic's own line, or topicDefaults.
	if p := s.Topics[0].ConfigPos["segment.ms"]; p.Line != 18 {
		t.Errorf("segment.ms written at %v, want line 18", p)
	}
	if p := s.Topics[2].ConfigPos["min.insync.replicas"]; p.Line != 15 {
		t.Errorf("min.insync.replicas (from topicDefaults) at %v, want line 15", p)
	}
	var names []string
	for _, c := range s.Clusters {
		names = append(names, c.Name)
	}
	if diff := cmp.Diff([]string{"embedded", "dev", "microk8s"}, names); diff != "" {
		t.Errorf("cluster order (-want +got):\n%s", diff)
	}
	mk, _ := s.FindCluster("microk8s")
	if mk.Security != SecuritySSL || mk.Kubernetes == nil || mk.Kubernetes.Context != "microk8s" || len(mk.Bootstrap) != 3 {
		t.Errorf("microk8s = %+v", mk)
	}
	if emb, _ := s.FindCluster("embedded"); !emb.Embedded() {
		t.Errorf("embedded cluster has bootstrap %v", emb.Bootstrap)
	}
	if len(s.Devices) != 2 || s.Devices[0].Address != "192.168.4.1:80" || !s.Devices[0].Required || s.Devices[1].Kind != "tello" {
		t.Errorf("devices = %+v", s.Devices)
	}
	if s.Deletion != DeletionRetain {
		t.Errorf("deletion = %q, want the default %q", s.Deletion, DeletionRetain)
	}
}
