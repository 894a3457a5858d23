package reconcile

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
	"github.com/avatar-project/avatar-sync/topics"
)

var update = flag.Bool("update", false, "rewrite golden files")

// importLive is a cluster as Describe reads it: odd units, a key avatar-sync does not know, values
// inherited from defaults, internal topics, a topic mid-move and brokers sharing one address.
func importLive() plans.Live {
	set := func(v string) topics.ConfigValue { return topics.ConfigValue{Value: v, Source: topics.SourceTopic} }
	inherited := func(v string) topics.ConfigValue { return topics.ConfigValue{Value: v, Source: topics.SourceDefault} }
	reps := func(parts, rf int) map[int32][]int32 {
		m := map[int32][]int32{}
		for p := range parts {
			for r := range rf {
				m[int32(p)] = append(m[int32(p)], int32((p+r)%3))
			}
		}
		return m
	}
	moving := reps(3, 2)
	moving[1] = append(moving[1], 2)
	return plans.Live{
		ClusterID: "MkU3OEVBNTcwNTJENDM2Qk",
		Brokers:   []topics.Broker{{ID: 0, Host: "localhost", Port: 9092}, {ID: 1, Host: "localhost", Port: 9093}, {ID: 2, Host: "kafka-c", Port: 9094, Rack: "r2"}},
		Topics: map[string]topics.Observed{
			"eeg-raw": {Replicas: reps(6, 3), Config: map[string]topics.ConfigValue{
				"retention.ms": set("5400000"), "segment.bytes": set("536870912"), "compression.type": inherited("producer"),
				"message.format.version": set("2.8-IV1"),
			}},
			"drone-commands": {Replicas: reps(3, 3), Config: map[string]topics.ConfigValue{
				"cleanup.policy": set("delete,compact"), "x.vendor.knob": set("7"), "retention.bytes": set("-1"),
			}},
			"prediction-results": {Replicas: moving},
			"legacy":             {Replicas: reps(3, 3)},
			"__consumer_offsets": {Replicas: reps(50, 3), Internal: true},
			"_schemas":           {Replicas: reps(1, 3)},
		},
	}
}

// TestImportGolden pins the written spec, comments included (issue 15: a pure function with a
// golden file). Rewrite with go test ./reconcile -run TestImportGolden -update.
func TestImportGolden(t *testing.T) {
	doc := Import(importLive(), ImportOptions{Name: "lab", Source: "localhost:9092",
		Target: spec.Cluster{Name: "lab", Bootstrap: []string{"localhost:9092"}, Security: spec.SecurityPlaintext},
		Topics: regexp.MustCompile(`^(eeg|drone|prediction)-`)})
	got := spec.Encode(doc)
	golden := filepath.Join("testdata", "import.golden.yaml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./reconcile -run TestImportGolden -update)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-golden +got):\n%s", golden, d)
	}
	// The written spec loads, and carries exactly the topic configs that were set on the topics.
	s, diags := spec.Parse("avatar.yaml", got)
	if s == nil {
		t.Fatalf("imported spec is invalid: %v", diags)
	}
	byName := map[string]spec.Topic{}
	for _, tp := range s.Topics {
		byName[tp.Name] = tp
	}
	if diff := cmp.Diff(map[string]string{"retention.ms": "5400000", "segment.bytes": "536870912", "message.format.version": "2.8-IV1"}, byName["eeg-raw"].Config); diff != "" {
		t.Errorf("eeg-raw configs (-want +got):\n%s", diff)
	}
	if _, ok := byName["legacy"]; ok {
		t.Error("--topics did not leave legacy out")
	}
	if byName["prediction-results"].ReplicationFactor != 3 || byName["eeg-raw"].Partitions != 6 {
		t.Errorf("partitions/replication not carried: %+v %+v", byName["prediction-results"], byName["eeg-raw"])
	}
}

// TestImportThenDiffIsOnlyAdoption: Diff of the imported spec against the Live it came from plans
// no topic change, only the adoptions (the pure half of TestImportRoundTrip in cmd).
func TestImportThenDiffIsOnlyAdoption(t *testing.T) {
	live := importLive()
	delete(live.Topics["drone-commands"].Config, "x.vendor.knob") // unknown keys stay drift, by design
	s, diags := spec.Parse("avatar.yaml", spec.Encode(Import(live, ImportOptions{Name: "lab", Source: "x",
		Target: spec.Cluster{Name: "lab", Bootstrap: []string{"localhost:9092"}}})))
	if s == nil {
		t.Fatalf("invalid: %v", diags)
	}
	p := Diff(plans.DesiredOf(s), live, DiffOptions{})
	for _, c := range p.AllChanges() {
		if c.Kind != plans.KindInventory {
			t.Errorf("unexpected change %s", plans.Headline(c))
		}
	}
	if n := len(p.AllChanges()); n != 4 {
		t.Errorf("%d adoptions, want 4 (every non-internal topic)", n)
	}
	if strings.Contains(string(spec.Encode(Import(live, ImportOptions{Name: "lab", Target: spec.Cluster{Name: "lab"}}))), "- name: _schemas") {
		t.Error("internal topic imported")
	}
}

// TestImportTLSTarget: brokers of a TLS target get ssl ports and the spec tls.enabled, so it loads.
func TestImportTLSTarget(t *testing.T) {
	live := importLive()
	doc := Import(live, ImportOptions{Name: "lab", Source: "x", Target: spec.Cluster{Name: "lab",
		Bootstrap: []string{"kafka-c:9094"}, Security: spec.SecuritySSL, CAFile: "ca.crt"}})
	s, diags := spec.Parse("avatar.yaml", spec.Encode(doc))
	if s == nil {
		t.Fatalf("invalid: %v", diags)
	}
	if !s.TLS.Enabled || s.Brokers[2].Ports.SSL != 9094 || s.Brokers[2].Ports.Plaintext != 0 {
		t.Errorf("tls %+v, broker %+v", s.TLS, s.Brokers[2])
	}
	if c, _ := s.FindCluster("lab"); c.CAFile != "ca.crt" || c.Security != spec.SecuritySSL {
		t.Errorf("target lost its settings: %+v", c)
	}
}

// TestImportMultiHostCluster: a cluster whose brokers run on their own machines on the same port
// (kafka-1:9092, kafka-2:9092, ...) imports to a spec that loads (issue 15); before, validation
// demanded ports unique across brokers and import wrote a file it could not read back.
func TestImportMultiHostCluster(t *testing.T) {
	live := importLive()
	for i := range live.Brokers {
		live.Brokers[i].Host = fmt.Sprintf("kafka-%d.lab.example", live.Brokers[i].ID)
		live.Brokers[i].Port = 9092
	}
	s, diags := spec.Parse("avatar.yaml", spec.Encode(Import(live, ImportOptions{Name: "lab", Source: "x",
		Target: spec.Cluster{Name: "lab", Bootstrap: []string{"kafka-1.lab.example:9092"}}})))
	if s == nil {
		t.Fatalf("invalid: %v", diags)
	}
	for i, b := range s.Brokers {
		if b.Host != live.Brokers[i].Host || b.Ports.Plaintext != 9092 {
			t.Errorf("brokers[%d] = %s:%d, want %s:9092", i, b.Host, b.Ports.Plaintext, live.Brokers[i].Host)
		}
	}
}
