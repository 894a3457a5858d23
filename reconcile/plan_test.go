package reconcile

import (
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
	"github.com/avatar-project/avatar-sync/topics"
	"github.com/google/go-cmp/cmp"
)

var brokers3 = []topics.Broker{{ID: 0, Rack: "a"}, {ID: 1, Rack: "b"}, {ID: 2, Rack: "c"}}

// obs builds a live topic with parts partitions of rf replicas and topic-level configs.
func obs(name string, parts, rf int, cfg map[string]string) topics.Observed {
	o := topics.Observed{Name: name, Replicas: map[int32][]int32{}, Config: map[string]topics.ConfigValue{}}
	for p := 0; p < parts; p++ {
		var reps []int32
		for r := 0; r < rf; r++ {
			reps = append(reps, int32((p+r)%3))
		}
		o.Replicas[int32(p)] = reps
	}
	for k, v := range cfg {
		o.Config[k] = topics.ConfigValue{Value: v, Source: topics.SourceTopic}
	}
	return o
}

// live is a cluster holding ts, every one of them in avatar-sync's inventory (managed).
func live(ts ...topics.Observed) plans.Live {
	l := plans.Live{ClusterID: "test-cluster", Brokers: brokers3, Topics: map[string]topics.Observed{}}
	for _, t := range ts {
		l.Topics[t.Name] = t
		if !topics.IsInternalName(t.Name) {
			l.Inventory = append(l.Inventory, t.Name)
		}
	}
	return l
}

// unrecorded is l with an empty inventory: a cluster avatar-sync has not recorded anything on.
func unrecorded(l plans.Live) plans.Live {
	l.Inventory = nil
	return l
}

func topic(name string, parts, rf int, cfg map[string]string) spec.Topic {
	return spec.Topic{Name: name, Partitions: parts, ReplicationFactor: rf, Config: cfg}
}

func TestDiff(t *testing.T) {
	retention := func(v string) map[string]string { return map[string]string{"retention.ms": v} }
	edits := func(kv ...string) *plans.ConfigPayload {
		p := &plans.ConfigPayload{Keys: map[string]plans.ConfigEdit{}}
		for i := 0; i < len(kv); i += 3 {
			e := plans.ConfigEdit{Before: kv[i+1], After: kv[i+2]}
			if e.After == "-" {
				e.After, e.Delete = "", true
			}
			p.Keys[kv[i]] = e
		}
		return p
	}
	tests := map[string]struct {
		want    spec.Spec
		have    plans.Live
		opts    DiffOptions
		changes []plans.Change
	}{
		"create from empty": {
			want: spec.Spec{Topics: []spec.Topic{topic("b", 3, 3, retention("3600000")), topic("a", 1, 1, nil)}},
			have: live(),
			changes: []plans.Change{
				{Kind: plans.KindTopic, Name: "a", Action: plans.Create, Topic: &plans.TopicPayload{Partitions: 1, ReplicationFactor: 1}},
				{Kind: plans.KindTopic, Name: "b", Action: plans.Create, Topic: &plans.TopicPayload{Partitions: 3, ReplicationFactor: 3, Configs: retention("3600000")}},
			},
		},
		"in sync": {
			want:    spec.Spec{Topics: []spec.Topic{topic("a", 3, 3, retention("3600000"))}},
			have:    live(obs("a", 3, 3, retention("3600000"))),
			changes: nil,
		},
		"in sync but not recorded: adopted": {
			want: spec.Spec{Topics: []spec.Topic{topic("a", 3, 3, retention("3600000"))}},
			have: unrecorded(live(obs("a", 3, 3, retention("3600000")))),
			changes: []plans.Change{{Kind: plans.KindInventory, Name: "a", Action: plans.Update, Adopt: &plans.AdoptPayload{},
				Reason: "exists on the cluster and is named in the spec: recorded in avatar-sync's inventory, so deletion: prune may delete it once it leaves the spec"}},
		},
		"retention lowered is data loss": {
			want: spec.Spec{Topics: []spec.Topic{topic("a", 3, 3, retention("3600000"))}},
			have: live(obs("a", 3, 3, retention("604800000"))),
			changes: []plans.Change{{Kind: plans.KindConfig, Name: "a", Action: plans.Update, Risk: plans.RiskDataLoss,
				Config: edits("retention.ms", "604800000", "3600000"),
				Reason: "retention.ms lowered: records beyond the new limit are deleted",
				Notes:  map[string]string{"retention.ms": "live value: set on the topic"}}},
		},
		"retention raised is safe": {
			want: spec.Spec{Topics: []spec.Topic{topic("a", 3, 3, retention("604800000"))}},
			have: live(obs("a", 3, 3, retention("3600000"))),
			changes: []plans.Change{{Kind: plans.KindConfig, Name: "a", Action: plans.Update,
				Config: edits("retention.ms", "3600000", "604800000"), Reason: "topic configs differ from the spec",
				Notes: map[string]string{"retention.ms": "live value: set on the topic"}}},
		},
		"compact to delete is data loss": {
			want: spec.Spec{Topics: []spec.Topic{topic("a", 3, 3, map[string]string{"cleanup.policy": "delete"})}},
			have: live(obs("a", 3, 3, map[string]string{"cleanup.policy": "compact"})),
			changes: []plans.Change{{Kind: plans.KindConfig, Name: "a", Action: plans.Update, Risk: plans.RiskDataLoss,
				Config: edits("cleanup.policy", "compact", "delete"),
				Reason: "cleanup.policy drops compact: retention now deletes old records, the latest value of every key included",
				Notes:  map[string]string{"cleanup.policy": "live value: set on the topic"}}},
		},
		"partition increase": {
			want: spec.Spec{Topics: []spec.Topic{topic("a", 6, 3, nil)}},
			have: live(obs("a", 3, 3, nil)),
			changes: []plans.Change{{Kind: plans.KindPartitions, Name: "a", Action: plans.Update, Partitions: &plans.PartitionsPayload{From: 3, To: 6},
				Reason: "adds partitions: records with a key may land in a different partition from now on"}},
		},
		"partition decrease unsupported": {
			want: spec.Spec{Topics: []spec.Topic{topic("a", 1, 3, nil)}},
			have: live(obs("a", 3, 3, nil)),
			changes: []plans.Change{{Kind: plans.KindPartitions, Name: "a", Action: plans.Unsupported, Risk: plans.RiskUnsupported, Partitions: &plans.PartitionsPayload{From: 3, To: 1},
				Reason: "Kafka cannot remove partitions: to shrink the topic, recreate it (delete it, then apply; its records are lost), or keep partitions: 3 in the spec"}},
		},
		"replication change is a heavy reassignment": {
			want: spec.Spec{Topics: []spec.Topic{topic("a", 2, 2, nil)}},
			have: live(obs("a", 2, 1, nil)),
			changes: []plans.Change{{Kind: plans.KindReplication, Name: "a", Action: plans.Update, Risk: plans.RiskHeavy,
				Replication: &plans.ReplicationPayload{From: 1, To: 2, Partitions: map[int32]plans.ReplicaMove{
					0: {Before: []int32{0}, After: []int32{0, 2}}, 1: {Before: []int32{1}, After: []int32{1, 2}}}},
				Reason: "replica reassignment copies partition data between brokers under a replication throttle"}},
		},
		"create needing more brokers than exist": {
			want: spec.Spec{Topics: []spec.Topic{topic("a", 1, 5, nil)}},
			have: live(),
			changes: []plans.Change{{Kind: plans.KindTopic, Name: "a", Action: plans.Unsupported, Risk: plans.RiskUnsupported,
				Topic:  &plans.TopicPayload{Partitions: 1, ReplicationFactor: 5},
				Reason: "replication factor 5 needs 5 brokers, the cluster has 3: lower replicationFactor or add brokers"}},
		},
		"drift reported, not removed": {
			want: spec.Spec{Topics: []spec.Topic{topic("a", 3, 3, nil)}},
			have: live(obs("a", 3, 3, map[string]string{"segment.ms": "1000"})),
			changes: []plans.Change{{Kind: plans.KindConfig, Name: "a", Action: plans.NoOp, Config: &plans.ConfigPayload{Keys: map[string]plans.ConfigEdit{"segment.ms": {Before: "1000"}}},
				Reason: "drift: set on the topic but not in the spec; left alone because the topic does not have prune: true (add it, or add the keys to the spec)"}},
		},
		"drift removed with prune": {
			want: spec.Spec{Topics: []spec.Topic{{Name: "a", Partitions: 3, ReplicationFactor: 3, Prune: true}}},
			have: live(obs("a", 3, 3, map[string]string{"segment.ms": "1000"})),
			changes: []plans.Change{{Kind: plans.KindConfig, Name: "a", Action: plans.Update,
				Config: edits("segment.ms", "1000", "-"), Reason: "topic configs differ from the spec",
				Notes: map[string]string{"segment.ms": "set on the topic, not in the spec; removed (prune: true)"}}},
		},
		"managed topic that left the spec kept by default": {
			want: spec.Spec{},
			have: live(obs("legacy", 1, 1, nil), obs("__consumer_offsets", 50, 3, nil), obs("__avatar_sync_lock", 1, 3, nil)),
			changes: []plans.Change{{Kind: plans.KindTopic, Name: "legacy", Action: plans.NoOp, Topic: &plans.TopicPayload{Partitions: 1, ReplicationFactor: 1},
				Reason: "managed by avatar-sync and no longer in the spec; kept (deleting needs deletion: prune in the spec and --allow-delete)"}},
		},
		"managed with prune but no --allow-delete": {
			want: spec.Spec{Deletion: spec.DeletionPrune},
			have: live(obs("legacy", 1, 1, nil)),
			changes: []plans.Change{{Kind: plans.KindTopic, Name: "legacy", Action: plans.NoOp, Topic: &plans.TopicPayload{Partitions: 1, ReplicationFactor: 1},
				Reason: "managed by avatar-sync and no longer in the spec; the spec says deletion: prune, but deleting also needs --allow-delete"}},
		},
		"managed with --allow-delete but no prune": {
			want: spec.Spec{Deletion: spec.DeletionRetain},
			have: live(obs("legacy", 1, 1, nil)),
			opts: DiffOptions{AllowDelete: true},
			changes: []plans.Change{{Kind: plans.KindTopic, Name: "legacy", Action: plans.NoOp, Topic: &plans.TopicPayload{Partitions: 1, ReplicationFactor: 1},
				Reason: "managed by avatar-sync and no longer in the spec; kept (deleting needs deletion: prune in the spec and --allow-delete)"}},
		},
		"managed deleted with both opt-ins": {
			want: spec.Spec{Deletion: spec.DeletionPrune},
			have: live(obs("legacy", 1, 1, nil), obs("_schemas", 1, 3, nil)),
			opts: DiffOptions{AllowDelete: true},
			changes: []plans.Change{{Kind: plans.KindTopic, Name: "legacy", Action: plans.Delete, Risk: plans.RiskDataLoss, Topic: &plans.TopicPayload{Partitions: 1, ReplicationFactor: 1},
				Reason: "managed by avatar-sync and no longer in the spec, the spec says deletion: prune and --allow-delete was given: the topic and its records are deleted"}},
		},
		"unmanaged never deleted, even with both opt-ins": {
			want: spec.Spec{Deletion: spec.DeletionPrune},
			have: unrecorded(live(obs("by-hand", 1, 1, nil))),
			opts: DiffOptions{AllowDelete: true},
			changes: []plans.Change{{Kind: plans.KindTopic, Name: "by-hand", Action: plans.NoOp, Topic: &plans.TopicPayload{Partitions: 1, ReplicationFactor: 1},
				Reason: "unmanaged: not in the spec and not in avatar-sync's inventory (it did not create or adopt it); never deleted"}},
		},
		"sensitive live value masked, desired value kept": {
			want: spec.Spec{Topics: []spec.Topic{topic("a", 3, 3, map[string]string{"x.secret": "new"})}},
			have: func() plans.Live {
				o := obs("a", 3, 3, nil)
				o.Config["x.secret"] = topics.ConfigValue{Value: "old", Source: topics.SourceTopic, Sensitive: true}
				return live(o)
			}(),
			changes: []plans.Change{{Kind: plans.KindConfig, Name: "a", Action: plans.Update,
				Config: edits("x.secret", "(sensitive)", "new"),
				Reason: "topic configs differ from the spec", Notes: map[string]string{"x.secret": "live value: set on the topic"}}},
		},
		"internal topic in the spec is refused": {
			want: spec.Spec{Topics: []spec.Topic{topic("__consumer_offsets", 1, 1, nil)}},
			have: live(),
			changes: []plans.Change{{Kind: plans.KindTopic, Name: "__consumer_offsets", Action: plans.Unsupported, Risk: plans.RiskUnsupported,
				Topic:  &plans.TopicPayload{Partitions: 1, ReplicationFactor: 1},
				Reason: "internal topic: avatar-sync never changes Kafka's or the platform's own topics; remove it from the spec"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := Diff(plans.DesiredOf(&tc.want), tc.have, tc.opts)
			if d := cmp.Diff(tc.changes, p.AllChanges()); d != "" {
				t.Errorf("changes (-want +got):\n%s", d)
			}
			if p.ClusterID != "test-cluster" || !strings.HasPrefix(p.Part(plans.PlaneKafka).Fingerprint, "sha256:") {
				t.Errorf("plan header: id %q fingerprint %q", p.ClusterID, p.Part(plans.PlaneKafka).Fingerprint)
			}
			for _, c := range p.AllChanges() {
				if err := c.PayloadErr(); err != nil {
					t.Errorf("payload: %v", err)
				}
				if r, why := plans.DeriveRisk(c, tc.have); r != c.Risk {
					t.Errorf("%s: Diff says risk %s, DeriveRisk %s (%s)", plans.Headline(c), c.Risk, r, why)
				}
			}
		})
	}
}

func TestDiffOrdersByPhase(t *testing.T) {
	want := spec.Spec{Deletion: spec.DeletionPrune, Topics: []spec.Topic{
		topic("z-new", 1, 1, nil), topic("m", 6, 3, map[string]string{"retention.ms": "1"}), topic("a", 2, 3, nil),
	}}
	have := live(obs("m", 3, 3, nil), obs("a", 3, 3, map[string]string{"x": "1"}), obs("old", 1, 1, nil))
	var got []string
	for _, c := range Diff(plans.DesiredOf(&want), have, DiffOptions{AllowDelete: true}).AllChanges() {
		got = append(got, c.Action.String()+" "+c.Kind.String()+" "+c.Name)
	}
	wantOrder := []string{"create topic z-new", "update partitions m", "update config m", "unsupported partitions a", "delete topic old", "no-op config a"}
	if d := cmp.Diff(wantOrder, got); d != "" {
		t.Errorf("order (-want +got):\n%s", d)
	}
}
