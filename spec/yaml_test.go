package spec

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bombs are documents whose aliases expand far beyond their size; each must be refused before it
// is decoded, at the alias that takes it past the bound (issue 23).
var bombs = map[string]struct {
	yaml string
	at   string // line:col of the refusal
}{
	"billion laughs (lists)": {laughs("[*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]", 9), "10:15"},
	"nested merge keys": {`apiVersion: avatar-sync/v1
kind: KafkaCluster
a0: &a0 { retention.ms: 1 }
a1: &a1 { <<: [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0] }
a2: &a2 { <<: [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1] }
a3: &a3 { <<: [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2] }
a4: &a4 { <<: [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3] }
a5: &a5 { <<: [*a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4] }
a6: &a6 { <<: [*a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5] }
topicDefaults: { config: *a6 }
`, "8:31"},
	// A bomb padded with a megabyte of comment gets a budget of two million nodes, and still
	// expands to a billion.
	"billion laughs after 1 MiB of comment": {strings.Repeat("#"+strings.Repeat(".", 1023)+"\n", 1024) + laughs("[*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]", 9), "1035:25"},
	"an alias inside its own anchor":        {"apiVersion: avatar-sync/v1\nkind: KafkaCluster\ntopics: &t [ { name: a }, *t ]\n", "3:27"},
	"a merge of its own mapping":            {"apiVersion: avatar-sync/v1\nkind: KafkaCluster\ntopicDefaults: &d { config: { <<: *d } }\n", "3:35"},
}

// laughs is the classic bomb: a0 is a string, each further level lists its predecessor 9 times.
func laughs(level string, levels int) string {
	var b strings.Builder
	b.WriteString("apiVersion: avatar-sync/v1\nkind: KafkaCluster\nx:\n  - &a0 lol\n")
	for i := 1; i <= levels; i++ {
		args := make([]any, 9)
		for j := range args {
			args[j] = i - 1
		}
		fmt.Fprintf(&b, "  - &a%d %s\n", i, fmt.Sprintf(level, args...))
	}
	return b.String()
}

func TestAliasBombsRefused(t *testing.T) {
	for name, tc := range bombs {
		t.Run(name, func(t *testing.T) {
			s, diags := Parse("bomb.yaml", []byte(tc.yaml))
			if s != nil || len(diags) != 1 {
				t.Fatalf("spec %v, diagnostics %v; want exactly the refusal", s != nil, diags)
			}
			d := diags[0]
			if got := fmt.Sprintf("%d:%d", d.Pos.Line, d.Pos.Col); got != tc.at {
				t.Errorf("refused at %s (%s); want %s", got, d.Message, tc.at)
			}
			if !strings.Contains(d.Message, "expand") || !strings.Contains(d.Message, "stops reading here") {
				t.Errorf("message %q does not say the aliases expand too far", d.Message)
			}
		})
	}
}

// largeSpec is a spec of n topics in the two-line form of the CLI benchmarks; every tenth topic
// takes its config through an alias, so legitimate aliases at scale count too.
func largeSpec(n int) string {
	var b strings.Builder
	b.WriteString(`apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar, namespace: avatar }
brokers:
  - { id: 1, host: kafka-broker-1, rack: lab-a, ports: { plaintext: 9092, internal: 29092 } }
  - { id: 2, host: kafka-broker-2, rack: lab-b, ports: { plaintext: 9093, internal: 29093 } }
  - { id: 3, host: kafka-broker-3, rack: lab-c, ports: { plaintext: 9094, internal: 29094 } }
topicDefaults: { partitions: 3, replicationFactor: 3, config: { min.insync.replicas: 2 } }
shared: &compacted { cleanup.policy: compact, min.compaction.lag.ms: 1h, segment.bytes: 64MiB }
topics:
`)
	b.WriteString(topicLines(0, n))
	return b.String()
}

func topicLines(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		if i%10 == 0 {
			fmt.Fprintf(&b, "  - name: avatar.topic-%06d\n    config: *compacted\n", i)
			continue
		}
		fmt.Fprintf(&b, "  - name: avatar.topic-%06d\n    retention: 7d\n", i)
	}
	return b.String()
}

// TestHundredThousandTopics: the spec's size limit is the file's bytes, not a node count: 100,000
// topics load from one file and from a directory (a fixed cap of 100,000 YAML nodes refused anything
// past ~16,600 topics; issue 23). The time it takes is BenchmarkParseTopics/topics=100000's.
func TestHundredThousandTopics(t *testing.T) {
	const n = 100000
	spec := largeSpec(n)
	// "shared" is not a key of the spec: it must be the only complaint.
	s, diags := ParsePartial("avatar.yaml", []byte(spec))
	if len(diags) != 1 || !strings.Contains(diags[0].Message, "shared is not a known key") {
		t.Fatalf("diagnostics %v; want only the unknown key shared", diags)
	}
	if len(s.Topics) != n || s.Topics[0].Config["cleanup.policy"] != "compact" || s.Topics[n-1].Name != "avatar.topic-099999" {
		t.Fatalf("%d topics, first config %v; want %d, the first compacted", len(s.Topics), s.Topics[0].Config, n)
	}

	// A directory: the brokers and 10,000 topics in one file, 10,000 more in another (past the old
	// cap, which counted the files together; 20,000 keep the test quick).
	const m = 20000
	dir := t.TempDir()
	head, _, _ := strings.Cut(spec, "shared:")
	first := head + "shared: &compacted { cleanup.policy: compact }\ntopics:\n" + topicLines(0, m/2)
	second := "apiVersion: avatar-sync/v1\nkind: KafkaCluster\nshared2: &compacted { cleanup.policy: compact }\ntopics:\n" + topicLines(m/2, m)
	for name, data := range map[string]string{"a.yaml": first, "b.yaml": second} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	srcs, diags := ReadSources(context.Background(), dir, nil)
	if diags != nil {
		t.Fatal(diags)
	}
	s, diags = ParsePartialSources(dir, srcs, "")
	if len(diags) != 2 || s == nil || len(s.Topics) != m {
		t.Fatalf("spec %v, diagnostics %v; want %d topics and only the two unknown keys", s != nil, diags, m)
	}
}

// BenchmarkParseBomb is how long a bomb takes to be refused (issue 23: well under a second).
func BenchmarkParseBomb(b *testing.B) {
	for name, tc := range bombs {
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			for b.Loop() {
				if s, _ := Parse("bomb.yaml", []byte(tc.yaml)); s != nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}
