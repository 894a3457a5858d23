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

// TestTopicAllocations bounds what decoding and validating one more topic allocates, yaml.v3's node
// tree aside: positions live in the topic's nodes and paths are built only for messages (issue 23:
// 31–33 allocations per topic before, most of them path strings and map entries; 9–10 after).
func TestTopicAllocations(t *testing.T) {
	for name, spec := range map[string]func(int) []byte{"config": manyTopicsSpec, "retention": retentionTopicsSpec} {
		t.Run(name, func(t *testing.T) {
			decodeAllocs := func(n int) float64 {
				data := spec(n)
				root := newDecoder("avatar.yaml", len(data)).parseYAML(data)
				if root == nil {
					t.Fatal("the spec does not parse")
				}
				return testing.AllocsPerRun(3, func() {
					d := newDecoder("avatar.yaml", len(data))
					if s, diags, _ := d.decode(root, "", "."); s == nil || len(s.Topics) != n || len(diags.Errors()) > 0 {
						t.Fatal(diags)
					}
				})
			}
			perTopic := (decodeAllocs(2000) - decodeAllocs(1000)) / 1000
			t.Logf("%.1f allocations per topic", perTopic)
			if perTopic > 12 {
				t.Errorf("decoding and validating a topic allocates %.1f times, want at most 12", perTopic)
			}
		})
	}
}

// retentionTopicsSpec is manyTopicsSpec with each topic's retention written as retention: (the spec
// of `make bench-cli`).
func retentionTopicsSpec(n int) []byte {
	var b strings.Builder
	b.WriteString(exampleForBench[:strings.Index(exampleForBench, "topics:\n")])
	b.WriteString("topics:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: avatar.topic-%05d\n    retention: 7d\n", i)
	}
	return []byte(b.String())
}

// TestTopicPositions: the decoder answers paths into the topics list from each topic's nodes (issue
// 23) exactly as it did from a map of every path: a key the topic writes is where it is written, one
// it leaves to topicDefaults is where topicDefaults sets it (inherited), anything else falls back to
// the nearest enclosing key the topic writes.
func TestTopicPositions(t *testing.T) {
	const file = `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar, namespace: avatar }
brokers:
  - { id: 1, host: b1, ports: { plaintext: 9092 } }
topicDefaults:
  partitions: 3
  replicationFactor: 1
  config: { cleanup.policy: delete }
topics:
  - name: a
    retention: 7d
  - name: b
    partitions: 2
    config:
      segment.ms: 1h
`
	_, diags, d := parse("avatar.yaml", []byte(file))
	if len(diags) != 0 {
		t.Fatal(diags)
	}
	type want struct {
		line, col          int
		written, inherited bool
	}
	for path, w := range map[string]want{
		"topics[0]":                            {11, 5, true, false},
		"topics[0].name":                       {11, 5, true, false},
		"topics[0].config.retention.ms":        {12, 16, true, false},
		"topics[0].partitions":                 {7, 3, true, true},
		"topics[0].config.cleanup.policy":      {9, 13, true, true},
		"topics[0].config.segment.ms":          {11, 5, false, false},
		"topics[1].partitions":                 {14, 5, true, false},
		"topics[1].replicationFactor":          {8, 3, true, true},
		"topics[1].config.segment.ms":          {16, 7, true, false},
		"topics[1].config.min.insync.replicas": {15, 5, false, false},
		"topics[1].prune":                      {13, 5, false, false},
		"topics[7]":                            {10, 1, false, false},
		"topics[7].name":                       {10, 1, false, false},
		"topicDefaults.partitions":             {7, 3, true, false},
	} {
		l := d.at(path)
		got := want{l.pos.Line, l.pos.Col, l.written, l.inherited}
		if got != w || l.bad || l.pos.File != "avatar.yaml" {
			t.Errorf("at(%q) = %+v (bad %v, file %q), want %+v", path, got, l.bad, l.pos.File, w)
		}
		if i, key, ok := d.topicPath(path); ok && d.topicAt(i, key) != l {
			t.Errorf("topicAt(%d, %q) = %+v, at(%q) = %+v", i, key, d.topicAt(i, key), path, l)
		}
	}
}

// TestTopicNameRepeats: a repeated topic name is an error naming the first, a name whose metric name
// ('.' as '_') is taken is a warning naming the topic that took it; a repeat of such a name is a
// repeat of it, not a second clash (issue 23 keeps one map for both).
func TestTopicNameRepeats(t *testing.T) {
	var b strings.Builder
	b.WriteString(exampleForBench[:strings.Index(exampleForBench, "topics:\n")])
	b.WriteString("topics:\n")
	for _, name := range []string{"eeg.raw", "eeg_raw", "eeg_raw", "eeg.raw", "eeg-raw", "__x"} {
		fmt.Fprintf(&b, "  - name: %s\n", name)
	}
	_, diags := ParsePartial("avatar.yaml", []byte(b.String()))
	var got []string
	for _, d := range diags {
		got = append(got, d.String())
	}
	want := []string{
		`avatar.yaml:13:5: warning: topics[1].name "eeg_raw" collides with "eeg.raw" (topics[0]): Kafka's metric names replace '.' with '_'`,
		`avatar.yaml:14:5: topics[2].name "eeg_raw" is already declared by topics[1] (line 13)`,
		`avatar.yaml:15:5: topics[3].name "eeg.raw" is already declared by topics[0] (line 12)`,
		`avatar.yaml:17:5: warning: topics[5].name "__x" starts with "__", which Kafka uses for its internal topics`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
}
