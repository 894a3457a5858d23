package clusters

import (
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/go-cmp/cmp"

	"github.com/avatar-project/avatar-sync/clusters/internal/fakecontrol"
	"github.com/avatar-project/avatar-sync/health"
	"github.com/avatar-project/avatar-sync/spec"
)

// TestHealthUnderReplicatedAndOfflineMockBroker uses sarama's MockBroker to answer exact metadata
// (the embedded cluster's own case, a follower made to fall behind with the test hook and a broker
// removed, is TestFallenBehindFollowerInHealthAndRollGuard). The metadata here has partition 0 with one of three
// replicas in sync (min.insync.replicas 2) and partition 1 with no leader; status must report the
// first as under-replicated and under min ISR, the second as offline, and be unhealthy.
func TestHealthUnderReplicatedAndOfflineMockBroker(t *testing.T) {
	a, _ := healthMockCluster(t, nil)
	snap, err := a.Health(testCtx(t), []string{"eeg"})
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.Topics["eeg"]; got.MinISR != 2 || got.Partitions[0].LogEnd != 40 || got.Partitions[1].Leader != -1 || got.Partitions[2].LogEnd != 7 {
		t.Errorf("snapshot of eeg: %+v", got)
	}
	exp := health.Expectation{Cluster: "mock", Topics: []string{"eeg"}, Brokers: []health.ExpectedBroker{{ID: 1, Name: "broker 1"}, {ID: 2, Name: "broker 2"}, {ID: 3, Name: "broker 3"}}}
	r := health.Assess(snap, exp, time.Now())
	tr := r.Topics[0]
	if d := cmp.Diff([][]int32{{0, 1}, {1}, {0}}, [][]int32{tr.UnderReplicated, tr.Offline, tr.UnderMinISR}); d != "" {
		t.Errorf("under-replicated, offline, under-min-ISR (-want +got):\n%s", d)
	}
	if r.Healthy || len(r.Problems) != 2 {
		t.Errorf("want unhealthy with 2 problems (offline, under min ISR): %q", r.Problems)
	}
	for _, b := range r.Brokers {
		if b.State != "up" {
			t.Errorf("broker %d: %+v", b.ID, b)
		}
	}
}

// TestHealthDiskUseMockBroker reads the replica sizes with sarama's MockBroker, for what kfake
// cannot produce: several log directories per broker and a temporary (moving) replica. Each
// broker's disk use is the sum of its replicas (temporary ones left out), and the topic's size the
// sum over all replicas. TestHealthDiskUseEmbedded reads them from kfake.
func TestHealthDiskUseMockBroker(t *testing.T) {
	a, _ := healthMockCluster(t, nil)
	snap, err := a.Health(testCtx(t), []string{"eeg"})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range snap.Brokers {
		if want := 3000*int64(b.ID) + 3; b.DiskUsed != want {
			t.Errorf("broker %d disk used %d, want %d", b.ID, b.DiskUsed, want)
		}
	}
	if got := snap.Topics["eeg"].Partitions[2].Sizes; !cmp.Equal(got, map[int32]int64{1: 1002, 2: 2002, 3: 3002}) {
		t.Errorf("sizes of eeg/2: %v", got)
	}
	r := health.Assess(snap, health.Expectation{Topics: []string{"eeg"}}, time.Now())
	if tr := r.Topics[0]; tr.SizeBytes != 3*6000+3*3 || tr.RetentionMs != 0 {
		t.Errorf("eeg size %d, want %d", tr.SizeBytes, 3*6000+3*3)
	}
	if len(r.Warnings) > 1 { // leader balance only
		t.Errorf("warnings: %q", r.Warnings)
	}
}

// healthMockCluster is three MockBrokers whose metadata has topic "eeg": partition 0 with one of
// three replicas in sync, partition 1 without a leader, partition 2 healthy; min.insync.replicas 2.
func healthMockCluster(t *testing.T, extraBrokers map[int32]string) (*Admin, []*sarama.MockBroker) {
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
	for id, addr := range extraBrokers {
		md.AddBroker(addr, id)
	}
	md.AddTopicPartition("eeg", 0, 1, []int32{1, 2, 3}, []int32{1}, []int32{2, 3}, sarama.ErrNoError)
	md.AddTopicPartition("eeg", 1, -1, []int32{2, 3, 1}, []int32{}, []int32{2, 3}, sarama.ErrLeaderNotAvailable)
	md.AddTopicPartition("eeg", 2, 2, []int32{2, 3, 1}, []int32{2, 3, 1}, nil, sarama.ErrNoError)
	configs := &sarama.DescribeConfigsResponse{Version: 4, Resources: []*sarama.ResourceResponse{{
		Type: sarama.TopicResource, Name: "eeg",
		Configs: []*sarama.ConfigEntry{{Name: "min.insync.replicas", Value: "2", Source: sarama.SourceTopic}},
	}}}
	versions := sarama.NewMockApiVersionsResponse(t).SetApiKeys([]sarama.ApiVersionsResponseKey{
		{ApiKey: 2, MinVersion: 0, MaxVersion: 1},  // ListOffsets
		{ApiKey: 3, MinVersion: 0, MaxVersion: 5},  // Metadata
		{ApiKey: 16, MinVersion: 0, MaxVersion: 3}, // ListGroups
		{ApiKey: 18, MinVersion: 0, MaxVersion: 3}, // ApiVersions
		{ApiKey: 32, MinVersion: 0, MaxVersion: 4}, // DescribeConfigs
		{ApiKey: 35, MinVersion: 0, MaxVersion: 1}, // DescribeLogDirs
	})
	for _, mb := range mbs {
		// Each broker holds a replica of every eeg partition, of 1000×broker id + partition bytes,
		// in two log directories, plus a temporary (moving) replica that must not count.
		id := int64(mb.BrokerID())
		dirs := &sarama.DescribeLogDirsResponse{Version: 1, LogDirs: []sarama.DescribeLogDirsResponseDirMetadata{
			{Path: "/var/lib/kafka/a", Topics: []sarama.DescribeLogDirsResponseTopic{{Topic: "eeg", Partitions: []sarama.DescribeLogDirsResponsePartition{
				{PartitionID: 0, Size: 1000 * id}, {PartitionID: 1, Size: 1000*id + 1}}}}},
			{Path: "/var/lib/kafka/b", Topics: []sarama.DescribeLogDirsResponseTopic{{Topic: "eeg", Partitions: []sarama.DescribeLogDirsResponsePartition{
				{PartitionID: 2, Size: 1000*id + 2}, {PartitionID: 0, Size: 99999, IsTemporary: true}}}}},
		}}
		mb.SetHandlerByMap(map[string]sarama.MockResponse{
			"DescribeLogDirsRequest": sarama.NewMockWrapper(dirs),
			"ApiVersionsRequest":     versions,
			"MetadataRequest":        sarama.NewMockWrapper(md),
			"DescribeConfigsRequest": sarama.NewMockWrapper(configs),
			"ListGroupsRequest":      sarama.NewMockListGroupsResponse(t),
			"OffsetRequest": sarama.NewMockOffsetResponse(t).
				SetOffset("eeg", 0, sarama.OffsetNewest, 40).SetOffset("eeg", 2, sarama.OffsetNewest, 7),
		})
	}
	s := &spec.Spec{Clusters: []spec.Cluster{{Name: "mock", Bootstrap: []string{mbs[0].Addr()}}}}
	a, err := Open(testCtx(t), s, "mock", Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })

	return a, mbs
}

// TestHealthUnreachableBrokerMockBroker: a broker the metadata names (MockBroker metadata; kfake
// drops a removed broker from its metadata) but that refuses connections is reported unreachable
// with the cause, the read still completes, and status is unhealthy.
func TestHealthUnreachableBrokerMockBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := ln.Addr().String()
	ln.Close() // a broker that crashed after registering: its port refuses connections
	a, _ := healthMockCluster(t, map[int32]string{4: gone})
	snap, err := a.Health(testCtx(t), []string{"eeg"})
	if err != nil {
		t.Fatal(err)
	}
	r := health.Assess(snap, health.Expectation{Topics: []string{"eeg"}, Brokers: []health.ExpectedBroker{{ID: 1}, {ID: 2}, {ID: 3}, {ID: 4}}}, time.Now())
	if b := r.Brokers[3]; b.ID != 4 || b.State != "unreachable" || !strings.Contains(b.Error, "connection refused") {
		t.Errorf("broker 4: %+v", b)
	}
	if r.Healthy || !strings.Contains(strings.Join(r.Problems, "\n"), "broker 4 at "+gone+" is unreachable: connection refused") {
		t.Errorf("problems %q", r.Problems)
	}
}

// TestHealthDiskUseEmbedded reads replica sizes from the embedded cluster (kfake patched to answer
// DescribeLogDirs per broker, issue 22): with one replica per partition, each partition's size is
// reported by its replica's broker only, grows with what was produced to it, and the topic's size
// is the sum the brokers report for it.
func TestHealthDiskUseEmbedded(t *testing.T) {
	e, a := startTest(t)
	ctx := testCtx(t)
	if _, err := a.CreateTopics(ctx, []spec.Topic{{Name: "eeg", Partitions: 3, ReplicationFactor: 1}}); err != nil {
		t.Fatal(err)
	}
	for p := range int32(3) {
		if err := fakecontrol.Produce(ctx, e.Bootstrap(), "eeg", p, 20*int(p+1)); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := a.Health(ctx, []string{"eeg"})
	if err != nil {
		t.Fatal(err)
	}
	parts := snap.Topics["eeg"].Partitions
	sort.Slice(parts, func(i, j int) bool { return parts[i].ID < parts[j].ID })
	var prev, total int64
	for _, p := range parts {
		if len(p.Sizes) != 1 || p.Sizes[p.Replicas[0]] <= prev {
			t.Errorf("partition %d (replica on %d): sizes %v, want one size above %d", p.ID, p.Replicas[0], p.Sizes, prev)
		}
		prev = p.Sizes[p.Replicas[0]]
		total += prev
	}
	var used int64
	for _, b := range snap.Brokers {
		if b.DiskUsed < 0 {
			t.Errorf("broker %d disk use not read", b.ID)
		}
		used += b.DiskUsed
	}
	r := health.Assess(snap, health.Expectation{Topics: []string{"eeg"}}, time.Now())
	if r.Topics[0].SizeBytes != total || used < total || len(r.Warnings) > 0 {
		t.Errorf("topic size %d, partitions %d, brokers %d, warnings %q", r.Topics[0].SizeBytes, total, used, r.Warnings)
	}
}
