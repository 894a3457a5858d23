package topics

import (
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
	"github.com/google/go-cmp/cmp"
)

var threeRacks = []Broker{{ID: 1, Rack: "a"}, {ID: 2, Rack: "b"}, {ID: 3, Rack: "c"}}

func observed(parts, rf int, cfg map[string]ConfigValue) *Observed {
	o := &Observed{Name: "t", Replicas: map[int32][]int32{}, Config: cfg}
	for p := 0; p < parts; p++ {
		var reps []int32
		for r := 0; r < rf; r++ {
			reps = append(reps, int32((p+r)%3+1))
		}
		o.Replicas[int32(p)] = reps
	}
	return o
}

func TestDiffTopic(t *testing.T) {
	topic := func(parts, rf int, prune bool, cfg map[string]string) spec.Topic {
		return spec.Topic{Name: "t", Partitions: parts, ReplicationFactor: rf, Prune: prune, Config: cfg}
	}
	tests := map[string]struct {
		want spec.Topic
		have *Observed
		diff Diff
	}{
		"missing topic is created": {
			want: topic(3, 3, false, nil),
			have: nil,
			diff: Diff{Name: "t", Create: true},
		},
		"in sync": {
			want: topic(3, 3, false, map[string]string{"retention.ms": "3600000"}),
			have: observed(3, 3, map[string]ConfigValue{"retention.ms": {Value: "3600000", Source: SourceTopic}}),
			diff: Diff{Name: "t"},
		},
		"partitions increase": {
			want: topic(6, 3, false, nil),
			have: observed(3, 3, nil),
			diff: Diff{Name: "t", Partitions: &PartitionDiff{From: 3, To: 6}},
		},
		"partitions decrease is unsupported": {
			want: topic(2, 3, false, nil),
			have: observed(3, 3, nil),
			diff: Diff{Name: "t", Partitions: &PartitionDiff{From: 3, To: 2, Unsupported: true}},
		},
		"zero partitions and rf mean unmanaged": {
			want: topic(0, 0, false, nil),
			have: observed(5, 2, nil),
			diff: Diff{Name: "t"},
		},
		"replication increase plans a reassignment keeping replicas": {
			want: topic(3, 2, false, nil),
			have: observed(3, 1, nil),
			diff: Diff{Name: "t", Replication: &ReplicationDiff{From: 1, To: 2, Assignment: map[int32][]int32{0: {1, 2}, 1: {2, 3}, 2: {3, 1}}}},
		},
		"value set on the topic differs": {
			want: topic(3, 3, false, map[string]string{"retention.ms": "3600000"}),
			have: observed(3, 3, map[string]ConfigValue{"retention.ms": {Value: "604800000", Source: SourceTopic}}),
			diff: Diff{Name: "t", Config: []ConfigDiff{{Key: "retention.ms", Op: ConfigChange, Before: "604800000", BeforeSource: SourceTopic, After: "3600000"}}},
		},
		"default value is not set on the topic: set, naming the source": {
			want: topic(3, 3, false, map[string]string{"retention.ms": "3600000"}),
			have: observed(3, 3, map[string]ConfigValue{"retention.ms": {Value: "604800000", Source: SourceDefault}}),
			diff: Diff{Name: "t", Config: []ConfigDiff{{Key: "retention.ms", Op: ConfigSet, Before: "604800000", BeforeSource: SourceDefault, After: "3600000"}}},
		},
		"broker default equal to the spec is still pinned on the topic": {
			want: topic(3, 3, false, map[string]string{"min.insync.replicas": "2"}),
			have: observed(3, 3, map[string]ConfigValue{"min.insync.replicas": {Value: "2", Source: SourceStaticBroker}}),
			diff: Diff{Name: "t", Config: []ConfigDiff{{Key: "min.insync.replicas", Op: ConfigSet, Before: "2", BeforeSource: SourceStaticBroker, After: "2"}}},
		},
		"semantic comparison: policy order and case": {
			want: topic(3, 3, false, map[string]string{"cleanup.policy": "compact,delete"}),
			have: observed(3, 3, map[string]ConfigValue{"cleanup.policy": {Value: "Delete, compact", Source: SourceTopic}}),
			diff: Diff{Name: "t"},
		},
		"semantic comparison: human units": {
			want: topic(3, 3, false, map[string]string{"retention.ms": "7d", "retention.bytes": "1GiB"}),
			have: observed(3, 3, map[string]ConfigValue{"retention.ms": {Value: "604800000", Source: SourceTopic}, "retention.bytes": {Value: "1073741824", Source: SourceTopic}}),
			diff: Diff{Name: "t"},
		},
		"unknown key compares exactly": {
			want: topic(3, 3, false, map[string]string{"confluent.x": "A"}),
			have: observed(3, 3, map[string]ConfigValue{"confluent.x": {Value: "a", Source: SourceTopic}}),
			diff: Diff{Name: "t", Config: []ConfigDiff{{Key: "confluent.x", Op: ConfigChange, Before: "a", BeforeSource: SourceTopic, After: "A"}}},
		},
		"defaults for unmanaged keys are never drift": {
			want: topic(3, 3, false, nil),
			have: observed(3, 3, map[string]ConfigValue{"segment.ms": {Value: "1", Source: SourceDefault}, "flush.ms": {Value: "2", Source: SourceDynamicDefaultBroker}}),
			diff: Diff{Name: "t"},
		},
		"key set by hand without prune is drift": {
			want: topic(3, 3, false, nil),
			have: observed(3, 3, map[string]ConfigValue{"segment.ms": {Value: "1000", Source: SourceTopic}}),
			diff: Diff{Name: "t", Config: []ConfigDiff{{Key: "segment.ms", Op: ConfigDrift, Before: "1000", BeforeSource: SourceTopic}}},
		},
		"key set by hand with prune is removed": {
			want: topic(3, 3, true, nil),
			have: observed(3, 3, map[string]ConfigValue{"segment.ms": {Value: "1000", Source: SourceTopic}}),
			diff: Diff{Name: "t", Config: []ConfigDiff{{Key: "segment.ms", Op: ConfigRemove, Before: "1000", BeforeSource: SourceTopic}}},
		},
		"hidden sensitive value is not compared": {
			want: topic(3, 3, false, map[string]string{"x": "b"}),
			have: observed(3, 3, map[string]ConfigValue{"x": {Value: "", Source: SourceTopic, Sensitive: true}}),
			diff: Diff{Name: "t"},
		},
		"sensitive flag carried": {
			want: topic(3, 3, false, map[string]string{"x": "b"}),
			have: observed(3, 3, map[string]ConfigValue{"x": {Value: "a", Source: SourceTopic, Sensitive: true}}),
			diff: Diff{Name: "t", Config: []ConfigDiff{{Key: "x", Op: ConfigChange, Before: "a", BeforeSource: SourceTopic, After: "b", Sensitive: true}}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := DiffTopic(tc.want, tc.have, threeRacks)
			if d := cmp.Diff(tc.diff, got); d != "" {
				t.Errorf("DiffTopic (-want +got):\n%s", d)
			}
			if got.Empty() != tc.diff.Empty() {
				t.Errorf("Empty() = %v", got.Empty())
			}
		})
	}
}

func TestDiffTopicReplicationNeedsBrokers(t *testing.T) {
	d := DiffTopic(spec.Topic{Name: "t", Partitions: 3, ReplicationFactor: 4}, observed(3, 3, nil), threeRacks)
	if d.Replication == nil || !d.Replication.Unsupported || d.Replication.Err == nil {
		t.Fatalf("replication diff %+v: want unsupported with an error", d.Replication)
	}
	if got := d.Replication.Err.Error(); got != "replication factor 4 needs 4 brokers, the cluster has 3" {
		t.Errorf("error %q", got)
	}
}

func TestDiffTopicReplicationCoversNewPartitions(t *testing.T) {
	d := DiffTopic(spec.Topic{Name: "t", Partitions: 4, ReplicationFactor: 2}, observed(2, 1, nil), threeRacks)
	if d.Partitions == nil || d.Replication == nil || len(d.Replication.Assignment) != 4 {
		t.Fatalf("diff %+v / %+v: want a partition increase and a 4-partition assignment", d.Partitions, d.Replication)
	}
}

func TestUnmanaged(t *testing.T) {
	have := map[string]Observed{
		"a": {}, "legacy": {}, "__consumer_offsets": {}, "_schemas": {}, "__transaction_state": {},
		"__avatar_sync_lock": {}, "flagged": {Internal: true}, "zz": {},
	}
	got := Unmanaged([]spec.Topic{{Name: "a"}}, have)
	if d := cmp.Diff([]string{"legacy", "zz"}, got); d != "" {
		t.Errorf("Unmanaged (-want +got):\n%s", d)
	}
}

func TestIsInternal(t *testing.T) {
	tests := map[string]struct {
		name string
		o    Observed
		want bool
	}{
		"consumer offsets":  {"__consumer_offsets", Observed{}, true},
		"transaction state": {"__transaction_state", Observed{}, true},
		"schema registry":   {"_schemas", Observed{}, true},
		"avatar-sync lock":  {"__avatar_sync_lock", Observed{}, true},
		"flagged by kafka":  {"whatever", Observed{Internal: true}, true},
		"user topic":        {"drone-commands", Observed{}, false},
		"single underscore": {"_private", Observed{}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := IsInternal(tc.name, tc.o); got != tc.want {
				t.Errorf("IsInternal(%q) = %v", tc.name, got)
			}
		})
	}
}

func TestDataLoss(t *testing.T) {
	tests := map[string]struct {
		key, before, after string
		op                 ConfigOp
		loss               bool
	}{
		"retention lowered":             {"retention.ms", "604800000", "3600000", ConfigChange, true},
		"retention raised":              {"retention.ms", "3600000", "604800000", ConfigChange, false},
		"retention from infinite":       {"retention.ms", "-1", "3600000", ConfigChange, true},
		"retention to infinite":         {"retention.ms", "3600000", "-1", ConfigChange, false},
		"retention below default":       {"retention.ms", "604800000", "3600000", ConfigSet, true},
		"retention set, no live value":  {"retention.ms", "", "3600000", ConfigSet, false},
		"retention.bytes lowered":       {"retention.bytes", "1073741824", "1048576", ConfigChange, true},
		"retention removed":             {"retention.ms", "3600000", "", ConfigRemove, true},
		"retention drift only reported": {"retention.ms", "3600000", "", ConfigDrift, false},
		"delete to compact":             {"cleanup.policy", "delete", "compact", ConfigChange, true},
		"delete to compact,delete":      {"cleanup.policy", "delete", "compact,delete", ConfigChange, true},
		// issue 10: dropping compact lets retention delete the latest value of every key.
		"compact to delete":               {"cleanup.policy", "compact", "delete", ConfigChange, true},
		"compact,delete to delete":        {"cleanup.policy", "compact,delete", "delete", ConfigChange, true},
		"compact from broker, set delete": {"cleanup.policy", "compact", "delete", ConfigSet, true},
		"compact removed with prune":      {"cleanup.policy", "compact", "", ConfigRemove, true},
		"compact drift only reported":     {"cleanup.policy", "compact", "", ConfigDrift, false},
		"delete removed with prune":       {"cleanup.policy", "delete", "", ConfigRemove, false},
		"compact already":                 {"cleanup.policy", "compact,delete", "compact", ConfigChange, false},
		// issue 21: adding delete to a compacted topic lets retention delete old keys' last values.
		"compact to compact,delete":         {"cleanup.policy", "compact", "compact,delete", ConfigChange, true},
		"compact to delete,compact":         {"cleanup.policy", "compact", "delete,compact", ConfigChange, true},
		"compact from broker, set both":     {"cleanup.policy", "compact", "compact,delete", ConfigSet, true},
		"compact,delete unchanged in order": {"cleanup.policy", "compact,delete", "delete,compact", ConfigChange, false},
		"other key":                         {"segment.ms", "100", "1", ConfigChange, false},
		"unparsable":                        {"retention.ms", "x", "1", ConfigChange, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := DataLoss(tc.key, tc.before, tc.after, tc.op)
			if (got != "") != tc.loss {
				t.Errorf("DataLoss = %q, want loss=%v", got, tc.loss)
			}
			if tc.loss && tc.key == "cleanup.policy" && !strings.Contains(got, "compact") {
				t.Errorf("DataLoss reason %q does not say what happens to compaction", got)
			}
		})
	}
}
