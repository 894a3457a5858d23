// Command floor sends only the Kafka requests an avatar-sync command needs, with franz-go (kadm and
// kgo), and nothing else: no spec, no plan, no report. It is the floor the CLI benchmarks measure
// avatar-sync against, as a process of its own so process start counts on both sides (issue 23).
// cmd/avatar-sync's BenchmarkCLITable builds and runs it; it is not shipped.
//
//	floor -b ADDRS describe              Metadata + DescribeConfigs of every topic (a no-op plan's reads)
//	floor -b ADDRS create NAME...        the reads, then CreateTopics (3 partitions × 3 replicas)
//	floor -b ADDRS alter KEY=VALUE       the reads, then IncrementalAlterConfigs of KEY on every topic
//	floor -b ADDRS verify                one record to every partition, read back from the log end,
//	                                     its offsets committed in a group, read back, the group deleted
//	floor -b ADDRS status                the reads, ListGroups, DescribeGroups, OffsetFetch, ListOffsets
//	floor -b ADDRS groups N              set-up: N groups with committed offsets on four topics each
//
// Internal topics (__*) are left out, as avatar-sync leaves them out.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	bootstrap := flag.String("b", "", "comma-separated bootstrap addresses")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := run(ctx, strings.Split(*bootstrap, ","), flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bootstrap, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: floor -b ADDRS describe|create|alter|verify|status|groups")
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	switch args[0] {
	case "describe":
		_, _, err := describe(ctx, adm)
		return err
	case "create":
		if _, _, err := describe(ctx, adm); err != nil {
			return err
		}
		resp, err := adm.CreateTopics(ctx, 3, 3, nil, args[1:]...)
		if err == nil {
			err = resp.Error()
		}
		return err
	case "alter":
		key, value, _ := strings.Cut(args[1], "=")
		names, _, err := describe(ctx, adm)
		if err != nil {
			return err
		}
		resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: key, Value: &value}}, names...)
		if err == nil {
			for _, r := range resp {
				if r.Err != nil {
					return fmt.Errorf("alter %s: %w", r.Name, r.Err)
				}
			}
		}
		return err
	case "verify":
		return verify(ctx, cl, adm)
	case "status":
		names, _, err := describe(ctx, adm)
		if err != nil {
			return err
		}
		groups, err := adm.ListGroups(ctx)
		if err != nil {
			return err
		}
		if _, err := adm.DescribeGroups(ctx, groups.Groups()...); err != nil {
			return err
		}
		if err := adm.FetchManyOffsets(ctx, groups.Groups()...).Error(); err != nil {
			return err
		}
		_, err = adm.ListEndOffsets(ctx, names...)
		return err
	case "groups":
		var n int
		if _, err := fmt.Sscan(args[1], &n); err != nil {
			return err
		}
		names, _, err := describe(ctx, adm)
		if err != nil {
			return err
		}
		for g := range n {
			offsets := kadm.Offsets{}
			for i := range 4 {
				topic := names[(g*4+i)%len(names)]
				offsets.Add(kadm.Offset{Topic: topic, Partition: 0, At: 0, LeaderEpoch: -1})
			}
			if _, err := adm.CommitOffsets(ctx, fmt.Sprintf("bench-group-%03d", g), offsets); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown operation %q", args[0])
}

// describe reads every topic's partitions and configs: one Metadata, one DescribeConfigs.
func describe(ctx context.Context, adm *kadm.Client) ([]string, kadm.TopicDetails, error) {
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, n := range topics.Names() {
		if !strings.HasPrefix(n, "__") {
			names = append(names, n)
		}
	}
	// 10,000 topics a request, as avatar-sync asks (clusters.describeConfigsBatch): one request for
	// 100,000 topics answers 141 MB and times out.
	for batch := range slices.Chunk(names, 10000) {
		if _, err := adm.DescribeTopicConfigs(ctx, batch...); err != nil {
			return nil, nil, err
		}
	}
	return names, topics, nil
}

// verify produces one record to every partition of every topic and reads each back, consuming the
// partitions directly from their log end, then commits the offsets after them in a group of its
// own, reads the commits back and deletes the group: what `avatar-sync verify` does.
func verify(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error {
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return err
	}
	var names []string
	for _, n := range topics.Names() {
		if !strings.HasPrefix(n, "__") {
			names = append(names, n)
		}
	}
	ends, err := adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return err
	}
	start := map[string]map[int32]kgo.Offset{}
	want := 0
	ends.Each(func(o kadm.ListedOffset) {
		if start[o.Topic] == nil {
			start[o.Topic] = map[int32]kgo.Offset{}
		}
		start[o.Topic][o.Partition] = kgo.NewOffset().At(o.Offset)
		want++
	})
	consumer, err := kgo.NewClient(kgo.SeedBrokers(cl.OptValue(kgo.SeedBrokers).([]string)...),
		kgo.ConsumePartitions(start), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return err
	}
	defer consumer.Close()
	producer, err := kgo.NewClient(kgo.SeedBrokers(cl.OptValue(kgo.SeedBrokers).([]string)...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	if err != nil {
		return err
	}
	defer producer.Close()
	var recs []*kgo.Record
	topics.EachPartition(func(p kadm.PartitionDetail) {
		if !strings.HasPrefix(p.Topic, "__") {
			recs = append(recs, &kgo.Record{Topic: p.Topic, Partition: p.Partition, Value: []byte("floor")})
		}
	})
	if err := producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return err
	}
	got := kadm.Offsets{}
	for countOffsets(got) < want {
		fs := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		fs.EachRecord(func(r *kgo.Record) {
			got.Add(kadm.Offset{Topic: r.Topic, Partition: r.Partition, At: r.Offset + 1, LeaderEpoch: -1})
		})
	}
	group := fmt.Sprintf("floor-verify-%d", time.Now().UnixNano())
	if _, err := adm.CommitOffsets(ctx, group, got); err != nil {
		return err
	}
	if _, err := adm.FetchOffsets(ctx, group); err != nil {
		return err
	}
	_, err = adm.DeleteGroup(ctx, group)
	return err
}

func countOffsets(os kadm.Offsets) int {
	n := 0
	for _, ps := range os {
		n += len(ps)
	}
	return n
}
