package reconcile

import (
	"strings"
	"testing"

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

func live(ts ...topics.Observed) Live {
	l := Live{ClusterID: "test-cluster", Brokers: brokers3, Topics: map[string]topics.Observed{}}
	for _, t := range ts {
		l.Topics[t.Name] = t
	}
	return l
}

func topic(name string, parts, rf int, cfg map[string]string) spec.Topic {
	return spec.Topic{Name: name, Partitions: parts, ReplicationFactor: rf, Config: cfg}
}

func TestDiff(t *testing.T) {
	retention := func(v string) map[string]string { return map[string]string{"retention.ms": v} }
	tests := map[string]struct {
		want    spec.Spec
		have    Live
		opts    DiffOptions
		changes []Change
	}{
		"create from empty": {
			want: spec.Spec{Topics: []spec.Topic{topic("b", 3, 3, retention("3600000")), topic("a", 1, 1, nil)}},
			have: live(),
			changes: []Change{
				{Kind: KindTopic, Name: "a", Action: Create, After: map[string]string{"partitions": "1", "replication.factor": "1"}},
				{Kind: KindTopic, Name: "b", Action: Create, After: map[string]string{"partitions": "3", "replication.factor": "3", "retention.ms": "3600000"}},
			},
		},
		"in sync": {
			want:    spec.Spec{Topics: []spec.Topic{topic("a", 3, 3, retention("3600000"))}},
			have:    live(obs("a", 3, 3, retention("3600000"))),
			changes: nil,
		},
		"retention lowered is data loss": {
			want: spec.Spec{Topics: []spec.Topic{topic("a", 3, 3, retention("3600000"))}},
			have: live(obs("a", 3, 3, retention("604800000"))),
			changes: []Change{{Kind: KindConfig, Name: "a", Action: Update, Risk: RiskDataLoss,
				Before: retention("604800000"), After: retention("3600000"),
				Reason: "retention.ms lowered: records beyond the new limit are deleted",
				Notes:  map[string]string{"retention.ms": "live value: set on the topic"}}},
		},
		"retention raised is safe": {
			want: spec.Spec{Topics: []spec.Topic{topic("a", 3, 3, retention("604800000"))}},
			have: live(obs("a", 3, 3, retention("3600000"))),
			changes: []Change{{Kind: KindConfig, Name: "a", Action: Update,
				Before: retention("3600000"), After: retention("604800000"), Reason: "topic configs differ from the spec",
				Notes: map[string]string{"retention.ms": "live value: set on the topic"}}},
		},
		"partition increase": {
			want: spec.Spec{Topics: []spec.Topic{topic("a", 6, 3, nil)}},
			have: live(obs("a", 3, 3, nil)),
			changes: []Change{{Kind: KindPartitions, Name: "a", Action: Update,
				Before: map[string]string{"partitions": "3"}, After: map[string]string{"partitions": "6"},
				Reason: "adds partitions: records with a key may land in a different partition from now on"}},
		},
		"partition decrease unsupported": {
			want: spec.Spec{Topics: []spec.Topic{topic("a", 1, 3, nil)}},
			have: live(obs("a", 3, 3, nil)),
			changes: []Change{{Kind: KindPartitions, Name: "a", Action: Unsupported, Risk: RiskUnsupported,
				Before: map[string]string{"partitions": "3"}, After: map[string]string{"partitions": "1"},
				Reason: "Kafka cannot remove partitions: to shrink the topic, recreate it (delete it, then apply; its records are lost), or keep partitions: 3 in the spec"}},
		},
		"replication change is a heavy reassignment": {
			want: spec.Spec{Topics: []spec.Topic{topic("a", 2, 2, nil)}},
			have: live(obs("a", 2, 1, nil)),
			changes: []Change{{Kind: KindReplication, Name: "a", Action: Update, Risk: RiskHeavy,
				Before: map[string]string{"replication.factor": "1", "partition.0": "0", "partition.1": "1"},
				After:  map[string]string{"replication.factor": "2", "partition.0": "0,2", "partition.1": "1,2"},
				Reason: "replica reassignment copies partition data between brokers under a replication throttle"}},
		},
		"create needing more brokers than exist": {
			want: spec.Spec{Topics: []spec.Topic{topic("a", 1, 5, nil)}},
			have: live(),
			changes: []Change{{Kind: KindTopic, Name: "a", Action: Unsupported, Risk: RiskUnsupported,
				After:  map[string]string{"partitions": "1", "replication.factor": "5"},
				Reason: "replication factor 5 needs 5 brokers, the cluster has 3: lower replicationFactor or add brokers"}},
		},
		"drift reported, not removed": {
			want: spec.Spec{Topics: []spec.Topic{topic("a", 3, 3, nil)}},
			have: live(obs("a", 3, 3, map[string]string{"segment.ms": "1000"})),
			changes: []Change{{Kind: KindConfig, Name: "a", Action: NoOp,
				Before: map[string]string{"segment.ms": "1000"}, After: map[string]string{"segment.ms": "1000"},
				Reason: "drift: set on the topic but not in the spec; left alone because the topic does not have prune: true (add it, or add the keys to the spec)"}},
		},
		"drift removed with prune": {
			want: spec.Spec{Topics: []spec.Topic{{Name: "a", Partitions: 3, ReplicationFactor: 3, Prune: true}}},
			have: live(obs("a", 3, 3, map[string]string{"segment.ms": "1000"})),
			changes: []Change{{Kind: KindConfig, Name: "a", Action: Update,
				Before: map[string]string{"segment.ms": "1000"}, After: map[string]string{}, Reason: "topic configs differ from the spec",
				Notes: map[string]string{"segment.ms": "set on the topic, not in the spec; removed (prune: true)"}}},
		},
		"unmanaged kept by default": {
			want: spec.Spec{},
			have: live(obs("legacy", 1, 1, nil), obs("__consumer_offsets", 50, 3, nil), obs("__avatar_sync_lock", 1, 3, nil)),
			changes: []Change{{Kind: KindTopic, Name: "legacy", Action: NoOp,
				Before: map[string]string{"partitions": "1", "replication.factor": "1"},
				Reason: "unmanaged: not in the spec; kept (deleting needs deletion: prune in the spec and --allow-delete)"}},
		},
		"unmanaged with prune but no --allow-delete": {
			want: spec.Spec{Deletion: spec.DeletionPrune},
			have: live(obs("legacy", 1, 1, nil)),
			changes: []Change{{Kind: KindTopic, Name: "legacy", Action: NoOp,
				Before: map[string]string{"partitions": "1", "replication.factor": "1"},
				Reason: "unmanaged: not in the spec; the spec says deletion: prune, but deleting also needs --allow-delete"}},
		},
		"unmanaged with --allow-delete but no prune": {
			want: spec.Spec{Deletion: spec.DeletionRetain},
			have: live(obs("legacy", 1, 1, nil)),
			opts: DiffOptions{AllowDelete: true},
			changes: []Change{{Kind: KindTopic, Name: "legacy", Action: NoOp,
				Before: map[string]string{"partitions": "1", "replication.factor": "1"},
				Reason: "unmanaged: not in the spec; kept (deleting needs deletion: prune in the spec and --allow-delete)"}},
		},
		"unmanaged deleted with both opt-ins": {
			want: spec.Spec{Deletion: spec.DeletionPrune},
			have: live(obs("legacy", 1, 1, nil), obs("_schemas", 1, 3, nil)),
			opts: DiffOptions{AllowDelete: true},
			changes: []Change{{Kind: KindTopic, Name: "legacy", Action: Delete, Risk: RiskDataLoss,
				Before: map[string]string{"partitions": "1", "replication.factor": "1"},
				Reason: "not in the spec, and the spec says deletion: prune and --allow-delete was given: the topic and its records are deleted"}},
		},
		"sensitive live value masked, desired value kept": {
			want: spec.Spec{Topics: []spec.Topic{topic("a", 3, 3, map[string]string{"x.secret": "new"})}},
			have: func() Live {
				o := obs("a", 3, 3, nil)
				o.Config["x.secret"] = topics.ConfigValue{Value: "old", Source: topics.SourceTopic, Sensitive: true}
				return live(o)
			}(),
			changes: []Change{{Kind: KindConfig, Name: "a", Action: Update,
				Before: map[string]string{"x.secret": "(sensitive)"}, After: map[string]string{"x.secret": "new"},
				Reason: "topic configs differ from the spec", Notes: map[string]string{"x.secret": "live value: set on the topic"}}},
		},
		"internal topic in the spec is refused": {
			want: spec.Spec{Topics: []spec.Topic{topic("__consumer_offsets", 1, 1, nil)}},
			have: live(),
			changes: []Change{{Kind: KindTopic, Name: "__consumer_offsets", Action: Unsupported, Risk: RiskUnsupported,
				Reason: "internal topic: avatar-sync never changes Kafka's or the platform's own topics; remove it from the spec"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := Diff(&tc.want, tc.have, tc.opts)
			if d := cmp.Diff(tc.changes, p.Changes); d != "" {
				t.Errorf("changes (-want +got):\n%s", d)
			}
			if p.ClusterID != "test-cluster" || !strings.HasPrefix(p.Fingerprint, "sha256:") {
				t.Errorf("plan header: id %q fingerprint %q", p.ClusterID, p.Fingerprint)
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
	for _, c := range Diff(&want, have, DiffOptions{AllowDelete: true}).Changes {
		got = append(got, c.Action.String()+" "+c.Kind.String()+" "+c.Name)
	}
	wantOrder := []string{"create topic z-new", "update partitions m", "update config m", "unsupported partitions a", "delete topic old", "no-op config a"}
	if d := cmp.Diff(wantOrder, got); d != "" {
		t.Errorf("order (-want +got):\n%s", d)
	}
}

func TestFingerprint(t *testing.T) {
	base := live(obs("a", 3, 3, map[string]string{"retention.ms": "1"}))
	fp := Fingerprint(base)
	if fp != Fingerprint(live(obs("a", 3, 3, map[string]string{"retention.ms": "1"}))) {
		t.Fatal("fingerprint is not deterministic")
	}
	mutations := map[string]func(l *Live){
		"cluster id":   func(l *Live) { l.ClusterID = "other" },
		"broker rack":  func(l *Live) { l.Brokers = []topics.Broker{{ID: 0, Rack: "x"}, {ID: 1}, {ID: 2}} },
		"new topic":    func(l *Live) { l.Topics["b"] = obs("b", 1, 1, nil) },
		"config value": func(l *Live) { l.Topics["a"] = obs("a", 3, 3, map[string]string{"retention.ms": "2"}) },
		"partitions":   func(l *Live) { l.Topics["a"] = obs("a", 4, 3, map[string]string{"retention.ms": "1"}) },
	}
	for name, mutate := range mutations {
		l := live(obs("a", 3, 3, map[string]string{"retention.ms": "1"}))
		mutate(&l)
		if Fingerprint(l) == fp {
			t.Errorf("%s: fingerprint unchanged", name)
		}
	}
	ignored := live(obs("a", 3, 3, map[string]string{"retention.ms": "1"}), obs("__avatar_sync_lock", 1, 1, nil), obs("__consumer_offsets", 1, 1, nil))
	ignored.Controller = 7
	if Fingerprint(ignored) != fp {
		t.Error("internal topics or the controller changed the fingerprint")
	}
}

func TestEnumsRoundTrip(t *testing.T) {
	for a := NoOp; a <= Unsupported; a++ {
		var back Action
		b, _ := a.MarshalText()
		if err := back.UnmarshalText(b); err != nil || back != a {
			t.Errorf("action %v: %v %v", a, back, err)
		}
	}
	for k := KindTopic; k <= KindCert; k++ {
		var back Kind
		b, _ := k.MarshalText()
		if err := back.UnmarshalText(b); err != nil || back != k {
			t.Errorf("kind %v: %v %v", k, back, err)
		}
	}
	for r := RiskNone; r <= RiskUnsupported; r++ {
		var back Risk
		b, _ := r.MarshalText()
		if err := back.UnmarshalText(b); err != nil || back != r {
			t.Errorf("risk %v: %v %v", r, back, err)
		}
	}
	var a Action
	if err := a.UnmarshalText([]byte("explode")); err == nil || !strings.Contains(err.Error(), "create") {
		t.Errorf("bad action: %v", err)
	}
	if s := Action(42).String(); s != "unknown(42)" {
		t.Errorf("Action(42) = %q", s)
	}
}
