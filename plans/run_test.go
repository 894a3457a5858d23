package plans

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/avatar-project/avatar-sync/spec"
	"github.com/avatar-project/avatar-sync/topics"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fullPlan is one target's plan with a change of every kind, each with its payload, a snapshot
// with access control and pinned manifests, and an advisory, built from plans' types alone: the
// plan file is plans' business, what Diff and the planes put in a plan is reconcile's and kube's
// (their tests). Each risk is DeriveRisk's against the live state below, as Diff sets it.
func fullPlan() Plan {
	const pw = "pbkdf2-sha256$4096$AAAAAAAAAAAAAAAAAAAAAA$kbyeU3YVmpKE67Yu7itpCPCL9EfehEVNt0MTBd7k7DA"
	acl := func(op string) spec.ACLRule {
		return spec.ACLRule{Principal: "User:gui5", Host: "*", Resource: "topic", Name: "new", Pattern: "literal", Operation: op, Permission: "allow"}
	}
	p := Plan{Cluster: "lab-east", ClusterID: "test-cluster", AllowDelete: true, ManagedTopics: 5,
		Desired: Desired{
			Topics: []DesiredTopic{{Name: "adopt-me", Partitions: 1, ReplicationFactor: 1},
				{Name: "cfg", Partitions: 3, ReplicationFactor: 3, Config: map[string]string{"retention.ms": "3600000"}},
				{Name: "grow", Partitions: 6, ReplicationFactor: 3},
				{Name: "new", Partitions: 3, ReplicationFactor: 3, Config: map[string]string{"retention.ms": "3600000"}},
				{Name: "pruned", Partitions: 1, ReplicationFactor: 1, Prune: true},
				{Name: "rf", Partitions: 2, ReplicationFactor: 3}},
			Deletion: spec.DeletionPrune,
			Access: &DesiredAccess{Principals: []string{"User:gui5"}, ACLs: []spec.ACLRule{acl("Describe"), acl("Write")},
				Users:  []DesiredUser{{Name: "gui5", Mechanism: spec.MechanismSCRAM512, Iterations: 8192, PasswordEnv: "GUI5_PASSWORD", Fingerprint: pw}},
				Quotas: []DesiredQuota{{User: "gui5", Values: map[string]float64{QuotaProducerByteRate: 2048}}}},
			Objects: &DesiredObjects{Inventory: "avatar", Salt: "c2FsdHNhbHRzYWx0c2FsdA==",
				Manifests: []json.RawMessage{[]byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"avatar"}}`)}},
		},
		Parts: []Part{{Plane: PlaneKubernetes, Fingerprint: "objects-fp", Changes: []Change{
			{Kind: KindObject, Name: "StatefulSet avatar/kafka-broker-2", Action: Update,
				Object: &ObjectPayload{Object: ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: "avatar", Name: "kafka-broker-2"}, Broker: 2,
					Fields:    []ObjectField{{Path: "spec.template.spec.containers[0].image", Before: "apache/kafka:3.8.1", After: "apache/kafka:3.9.0"}},
					Conflicts: []ObjectConflict{{Field: `spec.template.spec.containers[name="kafka"].image`, Manager: "kubectl-set"}},
					Live:      "hmac:5d0c7b1e9a4f2c3d8e6a1b0f7c2d4e9a"}},
		}}, {Plane: PlaneKafka, Fingerprint: "sha256:4bb8bcbb3a6036087391687422153237e5e0fa36ec7969f9e3f06596f33c71f8", Changes: []Change{
			{Kind: KindInventory, Name: "User:gui5", Action: Update, Adopt: &AdoptPayload{},
				Reason: "principal named in the spec: recorded in avatar-sync's inventory, so its ACLs and quotas are managed (and may be pruned once they leave the spec)"},
			{Kind: KindInventory, Name: "adopt-me", Action: Update, Adopt: &AdoptPayload{},
				Reason: "exists on the cluster and is named in the spec: recorded in avatar-sync's inventory, so deletion: prune may delete it once it leaves the spec"},
			{Kind: KindTopic, Name: "new", Action: Create, Topic: &TopicPayload{Partitions: 3, ReplicationFactor: 3, Configs: map[string]string{"retention.ms": "3600000"}}},
			{Kind: KindPartitions, Name: "grow", Action: Update, Partitions: &PartitionsPayload{From: 3, To: 6},
				Reason: "adds partitions: records with a key may land in a different partition from now on"},
			{Kind: KindConfig, Name: "cfg", Action: Update, Reason: "retention.ms lowered: records beyond the new limit are deleted",
				Notes:  map[string]string{"retention.ms": "live value: set on the topic"},
				Config: &ConfigPayload{Keys: map[string]ConfigEdit{"retention.ms": {Before: "604800000", After: "3600000"}}}},
			{Kind: KindConfig, Name: "pruned", Action: Update, Reason: "topic configs differ from the spec",
				Notes:  map[string]string{"segment.ms": "set on the topic, not in the spec; removed (prune: true)"},
				Config: &ConfigPayload{Keys: map[string]ConfigEdit{"segment.ms": {Before: "1000", Delete: true}}}},
			{Kind: KindReplication, Name: "rf", Action: Update, Reason: "replica reassignment copies partition data between brokers under a replication throttle",
				Replication: &ReplicationPayload{From: 1, To: 3, Partitions: map[int32]ReplicaMove{0: {Before: []int32{0}, After: []int32{0, 2, 1}}, 1: {Before: []int32{1}, After: []int32{1, 2, 0}}}}},
			{Kind: KindUser, Name: "gui5 (SCRAM-SHA-512)", Action: Create, Reason: "new SCRAM credential; the password is read from its reference at apply and never shown",
				User: &UserPayload{User: "gui5", Mechanism: spec.MechanismSCRAM512, Iterations: 8192, Fingerprint: pw, PasswordEnv: "GUI5_PASSWORD"}},
			{Kind: KindACL, Name: "User:gui5 allow Describe on topic new", Action: Create, ACL: &ACLPayload{acl("Describe")}},
			{Kind: KindACL, Name: "User:gui5 allow Write on topic new", Action: Create, ACL: &ACLPayload{acl("Write")}},
			{Kind: KindQuota, Name: "user=gui5", Action: Update, Reason: "quota values differ from the spec",
				Quota: &QuotaPayload{User: "gui5", Before: map[string]float64{QuotaProducerByteRate: 1024}, After: map[string]float64{QuotaProducerByteRate: 2048}}},
			{Kind: KindTopic, Name: "gone", Action: Delete, Topic: &TopicPayload{Partitions: 1, ReplicationFactor: 1},
				Reason: "managed by avatar-sync and no longer in the spec, the spec says deletion: prune and --allow-delete was given: the topic and its records are deleted"},
		}}},
		Advisories: []Advisory{{Subject: "certificate kafka-broker-1", Status: "renew", Reason: "renew it"}},
	}
	live := Live{Topics: map[string]topics.Observed{"cfg": {Name: "cfg", Config: map[string]topics.ConfigValue{
		"retention.ms": {Value: "604800000", Source: topics.SourceTopic}}}}}
	for _, pt := range p.Parts {
		for i := range pt.Changes {
			pt.Changes[i].Risk, _ = DeriveRisk(pt.Changes[i], live)
		}
	}
	return p
}

// westPlan is a second target's plan: one topic to create.
func westPlan() Plan {
	return Plan{Cluster: "lab-west", ClusterID: "test-cluster",
		Desired: Desired{Topics: []DesiredTopic{{Name: "orders", Partitions: 3, ReplicationFactor: 1, Config: map[string]string{"retention.ms": "86400000"}}},
			Deletion: spec.DeletionRetain},
		Parts: []Part{{Plane: PlaneKafka, Fingerprint: "sha256:291560ac5907ad3216951b3a2188707ddaa5cdfaee2fe71660f11ce1f8c68588",
			Changes: []Change{{Kind: KindTopic, Name: "orders", Action: Create, Topic: &TopicPayload{Partitions: 3, ReplicationFactor: 1,
				Configs: map[string]string{"retention.ms": "86400000"}}}}}}}
}

// fleetRun is a two-target run: every kind of change on lab-east, one topic on lab-west.
func fleetRun() Run {
	return Run{Targets: []TargetPlan{{Target: "lab-east", Plan: fullPlan()}, {Target: "lab-west", Plan: westPlan()}}}
}

func TestPlanFileRoundTrip(t *testing.T) {
	p := fullPlan()
	seen := map[Kind]bool{}
	for _, c := range p.AllChanges() {
		if err := c.PayloadErr(); err != nil {
			t.Fatalf("sample change: %v", err)
		}
		seen[c.Kind] = true
	}
	if len(seen) != len(kinds) || p.Summary().Delete != 1 {
		t.Fatalf("sample plan lacks a kind: %v %+v", seen, p.Summary())
	}
	var buf bytes.Buffer
	if err := WriteRun(&buf, SingleRun(p)); err != nil {
		t.Fatal(err)
	}
	back, err := ReadRun(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Targets) != 1 || back.Targets[0].Target != p.Cluster {
		t.Fatalf("a one-target plan read back as %+v", back.Targets)
	}
	if d := cmp.Diff(p, back.Targets[0].Plan); d != "" {
		t.Errorf("round trip (-saved +loaded):\n%s", d)
	}
}

// TestRunFileGolden: the two-target document as plan --out saves it (docs/plan-json.md), read back
// as written. Rewrite with go test ./plans -run TestRunFileGolden -update.
func TestRunFileGolden(t *testing.T) {
	run := fleetRun()
	var buf bytes.Buffer
	if err := WriteRun(&buf, run); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "run.golden.json")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./plans -run TestRunFileGolden -update)", err)
	}
	if d := cmp.Diff(string(want), buf.String()); d != "" {
		t.Errorf("%s differs (-golden +got):\n%s", golden, d)
	}
	back, err := ReadRun(bytes.NewReader(want))
	if err != nil {
		t.Fatalf("golden document unreadable: %v", err)
	}
	if d := cmp.Diff(run, back, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("round trip (-saved +loaded):\n%s", d)
	}
	var doc struct {
		Targets []struct {
			Target, ClusterID string
			Parts             []struct{ Plane, Fingerprint string }
			Summary           Summary
			HasChanges        bool
		}
		Summary    RunSummary
		HasChanges bool
	}
	if err := json.Unmarshal(want, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Targets) != 2 || doc.Targets[0].Target != "lab-east" || doc.Targets[1].Target != "lab-west" || doc.Targets[1].Summary.Create != 1 ||
		len(doc.Targets[0].Parts) != 2 || doc.Targets[0].Parts[0].Plane != "kubernetes" || doc.Targets[0].Parts[1].Fingerprint == "" || !doc.HasChanges || doc.Summary != run.Summary() || doc.Summary.Targets != 2 || doc.Summary.WithChanges != 2 {
		t.Errorf("document shape: %+v", doc)
	}
}

func TestRunHelpers(t *testing.T) {
	east := fullPlan()
	empty := Plan{Cluster: "lab-south", Parts: []Part{{Plane: PlaneKafka, Fingerprint: "sha256:0"}}, Desired: Desired{Topics: []DesiredTopic{}, Deletion: spec.DeletionRetain}}
	down := errors.New("lab-north: no broker answered")
	tests := map[string]struct {
		run        Run
		hasChanges bool
		failed     []string
		summary    RunSummary
	}{
		"no targets": {Run{}, false, nil, RunSummary{}},
		"one empty":  {SingleRun(empty), false, nil, RunSummary{Targets: 1}},
		"fleet": {Run{Targets: []TargetPlan{{Target: "lab-east", Plan: east}, {Target: "lab-west", Plan: westPlan()}, {Target: "lab-north", Err: down}, {Target: "lab-south", Plan: empty}}},
			true, []string{"lab-north"}, func() RunSummary {
				s := RunSummary{Targets: 4, WithChanges: 2, Failed: 1, Summary: east.Summary()}
				s.Create++
				return s
			}()},
		"failed only": {Run{Targets: []TargetPlan{{Target: "lab-north", Err: down}}}, false, []string{"lab-north"}, RunSummary{Targets: 1, Failed: 1}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.run.HasChanges(); got != tc.hasChanges {
				t.Errorf("HasChanges = %v, want %v", got, tc.hasChanges)
			}
			var failed []string
			for _, f := range tc.run.Failed() {
				failed = append(failed, f.Target)
			}
			if d := cmp.Diff(tc.failed, failed); d != "" {
				t.Errorf("Failed (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.summary, tc.run.Summary()); d != "" {
				t.Errorf("Summary (-want +got):\n%s", d)
			}
		})
	}
}

// TestWriteRunRefuses: a plan with a failed target is never saved (the target is named), nor one
// that names a target twice or not at all.
func TestWriteRunRefuses(t *testing.T) {
	west := westPlan()
	down := errors.New("dial tcp 10.0.0.9:9092: connection refused")
	tests := map[string]struct {
		run  Run
		want string
	}{
		"failed target": {Run{Targets: []TargetPlan{{Target: "lab-west", Plan: west}, {Target: "lab-north", Err: down}}},
			`target "lab-north" could not be planned (dial tcp 10.0.0.9:9092: connection refused)`},
		"duplicate":     {Run{Targets: []TargetPlan{{Target: "lab-west", Plan: west}, {Target: "lab-west", Plan: west}}}, `target "lab-west" appears twice`},
		"no name":       {Run{Targets: []TargetPlan{{Plan: Plan{Parts: []Part{{Plane: PlaneKafka, Fingerprint: "x"}}}}}}, "target 1 has no name"},
		"other cluster": {Run{Targets: []TargetPlan{{Target: "lab-east", Plan: west}}}, `target "lab-east" holds a plan computed for cluster target "lab-west"`},
		"no targets":    {Run{}, "no targets"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			err := WriteRun(&buf, tc.run)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("WriteRun error %v, want it to contain %q", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Errorf("a refused plan was written:\n%s", buf.String())
			}
		})
	}
	if !errors.Is(WriteRun(io.Discard, tests["failed target"].run), down) {
		t.Error("the failed target's error is not wrapped")
	}
}

// TestReadRunRefusesEditedDocument: any edit of a saved plan — in any target: a topic name, an
// added delete, a lowered risk, the snapshot; the targets' order; a target dropped — breaks its
// digest (issue 10).
func TestReadRunRefusesEditedDocument(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteRun(&buf, fleetRun()); err != nil {
		t.Fatal(err)
	}
	saved := buf.String()
	if _, err := ReadRun(strings.NewReader(saved)); err != nil {
		t.Fatalf("the document as saved: %v", err)
	}
	edits := map[string]func(doc map[string]any){
		"topic name": func(doc map[string]any) { change(doc, 0, 1, 0)["name"] = "renamed" },
		"added delete": func(doc map[string]any) {
			pt := part(doc, 1, 0)
			pt["changes"] = append(pt["changes"].([]any), map[string]any{"kind": "topic", "name": "cfg", "action": "delete", "risk": "data-loss", "topic": map[string]any{"partitions": 3, "replicationFactor": 3}})
		},
		"risk lowered": func(doc map[string]any) {
			for i := range part(doc, 0, 1)["changes"].([]any) {
				change(doc, 0, 1, i)["risk"] = "none"
			}
		},
		"snapshot":    func(doc map[string]any) { target(doc, 0)["desired"].(map[string]any)["deletion"] = "retain" },
		"fingerprint": func(doc map[string]any) { part(doc, 1, 0)["fingerprint"] = "sha256:0000" },
		"second target name": func(doc map[string]any) {
			target(doc, 1)["target"], target(doc, 1)["cluster"] = "lab-south", "lab-south"
		},
		"order": func(doc map[string]any) {
			ts := doc["targets"].([]any)
			ts[0], ts[1] = ts[1], ts[0]
		},
		"target dropped": func(doc map[string]any) { doc["targets"] = doc["targets"].([]any)[:1] },
		"fleet summary":  func(doc map[string]any) { doc["summary"].(map[string]any)["delete"] = 0 },
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal([]byte(saved), &doc); err != nil {
				t.Fatal(err)
			}
			edit(doc)
			b, _ := json.Marshal(doc)
			_, err := ReadRun(bytes.NewReader(b))
			if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "edited after plan saved it") {
				t.Fatalf("edited plan: %v", err)
			}
		})
	}
}

func target(doc map[string]any, i int) map[string]any {
	return doc["targets"].([]any)[i].(map[string]any)
}

func part(doc map[string]any, tg, i int) map[string]any {
	return target(doc, tg)["parts"].([]any)[i].(map[string]any)
}

func change(doc map[string]any, tg, pt, i int) map[string]any {
	return part(doc, tg, pt)["changes"].([]any)[i].(map[string]any)
}
