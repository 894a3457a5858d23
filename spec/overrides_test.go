package spec

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// overridesBase is the lab: three brokers on MicroK8s, a one-broker laptop target. Tests
// append a dev target's overrides to it; the line numbers of their messages are this file's.
const overridesBase = `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar }
brokers:
  - { id: 1, host: kafka-1, ports: { plaintext: 9092 } }
  - { id: 2, host: kafka-2, ports: { plaintext: 9093 } }
  - { id: 3, host: kafka-3, ports: { plaintext: 9094 } }
topicDefaults:
  partitions: 3
  replicationFactor: 3
  config: { min.insync.replicas: 2, compression.type: lz4 }
topics:
  - name: eeg-raw
    partitions: 6
    config: { retention.ms: 1h, segment.bytes: 512MiB }
  - name: drone-commands
    retention: 7d
  - name: predictions
    replicationFactor: 2
clusters:
  microk8s: { bootstrap: ["kafka-1:9092"] }
  dev:
`

type topicView struct {
	Partitions, RF int
	Config         map[string]string
}

func topicViews(s *Spec) map[string]topicView {
	out := map[string]topicView{}
	for _, t := range s.Topics {
		out[t.Name] = topicView{t.Partitions, t.ReplicationFactor, t.Config}
	}
	return out
}

// TestOverrideMerge: what a target's overrides do to the merged spec (issue 15).
func TestOverrideMerge(t *testing.T) {
	laptop := `    overrides:
      brokers: [{ id: 0, host: localhost, ports: { plaintext: 9092 } }]
      topicDefaults: { replicationFactor: 1, config: { min.insync.replicas: 1 } }
      topics:
        - { name: predictions, replicationFactor: 1 }
`
	tests := map[string]struct {
		dev     string
		brokers int
		topics  map[string]topicView
	}{
		"no overrides: the spec as written": {
			dev: "    bootstrap: [localhost:9092]\n", brokers: 3,
			topics: map[string]topicView{
				"eeg-raw":        {6, 3, map[string]string{"min.insync.replicas": "2", "compression.type": "lz4", "retention.ms": "3600000", "segment.bytes": "536870912"}},
				"drone-commands": {3, 3, map[string]string{"min.insync.replicas": "2", "compression.type": "lz4", "retention.ms": "604800000"}},
				"predictions":    {3, 2, map[string]string{"min.insync.replicas": "2", "compression.type": "lz4"}},
			},
		},
		"one-broker laptop: brokers replaced, defaults and a topic's own value overridden": {
			dev: laptop, brokers: 1,
			topics: map[string]topicView{
				"eeg-raw":        {6, 1, map[string]string{"min.insync.replicas": "1", "compression.type": "lz4", "retention.ms": "3600000", "segment.bytes": "536870912"}},
				"drone-commands": {3, 1, map[string]string{"min.insync.replicas": "1", "compression.type": "lz4", "retention.ms": "604800000"}},
				"predictions":    {3, 1, map[string]string{"min.insync.replicas": "1", "compression.type": "lz4"}},
			},
		},
		"topic config merged key by key; the retention shorthand replaces config.retention.ms and back": {
			dev: `    overrides:
      topics:
        - name: eeg-raw
          partitions: 12
          retention: 30m
          config: { compression.type: zstd }
        - name: drone-commands
          config: { retention.ms: 1d }
`, brokers: 3,
			topics: map[string]topicView{
				"eeg-raw":        {12, 3, map[string]string{"min.insync.replicas": "2", "compression.type": "zstd", "retention.ms": "1800000", "segment.bytes": "536870912"}},
				"drone-commands": {3, 3, map[string]string{"min.insync.replicas": "2", "compression.type": "lz4", "retention.ms": "86400000"}},
				"predictions":    {3, 2, map[string]string{"min.insync.replicas": "2", "compression.type": "lz4"}},
			},
		},
		"anchors and merge keys work inside overrides": {
			dev: `    overrides:
      topicDefaults: &small { partitions: 1 }
      topics:
        - { <<: *small, name: eeg-raw }
`, brokers: 3,
			topics: map[string]topicView{
				"eeg-raw":        {1, 3, map[string]string{"min.insync.replicas": "2", "compression.type": "lz4", "retention.ms": "3600000", "segment.bytes": "536870912"}},
				"drone-commands": {1, 3, map[string]string{"min.insync.replicas": "2", "compression.type": "lz4", "retention.ms": "604800000"}},
				"predictions":    {1, 2, map[string]string{"min.insync.replicas": "2", "compression.type": "lz4"}},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			data := []byte(overridesBase + tc.dev)
			s, diags := ParseTarget("avatar.yaml", data, "dev")
			if s == nil {
				t.Fatalf("invalid: %v", diags)
			}
			if len(s.Brokers) != tc.brokers {
				t.Errorf("%d brokers, want %d", len(s.Brokers), tc.brokers)
			}
			if d := cmp.Diff(tc.topics, topicViews(s)); d != "" {
				t.Errorf("merged topics (-want +got):\n%s", d)
			}
			// The spec itself, and another target, are untouched by dev's overrides.
			for _, other := range []string{"", "microk8s"} {
				o, diags := ParseTarget("avatar.yaml", data, other)
				if o == nil || len(o.Brokers) != 3 || o.Overridden != "" || topicViews(o)["predictions"].RF != 2 {
					t.Errorf("target %q sees dev's overrides: %v", other, diags)
				}
			}
		})
	}
}

// TestOverrideErrors: validation runs on the merged spec, with positions in the original file and
// the target named (issue 15).
func TestOverrideErrors(t *testing.T) {
	tests := map[string]struct {
		dev  string
		want []string // "line:col: message"
	}{
		"a topic's own replicationFactor exceeds the laptop's one broker": {
			dev: "    overrides:\n      brokers: [{ id: 0, host: localhost, ports: { plaintext: 9092 } }]\n      topicDefaults: { replicationFactor: 1 }\n",
			want: []string{
				"11:13: topicDefaults.config.min.insync.replicas 2, inherited by 2 topics (eeg-raw, drone-commands), exceeds replicationFactor 1: every write with acks=all would fail (target dev)",
				"19:5: topics[2].replicationFactor 2 exceeds the 1 broker (target dev)",
			},
		},
		"an override value wrong for its key, at the override's line": {
			dev:  "    overrides:\n      topics:\n        - { name: predictions, replicationFactor: 4 }\n",
			want: []string{"25:32: topics[2].replicationFactor 4 exceeds the 3 brokers (target dev)"},
		},
		"an override naming no topic of the spec": {
			dev:  "    overrides:\n      topics:\n        - { name: prediction, partitions: 1 }\n",
			want: []string{`25:19: clusters.dev.overrides.topics[0].name "prediction" is not a topic of the spec; did you mean "predictions"?; a target overrides topics, it does not add them (target dev)`},
		},
		"one topic overridden twice": {
			dev:  "    overrides:\n      topics:\n        - { name: eeg-raw, partitions: 7 }\n        - { name: eeg-raw, partitions: 8 }\n",
			want: []string{`26:19: clusters.dev.overrides.topics[1].name "eeg-raw" is already overridden on line 25; merge the two (target dev)`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			data := []byte(overridesBase + tc.dev)
			s, diags := ParseTarget("avatar.yaml", data, "dev")
			if s != nil {
				t.Fatalf("merged spec loaded; want errors")
			}
			var got []string
			for _, d := range diags.Errors() {
				got = append(got, strings.TrimPrefix(d.String(), "avatar.yaml:"))
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("errors (-want +got):\n%s", d)
			}
			// The spec alone is valid: only the target's merge is wrong, and validate without
			// --cluster still finds it.
			if s, diags := Parse("avatar.yaml", data); s == nil {
				t.Errorf("the spec without overrides is invalid: %v", diags)
			}
			if d := cmp.Diff(tc.want, errorsOnly(ValidateTargets("avatar.yaml", data))); d != "" {
				t.Errorf("ValidateTargets (-want +got):\n%s", d)
			}
		})
	}
}

func errorsOnly(ds Diagnostics) []string {
	var out []string
	for _, d := range ds.Errors() {
		out = append(out, strings.TrimPrefix(d.String(), "avatar.yaml:"))
	}
	return out
}

// TestOverrideShapeChecked: keys inside overrides are checked by the same tables, even by Parse.
func TestOverrideShapeChecked(t *testing.T) {
	data := []byte(overridesBase + "    overrides:\n      topics:\n        - { name: eeg-raw, partitons: 2 }\n      brokrs: []\n")
	_, diags := Parse("avatar.yaml", data)
	got := errorsOnly(diags)
	want := []string{
		`25:28: clusters.dev.overrides.topics[0].partitons is not a known key; did you mean "partitions"?`,
		`26:7: clusters.dev.overrides.brokrs is not a known key; did you mean "brokers"?`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// BenchmarkParseTarget is BenchmarkParseTopics loaded for a target with overrides (topicDefaults
// and one topic): the cost of the merge on the YAML tree (issue 15).
func BenchmarkParseTarget(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		data := append(manyTopicsSpec(n), []byte("clusters:\n  dev:\n    overrides:\n      topicDefaults: { partitions: 1 }\n      topics: [{ name: avatar.topic-00007, retention: 1h }]\n")...)
		b.Run(fmt.Sprintf("topics=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if s, diags := ParseTarget("avatar.yaml", data, "dev"); s == nil || len(s.Topics) != n || s.Topics[1].Partitions != 1 {
					b.Fatal(diags)
				}
			}
		})
	}
}

// TestOverrideWithoutTopics: overriding a topic of a spec that has none is reported, not ignored.
func TestOverrideWithoutTopics(t *testing.T) {
	base := strings.Replace(overridesBase, "topics:\n", "unused:\n", 1)
	base = base[:strings.Index(base, "unused:")] + base[strings.Index(base, "clusters:"):]
	_, diags := ParseTarget("avatar.yaml", []byte(base+"    overrides: { topics: [{ name: eeg-raw, partitions: 1 }] }\n"), "dev")
	got := errorsOnly(diags)
	if len(got) != 1 || !strings.Contains(got[0], `clusters.dev.overrides.topics[0].name "eeg-raw" is not a topic of the spec`) {
		t.Errorf("errors %v", got)
	}
}

// FuzzParseTarget: loading for a target (overrides merged) and as a directory of two files never
// panics, positions every message, returns a spec exactly when there are no errors, and a spec that
// loads also passes Validate (issue 15).
func FuzzParseTarget(f *testing.F) {
	f.Add([]byte(overridesBase+"    overrides:\n      topics: [{ name: eeg-raw, retention: 1m }]\n"), []byte(dirEEG))
	f.Add([]byte(overridesBase+"    overrides: { brokers: [], topicDefaults: { config: { retention.ms: 1d } } }\n"), []byte(dirDrone))
	f.Add([]byte(dirBase), []byte("topics: &t [{ name: a }]\nclusters: { dev: { overrides: { topics: *t } } }\n"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		check := func(s *Spec, diags Diagnostics) {
			for _, d := range diags {
				if d.Pos.File == "" || d.Pos.Line < 1 || d.Pos.Col < 1 || d.Message == "" {
					t.Fatalf("diagnostic without a position or message: %#v", d)
				}
			}
			if (s == nil) != (len(diags.Errors()) > 0) {
				t.Fatalf("spec returned = %v with %d errors", s != nil, len(diags.Errors()))
			}
			if s != nil {
				if errs := Validate(s).Errors(); len(errs) > 0 {
					t.Fatalf("a spec that loaded clean fails Validate: %v", errs)
				}
			}
		}
		check(ParseTarget("fuzz.yaml", a, "dev"))
		check(ParseSources("dir", []Source{{"dir/a.yaml", a}, {"dir/b.yaml", b}}, "dev"))
	})
}

// TestEnvironmentsExample: examples/environments.yaml (the "done when": a one-broker laptop
// and the three-broker MicroK8s target in one file) is valid for every target.
func TestEnvironmentsExample(t *testing.T) {
	data, err := os.ReadFile("../examples/environments.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if diags := ValidateTargets("environments.yaml", data); len(diags) > 0 {
		t.Errorf("a target's merge has diagnostics: %v", diags)
	}
	for target, brokers := range map[string]int{"microk8s": 3, "laptop": 1, "embedded": 3} {
		s, diags := ParseTarget("environments.yaml", data, target)
		if s == nil || len(s.Brokers) != brokers || len(diags) > 0 {
			t.Errorf("%s: %v", target, diags)
		}
	}
}

// TestTargetsShareOneParse: validating every target with overrides reads the YAML once (issue 23):
// each further target costs a decode of the topics, not yaml.v3 building the node tree again (about
// 33 allocations per topic of this spec, against 9–10 for a decode). A target whose overrides have
// an error costs one decode too: its messages are told from the spec as written's by the one decode
// of the spec as written (issue 20: each such target decoded the spec as written again, about 19
// allocations per topic), and each names its target.
func TestTargetsShareOneParse(t *testing.T) {
	for _, bad := range []bool{false, true} {
		allocs := func(n int) float64 {
			data := fleetSpec(1000, n, bad)
			return testing.AllocsPerRun(2, func() {
				s, diags := ParsePartialAllTargets("avatar.yaml", []Source{{Name: "avatar.yaml", Data: data}})
				if errs := diags.Errors(); s == nil || !bad && len(errs) > 0 || bad && len(errs) != n {
					t.Fatalf("errors=%t, %d targets: %v", bad, n, diags)
				}
				for i, d := range diags.Errors() {
					if want := fmt.Sprintf("(target t%d)", i); !strings.HasSuffix(d.Message, want) {
						t.Errorf("errors=%t: %q does not end with %q", bad, d.Message, want)
					}
				}
			})
		}
		perTargetTopic := (allocs(5) - allocs(1)) / 4 / 1000
		t.Logf("errors=%t: %.1f allocations per topic for each further target", bad, perTargetTopic)
		if perTargetTopic > 15 {
			t.Errorf("errors=%t: each further target costs %.1f allocations per topic, want at most 15 (a decode, not a parse or two decodes)", bad, perTargetTopic)
		}
	}
}

// fleetSpec is retentionTopicsSpec(topics) with targets targets, each with overrides; with bad, each
// target's overrides also name a topic the spec does not have: an error only that target's merge has.
func fleetSpec(topics, targets int, bad bool) []byte {
	var b strings.Builder
	b.Write(retentionTopicsSpec(topics))
	b.WriteString("clusters:\n")
	for i := range targets {
		fmt.Fprintf(&b, "  t%d: { bootstrap: [\"k:9092\"], overrides: { topicDefaults: { partitions: %d }", i, i+1)
		if bad {
			fmt.Fprintf(&b, ", topics: [{ name: missing-%d, partitions: 1 }]", i)
		}
		b.WriteString(" } }\n")
	}
	return []byte(b.String())
}

// BenchmarkValidateTargets is `validate` without --cluster on a fleet of four targets with
// overrides (ParsePartialAllTargets): clean, and with an error in every target's overrides, whose
// messages are annotated with the target's name against the spec as written.
func BenchmarkValidateTargets(b *testing.B) {
	for _, bad := range []bool{false, true} {
		for _, n := range []int{1000, 10000} {
			data := fleetSpec(n, 4, bad)
			b.Run(fmt.Sprintf("errors=%t/topics=%d", bad, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if s, diags := ParsePartialAllTargets("avatar.yaml", []Source{{Name: "avatar.yaml", Data: data}}); s == nil || (len(diags.Errors()) > 0) != bad {
						b.Fatal(diags)
					}
				}
			})
		}
	}
}

// TestSourcesParserTargetsAtOnce: a fleet loads its targets from one parser at once (session); the
// spec as written, decoded once for every target's messages, is shared safely (run with -race), and
// each target's messages name it alone.
func TestSourcesParserTargetsAtOnce(t *testing.T) {
	parse := SourcesParser("avatar.yaml", []Source{{Name: "avatar.yaml", Data: fleetSpec(50, 4, true)}})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			_, diags := parse(fmt.Sprintf("t%d", i))
			errs := diags.Errors()
			if want := fmt.Sprintf("missing-%d\" is not a topic of the spec", i); len(errs) != 1 || !strings.Contains(errs[0].Message, want) ||
				!strings.HasSuffix(errs[0].Message, fmt.Sprintf("(target t%d)", i)) {
				t.Errorf("target t%d: %v; want one error naming missing-%d and the target", i, errs, i)
			}
		})
	}
	wg.Wait()
}

// TestOverrideShapeReportedOnce: merging a target's overrides walks them as the decoder does (the
// same pairs: aliases, merge keys, explicit keys first) but reports nothing itself, so a merge key
// that merges no mapping and a key that is not a name are each reported once, where they were
// written, by the decoder; the well-formed keys beside them still merge.
func TestOverrideShapeReportedOnce(t *testing.T) {
	data := []byte(overridesBase + "    overrides:\n      topicDefaults: { <<: 5, ? [a, b] : 1, partitions: 1 }\n")
	s, diags := ParsePartialTarget("avatar.yaml", data, "dev")
	want := []string{
		`24:28: a merge key (<<) needs a mapping or a list of mappings, not "5"`,
		`24:33: keys must be plain names, not a list`,
	}
	if d := cmp.Diff(want, errorsOnly(diags)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if s == nil || topicViews(s)["predictions"].Partitions != 1 {
		t.Errorf("the override's partitions: 1 did not merge: %+v", s)
	}
}
