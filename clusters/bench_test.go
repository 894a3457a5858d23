package clusters

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/avatar-project/avatar-sync/clusters/internal/fakecontrol"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// Benchmarks for issue 3's read path; not part of `make test`. Run with
//
//	go test -run '^$' -bench Describe -benchtime 5x ./clusters/
//
// Results and how to read them: docs/benchmarks.md.

// benchCluster starts an embedded cluster holding n topics of 3 partitions, each with two
// dynamic configs and recorded in the inventory (as avatar-sync's own are), and an Admin that reaches the cluster through a proxy adding delay to every
// request (0 = direct).
func benchCluster(b *testing.B, n int, delay time.Duration) (*Embedded, *Admin) {
	b.Helper()
	ctx := context.Background()
	e, err := StartEmbedded(ctx, testSpec(), EmbeddedOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	direct, err := e.Connect(ctx, Options{RequestTimeout: 2 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Close()
	const chunk = 2000
	for i := 0; i < n; i += chunk {
		var create []spec.Topic
		var names []string
		for j := i; j < min(i+chunk, n); j++ {
			create = append(create, spec.Topic{Name: fmt.Sprintf("topic-%05d", j), Partitions: 3, ReplicationFactor: 3,
				Config: map[string]string{"retention.ms": "3600000", "min.insync.replicas": "2"}})
			names = append(names, create[len(create)-1].Name)
		}
		out, err := direct.CreateTopics(ctx, create)
		if err != nil {
			b.Fatal(err)
		}
		for name, err := range out {
			if err != nil {
				b.Fatalf("%s: %v", name, err)
			}
		}
		// avatar-sync created them: the inventory lists them, so Describe reads it too (issue 23).
		if err := direct.RecordInventory(ctx, names, nil); err != nil {
			b.Fatal(err)
		}
	}
	addrs := e.Bootstrap()
	if delay > 0 {
		for i, a := range addrs {
			addrs[i] = delayProxy(b, a, delay)
		}
	}
	s := &spec.Spec{Clusters: []spec.Cluster{{Name: "bench", Bootstrap: addrs}}}
	a, err := Open(ctx, s, "bench", Options{RequestTimeout: 2 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	return e, a
}

// delayProxy forwards loopback TCP to target, holding every Kafka request frame (4-byte length
// prefix + body) for delay before passing it on, like a link with that much extra latency per
// round trip. It lives until the benchmark ends.
func delayProxy(b *testing.B, target string, delay time.Duration) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	b.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, client, server)
			mu.Unlock()
			go func() { // responses flow back untouched
				_, _ = io.Copy(client, server)
				client.Close()
			}()
			go func() {
				defer server.Close()
				var size [4]byte
				for {
					if _, err := io.ReadFull(client, size[:]); err != nil {
						return
					}
					body := make([]byte, binary.BigEndian.Uint32(size[:]))
					if _, err := io.ReadFull(client, body); err != nil {
						return
					}
					time.Sleep(delay)
					if _, err := server.Write(append(size[:], body...)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func benchDescribe(b *testing.B, n int, delay time.Duration) {
	e, a := benchCluster(b, n, delay)
	ctx := context.Background()
	reqs := fakecontrol.CountRequests(e.c)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		live, err := a.Describe(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(live.Topics) != n+1 || len(live.Inventory) != n { // the topics and the inventory's own
			b.Fatalf("described %d topics and %d in the inventory, want %d", len(live.Topics), len(live.Inventory), n)
		}
	}
	b.StopTimer()
	total := 0
	for _, c := range reqs.Requests() {
		total += c
	}
	b.ReportMetric(float64(total)/float64(b.N), "requests/op")
}

// describeNaive is what a per-topic tool does: one Metadata for all topics, then one
// DescribeConfigs per topic. It exists only to show what batching saves.
func describeNaive(ctx context.Context, a *Admin) (int, error) {
	br, err := a.anyBroker(ctx)
	if err != nil {
		return 0, err
	}
	md, err := br.GetMetadata(sarama.NewMetadataRequest(a.conf.Version, nil))
	if err != nil {
		return 0, err
	}
	for _, t := range md.Topics {
		req := &sarama.DescribeConfigsRequest{Version: 4, Resources: []*sarama.ConfigResource{{Type: sarama.TopicResource, Name: t.Name}}}
		if _, err := br.DescribeConfigs(req); err != nil {
			return 0, err
		}
	}
	return len(md.Topics), nil
}

func BenchmarkDescribe(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("topics=%d", n), func(b *testing.B) { benchDescribe(b, n, 0) })
	}
}

// BenchmarkDescribeDelayed adds 2 ms to every request: the batched read stays at two round trips
// whatever the topic count.
func BenchmarkDescribeDelayed(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("topics=%d/delay=2ms", n), func(b *testing.B) { benchDescribe(b, n, 2*time.Millisecond) })
	}
}

// BenchmarkDescribeNaiveDelayed is the per-topic baseline under the same 2 ms: the request count,
// not loopback speed, decides.
func BenchmarkDescribeNaiveDelayed(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("topics=%d/delay=2ms", n), func(b *testing.B) {
			e, a := benchCluster(b, n, 2*time.Millisecond)
			ctx := context.Background()
			reqs := fakecontrol.CountRequests(e.c)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				got, err := describeNaive(ctx, a)
				if err != nil {
					b.Fatal(err)
				}
				if got != n+1 { // and the inventory topic
					b.Fatalf("described %d topics, want %d", got, n+1)
				}
			}
			b.StopTimer()
			total := 0
			for _, c := range reqs.Requests() {
				total += c
			}
			b.ReportMetric(float64(total)/float64(b.N), "requests/op")
		})
	}
}

// BenchmarkDescribeRaw sends only the two requests Describe needs, without converting the
// answers: the floor Describe is measured against (issue 3: plan within 3× of it).
func BenchmarkDescribeRaw(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("topics=%d", n), func(b *testing.B) {
			_, a := benchCluster(b, n, 0)
			br, err := a.anyBroker(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			md, err := br.GetMetadata(sarama.NewMetadataRequest(a.conf.Version, nil))
			if err != nil {
				b.Fatal(err)
			}
			req := &sarama.DescribeConfigsRequest{Version: 4}
			for _, t := range md.Topics {
				req.Resources = append(req.Resources, &sarama.ConfigResource{Type: sarama.TopicResource, Name: t.Name})
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := br.GetMetadata(sarama.NewMetadataRequest(a.conf.Version, nil)); err != nil {
					b.Fatal(err)
				}
				if _, err := br.DescribeConfigs(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDescribeScopeDelayed is apply's settle read after a config change on 10 of 1,000 topics
// (two keys each, the inventory and the access control) with 2 ms added to every request: since
// issue 20 it is Describe's path, the inventory and access read beside the configs.
func BenchmarkDescribeScopeDelayed(b *testing.B) {
	e, a := benchCluster(b, 1000, 2*time.Millisecond)
	scope := reconcile.ReadScope{Topics: map[string][]string{}, Inventory: true, Access: true}
	for i := range 10 {
		scope.Topics[fmt.Sprintf("topic-%05d", i*100)] = []string{"retention.ms", "min.insync.replicas"}
	}
	ctx := context.Background()
	reqs := fakecontrol.CountRequests(e.c)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		live, err := a.DescribeScope(ctx, scope)
		if err != nil {
			b.Fatal(err)
		}
		if len(live.Topics) != 10 || len(live.Inventory) != 1000 {
			b.Fatalf("read %d topics and %d in the inventory, want 10 and 1000", len(live.Topics), len(live.Inventory))
		}
	}
	b.StopTimer()
	total := 0
	for _, c := range reqs.Requests() {
		total += c
	}
	b.ReportMetric(float64(total)/float64(b.N), "requests/op")
}
