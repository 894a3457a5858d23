package reconcile_test

import (
	"fmt"
	"testing"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/topics"
)

// fingerprintLive is benchLive's cluster with the ≈35 config entries a real DescribeConfigs
// returns per topic (two set on the topic, the rest defaults); shared: every topic holds one map,
// as clusters' Describe shares equal configs, else each topic has its own; and the spec that
// names every topic and sets the two.
func fingerprintLive(n int, shared bool) (plans.Live, plans.Desired) {
	l := plans.Live{ClusterID: "bench", Brokers: []topics.Broker{{ID: 0}, {ID: 1}, {ID: 2}}, Topics: make(map[string]topics.Observed, n)}
	config := func() map[string]topics.ConfigValue {
		m := map[string]topics.ConfigValue{
			"retention.ms":        {Value: "3600000", Source: topics.SourceTopic},
			"min.insync.replicas": {Value: "2", Source: topics.SourceTopic},
		}
		for i := range 33 {
			m[fmt.Sprintf("default.key.%02d", i)] = topics.ConfigValue{Value: fmt.Sprint(1000 + i), Source: topics.SourceDefault}
		}
		return m
	}
	one := config()
	var want plans.Desired
	for i := range n {
		name := fmt.Sprintf("topic-%06d", i)
		m := one
		if !shared {
			m = config()
		}
		l.Topics[name] = topics.Observed{Name: name, Replicas: map[int32][]int32{0: {0}}, Config: m}
		l.Inventory = append(l.Inventory, name)
		want.Topics = append(want.Topics, plans.DesiredTopic{Name: name, Partitions: 1, ReplicationFactor: 1,
			Config: map[string]string{"retention.ms": "3600000", "min.insync.replicas": "2"}})
	}
	return l, want
}

// BenchmarkFingerprint hashes the live state of n topics (issue 23: at 100,000 topics a no-op plan
// hashes it once).
func BenchmarkFingerprint(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		for _, shared := range []bool{true, false} {
			l, want := fingerprintLive(n, shared)
			b.Run(fmt.Sprintf("topics=%d/shared=%v", n, shared), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					reconcile.Fingerprint(l, want)
				}
			})
		}
	}
}
