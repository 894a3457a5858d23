package reconcile_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/clusters/clustertest"
	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
	"github.com/avatar-project/avatar-sync/topics"
)

// Benchmarks for issue #3's performance goals; kept out of `make test` (run `make bench`).
// Results are recorded in docs/plan-apply.md ("Performance").

var benchSizes = []int{100, 1000, 10000}

func benchSpec(n int) *spec.Spec {
	s := &spec.Spec{}
	for i := 0; i < n; i++ {
		s.Topics = append(s.Topics, spec.Topic{Name: fmt.Sprintf("topic-%05d", i), Partitions: 3, ReplicationFactor: 3,
			Config: map[string]string{"retention.ms": "3600000", "min.insync.replicas": "2"}})
	}
	return s
}

// benchLive is the live state matching benchSpec, with one retention differing per 100 topics and
// the default-sourced entries a real DescribeConfigs returns.
func benchLive(n int) plans.Live {
	l := plans.Live{ClusterID: "bench", Brokers: []topics.Broker{{ID: 0}, {ID: 1}, {ID: 2}}, Topics: map[string]topics.Observed{}}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("topic-%05d", i)
		ret := "3600000"
		if i%100 == 0 {
			ret = "7200000"
		}
		o := topics.Observed{Name: name, Replicas: map[int32][]int32{0: {0, 1, 2}, 1: {1, 2, 0}, 2: {2, 0, 1}}, Config: map[string]topics.ConfigValue{
			"retention.ms":        {Value: ret, Source: topics.SourceTopic},
			"min.insync.replicas": {Value: "2", Source: topics.SourceTopic},
			"segment.ms":          {Value: "604800000", Source: topics.SourceDefault},
			"cleanup.policy":      {Value: "delete", Source: topics.SourceDefault},
			"max.message.bytes":   {Value: "1048588", Source: topics.SourceDefault},
		}}
		l.Topics[name] = o
		l.Inventory = append(l.Inventory, name)
	}
	return l
}

// BenchmarkDiff is the pure part of plan: diff + fingerprint over n live topics.
func BenchmarkDiff(b *testing.B) {
	for _, n := range benchSizes {
		want, have := benchSpec(n), benchLive(n)
		b.Run(fmt.Sprintf("topics=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p := reconcile.Diff(plans.DesiredOf(want), have, reconcile.DiffOptions{})
				if p.Summary().Update != n/100 {
					b.Fatalf("summary %+v", p.Summary())
				}
			}
		})
	}
}

// BenchmarkPlanEmbedded is a whole plan against the embedded cluster: Describe (Metadata +
// DescribeConfigs over sarama) + Diff, reporting requests per plan.
func BenchmarkPlanEmbedded(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("topics=%d", n), func(b *testing.B) {
			ctx := context.Background()
			e, a := benchCluster(b)
			want := benchSpec(n)
			if _, err := reconcile.Apply(ctx, reconcile.Diff(plans.DesiredOf(want), mustDescribe(b, a), reconcile.DiffOptions{}), a, reconcile.ApplyOptions{ReassignTimeout: time.Minute}, nil); err != nil {
				b.Fatal(err)
			}
			e.ResetRequests()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if p := reconcile.Diff(plans.DesiredOf(want), mustDescribe(b, a), reconcile.DiffOptions{}); p.HasChanges() {
					b.Fatal("plan after apply has changes")
				}
			}
			b.StopTimer()
			total := 0
			for _, c := range e.Requests() {
				total += c
			}
			b.ReportMetric(float64(total)/float64(b.N), "requests/op")
		})
	}
}

// BenchmarkApplyCreate creates n topics of 3 partitions on an empty embedded cluster.
func BenchmarkApplyCreate(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("topics=%d", n), func(b *testing.B) {
			ctx := context.Background()
			want := benchSpec(n)
			b.ReportAllocs()
			var reqs int
			for b.Loop() {
				b.StopTimer()
				e, a := benchCluster(b)
				p := reconcile.Diff(plans.DesiredOf(want), mustDescribe(b, a), reconcile.DiffOptions{})
				e.ResetRequests()
				b.StartTimer()
				if _, err := reconcile.Apply(ctx, p, a, reconcile.ApplyOptions{}, nil); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				for _, c := range e.Requests() {
					reqs += c
				}
				a.Close()
				e.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(reqs)/float64(b.N), "requests/op")
		})
	}
}

func benchCluster(b *testing.B) (*clustertest.Cluster, *clusters.Admin) {
	b.Helper()
	ctx := context.Background()
	e, err := clustertest.Start(ctx, nil, clusters.EmbeddedOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	a, err := e.Connect(ctx, clusters.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	return e, a
}

func mustDescribe(b *testing.B, a *clusters.Admin) plans.Live {
	b.Helper()
	l, err := a.Describe(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return l
}
