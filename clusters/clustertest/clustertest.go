// Package clustertest runs the embedded cluster as the protocol peer of other packages' tests
// (reconcile, cmd), with the controls tests need and production must not carry: request counts,
// failure injection, committing consumer offsets from outside (issue 9). Import it only from
// _test.go files.
package clustertest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/clusters/internal/fakecontrol"
	"github.com/avatar-project/avatar-sync/spec"
)

// API names a Kafka request type for Requests and Fail.
type API = fakecontrol.API

// The APIs avatar-sync sends.
const (
	APIProduce                  = fakecontrol.APIProduce
	APIFetch                    = fakecontrol.APIFetch
	APIListOffsets              = fakecontrol.APIListOffsets
	APIMetadata                 = fakecontrol.APIMetadata
	APIOffsetCommit             = fakecontrol.APIOffsetCommit
	APIOffsetFetch              = fakecontrol.APIOffsetFetch
	APIFindCoordinator          = fakecontrol.APIFindCoordinator
	APIListGroups               = fakecontrol.APIListGroups
	APIApiVersions              = fakecontrol.APIApiVersions
	APICreateTopics             = fakecontrol.APICreateTopics
	APIDeleteTopics             = fakecontrol.APIDeleteTopics
	APIDescribeConfigs          = fakecontrol.APIDescribeConfigs
	APIAlterConfigs             = fakecontrol.APIAlterConfigs
	APICreatePartitions         = fakecontrol.APICreatePartitions
	APIIncrementalAlterConfigs  = fakecontrol.APIIncrementalAlterConfigs
	APIAlterPartitionAssignment = fakecontrol.APIAlterPartitionAssignment
	APIListPartitionAssignments = fakecontrol.APIListPartitionAssignments
)

// Failure selects requests the cluster answers with an error; see fakecontrol.Failure.
type Failure = fakecontrol.Failure

// Cluster is a running embedded cluster with test controls. It is a *clusters.Embedded (Connect,
// Bootstrap, Close, ...) that counts the requests it receives from its start.
type Cluster struct {
	*clusters.Embedded
	counter *fakecontrol.Counter
}

// Start starts an embedded cluster as clusters.StartEmbedded does and begins counting requests.
func Start(ctx context.Context, s *spec.Spec, o clusters.EmbeddedOptions) (*Cluster, error) {
	e, err := clusters.StartEmbedded(ctx, s, o)
	if err != nil {
		return nil, err
	}
	return &Cluster{Embedded: e, counter: fakecontrol.CountRequests(fakecontrol.ClusterOf(e))}, nil
}

// StartFor starts a cluster of s's brokers for the test t (default options, a minute to start) and
// closes it when t ends.
func StartFor(t testing.TB, s *spec.Spec) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, s, clusters.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Unreachable returns a loopback address nothing listens on: the bootstrap of a target that cannot
// be reached (a port just freed; tests never pick fixed ports).
func Unreachable(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Requests returns how many requests of each API the cluster has received since Start or the last
// ResetRequests. Tests use it to prove batching.
func (c *Cluster) Requests() map[API]int { return c.counter.Requests() }

// ResetRequests zeroes the request counters.
func (c *Cluster) ResetRequests() { c.counter.Reset() }

// Fail installs f and returns a function that removes it early.
func (c *Cluster) Fail(f Failure) (remove func(), err error) {
	return fakecontrol.Fail(fakecontrol.ClusterOf(c.Embedded), f)
}

// CommitOffsets commits offsets for a consumer group, as a consumer would, through a client of
// its own. Tests use it to make a topic "in use".
func (c *Cluster) CommitOffsets(ctx context.Context, group, topic string, offsets map[int32]int64) error {
	return fakecontrol.CommitOffsets(ctx, c.Bootstrap(), group, topic, offsets)
}

// Produce writes n records to one partition, as a lab producer would.
func (c *Cluster) Produce(ctx context.Context, topic string, partition int32, n int) error {
	return fakecontrol.Produce(ctx, c.Bootstrap(), topic, partition, n)
}

// ConsumeAndCommit runs a real member of group that consumes m records of topic from the start and
// commits them; the member stays until stop (issue 13: lag the test created).
func (c *Cluster) ConsumeAndCommit(ctx context.Context, group, topic string, m int) (stop func(), err error) {
	return fakecontrol.ConsumeAndCommit(ctx, c.Bootstrap(), group, topic, m)
}

// ListGroups lists every consumer group, through a client of its own.
func (c *Cluster) ListGroups(ctx context.Context) ([]string, error) {
	return fakecontrol.ListGroups(ctx, c.Bootstrap())
}

// RemoveBroker takes broker id away, as a crashed broker: its listener closes and the metadata
// stops naming it (kfake moves its partitions' leadership to the others).
func (c *Cluster) RemoveBroker(id int32) error {
	return fakecontrol.ClusterOf(c.Embedded).RemoveNode(id)
}

// FallBehind makes the replicas on brokers of one partition fall behind their leader, as a slow
// or stuck follower does: they leave the ISR, so the partition is under-replicated (and under its
// min.insync.replicas when few enough stay; then acks=all producers get NOT_ENOUGH_REPLICAS).
// FallBehind with no brokers brings every replica back in sync. The leader cannot fall behind.
func (c *Cluster) FallBehind(topic string, partition int32, brokers ...int32) error {
	return fakecontrol.ClusterOf(c.Embedded).SetOutOfSync(topic, partition, brokers...)
}

// SetReassignmentDelay sets how long a partition reassignment stays in progress before it
// completes (default 250ms), also for reassignments already running.
func (c *Cluster) SetReassignmentDelay(d time.Duration) {
	fakecontrol.ClusterOf(c.Embedded).SetReassignmentDelay(d)
}

// CancelReassignment cancels the reassignment of the partitions of topic, as an operator's
// `kafka-reassign-partitions.sh --cancel` does: they go back to their replicas before it.
func (c *Cluster) CancelReassignment(ctx context.Context, topic string, partitions ...int32) error {
	return fakecontrol.CancelReassignment(ctx, c.Bootstrap(), topic, partitions...)
}
