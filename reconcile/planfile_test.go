package reconcile

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
)

// fullPlan has a change of every kind with its payload, a snapshot and an advisory.
func fullPlan() (plans.Plan, plans.Live) {
	want := spec.Spec{Deletion: spec.DeletionPrune, Topics: []spec.Topic{
		topic("new", 3, 3, map[string]string{"retention.ms": "3600000"}),
		topic("grow", 6, 3, nil),
		topic("cfg", 3, 3, map[string]string{"retention.ms": "3600000"}),
		topic("rf", 2, 3, nil),
		{Name: "pruned", Partitions: 1, ReplicationFactor: 1, Prune: true},
		topic("adopt-me", 1, 1, nil),
	},
		Users:    []spec.User{{Name: "gui5", Mechanism: spec.MechanismSCRAM512, PasswordEnv: "GUI5_PASSWORD", Iterations: 8192}},
		Services: []spec.Service{{Name: "gui5", User: "gui5", Produces: []string{"new"}}},
		Quotas:   []spec.Quota{{User: "gui5", ProducerByteRate: 2048}},
	}
	have := live(obs("grow", 3, 3, nil), obs("cfg", 3, 3, map[string]string{"retention.ms": "604800000"}), obs("rf", 2, 1, nil),
		obs("pruned", 1, 1, map[string]string{"segment.ms": "1000"}), obs("gone", 1, 1, nil))
	have.Topics["adopt-me"] = obs("adopt-me", 1, 1, nil)
	have.Access.Quotas = []plans.LiveQuota{{User: "gui5", Values: map[string]float64{plans.QuotaProducerByteRate: 1024}}}
	d := plans.DesiredOf(&want)
	if err := FingerprintCredentials(d.Access, have.Inventory, testSecrets, zeroSalt()); err != nil {
		panic(err)
	}
	p := Diff(d, have, DiffOptions{Cluster: "embedded", AllowDelete: true})
	p.Advisories = []plans.Advisory{{Subject: "certificate kafka-broker-1", Status: "renew", Reason: "renew it"}}
	p.Changes = append([]plans.Change{{Kind: plans.KindObject, Name: "StatefulSet avatar/kafka-broker-2", Action: plans.Update,
		Object: &plans.ObjectPayload{Object: plans.ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: "avatar", Name: "kafka-broker-2"}, Broker: 2,
			Fields:    []plans.ObjectField{{Path: "spec.template.spec.containers[0].image", Before: "apache/kafka:3.8.1", After: "apache/kafka:3.9.0"}},
			Conflicts: []plans.ObjectConflict{{Field: "spec.template.spec.containers[name=\"kafka\"].image", Manager: "kubectl-set"}}, Live: "0123abcd"}}}, p.Changes...)
	p.ObjectsFingerprint = "objects-fp"
	p.Desired.Objects = &plans.DesiredObjects{Inventory: "avatar", Salt: "c2FsdHNhbHRzYWx0c2FsdA==",
		Manifests: []json.RawMessage{[]byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"avatar"}}`)}}
	return p, have
}

// westPlan is a second target's plan: one topic to create.
func westPlan() plans.Plan {
	want := spec.Spec{Topics: []spec.Topic{topic("orders", 3, 1, map[string]string{"retention.ms": "86400000"})}}
	return Diff(plans.DesiredOf(&want), live(), DiffOptions{Cluster: "lab-west"})
}

// fleetRun is a two-target run: every kind of change on lab-east, one topic on lab-west.
func fleetRun() plans.Run {
	east, _ := fullPlan()
	east.Cluster = "lab-east"
	return plans.Run{Targets: []plans.TargetPlan{{Target: "lab-east", Plan: east}, {Target: "lab-west", Plan: westPlan()}}}
}

func TestPlanFileRoundTrip(t *testing.T) {
	p, _ := fullPlan()
	kinds := map[plans.Kind]bool{}
	for _, c := range p.Changes {
		kinds[c.Kind] = true
	}
	if len(kinds) != int(plans.KindQuota)+1 || p.Summary().Delete != 1 {
		t.Fatalf("sample plan lacks a kind: %v %+v", kinds, p.Summary())
	}
	var buf bytes.Buffer
	if err := WritePlan(&buf, p); err != nil {
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

// TestRunFileGolden: the two-target document as plan --out saves it (docs/plan-json.md), read back
// as written. Rewrite with go test ./reconcile -run TestRunFileGolden -update.
func TestRunFileGolden(t *testing.T) {
	run := fleetRun()
	var buf bytes.Buffer
	if err := plans.WriteRun(&buf, run); err != nil {
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
		t.Fatalf("%v (run go test ./reconcile -run TestRunFileGolden -update)", err)
	}
	if d := cmp.Diff(string(want), buf.String()); d != "" {
		t.Errorf("%s differs (-golden +got):\n%s", golden, d)
	}
	back, err := plans.ReadRun(bytes.NewReader(want))
	if err != nil {
		t.Fatalf("golden document unreadable: %v", err)
	}
	if d := cmp.Diff(run, back, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("round trip (-saved +loaded):\n%s", d)
	}
	var doc struct {
		Targets []struct {
			Target, ClusterID, Fingerprint string
			Summary                        plans.Summary
			HasChanges                     bool
		}
		Summary    plans.RunSummary
		HasChanges bool
	}
	if err := json.Unmarshal(want, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Targets) != 2 || doc.Targets[0].Target != "lab-east" || doc.Targets[1].Target != "lab-west" || doc.Targets[1].Summary.Create != 1 ||
		doc.Targets[0].Fingerprint == "" || !doc.HasChanges || doc.Summary != run.Summary() || doc.Summary.Targets != 2 || doc.Summary.WithChanges != 2 {
		t.Errorf("document shape: %+v", doc)
	}
}

func TestRunHelpers(t *testing.T) {
	east, _ := fullPlan()
	empty := Diff(plans.Desired{Topics: []plans.DesiredTopic{}}, live(), DiffOptions{Cluster: "lab-south"})
	down := errors.New("lab-north: no broker answered")
	tests := map[string]struct {
		run        plans.Run
		hasChanges bool
		failed     []string
		summary    plans.RunSummary
	}{
		"no targets": {plans.Run{}, false, nil, plans.RunSummary{}},
		"one empty":  {plans.SingleRun(empty), false, nil, plans.RunSummary{Targets: 1}},
		"fleet": {plans.Run{Targets: []plans.TargetPlan{{Target: "lab-east", Plan: east}, {Target: "lab-west", Plan: westPlan()}, {Target: "lab-north", Err: down}, {Target: "lab-south", Plan: empty}}},
			true, []string{"lab-north"}, func() plans.RunSummary {
				s := plans.RunSummary{Targets: 4, WithChanges: 2, Failed: 1, Summary: east.Summary()}
				s.Create++
				return s
			}()},
		"failed only": {plans.Run{Targets: []plans.TargetPlan{{Target: "lab-north", Err: down}}}, false, []string{"lab-north"}, plans.RunSummary{Targets: 1, Failed: 1}},
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
		run  plans.Run
		want string
	}{
		"failed target": {plans.Run{Targets: []plans.TargetPlan{{Target: "lab-west", Plan: west}, {Target: "lab-north", Err: down}}},
			`target "lab-north" could not be planned (dial tcp 10.0.0.9:9092: connection refused)`},
		"duplicate":     {plans.Run{Targets: []plans.TargetPlan{{Target: "lab-west", Plan: west}, {Target: "lab-west", Plan: west}}}, `target "lab-west" appears twice`},
		"no name":       {plans.Run{Targets: []plans.TargetPlan{{Plan: plans.Plan{Fingerprint: "x"}}}}, "target 1 has no name"},
		"other cluster": {plans.Run{Targets: []plans.TargetPlan{{Target: "lab-east", Plan: west}}}, `target "lab-east" holds a plan computed for cluster target "lab-west"`},
		"no targets":    {plans.Run{}, "no targets"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			err := plans.WriteRun(&buf, tc.run)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("WriteRun error %v, want it to contain %q", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Errorf("a refused plan was written:\n%s", buf.String())
			}
		})
	}
	if !errors.Is(plans.WriteRun(io.Discard, tests["failed target"].run), down) {
		t.Error("the failed target's error is not wrapped")
	}
}

// TestReadRunRefusesEditedDocument: any edit of a saved plan — in any target: a topic name, an
// added delete, a lowered risk, the snapshot; the targets' order; a target dropped — breaks its
// digest (issue 10).
func TestReadRunRefusesEditedDocument(t *testing.T) {
	var buf bytes.Buffer
	if err := plans.WriteRun(&buf, fleetRun()); err != nil {
		t.Fatal(err)
	}
	saved := buf.String()
	edits := map[string]func(doc map[string]any){
		"topic name": func(doc map[string]any) { change(doc, 0, 0)["name"] = "renamed" },
		"added delete": func(doc map[string]any) {
			tg := target(doc, 1)
			tg["changes"] = append(tg["changes"].([]any), map[string]any{"kind": "topic", "name": "cfg", "action": "delete", "risk": "data-loss", "topic": map[string]any{"partitions": 3, "replicationFactor": 3}})
		},
		"risk lowered": func(doc map[string]any) {
			for i := range target(doc, 0)["changes"].([]any) {
				change(doc, 0, i)["risk"] = "none"
			}
		},
		"snapshot":    func(doc map[string]any) { target(doc, 0)["desired"].(map[string]any)["deletion"] = "retain" },
		"fingerprint": func(doc map[string]any) { target(doc, 1)["fingerprint"] = "sha256:0000" },
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
			_, err := plans.ReadRun(bytes.NewReader(b))
			if !errors.Is(err, plans.ErrTampered) || !strings.Contains(err.Error(), "edited after plan saved it") {
				t.Fatalf("edited plan: %v", err)
			}
		})
	}
}

func target(doc map[string]any, i int) map[string]any {
	return doc["targets"].([]any)[i].(map[string]any)
}

func change(doc map[string]any, tg, i int) map[string]any {
	return target(doc, tg)["changes"].([]any)[i].(map[string]any)
}

// TestVerifyRefusesTamperedPlans: a plan whose digest was recomputed after an edit (or that never
// went through a file) is still re-derived from its snapshot and the live state; each hostile edit
// of issue 10 is refused with what is wrong.
func TestVerifyRefusesTamperedPlans(t *testing.T) {
	retention := func(v string) map[string]string { return map[string]string{"retention.ms": v} }
	forever := live(obs("keep", 3, 3, retention("-1")), obs("kept-too", 1, 1, nil))
	forever.Topics["__avatar_sync_lock"] = obs("__avatar_sync_lock", 1, 3, nil)
	want := spec.Spec{Topics: []spec.Topic{topic("keep", 3, 3, retention("-1")), topic("kept-too", 1, 1, nil)}}
	base := Diff(plans.DesiredOf(&want), forever, DiffOptions{Cluster: "embedded", AllowDelete: true})
	if base.HasChanges() {
		t.Fatalf("base plan not empty: %+v", base.Changes)
	}
	if err := Verify(base, forever); err != nil {
		t.Fatalf("untouched plan refused: %v", err)
	}
	tests := map[string]struct {
		edit func(p *plans.Plan)
		want string
	}{
		"edited topic name": {func(p *plans.Plan) {
			p.Changes = append(p.Changes, plans.Change{Kind: plans.KindConfig, Name: "kep", Action: plans.Update, Config: &plans.ConfigPayload{Keys: map[string]plans.ConfigEdit{"retention.ms": {After: "1"}}}})
		}, "update topic kep config) is not called for"},
		"added delete of a topic in the snapshot": {func(p *plans.Plan) {
			p.Changes = append(p.Changes, plans.Change{Kind: plans.KindTopic, Name: "keep", Action: plans.Delete, Risk: plans.RiskDataLoss, Topic: &plans.TopicPayload{Partitions: 3, ReplicationFactor: 3}})
		}, "topic keep is in the plan's desired state"},
		"added delete without deletion: prune": {func(p *plans.Plan) {
			p.Desired.Topics = p.Desired.Topics[:1]
			p.Changes = append(p.Changes, plans.Change{Kind: plans.KindTopic, Name: "kept-too", Action: plans.Delete, Risk: plans.RiskDataLoss, Topic: &plans.TopicPayload{Partitions: 1, ReplicationFactor: 1}})
		}, "deletion: retain, so nothing is deleted"},
		"lowered retention with risk none": {func(p *plans.Plan) {
			p.Changes = append(p.Changes, plans.Change{Kind: plans.KindConfig, Name: "keep", Action: plans.Update, Risk: plans.RiskNone, Config: &plans.ConfigPayload{Keys: map[string]plans.ConfigEdit{"retention.ms": {Before: "-1", After: "1"}}}})
		}, `the plan says risk "none", but against the live cluster it is "data-loss" (retention.ms lowered`},
		"compaction turned on with risk none": {func(p *plans.Plan) {
			p.Changes = append(p.Changes, plans.Change{Kind: plans.KindConfig, Name: "keep", Action: plans.Update, Risk: plans.RiskNone, Config: &plans.ConfigPayload{Keys: map[string]plans.ConfigEdit{"cleanup.policy": {After: "compact"}}}})
		}, `it is "data-loss" (cleanup.policy gains compact`},
		"change to the lock topic": {func(p *plans.Plan) {
			p.Changes = append(p.Changes, plans.Change{Kind: plans.KindConfig, Name: "__avatar_sync_lock", Action: plans.Update, Config: &plans.ConfigPayload{Keys: map[string]plans.ConfigEdit{"retention.ms": {After: "1"}}}})
		}, "__avatar_sync_lock is an internal topic"},
		"dropped change": {func(p *plans.Plan) {
			p.Desired.Topics[0].Config = retention("7200000")
		}, "the plan lacks update topic keep config"},
		"managed count raised past the mass-delete guard": {func(p *plans.Plan) {
			p.ManagedTopics = 100
		}, "the plan says 100 managed topics, the live inventory has 2"},
		"payload altered": {func(p *plans.Plan) {
			p.Desired.Topics[0].Partitions = 6
			p.Changes = append(p.Changes, plans.Change{Kind: plans.KindPartitions, Name: "keep", Action: plans.Update, Partitions: &plans.PartitionsPayload{From: 3, To: 60},
				Reason: "adds partitions: records with a key may land in a different partition from now on"})
		}, "update topic keep partitions) differs"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := base
			p.Desired = plans.DesiredOf(&want)
			p.Changes = nil
			tc.edit(&p)
			var buf bytes.Buffer
			if err := WritePlan(&buf, p); err != nil { // a consistent digest: the attacker re-sealed it
				t.Fatal(err)
			}
			sealed, err := ReadPlan(&buf)
			if err != nil {
				t.Fatalf("re-sealed plan unreadable: %v", err)
			}
			err = Verify(sealed, forever)
			if !errors.Is(err, plans.ErrTampered) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify: %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// TestVerifyUnmanagedDeleteRefused: deleting a topic outside the inventory is refused even when
// the snapshot says prune and the topic is not in it.
func TestVerifyUnmanagedDeleteRefused(t *testing.T) {
	have := unrecorded(live(obs("by-hand", 1, 1, nil)))
	p := Diff(plans.Desired{Deletion: spec.DeletionPrune, Topics: []plans.DesiredTopic{}}, have, DiffOptions{AllowDelete: true})
	p.Changes = []plans.Change{{Kind: plans.KindTopic, Name: "by-hand", Action: plans.Delete, Risk: plans.RiskDataLoss, Topic: &plans.TopicPayload{Partitions: 1, ReplicationFactor: 1}}}
	if err := Verify(p, have); !errors.Is(err, plans.ErrTampered) || !strings.Contains(err.Error(), "not in avatar-sync's inventory") {
		t.Fatalf("Verify: %v", err)
	}
}

// TestSameChangeIsCanonicalEquality holds the field-by-field comparison of config changes that
// Verify uses (issue 23: no JSON encoding of 10,000 changes twice) to what it replaces: two
// changes are the same exactly when their canonical JSON is.
func TestSameChangeIsCanonicalEquality(t *testing.T) {
	cfg := func(mut func(c *plans.Change)) plans.Change {
		c := plans.Change{Kind: plans.KindConfig, Name: "a", Action: plans.Update, Risk: plans.RiskNone, Reason: "topic configs differ from the spec",
			Notes:  map[string]string{"retention.ms": "live value: set on the topic"},
			Config: &plans.ConfigPayload{Keys: map[string]plans.ConfigEdit{"retention.ms": {Before: "1", After: "2"}}}}
		if mut != nil {
			mut(&c)
		}
		return c
	}
	base := cfg(nil)
	cases := map[string]plans.Change{
		"same":     cfg(nil),
		"name":     cfg(func(c *plans.Change) { c.Name = "b" }),
		"action":   cfg(func(c *plans.Change) { c.Action = plans.NoOp }),
		"risk":     cfg(func(c *plans.Change) { c.Risk = plans.RiskDataLoss }),
		"reason":   cfg(func(c *plans.Change) { c.Reason = "other" }),
		"note":     cfg(func(c *plans.Change) { c.Notes["retention.ms"] = "other" }),
		"no notes": cfg(func(c *plans.Change) { c.Notes = nil }),
		"before":   cfg(func(c *plans.Change) { c.Config.Keys["retention.ms"] = plans.ConfigEdit{Before: "3", After: "2"} }),
		"delete": cfg(func(c *plans.Change) {
			c.Config.Keys["retention.ms"] = plans.ConfigEdit{Before: "1", After: "2", Delete: true}
		}),
		"extra key":      cfg(func(c *plans.Change) { c.Config.Keys["segment.ms"] = plans.ConfigEdit{After: "1"} }),
		"second payload": cfg(func(c *plans.Change) { c.Topic = &plans.TopicPayload{Partitions: 1} }),
		"other kind":     cfg(func(c *plans.Change) { c.Kind = plans.KindTopic }),
	}
	emptyNotes := [2]plans.Change{cfg(func(c *plans.Change) { c.Notes = nil }), cfg(func(c *plans.Change) { c.Notes = map[string]string{} })}
	for name, c := range cases {
		if got, want := sameChange(base, c), canonical(base) == canonical(c); got != want {
			t.Errorf("%s: sameChange = %v, canonical equality %v", name, got, want)
		}
	}
	if !sameChange(emptyNotes[0], emptyNotes[1]) {
		t.Error("nil and empty notes differ; a plan file's round trip turns one into the other")
	}
	if !sameChange(cases["second payload"], cfg(func(c *plans.Change) { c.Topic = &plans.TopicPayload{Partitions: 1} })) {
		t.Error("equal changes outside the config fast path differ")
	}

	create := func(mut func(c *plans.Change)) plans.Change {
		c := plans.Change{Kind: plans.KindTopic, Name: "a", Action: plans.Create,
			Topic: &plans.TopicPayload{Partitions: 3, ReplicationFactor: 3, Configs: map[string]string{"retention.ms": "1"}}}
		if mut != nil {
			mut(&c)
		}
		return c
	}
	baseCreate := create(nil)
	creates := map[string]plans.Change{
		"same":          create(nil),
		"partitions":    create(func(c *plans.Change) { c.Topic.Partitions = 6 }),
		"replication":   create(func(c *plans.Change) { c.Topic.ReplicationFactor = 1 }),
		"config value":  create(func(c *plans.Change) { c.Topic.Configs["retention.ms"] = "2" }),
		"no configs":    create(func(c *plans.Change) { c.Topic.Configs = nil }),
		"empty configs": create(func(c *plans.Change) { c.Topic.Configs = map[string]string{} }),
		"reason":        create(func(c *plans.Change) { c.Reason = "why" }),
		"note":          create(func(c *plans.Change) { c.Notes = map[string]string{"x": "y"} }),
		"config too":    create(func(c *plans.Change) { c.Config = &plans.ConfigPayload{Keys: map[string]plans.ConfigEdit{}} }),
	}
	for name, c := range creates {
		if got, want := sameChange(baseCreate, c), canonical(baseCreate) == canonical(c); got != want {
			t.Errorf("create, %s: sameChange = %v, canonical equality %v", name, got, want)
		}
	}
	if !sameChange(creates["no configs"], creates["empty configs"]) {
		t.Error("nil and empty topic configs differ; a plan file's round trip turns one into the other")
	}
}
