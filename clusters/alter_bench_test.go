package clusters

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// BenchmarkAlterTopicConfigs changes one config on every one of n topics in one call, on the
// embedded cluster in memory and with a state directory (as plan/apply run it). Issue 10 item 3:
// with a state directory the time grew with the square of n (10,000 topics: 308 s), because kfake
// saved its whole state once per topic; the patched kfake in third_party/kfake appends each
// request's topics to topics.log instead (issue 23), and configBatches sends up to 10,000 keys per
// request (see docs/benchmarks.md). Not part of `make test`:
//
//	go test -run '^$' -bench AlterTopicConfigs -benchtime 3x ./clusters/
func BenchmarkAlterTopicConfigs(b *testing.B) {
	for _, persist := range []bool{false, true} {
		for _, n := range []int{1000, 5000, 10000} {
			b.Run(fmt.Sprintf("persist=%v/topics=%d", persist, n), func(b *testing.B) {
				ctx := context.Background()
				o := EmbeddedOptions{}
				if persist {
					o.StateDir = b.TempDir()
				}
				e, err := StartEmbedded(ctx, testSpec(), o)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { e.Close() })
				a, err := e.Connect(ctx, Options{RequestTimeout: 5 * time.Minute})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { a.Close() })
				const chunk = 2000
				for i := 0; i < n; i += chunk {
					var create []spec.Topic
					for j := i; j < min(i+chunk, n); j++ {
						create = append(create, spec.Topic{Name: fmt.Sprintf("topic-%05d", j), Partitions: 1, ReplicationFactor: 3})
					}
					if _, err := a.CreateTopics(ctx, create); err != nil {
						b.Fatal(err)
					}
				}
				round := 0
				for b.Loop() {
					round++
					changes := make([]reconcile.ConfigChange, n)
					for i := range changes {
						changes[i] = reconcile.ConfigChange{Topic: fmt.Sprintf("topic-%05d", i), Set: map[string]string{"retention.ms": strconv.Itoa(3600000 + round)}}
					}
					out, err := a.AlterTopicConfigs(ctx, changes)
					if err != nil {
						b.Fatal(err)
					}
					for name, err := range out {
						if err != nil {
							b.Fatalf("%s: %v", name, err)
						}
					}
				}
			})
		}
	}
}
