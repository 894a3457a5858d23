package clusters

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// These tests use sarama's MockBroker to check the exact requests avatar-sync sends (which brokers
// and topics the throttles name, one reassignment request) and to answer with chosen partition
// errors. The embedded cluster moves replicas and accepts the throttles since issue 22: the same
// calls run against it in TestReassignmentMovesReplicas.

// mockCluster is three MockBrokers (ids 1-3, broker 1 the controller) whose metadata lists topic
// "eeg" with partition 0 on [1 2] and partition 1 on [2 3].
func mockCluster(t *testing.T, extra map[string]sarama.MockResponse) (*Admin, []*sarama.MockBroker) {
	t.Helper()
	var mbs []*sarama.MockBroker
	for id := int32(1); id <= 3; id++ {
		mb := sarama.NewMockBroker(t, id)
		t.Cleanup(mb.Close)
		mbs = append(mbs, mb)
	}
	md := &sarama.MetadataResponse{Version: 5, ControllerID: 1}
	for _, mb := range mbs {
		md.AddBroker(mb.Addr(), mb.BrokerID())
	}
	md.AddTopicPartition("eeg", 0, 1, []int32{1, 2}, []int32{1, 2}, nil, sarama.ErrNoError)
	md.AddTopicPartition("eeg", 1, 2, []int32{2, 3}, []int32{2, 3}, nil, sarama.ErrNoError)
	versions := sarama.NewMockApiVersionsResponse(t).SetApiKeys([]sarama.ApiVersionsResponseKey{
		{ApiKey: 3, MinVersion: 0, MaxVersion: 5},  // Metadata
		{ApiKey: 18, MinVersion: 0, MaxVersion: 3}, // ApiVersions
		{ApiKey: 44, MinVersion: 0, MaxVersion: 0}, // IncrementalAlterConfigs
		{ApiKey: 45, MinVersion: 0, MaxVersion: 0}, // AlterPartitionReassignments
		{ApiKey: 46, MinVersion: 0, MaxVersion: 0}, // ListPartitionReassignments
	})
	for _, mb := range mbs {
		h := map[string]sarama.MockResponse{
			"ApiVersionsRequest":             versions,
			"MetadataRequest":                sarama.NewMockWrapper(md),
			"IncrementalAlterConfigsRequest": sarama.NewMockIncrementalAlterConfigsResponse(t),
		}
		if mb.BrokerID() == 1 {
			for k, v := range extra {
				h[k] = v
			}
		}
		mb.SetHandlerByMap(h)
	}
	s := &spec.Spec{Clusters: []spec.Cluster{{Name: "mock", Bootstrap: []string{mbs[0].Addr()}}}}
	a, err := Open(testCtx(t), s, "mock", Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a, mbs
}

// requestsOf returns the requests of type T a mock broker received.
func requestsOf[T any](mb *sarama.MockBroker) []T { return requestsSince[T](mb, 0) }

// requestsSince is requestsOf skipping the first n requests of the broker's history.
func requestsSince[T any](mb *sarama.MockBroker, n int) []T {
	var out []T
	for _, rr := range mb.History()[n:] {
		if r, ok := rr.Request.(T); ok {
			out = append(out, r)
		}
	}
	return out
}

// configsOf renders alter-config requests as sorted "type/name key op value" lines.
func configsOf(reqs []*sarama.IncrementalAlterConfigsRequest) []string {
	var lines []string
	for _, r := range reqs {
		for _, res := range r.Resources {
			for k, e := range res.ConfigEntries {
				v := "-"
				if e.Value != nil {
					v = *e.Value
				}
				lines = append(lines, fmt.Sprintf("%s/%s %s op%d %s", resourceKind(res.Type), res.Name, k, e.Operation, v))
			}
		}
	}
	sort.Strings(lines)
	return lines
}

var moves = []reconcile.Reassignment{{Topic: "eeg", Replicas: map[int32][]int32{0: {1, 2, 3}, 1: {2, 3, 1}}}}

func TestReplicationThrottle(t *testing.T) {
	a, mbs := mockCluster(t, nil)
	ctx := testCtx(t)
	if err := a.SetReplicationThrottle(ctx, 5_000_000, moves); err != nil {
		t.Fatal(err)
	}
	var all []*sarama.IncrementalAlterConfigsRequest
	for _, mb := range mbs {
		reqs := requestsOf[*sarama.IncrementalAlterConfigsRequest](mb)
		all = append(all, reqs...)
		// Each broker's own rates are set on that broker, in one request.
		for _, line := range configsOf(reqs) {
			if strings.HasPrefix(line, "broker/") && !strings.HasPrefix(line, fmt.Sprintf("broker/%d ", mb.BrokerID())) {
				t.Errorf("broker %d received %s", mb.BrokerID(), line)
			}
		}
	}
	want := []string{
		"broker/1 follower.replication.throttled.rate op0 5000000",
		"broker/1 leader.replication.throttled.rate op0 5000000",
		"broker/2 follower.replication.throttled.rate op0 5000000",
		"broker/2 leader.replication.throttled.rate op0 5000000",
		"broker/3 follower.replication.throttled.rate op0 5000000",
		"broker/3 leader.replication.throttled.rate op0 5000000",
		// Current replicas throttle as leaders, added replicas as followers (as Kafka's tool does).
		"topic/eeg follower.replication.throttled.replicas op0 0:3,1:1",
		"topic/eeg leader.replication.throttled.replicas op0 0:1,0:2,1:2,1:3",
	}
	if got := configsOf(all); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("set throttle sent\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(all) != 4 {
		t.Errorf("%d IncrementalAlterConfigs requests, want 4 (one for topics, one per broker)", len(all))
	}

	seen := map[*sarama.MockBroker]int{}
	for _, mb := range mbs {
		seen[mb] = len(mb.History())
	}
	if err := a.ClearReplicationThrottle(ctx, moves); err != nil {
		t.Fatal(err)
	}
	all = nil
	for _, mb := range mbs {
		all = append(all, requestsSince[*sarama.IncrementalAlterConfigsRequest](mb, seen[mb])...)
	}
	want = []string{
		"broker/1 follower.replication.throttled.rate op1 -",
		"broker/1 leader.replication.throttled.rate op1 -",
		"broker/2 follower.replication.throttled.rate op1 -",
		"broker/2 leader.replication.throttled.rate op1 -",
		"broker/3 follower.replication.throttled.rate op1 -",
		"broker/3 leader.replication.throttled.rate op1 -",
		"topic/eeg follower.replication.throttled.replicas op1 -",
		"topic/eeg leader.replication.throttled.replicas op1 -",
	}
	if got := configsOf(all); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("clear throttle sent\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestReassignPartitions(t *testing.T) {
	failed := &sarama.AlterPartitionReassignmentsResponse{}
	msg := "replica 3 is offline"
	failed.AddError("eeg", 1, sarama.ErrReplicaNotAvailable, &msg)
	failed.AddError("eeg", 0, sarama.ErrNoError, nil)
	a, mbs := mockCluster(t, map[string]sarama.MockResponse{
		"AlterPartitionReassignmentsRequest": sarama.NewMockWrapper(failed),
		"ListPartitionReassignmentsRequest":  sarama.NewMockListPartitionReassignmentsResponse(t),
	})
	ctx := testCtx(t)
	out, err := a.ReassignPartitions(ctx, moves)
	if err != nil {
		t.Fatal(err)
	}
	if out["eeg"] == nil || !strings.Contains(out["eeg"].Error(), "partition 1") || !strings.Contains(out["eeg"].Error(), msg) {
		t.Errorf("outcome = %v, want partition 1's error", out["eeg"])
	}
	if n := len(requestsOf[*sarama.AlterPartitionReassignmentsRequest](mbs[0])); n != 1 {
		t.Errorf("%d AlterPartitionReassignments requests to the controller, want 1", n)
	}

	// The mock reports every listed partition as moving (adding/removing replicas).
	moving, err := a.ReassignmentsInProgress(ctx, []string{"eeg"})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(moving) != "[eeg]" {
		t.Errorf("moving = %v, want [eeg]", moving)
	}
}

func TestPlanThrottle(t *testing.T) {
	current := map[string]map[int32][]int32{"eeg": {0: {1, 2}, 1: {2, 3}}}
	tp := planThrottle(current, moves)
	if got := tp.topics["eeg"]; got != [2]string{"0:1,0:2,1:2,1:3", "0:3,1:1"} {
		t.Errorf("lists = %q", got)
	}
	if fmt.Sprint(tp.brokers) != "[1 2 3]" {
		t.Errorf("brokers = %v", tp.brokers)
	}
}

// TestSilentAdvertisedBrokerIsBounded: the bootstrap broker answers, but the controller it
// advertises accepts connections and never answers (a wrong advertised listener). Creating topics
// must fail after ConnectTimeout, naming the broker, instead of sarama's three request timeouts.
func TestSilentAdvertisedBrokerIsBounded(t *testing.T) {
	silent := silentListener(t)
	seed := sarama.NewMockBroker(t, 1)
	t.Cleanup(seed.Close)
	md := &sarama.MetadataResponse{Version: 5, ControllerID: 2}
	md.AddBroker(seed.Addr(), 1)
	md.AddBroker(silent, 2)
	seed.SetHandlerByMap(map[string]sarama.MockResponse{
		"ApiVersionsRequest": sarama.NewMockApiVersionsResponse(t).SetApiKeys([]sarama.ApiVersionsResponseKey{
			{ApiKey: 3, MinVersion: 0, MaxVersion: 5},  // Metadata
			{ApiKey: 18, MinVersion: 0, MaxVersion: 3}, // ApiVersions
			{ApiKey: 19, MinVersion: 0, MaxVersion: 4}, // CreateTopics
		}),
		"MetadataRequest": sarama.NewMockWrapper(md),
	})
	s := &spec.Spec{Clusters: []spec.Cluster{{Name: "lab", Bootstrap: []string{seed.Addr()}}}}
	a, err := Open(testCtx(t), s, "lab", Options{ConnectTimeout: 200 * time.Millisecond, RequestTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, err = a.CreateTopics(testCtx(t), []spec.Topic{{Name: "x", Partitions: 1, ReplicationFactor: 1}})
	want := fmt.Sprintf(`cluster "lab": connect to broker 2 at %s: no answer within 200ms`, silent)
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}
