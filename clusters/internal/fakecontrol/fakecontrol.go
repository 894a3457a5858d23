// Package fakecontrol holds the test controls of the embedded (kfake) cluster: request counting,
// failure injection and committing consumer offsets from outside. They serve clusters/clustertest
// and the clusters package's own tests; production code never calls them, so they stay out of
// the clusters API and out of the binary (issue 9).
package fakecontrol

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/avatar-project/avatar-sync/clusters/internal/kfakeseam"
)

// ClusterOf returns the kfake cluster inside a *clusters.Embedded.
func ClusterOf(embedded any) *kfake.Cluster { return kfakeseam.ClusterOf(embedded) }

// API names a Kafka request type (its protocol API key).
type API int16

// The APIs avatar-sync sends; any other Kafka API key works too.
const (
	APIProduce                  = API(kmsg.Produce)
	APIFetch                    = API(kmsg.Fetch)
	APIListOffsets              = API(kmsg.ListOffsets)
	APIMetadata                 = API(kmsg.Metadata)
	APIOffsetCommit             = API(kmsg.OffsetCommit)
	APIOffsetFetch              = API(kmsg.OffsetFetch)
	APIFindCoordinator          = API(kmsg.FindCoordinator)
	APIListGroups               = API(kmsg.ListGroups)
	APIApiVersions              = API(kmsg.ApiVersions)
	APICreateTopics             = API(kmsg.CreateTopics)
	APIDeleteTopics             = API(kmsg.DeleteTopics)
	APIDescribeConfigs          = API(kmsg.DescribeConfigs)
	APIAlterConfigs             = API(kmsg.AlterConfigs)
	APICreatePartitions         = API(kmsg.CreatePartitions)
	APIIncrementalAlterConfigs  = API(kmsg.IncrementalAlterConfigs)
	APIAlterPartitionAssignment = API(kmsg.AlterPartitionAssignments)
	APIListPartitionAssignments = API(kmsg.ListPartitionReassignments)
)

// String is Kafka's name for the API ("CreateTopics").
func (a API) String() string { return kmsg.NameForKey(int16(a)) }

// Counter counts the requests a cluster receives, per API.
type Counter struct {
	mu     sync.Mutex
	counts map[API]int
}

// CountRequests starts counting every request c receives from now on, without handling any:
// the control returns handled=false, so kfake answers normally.
func CountRequests(c *kfake.Cluster) *Counter {
	n := &Counter{counts: map[API]int{}}
	c.ControlKey(-1, func(req kmsg.Request) (kmsg.Response, error, bool) {
		n.mu.Lock()
		n.counts[API(req.Key())]++
		n.mu.Unlock()
		return nil, nil, false
	})
	return n
}

// Requests returns the counts since CountRequests or the last Reset.
func (n *Counter) Requests() map[API]int {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[API]int, len(n.counts))
	for k, v := range n.counts {
		out[k] = v
	}
	return out
}

// Reset zeroes the counts.
func (n *Counter) Reset() {
	n.mu.Lock()
	n.counts = map[API]int{}
	n.mu.Unlock()
}

// Failure selects requests the cluster answers with an error instead of acting on them (the
// cluster state is left untouched for the failed items).
type Failure struct {
	// API is the request type to fail.
	API API
	// Topic limits the failure to one topic's item in the request ("" = every item). For config
	// requests (DescribeConfigs, AlterConfigs, IncrementalAlterConfigs) it names the topic resource.
	Topic string
	// After lets this many matching requests through first: After 1 fails the second one.
	After int
	// Times is how many requests fail (0 = one).
	Times int
	// Code is the Kafka error name to answer with, e.g. "POLICY_VIOLATION"
	// ("" = UNKNOWN_SERVER_ERROR).
	Code string
}

// Fail installs f on c and returns a function that removes it early. Tests use it to interrupt an
// apply in the middle and prove that re-running it converges (issue 3).
func Fail(c *kfake.Cluster, f Failure) (remove func(), err error) {
	fault := kfake.Fault{Keys: []kmsg.Key{kmsg.Key(f.API)}, Count: max(f.Times, 1)}
	if f.Code != "" {
		ke, ok := kafkaErrorByName(f.Code)
		if !ok {
			return nil, fmt.Errorf("unknown Kafka error name %q", f.Code)
		}
		fault.Err = ke
	}
	switch f.API {
	case APIDescribeConfigs, APIAlterConfigs, APIIncrementalAlterConfigs:
		fault.Resource = f.Topic
	default:
		fault.Topic = f.Topic
	}
	if f.After > 0 {
		// When runs once per item on the cluster goroutine; count distinct requests.
		var last kmsg.Request
		seen := 0
		fault.When = func(r kmsg.Request) bool {
			if r != last {
				last = r
				seen++
			}
			return seen > f.After
		}
	}
	h := c.Fault(fault)
	return h.Remove, nil
}

// kafkaErrorByName finds a Kafka error by its protocol name (e.g. "POLICY_VIOLATION").
func kafkaErrorByName(name string) (*kerr.Error, bool) {
	for code := int16(-1); code < 256; code++ {
		var ke *kerr.Error
		if errors.As(kerr.ErrorForCode(code), &ke) && ke.Code == code && strings.EqualFold(ke.Message, name) {
			return ke, true
		}
	}
	return nil, false
}

// CommitOffsets commits offsets for a consumer group outside any group generation, as
// kafka-consumer-groups --reset-offsets does, through its own franz-go client: tests use it to
// make a topic "in use" (deletion is refused while groups hold offsets on it).
func CommitOffsets(ctx context.Context, bootstrap []string, group, topic string, offsets map[int32]int64) error {
	// Kafka 4.0's OffsetCommit at most: later versions name topics by id, not by name.
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...), kgo.MaxVersions(kversion.V4_0_0()))
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = group
	req.Generation = -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	for p, off := range offsets {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition = p
		rp.Offset = off
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("commit offsets of group %q: %w", group, err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("commit %s/%d for group %q: %w", t.Topic, p.Partition, group, err)
			}
		}
	}
	return nil
}

// Produce writes n records to one partition of topic through its own franz-go client, as a lab
// producer would, and waits for every acknowledgement.
func Produce(ctx context.Context, bootstrap []string, topic string, partition int32, n int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: partition, Value: fmt.Appendf(nil, "record %d", i)}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce %d records to %s/%d: %w", n, topic, partition, err)
	}
	return nil
}

// ConsumeAndCommit joins group as a real consumer-group member subscribed to topic, consumes from
// the start until it has m records and commits exactly those (per partition, the offset after the
// last of them). The member stays in the group, as a running service would, until stop is called.
func ConsumeAndCommit(ctx context.Context, bootstrap []string, group, topic string, m int) (stop func(), err error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		return nil, err
	}
	var got []*kgo.Record
	for len(got) < m {
		fs := cl.PollRecords(ctx, m-len(got))
		if err := ctx.Err(); err != nil {
			cl.Close()
			return nil, fmt.Errorf("group %q consumed %d of %d records: %w", group, len(got), m, err)
		}
		for _, e := range fs.Errors() {
			cl.Close()
			return nil, fmt.Errorf("group %q: consume %s/%d: %w", group, e.Topic, e.Partition, e.Err)
		}
		got = append(got, fs.Records()...)
	}
	if err := cl.CommitRecords(ctx, got[:m]...); err != nil {
		cl.Close()
		return nil, fmt.Errorf("group %q: commit: %w", group, err)
	}
	return cl.Close, nil
}

// ListGroups lists every group the cluster knows, through its own client: a second opinion that
// a command left no consumer group behind.
func ListGroups(ctx context.Context, bootstrap []string) ([]string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var names []string
	for _, shard := range cl.RequestSharded(ctx, kmsg.NewPtrListGroupsRequest()) {
		if shard.Err != nil {
			return nil, fmt.Errorf("list groups on broker %d: %w", shard.Meta.NodeID, shard.Err)
		}
		for _, g := range shard.Resp.(*kmsg.ListGroupsResponse).Groups {
			names = append(names, g.Group)
		}
	}
	return names, nil
}

// CancelReassignment cancels the reassignment of the partitions of topic through a client of its
// own, as an operator's `kafka-reassign-partitions.sh --cancel` does.
func CancelReassignment(ctx context.Context, bootstrap []string, topic string, partitions ...int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return err
	}
	defer cl.Close()
	var req kadm.AlterPartitionAssignmentsReq
	for _, p := range partitions {
		req.CancelAssign(topic, p)
	}
	res, err := kadm.NewClient(cl).AlterPartitionAssignments(ctx, req)
	if err != nil {
		return fmt.Errorf("cancel reassignment of %s: %w", topic, err)
	}
	for _, p := range partitions {
		if err := res[topic][p].Err; err != nil {
			return fmt.Errorf("cancel reassignment of %s/%d: %w", topic, p, err)
		}
	}
	return nil
}
