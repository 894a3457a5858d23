package reconcile

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
	"github.com/avatar-project/avatar-sync/topics"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// samplePlan exercises every action, kind and risk the renderers know.
func samplePlan() Plan {
	want := spec.Spec{Deletion: spec.DeletionPrune, Topics: []spec.Topic{
		topic("eeg-brainwave-data", 3, 3, map[string]string{"retention.ms": "3600000", "segment.ms": "600000", "min.insync.replicas": "2"}),
		topic("prediction-results", 6, 3, map[string]string{"retention.ms": "21600000", "retention.bytes": "1073741824"}),
		topic("drone-commands", 3, 3, map[string]string{"retention.ms": "86400000", "cleanup.policy": "compact"}),
		topic("telemetry", 2, 3, nil),
		topic("replays", 2, 3, nil),
	}}
	pred := obs("prediction-results", 3, 3, map[string]string{"retention.ms": "604800000"})
	pred.Config["retention.bytes"] = topics.ConfigValue{Value: "-1", Source: topics.SourceDefault}
	drone := obs("drone-commands", 3, 3, map[string]string{"retention.ms": "86400000", "max.message.bytes": "2097152"})
	drone.Config["cleanup.policy"] = topics.ConfigValue{Value: "delete", Source: topics.SourceStaticBroker}
	have := live(pred, drone, obs("telemetry", 4, 3, nil), obs("replays", 2, 1, nil), obs("legacy-scores", 1, 1, nil), obs("__consumer_offsets", 50, 3, nil))
	p := Diff(&want, have, DiffOptions{Cluster: "embedded", AllowDelete: true})
	p.Changes = append(p.Changes, Change{Kind: KindCert, Name: "kafka-broker-1", Action: Update,
		Before: map[string]string{"notAfter": "2026-12-01"}, After: map[string]string{"notAfter": "2029-03-01"}, Reason: "expires within renewBefore (30d)"})
	return p
}

func TestRenderGolden(t *testing.T) {
	empty := Diff(&spec.Spec{}, live(), DiffOptions{Cluster: "embedded"})
	renderers := map[string]func(*bytes.Buffer, Plan) error{
		"text":       func(b *bytes.Buffer, p Plan) error { return RenderText(b, p, RenderOptions{}) },
		"text-color": func(b *bytes.Buffer, p Plan) error { return RenderText(b, p, RenderOptions{Color: true}) },
		"json":       func(b *bytes.Buffer, p Plan) error { return RenderJSON(b, p) },
		"markdown":   func(b *bytes.Buffer, p Plan) error { return RenderMarkdown(b, p) },
	}
	ext := map[string]string{"text": "txt", "text-color": "ansi", "json": "json", "markdown": "md"}
	for name, render := range renderers {
		for planName, p := range map[string]Plan{"plan": samplePlan(), "empty": empty} {
			t.Run(name+"/"+planName, func(t *testing.T) {
				var buf bytes.Buffer
				if err := render(&buf, p); err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", planName+"."+ext[name]+".golden")
				if *update {
					if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./reconcile -update)", err)
				}
				if d := cmp.Diff(string(want), buf.String()); d != "" {
					t.Errorf("%s differs (-golden +got); run with -update if intended:\n%s", golden, d)
				}
			})
		}
	}
}

func TestRenderTextSummaryLine(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderText(&buf, samplePlan(), RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"Plan: 1 to create, 5 to update, 1 to delete. 1 unsupported",
		"retention.ms:",
		"7d → 6h (604800000 → 21600000)",
		"cluster id test-cluster",
		"[DATA LOSS]",
		"[HEAVY]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text plan lacks %q:\n%s", want, out)
		}
	}
}

// TestRenderTextOptInsGiven: apply shows the plan after the opt-ins were checked; the summary must
// not ask for a flag the user already passed.
func TestRenderTextOptInsGiven(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderText(&buf, samplePlan(), RenderOptions{AllowDataLoss: true, AllowDelete: true}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"2 change(s) can lose data: allowed by --allow-data-loss.", "1 topic(s) and their records will be deleted: allowed by --allow-delete."} {
		if !strings.Contains(out, want) {
			t.Errorf("text plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "apply needs") {
		t.Errorf("text plan asks for a flag already given:\n%s", out)
	}
}

func TestPlanFileRoundTrip(t *testing.T) {
	p := samplePlan()
	var buf bytes.Buffer
	if err := RenderJSON(&buf, p); err != nil {
		t.Fatal(err)
	}
	back, err := ReadPlan(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(p, back); d != "" {
		t.Errorf("round trip (-saved +loaded):\n%s", d)
	}
}

func TestReadPlanErrors(t *testing.T) {
	tests := map[string]struct{ doc, want string }{
		"not json":       {"plan", "not a plan file"},
		"no version":     {`{"changes":[]}`, "no formatVersion"},
		"future version": {`{"formatVersion":2}`, "formatVersion 2 is not supported"},
		"no fingerprint": {`{"formatVersion":1,"changes":[]}`, "no fingerprint"},
		"bad action":     {`{"formatVersion":1,"fingerprint":"x","changes":[{"action":"nuke"}]}`, `unknown action "nuke"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ReadPlan(strings.NewReader(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadPlan error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestHumanUnits(t *testing.T) {
	tests := map[string]struct{ key, v, want string }{
		"hours":         {"retention.ms", "3600000", "1h"},
		"days":          {"retention.ms", "604800000", "7d"},
		"mixed":         {"segment.ms", "5400000", "1h30m"},
		"forever":       {"retention.ms", "-1", "forever"},
		"gib":           {"retention.bytes", "1073741824", "1GiB"},
		"decimal":       {"max.message.bytes", "1000000", "1MB"},
		"no exact unit": {"max.message.bytes", "1048588", "1048588"},
		"unlimited":     {"retention.bytes", "-1", "unlimited"},
		"not a unit":    {"min.insync.replicas", "2", "2"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, _ := humanUnit(tc.key, tc.v)
			if got != tc.want {
				t.Errorf("humanUnit(%s, %s) = %q, want %q", tc.key, tc.v, got, tc.want)
			}
		})
	}
}
