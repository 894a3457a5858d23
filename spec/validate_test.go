package spec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestValidateInMemory runs the whole-spec checks on a spec built in Go, as other packages' tests do:
// the same messages as from a file, anchored at the Pos fields the spec has (none here).
func TestValidateInMemory(t *testing.T) {
	s := &Spec{
		APIVersion: APIVersion, Kind: Kind, Metadata: Metadata{Name: "lab"},
		Brokers: []Broker{
			{ID: 1, Host: "b1", Ports: BrokerPorts{Plaintext: 9092}, Pos: Pos{File: "mem.yaml", Line: 5, Col: 3}},
			{ID: 1, Host: "b2", Ports: BrokerPorts{Plaintext: 9093}},
		},
		TLS: TLS{Enabled: true, KeystoreType: KeystorePKCS12, Validity: 0},
		Topics: []Topic{
			{Name: "eeg", Partitions: 3, ReplicationFactor: 3, Config: map[string]string{"retention.ms": "7 days"}},
			{Name: "ok", Partitions: 1, ReplicationFactor: 1, Config: map[string]string{"retention.ms": "3600000"}},
		},
		Clusters: []Cluster{{Name: "embedded"}},
	}
	var got []string
	for _, d := range Validate(s) {
		got = append(got, d.String())
	}
	want := []string{
		"brokers[1].id 1 is already the id of brokers[0]",
		"tls needs passwordEnv or passwordFile for the PKCS12 keystore password (the password itself never goes in avatar.yaml)",
		"tls.enabled is true but no broker has ports.ssl; add an SSL port to the brokers",
		"tls.validity must be longer than 0",
		"topics[0].replicationFactor 3 exceeds the 2 brokers",
		`topics[0].config.retention.ms: "7 days" is not a duration (milliseconds, or e.g. 90s, 10m, 1h, 7d, forever)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Validate (-want +got):\n%s", diff)
	}
	if len(Validate(&Spec{Brokers: []Broker{{ID: 1, Host: "b", Ports: BrokerPorts{Plaintext: 1}}}})) != 0 {
		t.Errorf("a minimal spec built in Go should pass")
	}
}

// TestPortsAreUniquePerHost: brokers on different machines may share port numbers, as an imported
// multi-host cluster does (issue 15); one broker's listeners may not.
func TestPortsAreUniquePerHost(t *testing.T) {
	multiHost := &Spec{Brokers: []Broker{
		{ID: 1, Host: "kafka-1.lab", Ports: BrokerPorts{Plaintext: 9092, Internal: 9091}},
		{ID: 2, Host: "kafka-2.lab", Ports: BrokerPorts{Plaintext: 9092, Internal: 9091}},
		{ID: 3, Host: "KAFKA-3.lab", Ports: BrokerPorts{Plaintext: 9092, Internal: 9091}},
	}}
	if diags := Validate(multiHost); len(diags) != 0 {
		t.Errorf("brokers on three hosts sharing 9092: %v", diags)
	}
	oneBroker := &Spec{Brokers: []Broker{{ID: 1, Host: "b", Ports: BrokerPorts{Plaintext: 9092, Internal: 9092}}}}
	var got []string
	for _, d := range Validate(oneBroker) {
		got = append(got, d.String())
	}
	want := []string{"brokers[0].ports.internal 9092 is already used by brokers[0].ports.plaintext; every listener needs its own port"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("one broker, one port twice (-want +got):\n%s", diff)
	}
}

// BenchmarkParseExample measures loading the example (kept out of make test; run make bench).
func BenchmarkParseExample(b *testing.B) {
	data := []byte(exampleForBench)
	for b.Loop() {
		if _, diags := Parse("avatar.yaml", data); len(diags) > 0 {
			b.Fatal(diags)
		}
	}
}

const exampleForBench = `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar, namespace: avatar }
kafka: { image: apache/kafka:3.9.0 }
brokers:
  - { id: 1, host: kafka-broker-1, rack: lab-a, ports: { plaintext: 9092, ssl: 9192, internal: 29092 } }
  - { id: 2, host: kafka-broker-2, rack: lab-b, ports: { plaintext: 9093, ssl: 9193, internal: 29093 } }
  - { id: 3, host: kafka-broker-3, rack: lab-c, ports: { plaintext: 9094, ssl: 9194, internal: 29094 } }
tls: { enabled: true, dir: ssl-certs, keystoreType: PKCS12, passwordEnv: AVATAR_KEYSTORE_PASSWORD, validity: 825d, renewBefore: 30d }
topicDefaults: { partitions: 3, replicationFactor: 3, config: { min.insync.replicas: 2 } }
topics:
  - { name: eeg-brainwave-data, retention: 1h, config: { segment.ms: 10m } }
  - { name: prediction-results, retention: 6h }
  - { name: drone-commands, retention: 24h }
clusters:
  embedded: {}
  dev: { bootstrap: [localhost:9092, localhost:9093, localhost:9094] }
devices:
  - { name: openbci-headset, kind: openbci-wifi, address: 192.168.4.1:80, required: true }
  - { name: tello-1, kind: tello, address: 192.168.10.1:8889 }
`

// manyTopicsSpec is exampleForBench's header with n topics, two lines each (the 20,000-line spec of
// issue 9 at n = 10,000).
func manyTopicsSpec(n int) []byte {
	var b strings.Builder
	b.WriteString(exampleForBench[:strings.Index(exampleForBench, "topics:\n")])
	b.WriteString("topics:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: avatar.topic-%05d\n    config: { retention.ms: 7d }\n", i)
	}
	return []byte(b.String())
}

// BenchmarkParseTopics measures loading and validating a spec of many topics, the part of a no-op
// plan that is spec's (issue 9).
func BenchmarkParseTopics(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		data := manyTopicsSpec(n)
		b.Run(fmt.Sprintf("topics=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if s, diags := Parse("avatar.yaml", data); s == nil || len(s.Topics) != n {
					b.Fatal(diags)
				}
			}
		})
	}
}
