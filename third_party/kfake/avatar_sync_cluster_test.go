package kfake

// avatar-sync patch tests for the sixth, eighth and ninth patches
// (PATCHES.md): leaders placed in turn, a refused create's message, and
// partition state work bounded.

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestLeadersTakeTurns creates topics of 3 and 5 partitions on 3 brokers and
// grows one with CreatePartitions: partition p leads on the broker after
// partition p-1's, so every broker leads one partition of each 3 in a row.
// Upstream chose a random broker per partition and failed this for about one
// topic in nine (all three partitions on two brokers).
func TestLeadersTakeTurns(t *testing.T) {
	c, err := NewCluster(NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx := context.Background()

	create := kmsg.NewPtrCreateTopicsRequest()
	for i := range 40 {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = fmt.Sprintf("t%02d", i), int32(3+2*(i%2)), 2
		create.Topics = append(create.Topics, rt)
	}
	if _, err := create.RequestWith(ctx, cl); err != nil {
		t.Fatal(err)
	}
	grow := kmsg.NewPtrCreatePartitionsRequest()
	gt := kmsg.NewCreatePartitionsRequestTopic()
	gt.Topic, gt.Count = "t00", 7
	grow.Topics = append(grow.Topics, gt)
	if resp, err := grow.RequestWith(ctx, cl); err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("CreatePartitions: %v %+v", err, resp)
	}

	meta, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	order := map[int32]int{} // node id -> position among the brokers
	for i, b := range meta.Brokers {
		order[b.NodeID] = i
	}
	for _, mt := range meta.Topics {
		leaders := make([]int32, len(mt.Partitions))
		for _, p := range mt.Partitions {
			leaders[p.Partition] = p.Leader
			if len(p.Replicas) == 0 || p.Replicas[0] != p.Leader {
				t.Errorf("%s[%d]: leader %d is not the first of replicas %v", *mt.Topic, p.Partition, p.Leader, p.Replicas)
			}
		}
		for p := 1; p < len(leaders); p++ {
			if (order[leaders[p-1]]+1)%3 != order[leaders[p]] {
				t.Errorf("%s: leaders %v do not take turns over the 3 brokers", *mt.Topic, leaders)
				break
			}
		}
	}
}

// TestCreateTopicRefusalsSayWhy: a create refused because the name exists or
// collides (after '.' and '_' are made the same) carries Kafka's message;
// upstream kfake sent only the code, so avatar-sync printed "invalid topic"
// with nothing to act on.
func TestCreateTopicRefusalsSayWhy(t *testing.T) {
	c, err := NewCluster(NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	create := func(names ...string) map[string]string {
		req := kmsg.NewPtrCreateTopicsRequest()
		for _, n := range names {
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = n, 1, 1
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(context.Background(), cl)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, rt := range resp.Topics {
			msg := ""
			if rt.ErrorMessage != nil {
				msg = *rt.ErrorMessage
			}
			out[rt.Topic] = fmt.Sprintf("%d %s", rt.ErrorCode, msg)
		}
		return out
	}
	if got := create("ml_features"); got["ml_features"] != "0 " {
		t.Fatalf("first create: %v", got)
	}
	for name, want := range map[string]string{
		"ml_features": "36 Topic 'ml_features' already exists.",
		"ml.features": "17 Topic 'ml.features' collides with existing topic: ml_features",
	} {
		if got := create(name)[name]; got != want {
			t.Errorf("create %s: %q, want %q", name, got, want)
		}
	}
	if got := create("a.b", "a_b")["a.b"]; got != "17 Topic 'a.b' collides with existing topic: a_b" {
		t.Errorf("two colliding names in one request: %q", got)
	}
}

// TestPartitionWorkBounded: saving and loading state (forEachPartition)
// runs at most partitionWorkers partitions at once, whatever their number,
// and still visits each partition once (ninth patch; upstream started a
// goroutine per partition).
func TestPartitionWorkBounded(t *testing.T) {
	c, err := NewCluster(NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	onLoop(c, func() {
		for i := range 50 {
			c.data.mkt(fmt.Sprintf("t%02d", i), 8, 1, nil)
		}
	})
	var (
		mu            sync.Mutex
		running, most int
		seen          = map[string]int{}
	)
	err = c.forEachPartition(func(topic string, part int32, _ *partData) error {
		mu.Lock()
		running++
		most = max(most, running)
		seen[fmt.Sprintf("%s-%d", topic, part)]++
		mu.Unlock()
		time.Sleep(time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if most > partitionWorkers || most < 2 {
		t.Errorf("%d partitions at once, want 2..%d", most, partitionWorkers)
	}
	if len(seen) != 400 {
		t.Errorf("visited %d partitions, want 400", len(seen))
	}
	for p, n := range seen {
		if n != 1 {
			t.Errorf("%s visited %d times", p, n)
		}
	}
}
