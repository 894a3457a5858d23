package topics

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/avatar-project/avatar-sync/spec"
)

// ConfigOp is what happens to one config key of a topic.
type ConfigOp int

// Config operations.
const (
	// ConfigSet puts a key on the topic that is not set there yet (the live value, if any, is a
	// broker or Kafka default).
	ConfigSet ConfigOp = iota + 1
	// ConfigChange replaces a value already set on the topic.
	ConfigChange
	// ConfigRemove deletes a key set on the topic but absent from the spec (the topic has prune).
	ConfigRemove
	// ConfigDrift reports a key set on the topic but absent from the spec, left alone because the
	// topic does not have prune.
	ConfigDrift
)

// String names the operation as plans print it.
func (op ConfigOp) String() string {
	switch op {
	case ConfigSet:
		return "set"
	case ConfigChange:
		return "change"
	case ConfigRemove:
		return "remove"
	case ConfigDrift:
		return "drift"
	default:
		return "unknown"
	}
}

// ConfigDiff is one config key whose live state differs from the spec.
type ConfigDiff struct {
	Key string
	Op  ConfigOp
	// Before is the live value ("" when the key has none); BeforeSource says where it comes from.
	Before       string
	BeforeSource ConfigSource
	// After is the desired value ("" for ConfigRemove and ConfigDrift).
	After     string
	Sensitive bool
}

// PartitionDiff is a partition-count difference. Kafka can only add partitions, so a decrease is
// Unsupported.
type PartitionDiff struct {
	From, To    int
	Unsupported bool
}

// ReplicationDiff is a replication-factor difference and the reassignment that resolves it.
type ReplicationDiff struct {
	From, To int
	// Assignment is the target replica list of every partition (after any partition increase).
	Assignment map[int32][]int32
	// Unsupported is set with Err when no valid assignment exists (e.g. too few brokers).
	Unsupported bool
	Err         error
}

// Diff is everything that differs between one desired topic and the cluster.
type Diff struct {
	Name string
	// Create is set when the topic does not exist; the other fields are then empty.
	Create      bool
	Partitions  *PartitionDiff
	Replication *ReplicationDiff
	// Config lists differing keys sorted by key, drift included.
	Config []ConfigDiff
}

// Empty reports whether nothing differs (drift that is only reported does count as a difference:
// callers show it, even though nothing will change).
func (d Diff) Empty() bool {
	return !d.Create && d.Partitions == nil && d.Replication == nil && len(d.Config) == 0
}

// DiffTopic compares a desired topic with its live counterpart (nil when the topic does not exist).
// brokers are the live brokers, used to plan a reassignment.
//
// Configs are compared semantically (both sides normalised), and only against values whose source
// is SourceTopic: a value the topic inherits from a broker or Kafka default is not "set", so the
// spec asking for a key sets it, and a default never counts as drift. That is what keeps a converged
// cluster converged.
func DiffTopic(want spec.Topic, have *Observed, brokers []Broker) Diff {
	d := Diff{Name: want.Name}
	if have == nil {
		d.Create = true
		return d
	}
	if cur := have.Partitions(); want.Partitions > 0 && cur != want.Partitions {
		d.Partitions = &PartitionDiff{From: cur, To: want.Partitions, Unsupported: want.Partitions < cur}
	}
	if cur := have.ReplicationFactor(); want.ReplicationFactor > 0 && cur != want.ReplicationFactor {
		parts := max(want.Partitions, have.Partitions())
		if d.Partitions != nil && d.Partitions.Unsupported {
			parts = have.Partitions()
		}
		rd := &ReplicationDiff{From: cur, To: want.ReplicationFactor}
		rd.Assignment, rd.Err = Assign(have.Replicas, parts, want.ReplicationFactor, brokers)
		rd.Unsupported = rd.Err != nil
		d.Replication = rd
	}
	d.Config = diffConfig(want, have.Config)
	return d
}

func diffConfig(want spec.Topic, live map[string]ConfigValue) []ConfigDiff {
	var out []ConfigDiff
	// Map order is fine here: the result is sorted once at the end.
	for k, v := range want.Config {
		lv, ok := live[k]
		if ok && lv.Source == SourceTopic {
			if lv.Sensitive && lv.Value == "" {
				// Kafka hides sensitive values: nothing to compare, and reporting a change on every
				// plan would be a perpetual diff.
				continue
			}
			if normalize(k, lv.Value) != normalize(k, v) {
				out = append(out, ConfigDiff{Key: k, Op: ConfigChange, Before: lv.Value, BeforeSource: SourceTopic, After: v, Sensitive: lv.Sensitive})
			}
			continue
		}
		cd := ConfigDiff{Key: k, Op: ConfigSet, After: v}
		if ok {
			cd.Before, cd.BeforeSource, cd.Sensitive = lv.Value, lv.Source, lv.Sensitive
		}
		out = append(out, cd)
	}
	for k, lv := range live {
		if lv.Source != SourceTopic {
			continue
		}
		if _, managed := want.Config[k]; managed {
			continue
		}
		op := ConfigDrift
		if want.Prune {
			op = ConfigRemove
		}
		out = append(out, ConfigDiff{Key: k, Op: op, Before: lv.Value, BeforeSource: SourceTopic, Sensitive: lv.Sensitive})
	}
	if len(out) > 1 {
		slices.SortFunc(out, func(a, b ConfigDiff) int { return strings.Compare(a.Key, b.Key) })
	}
	return out
}

// Unmanaged returns the live topics the spec does not name, sorted, internal topics excluded.
func Unmanaged(want []spec.Topic, have map[string]Observed) []string {
	named := make(map[string]bool, len(want))
	for _, t := range want {
		named[t.Name] = true
	}
	var out []string
	for name, o := range have {
		if !named[name] && !IsInternal(name, o) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// DataLoss explains why setting key from before to after can destroy data, or returns "".
// Lowering retention.ms / retention.bytes deletes the records beyond the new limit at the next
// cleanup; adding compact to cleanup.policy discards every record but the last per key, and dropping
// compact (compact → delete, compact,delete → delete) or adding delete beside it (compact →
// compact,delete) lets retention delete those last records too; removing a retention key falls back to a default that may be lower.
func DataLoss(key, before, after string, op ConfigOp) string {
	switch key {
	case "retention.ms", "retention.bytes":
		if op == ConfigRemove {
			return fmt.Sprintf("%s falls back to the broker default, which may be lower", key)
		}
		if op == ConfigDrift || before == "" {
			return ""
		}
		b, errB := strconv.ParseInt(strings.TrimSpace(before), 10, 64)
		a, errA := strconv.ParseInt(strings.TrimSpace(after), 10, 64)
		if errB != nil || errA != nil {
			return ""
		}
		if lowered(b, a) {
			return fmt.Sprintf("%s lowered: records beyond the new limit are deleted", key)
		}
	case "cleanup.policy":
		if op == ConfigDrift {
			return ""
		}
		if op == ConfigRemove {
			// Without the key the topic falls back to the broker default, normally delete.
			after = "delete"
		}
		wasCompact, isCompact := hasPolicy(before, "compact"), hasPolicy(after, "compact")
		switch {
		case isCompact && !wasCompact:
			return "cleanup.policy gains compact: all but the latest record per key are discarded"
		case wasCompact && !isCompact:
			// issue 10: a compacted topic keeps the latest value of every key forever; once it is
			// only "delete", retention removes those too.
			return "cleanup.policy drops compact: retention now deletes old records, the latest value of every key included"
		case isCompact && hasPolicy(after, "delete") && !hasPolicy(before, "delete"):
			// issue 21: compact → compact,delete keeps compacting but also lets retention delete
			// whole old segments, and with them the last value of every key not written since.
			return "cleanup.policy adds delete to compact: retention now deletes old segments, the latest value of old keys included"
		}
	}
	return ""
}

// hasPolicy reports whether a cleanup.policy value lists policy ("compact,delete" has both).
func hasPolicy(value, policy string) bool {
	for _, p := range strings.Split(normalize("cleanup.policy", value), ",") {
		if strings.TrimSpace(p) == policy {
			return true
		}
	}
	return false
}

// lowered compares limits where -1 (or any negative) means unlimited.
func lowered(before, after int64) bool {
	switch {
	case after < 0:
		return false
	case before < 0:
		return true
	default:
		return after < before
	}
}
