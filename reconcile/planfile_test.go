package reconcile

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

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
	p.Parts = append([]plans.Part{{Plane: plans.PlaneKubernetes, Fingerprint: "objects-fp", Changes: []plans.Change{{Kind: plans.KindObject, Name: "StatefulSet avatar/kafka-broker-2", Action: plans.Update,
		Object: &plans.ObjectPayload{Object: plans.ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: "avatar", Name: "kafka-broker-2"}, Broker: 2,
			Fields:    []plans.ObjectField{{Path: "spec.template.spec.containers[0].image", Before: "apache/kafka:3.8.1", After: "apache/kafka:3.9.0"}},
			Conflicts: []plans.ObjectConflict{{Field: "spec.template.spec.containers[name=\"kafka\"].image", Manager: "kubectl-set"}}, Live: "0123abcd"}}}}}, p.Parts...)
	p.Desired.Objects = &plans.DesiredObjects{Inventory: "avatar", Salt: "c2FsdHNhbHRzYWx0c2FsdA==",
		Manifests: []json.RawMessage{[]byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"avatar"}}`)}}
	return p, have
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
		t.Fatalf("base plan not empty: %+v", base.AllChanges())
	}
	if err := Verify(base, forever); err != nil {
		t.Fatalf("untouched plan refused: %v", err)
	}
	tests := map[string]struct {
		edit func(p *plans.Plan)
		want string
	}{
		"edited topic name": {func(p *plans.Plan) {
			p.Parts[0].Changes = append(p.Parts[0].Changes, plans.Change{Kind: plans.KindConfig, Name: "kep", Action: plans.Update, Config: &plans.ConfigPayload{Keys: map[string]plans.ConfigEdit{"retention.ms": {After: "1"}}}})
		}, "update topic kep config) is not called for"},
		"added delete of a topic in the snapshot": {func(p *plans.Plan) {
			p.Parts[0].Changes = append(p.Parts[0].Changes, plans.Change{Kind: plans.KindTopic, Name: "keep", Action: plans.Delete, Risk: plans.RiskDataLoss, Topic: &plans.TopicPayload{Partitions: 3, ReplicationFactor: 3}})
		}, "topic keep is in the plan's desired state"},
		"added delete of a topic's config (only kinds that remove records are deleted)": {func(p *plans.Plan) {
			p.Parts[0].Changes = append(p.Parts[0].Changes, plans.Change{Kind: plans.KindConfig, Name: "keep", Action: plans.Delete, Risk: plans.RiskNone, Config: &plans.ConfigPayload{Keys: map[string]plans.ConfigEdit{"retention.ms": {Before: "-1", Delete: true}}}})
		}, "delete topic keep config): only whole topics are deleted"},
		"added delete without deletion: prune": {func(p *plans.Plan) {
			p.Desired.Topics = p.Desired.Topics[:1]
			p.Parts[0].Changes = append(p.Parts[0].Changes, plans.Change{Kind: plans.KindTopic, Name: "kept-too", Action: plans.Delete, Risk: plans.RiskDataLoss, Topic: &plans.TopicPayload{Partitions: 1, ReplicationFactor: 1}})
		}, "deletion: retain, so nothing is deleted"},
		"lowered retention with risk none": {func(p *plans.Plan) {
			p.Parts[0].Changes = append(p.Parts[0].Changes, plans.Change{Kind: plans.KindConfig, Name: "keep", Action: plans.Update, Risk: plans.RiskNone, Config: &plans.ConfigPayload{Keys: map[string]plans.ConfigEdit{"retention.ms": {Before: "-1", After: "1"}}}})
		}, `the plan says risk "none", but against the live cluster it is "data-loss" (retention.ms lowered`},
		"compaction turned on with risk none": {func(p *plans.Plan) {
			p.Parts[0].Changes = append(p.Parts[0].Changes, plans.Change{Kind: plans.KindConfig, Name: "keep", Action: plans.Update, Risk: plans.RiskNone, Config: &plans.ConfigPayload{Keys: map[string]plans.ConfigEdit{"cleanup.policy": {After: "compact"}}}})
		}, `it is "data-loss" (cleanup.policy gains compact`},
		"change to the lock topic": {func(p *plans.Plan) {
			p.Parts[0].Changes = append(p.Parts[0].Changes, plans.Change{Kind: plans.KindConfig, Name: "__avatar_sync_lock", Action: plans.Update, Config: &plans.ConfigPayload{Keys: map[string]plans.ConfigEdit{"retention.ms": {After: "1"}}}})
		}, "__avatar_sync_lock is an internal topic"},
		"dropped change": {func(p *plans.Plan) {
			p.Desired.Topics[0].Config = retention("7200000")
		}, "the plan lacks update topic keep config"},
		"managed count raised past the mass-delete guard": {func(p *plans.Plan) {
			p.ManagedTopics = 100
		}, "the plan says 100 managed topics, the live inventory has 2"},
		"payload altered": {func(p *plans.Plan) {
			p.Desired.Topics[0].Partitions = 6
			p.Parts[0].Changes = append(p.Parts[0].Changes, plans.Change{Kind: plans.KindPartitions, Name: "keep", Action: plans.Update, Partitions: &plans.PartitionsPayload{From: 3, To: 60},
				Reason: "adds partitions: records with a key may land in a different partition from now on"})
		}, "update topic keep partitions) differs"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := base
			p.Desired = plans.DesiredOf(&want)
			p.Parts = []plans.Part{{Plane: plans.PlaneKafka, Fingerprint: base.Part(plans.PlaneKafka).Fingerprint}}
			tc.edit(&p)
			// The attacker also re-hashed the live state for the edited snapshot (the fingerprint
			// covers the configs of the topics it names, issue 23): the edit is caught by what
			// Verify re-derives, not as a stale plan.
			p.Parts[0].Fingerprint = Fingerprint(forever, p.Desired)
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
	p.Parts[0].Changes = []plans.Change{{Kind: plans.KindTopic, Name: "by-hand", Action: plans.Delete, Risk: plans.RiskDataLoss, Topic: &plans.TopicPayload{Partitions: 1, ReplicationFactor: 1}}}
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
