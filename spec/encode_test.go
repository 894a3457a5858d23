package spec

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"gopkg.in/yaml.v3"
)

// TestEncodeRoundTrip: Encode writes what Parse reads back to the same Spec, for the example and
// the fullest valid spec (every key set) — import and config --cluster rely on it (issue 15).
func TestEncodeRoundTrip(t *testing.T) {
	for _, path := range []string{"../examples/avatar.yaml", "testdata/valid/full.yaml"} {
		t.Run(path, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// One name for both parses: resolve joins paths to the file's directory once.
			first, diags := Parse("avatar.yaml", data)
			if first == nil {
				t.Fatalf("%v", diags)
			}
			first.TopicDefaults = TopicDefaults{} // topics already carry the merged values
			out := Encode(Document{Spec: first, Header: []string{"header"}, Footer: []string{"footer"}})
			second, diags := Parse("avatar.yaml", out)
			if second == nil {
				t.Fatalf("encoded spec is invalid: %v\n%s", diags, out)
			}
			second.TopicDefaults = TopicDefaults{}
			ignore := cmpopts.IgnoreTypes(Pos{}, map[string]Pos{})
			if d := cmp.Diff(first, second, ignore, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("round trip differs (-parsed +reparsed):\n%s\n%s", d, out)
			}
		})
	}
}

// TestEncodeHumanUnitsReadBack: every config value is written through HumanTopicConfig and must
// normalise back to the same canonical value, for awkward values of every duration and size key.
func TestEncodeHumanUnitsReadBack(t *testing.T) {
	values := []string{"0", "1", "999", "1000", "1001", "90061001", "5400000", "604800000", "1000000", "1048576",
		"536870912", "1073741825", "-1", "-2", "9223372036854775807", "9223372036854775806", "2147483647"}
	for _, def := range TopicConfigs() {
		if def.Type != ConfigMs && def.Type != ConfigBytes && def.Type != ConfigIntBytes {
			continue
		}
		for _, v := range values {
			canon, err := def.Normalize(v)
			if err != nil {
				continue // outside the key's range: Kafka would not hold it
			}
			human := HumanTopicConfig(def.Key, canon)
			back, err := def.Normalize(human)
			if err != nil || back != canon {
				t.Errorf("%s: %s written as %q reads back as %q (%v)", def.Key, canon, human, back, err)
			}
		}
	}
}

// TestEncodeComments: comments land above the paths they name.
func TestEncodeComments(t *testing.T) {
	s := &Spec{Metadata: Metadata{Name: "x"}, Brokers: []Broker{{ID: 1, Host: "a", Ports: BrokerPorts{Plaintext: 9092}}},
		Topics:   []Topic{{Name: "t", Partitions: 1, ReplicationFactor: 1, Config: map[string]string{"retention.ms": "3600000"}}},
		Clusters: []Cluster{{Name: "lab", Bootstrap: []string{"a:9092"}}}}
	out := string(Encode(Document{Spec: s, Header: []string{"top"}, Footer: []string{"bottom"},
		Comments: map[string][]string{"topics[0]": {"the topic"}, "topics[0].config.retention.ms": {"was 3600000"}, "clusters.lab": {"target"}}}))
	for _, want := range []string{"# top\n", "  # the topic\n  - name: t\n", "      # was 3600000\n      retention.ms: 1h\n", "  # target\n  lab:\n", "# bottom\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestEncodeOverridePruneFalse: an override that turns prune off is written, not dropped as a zero.
func TestEncodeOverridePruneFalse(t *testing.T) {
	no := false
	s := &Spec{Metadata: Metadata{Name: "x"}, Brokers: []Broker{{ID: 1, Host: "a", Ports: BrokerPorts{Plaintext: 9092}}},
		TopicDefaults: TopicDefaults{Prune: true},
		Topics:        []Topic{{Name: "t", Partitions: 1, ReplicationFactor: 1}},
		Clusters:      []Cluster{{Name: "dev", Bootstrap: []string{"a:9092"}, Overrides: &Overrides{Topics: []TopicOverride{{Name: "t", Prune: &no}}}}}}
	out := Encode(Document{Spec: s})
	dev, diags := ParseTarget("avatar.yaml", out, "dev")
	if dev == nil || dev.Topics[0].Prune {
		t.Errorf("prune: false override lost: %v\n%s", diags, out)
	}
	if base, _ := Parse("avatar.yaml", out); base == nil || !base.Topics[0].Prune {
		t.Errorf("the spec's prune: true lost\n%s", out)
	}
}

// TestEncodeQuotaHumanUnits: quota byte rates are written in the largest exact unit, as import
// promises (issue 15), and a rate no unit divides stays a number; both read back unchanged.
func TestEncodeQuotaHumanUnits(t *testing.T) {
	s := &Spec{APIVersion: APIVersion, Kind: Kind, Metadata: Metadata{Name: "lab"},
		Brokers: []Broker{{ID: 1, Host: "b1", Ports: BrokerPorts{Plaintext: 9092}}},
		Quotas:  []Quota{{ClientID: "eeg", ProducerByteRate: 1 << 20, ConsumerByteRate: 1000001}}}
	out := string(Encode(Document{Spec: s}))
	for _, want := range []string{"producerByteRate: 1MiB", "consumerByteRate: 1000001"} {
		if !strings.Contains(out, want) {
			t.Errorf("encoded quota lacks %q:\n%s", want, out)
		}
	}
	back, diags := Parse("avatar.yaml", []byte(out))
	if back == nil {
		t.Fatalf("%v\n%s", diags, out)
	}
	if q := back.Quotas[0]; q.ProducerByteRate != 1<<20 || q.ConsumerByteRate != 1000001 {
		t.Errorf("read back %+v", q)
	}
}

// BenchmarkEncodeTopics is what `config` spends writing a spec of 10,000 topics (issue 23: the
// yaml.v3 encoder was 42% of its CPU and most of its 227 MB).
func BenchmarkEncodeTopics(b *testing.B) {
	s, diags := Parse("avatar.yaml", manyTopicsSpec(10000))
	if s == nil {
		b.Fatal(diags)
	}
	b.ReportAllocs()
	for b.Loop() {
		if out := Encode(Document{Spec: s}); len(out) == 0 {
			b.Fatal("nothing written")
		}
	}
}

// TestEncodeChunkedIsIdentical: writing a long topics list in chunks (issue 23) gives exactly the
// bytes one yaml.v3 encoder gives for the whole document, with comments on the list and its items.
func TestEncodeChunkedIsIdentical(t *testing.T) {
	s, diags := Parse("avatar.yaml", manyTopicsSpec(1000))
	if s == nil {
		t.Fatal(diags)
	}
	s.Topics[3].Config["cleanup.policy"] = "compact"
	doc := Document{Spec: s, Header: []string{"# header"}, Footer: []string{"# footer"},
		Comments: map[string][]string{"topics": {"# the topics"}, "topics[0]": {"# first"}, "topics[256]": {"# a chunk's first"}, "topics[999]": {"# last"}}}
	got := Encode(doc)

	e := encoder{comments: doc.Comments}
	whole := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{e.spec(s)}, HeadComment: "# header", FootComment: "# footer"}
	want := encodeYAML(whole)
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("line %d: %q, want %q", i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%d lines, want %d", len(gl), len(wl))
	}
	if back, diags := Parse("avatar.yaml", got); back == nil || len(back.Topics) != 1000 {
		t.Fatalf("the output does not load back: %v", diags)
	}
}

// TestEncodeSASL: kafka.sasl and a target's sasl are written by one encoder and read by one decoder
// (issue 20); both come back as written.
func TestEncodeSASL(t *testing.T) {
	src := []byte(`apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: lab }
kafka:
  sasl: { mechanism: SCRAM-SHA-512, username: admin, passwordEnv: AVATAR_ADMIN_PASSWORD }
brokers:
  - { id: 1, host: kafka-1, ports: { plaintext: 9092 } }
clusters:
  cloud: { bootstrap: ["k:9094"], security: sasl_ssl, sasl: { mechanism: SCRAM-SHA-256, username: avatar, passwordFile: /run/secrets/kafka } }
`)
	first, _ := ParsePartial("avatar.yaml", src)
	if first == nil || first.Kafka.SASL == nil {
		t.Fatal("the spec did not decode with kafka.sasl")
	}
	second, diags := ParsePartial("avatar.yaml", Encode(Document{Spec: first}))
	if second == nil {
		t.Fatalf("encoded spec does not decode: %v", diags)
	}
	cloud := func(s *Spec) *SASL {
		for _, c := range s.Clusters {
			if c.Name == "cloud" {
				return c.SASL
			}
		}
		return nil
	}
	want := []*SASL{{Mechanism: "SCRAM-SHA-512", Username: "admin", PasswordEnv: "AVATAR_ADMIN_PASSWORD"},
		{Mechanism: "SCRAM-SHA-256", Username: "avatar", PasswordFile: "/run/secrets/kafka"}}
	for _, s := range []*Spec{first, second} {
		if d := cmp.Diff(want, []*SASL{s.Kafka.SASL, cloud(s)}); d != "" {
			t.Errorf("sasl (-want +got):\n%s", d)
		}
	}
}
