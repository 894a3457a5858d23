package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/topics"
)

// Fingerprint hashes exactly the parts of the live state a plan of want depends on, so that a
// plan is stale whenever its changes, risks or notes could differ, and a live change nothing reads
// does not make it stale (issue 23):
//
//   - the cluster id, and the brokers and their racks (replica assignment, replication limits);
//   - every non-internal topic's name and the replicas of each partition (creation, partition and
//     replication changes, the deletion candidates);
//   - for the topics want names, their config entries set on the topic (Source == SourceTopic:
//     what topics.DiffTopic compares, reports as drift and prunes), each with its value and
//     sensitivity, and for every key want sets that is not set on the topic, the live value, source
//     and sensitivity, or its absence (a ConfigSet's "before", its note and its data-loss risk);
//   - the inventory of managed topics (what prune may delete) and the access state.
//
// Nothing else is hashed: a default-sourced entry of a key the spec does not set, the config of a
// topic the spec does not name, the controller and internal topics (the apply lock, consumer
// offsets) are read by no plan. DescribeConfigs returns about 35 entries per topic, two or three
// of them set on the topic: at 100,000 topics the hash covered 3.5 M entries before.
//
// The planner reuses an observation whose fingerprint a saved plan records, and the two may have
// been hashed with different snapshots: equal fingerprints still mean the live states agree on
// everything either plan reads, because the hash records which topics had their configs hashed
// and every entry with its key, value and source (TestFingerprintAcrossSnapshots).
// TestFingerprintCoversWhatThePlanReads lists each input.
func Fingerprint(l plans.Live, want plans.Desired) string {
	h := sha256.New()
	// One reused buffer and length-prefixed fields: unambiguous, and cheap at 100,000 topics.
	var buf []byte
	field := func(s string) {
		buf = strconv.AppendInt(buf, int64(len(s)), 10)
		buf = append(buf, ':')
		buf = append(buf, s...)
	}
	num := func(n int64) {
		buf = strconv.AppendInt(buf, n, 10)
		buf = append(buf, ',')
	}
	flush := func() {
		h.Write(buf)
		buf = buf[:0]
	}
	entry := func(k string, v topics.ConfigValue) {
		field(k)
		field(v.Value)
		num(int64(v.Source))
		if v.Sensitive {
			buf = append(buf, 's')
		}
	}
	buf = append(buf, "cluster "...)
	field(l.ClusterID)
	bs := slices.Clone(l.Brokers)
	sort.Slice(bs, func(i, j int) bool { return bs[i].ID < bs[j].ID })
	for _, b := range bs {
		buf = append(buf, "\nbroker "...)
		num(int64(b.ID))
		field(b.Rack)
	}
	flush()
	// want's topics, looked up by name in the order of names: walked beside them when sorted (as
	// DesiredOf makes them), through a map otherwise.
	configOf := sortedLookup(want.Topics)
	names := make([]string, 0, len(l.Topics))
	for name, o := range l.Topics {
		if !topics.IsInternal(name, o) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	// Topics with equal configs share one map (clusters' Describe, issue 23): the entries set on
	// the topic of the last map hashed are kept as written and written again for the next topic
	// with that map.
	var lastConfig map[string]topics.ConfigValue
	var topicBytes []byte
	var keys []string
	var parts []int32
	for _, name := range names {
		o := l.Topics[name]
		buf = append(buf, "\ntopic "...)
		field(name)
		parts = sortedPartitions(parts, o.Replicas)
		for _, p := range parts {
			buf = append(buf, "\np "...)
			num(int64(p))
			for _, r := range o.Replicas[p] {
				num(int64(r))
			}
		}
		wantConfig, named := configOf(name)
		if !named {
			flush()
			continue
		}
		// Which topics had their configs hashed is part of the hash: see the doc comment.
		buf = append(buf, "\nspec"...)
		if o.Config == nil || !sameMap(o.Config, lastConfig) {
			keys = keys[:0]
			for k, v := range o.Config {
				if v.Source == topics.SourceTopic {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			topicBytes = topicBytes[:0]
			start := len(buf)
			for _, k := range keys {
				buf = append(buf, "\nc "...)
				entry(k, o.Config[k])
			}
			topicBytes = append(topicBytes, buf[start:]...)
			lastConfig = o.Config
		} else {
			buf = append(buf, topicBytes...)
		}
		keys = keys[:0]
		for k := range wantConfig {
			if v, ok := o.Config[k]; !ok || v.Source != topics.SourceTopic {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			v, ok := o.Config[k]
			if !ok {
				buf = append(buf, "\nabsent "...)
				field(k)
				continue
			}
			buf = append(buf, "\ninherited "...)
			entry(k, v)
		}
		flush()
	}
	// The inventory decides what prune may delete: a plan computed before a topic was adopted
	// must not be applied after.
	inv := slices.Clone(l.Inventory)
	slices.Sort(inv)
	for _, name := range inv {
		buf = append(buf, "\ninventory "...)
		field(name)
	}
	accessFingerprint(l.Access, field)
	flush()
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// sortedLookup returns a function giving the config of the desired topic of a name, called with
// names in increasing order; without a map when ts are sorted by name (DesiredOf's order: at
// 100,000 topics the map was a sixth of the hash).
func sortedLookup(ts []plans.DesiredTopic) func(name string) (map[string]string, bool) {
	if !slices.IsSortedFunc(ts, func(a, b plans.DesiredTopic) int { return strings.Compare(a.Name, b.Name) }) {
		byName := make(map[string]map[string]string, len(ts))
		for _, t := range ts {
			if _, dup := byName[t.Name]; !dup {
				byName[t.Name] = t.Config
			}
		}
		return func(name string) (map[string]string, bool) {
			c, ok := byName[name]
			return c, ok
		}
	}
	i := 0
	return func(name string) (map[string]string, bool) {
		for i < len(ts) && ts[i].Name < name {
			i++
		}
		if i < len(ts) && ts[i].Name == name {
			return ts[i].Config, true
		}
		return nil, false
	}
}

// sameMap: a and b are one map (not merely equal ones).
func sameMap(a, b map[string]topics.ConfigValue) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// sortedPartitions returns the partition ids of replicas in order, in buf's storage; partitions
// numbered 0 to n-1 (every topic Kafka describes) need no sort.
func sortedPartitions(buf []int32, replicas map[int32][]int32) []int32 {
	buf = buf[:0]
	for p := range int32(len(replicas)) {
		if _, ok := replicas[p]; !ok {
			buf = buf[:0]
			for p := range replicas {
				buf = append(buf, p)
			}
			slices.Sort(buf)
			return buf
		}
		buf = append(buf, p)
	}
	return buf
}
