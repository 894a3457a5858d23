package clusters

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/clusters/internal/fakecontrol"
	"github.com/avatar-project/avatar-sync/spec"
)

// healthCluster starts an embedded cluster with n topics of 3 partitions and the given number of
// consumer groups, each holding committed offsets on four of the topics, and returns an Admin and
// the request counter.
func healthCluster(tb testing.TB, n, groups int) (*Admin, *fakecontrol.Counter, []string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e, err := StartEmbedded(ctx, testSpec(), EmbeddedOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	a, err := e.Connect(ctx, Options{RequestTimeout: 2 * time.Minute})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	var create []spec.Topic
	var names []string
	for i := range n {
		name := fmt.Sprintf("topic-%05d", i)
		names = append(names, name)
		create = append(create, spec.Topic{Name: name, Partitions: 3, ReplicationFactor: 3})
	}
	if _, err := a.CreateTopics(ctx, create); err != nil {
		tb.Fatal(err)
	}
	for g := range groups {
		for k := range 4 {
			topic := names[(g*4+k)%n]
			if err := fakecontrol.CommitOffsets(ctx, e.Bootstrap(), fmt.Sprintf("group-%03d", g), topic, map[int32]int64{0: 1, 1: 2, 2: 3}); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return a, fakecontrol.CountRequests(e.c), names
}

// TestHealthIsBatched proves status's read does not grow with topics or groups (issue 13): the
// request counts per API are identical for 5 topics with 12 groups and 200 topics with 50 groups (each of the 3 brokers coordinates some groups in both).
func TestHealthIsBatched(t *testing.T) {
	counts := map[string]map[fakecontrol.API]int{}
	for _, size := range []struct{ topics, groups int }{{5, 12}, {200, 50}} {
		a, reqs, names := healthCluster(t, size.topics, size.groups)
		snap, err := a.Health(testCtx(t), names)
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.Groups) != size.groups || len(snap.Topics) < size.topics || len(snap.Errors) > 0 {
			t.Fatalf("%+v: %d groups, %d topics, errors %v", size, len(snap.Groups), len(snap.Topics), snap.Errors)
		}
		counts[fmt.Sprint(size)] = reqs.Requests()
	}
	small, large := counts["{5 12}"], counts["{200 50}"]
	if fmt.Sprint(small) != fmt.Sprint(large) {
		t.Errorf("requests grow with topics/groups:\n 5 topics, 12 groups: %v\n200 topics, 50 groups: %v", small, large)
	}
	if large[fakecontrol.APIMetadata] != 1 || large[fakecontrol.APIDescribeConfigs] != 1 || large[fakecontrol.APIOffsetFetch] > 3 {
		t.Errorf("unexpected request mix: %v", large)
	}
}

// BenchmarkHealth is status's cluster read at 1,000 topics × 50 groups; not part of `make test`:
//
//	go test -run '^$' -bench Health -benchtime 5x -benchmem ./clusters/
func BenchmarkHealth(b *testing.B) {
	for _, size := range []struct{ topics, groups int }{{100, 10}, {1000, 50}} {
		b.Run(fmt.Sprintf("topics=%d/groups=%d", size.topics, size.groups), func(b *testing.B) {
			a, reqs, names := healthCluster(b, size.topics, size.groups)
			ctx := context.Background()
			// Open the per-broker connections first: requests/op then counts the steady state.
			if _, err := a.Health(ctx, names); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			reqs.Reset()
			for b.Loop() {
				if _, err := a.Health(ctx, names); err != nil {
					b.Fatal(err)
				}
			}
			total := 0
			for _, n := range reqs.Requests() {
				total += n
			}
			b.ReportMetric(float64(total)/float64(b.N), "requests/op")
		})
	}
}

// BenchmarkStatusRead is what `status` reads at 1,000 topics × 50 groups (issue 23): "twice" is
// the read before, Health and then the plan's Describe, each with its own Metadata and
// DescribeConfigs; "shared" is Status, whose Live the plan uses (PreRead). Not part of `make test`:
//
//	go test -run '^$' -bench StatusRead -benchtime 5x -benchmem ./clusters/
func BenchmarkStatusRead(b *testing.B) {
	a, reqs, names := healthCluster(b, 1000, 50)
	ctx := context.Background()
	if _, err := a.Status(ctx, names); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"twice", "shared"} {
		b.Run(mode, func(b *testing.B) {
			reqs.Reset()
			for b.Loop() {
				if mode == "twice" {
					if _, err := a.Health(ctx, names); err != nil {
						b.Fatal(err)
					}
					if _, err := a.Describe(ctx); err != nil {
						b.Fatal(err)
					}
					continue
				}
				r, err := a.Status(ctx, names)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := NewPreRead(a, r).Describe(ctx); err != nil {
					b.Fatal(err)
				}
			}
			total := 0
			for _, n := range reqs.Requests() {
				total += n
			}
			b.ReportMetric(float64(total)/float64(b.N), "requests/op")
		})
	}
}
