package clusters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/avatar-project/avatar-sync/clusters/internal/fakecontrol"
	"github.com/avatar-project/avatar-sync/health"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// These tests prove the kfake patches of issue 22 (third_party/kfake/PATCHES.md) through an
// independent client (franz-go's kadm), not through avatar-sync's own Admin where it would read
// what it wrote.

// kadmOf is a franz-go admin client on the cluster.
func kadmOf(t *testing.T, bootstrap []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...), kgo.RequestRetries(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// partitionsOf returns each partition's replicas, ISR and leader as kadm reads them, through a
// client of its own (a franz-go client answers Metadata from its cache for a while).
func partitionsOf(t *testing.T, ctx context.Context, bootstrap []string, topic string) kadm.PartitionDetails {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		t.Fatalf("metadata of %s: %+v", topic, td)
	}
	return td.Partitions
}

// TestEmbeddedBrokersAreTheSpecs: the embedded brokers carry the spec's node ids and racks, in
// Metadata, DescribeCluster and the broker.rack config, and topics are placed on them.
func TestEmbeddedBrokersAreTheSpecs(t *testing.T) {
	ctx := testCtx(t)
	e, a := startTest(t)
	adm := kadmOf(t, e.Bootstrap())

	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range md.Brokers {
		got = append(got, fmt.Sprintf("%d@%s", b.NodeID, *b.Rack))
	}
	slices.Sort(got)
	if want := []string{"1@lab-a", "2@lab-b", "3@lab-c"}; !slices.Equal(got, want) {
		t.Errorf("brokers %v, want %v", got, want)
	}
	rcs, err := adm.DescribeBrokerConfigs(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := rcs.On("2", nil); err != nil || !hasConfig(v.Configs, "broker.rack", "lab-b") {
		t.Errorf("broker 2's broker.rack is not lab-b: %+v %v", v, err)
	}

	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "eeg", Partitions: 6, ReplicationFactor: 3}}))
	for p, pd := range partitionsOf(t, ctx, e.Bootstrap(), "eeg") {
		r := slices.Sorted(slices.Values(pd.Replicas))
		if !slices.Equal(r, []int32{1, 2, 3}) || pd.Leader != pd.Replicas[0] || len(pd.ISR) != 3 {
			t.Errorf("partition %d: replicas %v isr %v leader %d", p, pd.Replicas, pd.ISR, pd.Leader)
		}
	}
}

func hasConfig(cs []kadm.Config, key, value string) bool {
	for _, c := range cs {
		if c.Key == key && c.Value != nil && *c.Value == value {
			return true
		}
	}
	return false
}

// legacyState writes a state directory as avatar-sync did before brokers carried the spec's ids:
// kfake brokers 0..2, and kfake's files without the broker ids and assignments the patch adds. It
// returns each partition's leader (a broker position).
func legacyState(t *testing.T, ctx context.Context, dir string) map[int32]int32 {
	t.Helper()
	old := &spec.Spec{Brokers: []spec.Broker{{ID: 0}, {ID: 1}, {ID: 2}}}
	e, err := StartEmbedded(ctx, old, EmbeddedOptions{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.Connect(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "eeg", Partitions: 12, ReplicationFactor: 2}}))
	leaders := map[int32]int32{}
	for p, pd := range partitionsOf(t, ctx, e.Bootstrap(), "eeg") {
		leaders[p] = pd.Leader
	}
	a.Close()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// Strip what the patch adds: upstream kfake wrote neither field.
	for _, f := range []string{"meta.json", "topics.json"} {
		path := filepath.Join(dir, "data", f)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		delete(doc, "brokers")
		if ts, ok := doc["topics"].([]any); ok {
			for _, tp := range ts {
				delete(tp.(map[string]any), "assignment")
			}
		}
		if b, err = json.Marshal(doc); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return leaders
}

// TestLegacyStateMigratesByPosition: state saved when the embedded brokers were 0..n-1 opens
// with the spec's ids: old broker k is the spec's k-th broker (which it always stood for), every
// partition keeps its leader and replica count, and the state is saved with the ids at once, so
// a second start reads it by id.
func TestLegacyStateMigratesByPosition(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	oldLeaders := legacyState(t, ctx, dir)
	ids := []int32{1, 2, 3} // testSpec's brokers, in order

	for run := 1; run <= 2; run++ {
		e, err := StartEmbedded(ctx, testSpec(), EmbeddedOptions{StateDir: dir})
		if err != nil {
			t.Fatalf("start %d: %v", run, err)
		}
		parts := partitionsOf(t, ctx, e.Bootstrap(), "eeg")
		if len(parts) != 12 {
			t.Fatalf("start %d: %d partitions", run, len(parts))
		}
		for p, pd := range parts {
			if want := ids[oldLeaders[p]]; pd.Leader != want || len(pd.Replicas) != 2 || pd.Replicas[0] != want {
				t.Errorf("start %d partition %d: leader %d replicas %v, want leader %d (old broker %d) and 2 replicas",
					run, p, pd.Leader, pd.Replicas, want, oldLeaders[p])
			}
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		meta, err := os.ReadFile(filepath.Join(dir, "data", "meta.json"))
		if err != nil || !strings.Contains(string(meta), `"brokers":[1,2,3]`) {
			t.Errorf("start %d: meta.json does not record the broker ids: %s %v", run, meta, err)
		}
	}
}

// TestChangedBrokerIDsRefused: state saved by brokers 1-3 is not opened by brokers 1, 2, 4 (the
// partitions on broker 3 would silently belong to nobody); the error says how to start afresh and
// the state is left as it was.
func TestChangedBrokerIDsRefused(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	e, a := startIn(t, ctx, dir)
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "eeg", Partitions: 3, ReplicationFactor: 3}}))
	a.Close()
	e.Close()
	before, err := os.ReadFile(filepath.Join(dir, "data", "topics.json"))
	if err != nil {
		t.Fatal(err)
	}

	other := testSpec()
	other.Brokers[2].ID = 4
	_, err = StartEmbedded(ctx, other, EmbeddedOptions{StateDir: dir})
	if !errors.Is(err, kfake.ErrBrokersChanged) || !strings.Contains(err.Error(), "rm -rf "+dir) ||
		!strings.Contains(err.Error(), "saved by brokers [1 2 3], this cluster has brokers [1 2 4]") {
		t.Fatalf("start with other broker ids: %v", err)
	}
	after, err := os.ReadFile(filepath.Join(dir, "data", "topics.json"))
	if err != nil || string(after) != string(before) {
		t.Errorf("refused start changed topics.json (%v)", err)
	}
	// The lock is released: the right spec still opens it.
	e, err = StartEmbedded(ctx, testSpec(), EmbeddedOptions{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
}

// TestReassignmentMovesReplicas: a replication factor 2 → 3 reassignment through avatar-sync's
// Admin is listed as in progress (the added replica not yet in the ISR) while its replicas catch
// up, then completes: three replicas on three racks, all in sync, the preferred replica leading;
// the assignment survives a restart. The throttle configs apply and clear on the way.
func TestReassignmentMovesReplicas(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	e, a := startIn(t, ctx, dir)
	adm := kadmOf(t, e.Bootstrap())
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "eeg", Partitions: 3, ReplicationFactor: 2}}))
	before := partitionsOf(t, ctx, e.Bootstrap(), "eeg")
	move := reconcile.Reassignment{Topic: "eeg", Replicas: map[int32][]int32{}}
	for p, pd := range before {
		target := slices.Clone(pd.Replicas)
		for _, b := range []int32{1, 2, 3} {
			if !slices.Contains(target, b) {
				target = append([]int32{b}, target...) // the new replica leads: leadership must move
			}
		}
		move.Replicas[p] = target
	}
	moves := []reconcile.Reassignment{move}

	fakecontrol.ClusterOf(e).SetReassignmentDelay(time.Hour)
	if err := a.SetReplicationThrottle(ctx, 5_000_000, moves); err != nil {
		t.Fatalf("throttle: %v", err)
	}
	mustOK(t)(a.ReassignPartitions(ctx, moves))
	if running, err := a.ReassignmentsInProgress(ctx, []string{"eeg"}); err != nil || !slices.Equal(running, []string{"eeg"}) {
		t.Fatalf("in progress: %v %v", running, err)
	}
	listed, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{"eeg": {0: {}, 1: {}, 2: {}}})
	if err != nil {
		t.Fatal(err)
	}
	for p, pd := range before {
		st, ok := listed["eeg"][p]
		added := move.Replicas[p][0]
		if !ok || !slices.Equal(st.AddingReplicas, []int32{added}) || len(st.RemovingReplicas) != 0 {
			t.Errorf("partition %d listed as %+v, want adding [%d]", p, st, added)
		}
		if now := partitionsOf(t, ctx, e.Bootstrap(), "eeg")[p]; slices.Contains(now.ISR, added) || now.Leader != pd.Leader {
			t.Errorf("partition %d while moving: isr %v leader %d; the added replica is not in sync yet", p, now.ISR, now.Leader)
		}
	}

	fakecontrol.ClusterOf(e).SetReassignmentDelay(time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for {
		running, err := a.ReassignmentsInProgress(ctx, []string{"eeg"})
		if err != nil {
			t.Fatal(err)
		}
		if len(running) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reassignment still running: %v", running)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := a.ClearReplicationThrottle(ctx, moves); err != nil {
		t.Fatalf("clear throttle: %v", err)
	}
	check := func(when string, parts kadm.PartitionDetails) {
		t.Helper()
		for p, pd := range parts {
			if !slices.Equal(pd.Replicas, move.Replicas[p]) || len(pd.ISR) != 3 || pd.Leader != move.Replicas[p][0] {
				t.Errorf("%s: partition %d replicas %v isr %v leader %d, want replicas %v led by %d",
					when, p, pd.Replicas, pd.ISR, pd.Leader, move.Replicas[p], move.Replicas[p][0])
			}
		}
	}
	check("after the move", partitionsOf(t, ctx, e.Bootstrap(), "eeg"))
	a.Close()
	e.Close()

	e, err = StartEmbedded(ctx, testSpec(), EmbeddedOptions{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	check("after a restart", partitionsOf(t, ctx, e.Bootstrap(), "eeg"))
}

// TestReassignmentRefusalsAndCancel: Kafka's answers for an unknown broker, a repeated broker and
// a cancel with nothing to cancel; a cancelled reassignment puts the old replicas back.
func TestReassignmentRefusalsAndCancel(t *testing.T) {
	ctx := testCtx(t)
	e, a := startTest(t)
	adm := kadmOf(t, e.Bootstrap())
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "eeg", Partitions: 1, ReplicationFactor: 1}}))
	orig := partitionsOf(t, ctx, e.Bootstrap(), "eeg")[0].Replicas

	for _, tc := range []struct {
		replicas []int32
		want     string
	}{
		{[]int32{1, 9}, "includes broker 9, but no such broker is registered"},
		{[]int32{2, 2}, "includes the broker 2 more than once"},
	} {
		out, err := a.ReassignPartitions(ctx, []reconcile.Reassignment{{Topic: "eeg", Replicas: map[int32][]int32{0: tc.replicas}}})
		if err != nil || out["eeg"] == nil || !strings.Contains(out["eeg"].Error(), tc.want) {
			t.Errorf("reassign to %v: %v %v, want %v", tc.replicas, out, err, tc.want)
		}
	}
	cancel := func() error {
		var req kadm.AlterPartitionAssignmentsReq
		req.CancelAssign("eeg", 0)
		res, err := adm.AlterPartitionAssignments(ctx, req)
		if err != nil {
			return err
		}
		return res["eeg"][0].Err
	}
	if err := cancel(); !errors.Is(err, kerr.NoReassignmentInProgress) {
		t.Errorf("cancel with nothing running: %v", err)
	}
	fakecontrol.ClusterOf(e).SetReassignmentDelay(time.Hour)
	mustOK(t)(a.ReassignPartitions(ctx, []reconcile.Reassignment{{Topic: "eeg", Replicas: map[int32][]int32{0: {1, 2, 3}}}}))
	if err := cancel(); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if pd := partitionsOf(t, ctx, e.Bootstrap(), "eeg")[0]; !slices.Equal(pd.Replicas, orig) {
		t.Errorf("after cancel: replicas %v, want %v", pd.Replicas, orig)
	}
}

// TestLogDirsReportSizesPerBroker: DescribeLogDirs answers each broker's own replicas with their
// sizes, so summing brokers counts each replica once.
func TestLogDirsReportSizesPerBroker(t *testing.T) {
	ctx := testCtx(t)
	e, a := startTest(t)
	adm := kadmOf(t, e.Bootstrap())
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "eeg", Partitions: 3, ReplicationFactor: 2}}))
	if err := fakecontrol.Produce(ctx, e.Bootstrap(), "eeg", 1, 40); err != nil {
		t.Fatal(err)
	}
	parts := partitionsOf(t, ctx, e.Bootstrap(), "eeg")
	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	hosted := map[int32][]int32{} // broker → partitions of eeg it answers
	var size1 []int64
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			if p.Topic != "eeg" {
				return
			}
			hosted[d.Broker] = append(hosted[d.Broker], p.Partition)
			if p.Partition == 1 {
				size1 = append(size1, p.Size)
			} else if p.Size != 0 {
				t.Errorf("broker %d: empty partition %d has size %d", d.Broker, p.Partition, p.Size)
			}
		})
	})
	for _, b := range []int32{1, 2, 3} {
		var want []int32
		for p, pd := range parts {
			if slices.Contains(pd.Replicas, b) {
				want = append(want, p)
			}
		}
		slices.Sort(want)
		got := slices.Sorted(slices.Values(hosted[b]))
		if !slices.Equal(got, want) {
			t.Errorf("broker %d describes partitions %v, hosts %v", b, got, want)
		}
	}
	if len(size1) != 2 || size1[0] <= 0 || size1[0] != size1[1] {
		t.Errorf("partition 1 (40 records, 2 replicas): sizes %v", size1)
	}
}

// TestFollowerFallsBehind: the test hook takes a follower out of the ISR; Metadata shows the
// partition under-replicated, and below min.insync.replicas an acks=all producer gets Kafka's
// NOT_ENOUGH_REPLICAS until the follower is back.
func TestFollowerFallsBehind(t *testing.T) {
	ctx := testCtx(t)
	e, a := startTest(t)
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "eeg", Partitions: 1, ReplicationFactor: 3, Config: map[string]string{"min.insync.replicas": "2"}}}))
	pd := partitionsOf(t, ctx, e.Bootstrap(), "eeg")[0]
	kc := fakecontrol.ClusterOf(e)
	if err := kc.SetOutOfSync("eeg", 0, pd.Leader); err == nil {
		t.Error("the leader fell behind itself")
	}
	if err := kc.SetOutOfSync("eeg", 0, pd.Replicas[1], pd.Replicas[2]); err != nil {
		t.Fatal(err)
	}
	if now := partitionsOf(t, ctx, e.Bootstrap(), "eeg")[0]; !slices.Equal(now.ISR, []int32{pd.Leader}) || len(now.Replicas) != 3 {
		t.Errorf("isr %v replicas %v, want only the leader in sync", now.ISR, now.Replicas)
	}
	if err := produceOnce(ctx, t, e.Bootstrap(), "eeg"); !errors.Is(err, sarama.ErrNotEnoughReplicas) {
		t.Errorf("acks=all produce with 1 of min 2 in sync: %v, want NOT_ENOUGH_REPLICAS", err)
	}
	if err := kc.SetOutOfSync("eeg", 0); err != nil {
		t.Fatal(err)
	}
	if err := produceOnce(ctx, t, e.Bootstrap(), "eeg"); err != nil {
		t.Errorf("produce with every replica back: %v", err)
	}
}

// produceOnce sends one record with acks=all and no retries (sarama's producer: franz-go retries a
// retriable refusal such as NOT_ENOUGH_REPLICAS until its delivery time-out, which hides the code).
func produceOnce(_ context.Context, t *testing.T, bootstrap []string, topic string) error {
	conf := sarama.NewConfig()
	conf.Producer.RequiredAcks = sarama.WaitForAll
	conf.Producer.Retry.Max = 0
	conf.Producer.Return.Successes = true
	p, err := sarama.NewSyncProducer(bootstrap, conf)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, _, err = p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("eeg sample")})
	return err
}

// TestFallenBehindFollowerInHealthAndRollGuard: on the embedded cluster (no MockBroker), a
// follower made to fall behind shows in status's health read as under-replicated and under min
// ISR, and the broker-roll guard refuses to restart a broker whose partitions would lose their
// last in-sync copies; a broker that is gone leaves its partitions offline when it was their only
// replica. When the follower catches up, both clear.
func TestFallenBehindFollowerInHealthAndRollGuard(t *testing.T) {
	ctx := testCtx(t)
	e, a := startTest(t)
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{
		{Name: "eeg", Partitions: 2, ReplicationFactor: 3, Config: map[string]string{"min.insync.replicas": "2"}},
	}))
	parts := partitionsOf(t, ctx, e.Bootstrap(), "eeg")
	p0 := parts[0]
	kc := fakecontrol.ClusterOf(e)
	if err := kc.SetOutOfSync("eeg", 0, p0.Replicas[1], p0.Replicas[2]); err != nil {
		t.Fatal(err)
	}
	exp := health.Expectation{Cluster: "embedded", Topics: []string{"eeg", "single"}, Brokers: health.ExpectedBrokers(testSpec())}
	assess := func() health.TopicReport {
		t.Helper()
		snap, err := a.Health(ctx, []string{"eeg", "single"})
		if err != nil {
			t.Fatal(err)
		}
		r := health.Assess(snap, exp, time.Now())
		return r.Topics[0]
	}
	if tr := assess(); !slices.Equal(tr.UnderReplicated, []int32{0}) || !slices.Equal(tr.UnderMinISR, []int32{0}) {
		t.Errorf("health with a follower behind: under-replicated %v, under min ISR %v; want partition 0 in both", tr.UnderReplicated, tr.UnderMinISR)
	}
	err := a.SafeToRestart(ctx, p0.Leader)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("broker %d must not restart", p0.Leader)) || !strings.Contains(err.Error(), "eeg-0") {
		t.Errorf("roll guard for the leader of an under-replicated partition: %v", err)
	}
	if err := kc.SetOutOfSync("eeg", 0); err != nil {
		t.Fatal(err)
	}
	if tr := assess(); len(tr.UnderReplicated) != 0 || len(tr.UnderMinISR) != 0 {
		t.Errorf("health after catching up: %+v", tr)
	}
	if err := a.SafeToRestart(ctx, p0.Leader); err != nil {
		t.Errorf("roll guard after catching up: %v", err)
	}

	// A lone replica (made after the roll checks: restarting its broker is rightly refused).
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "single", Partitions: 1, ReplicationFactor: 1}}))
	lone := partitionsOf(t, ctx, e.Bootstrap(), "single")[0].Leader
	if err := kc.RemoveNode(lone); err != nil {
		t.Fatal(err)
	}
	snap, err := a.Health(ctx, []string{"eeg", "single"})
	if err != nil {
		t.Fatal(err)
	}
	r := health.Assess(snap, exp, time.Now())
	if r.Healthy || !slices.Equal(r.Topics[1].Offline, []int32{0}) || len(r.Topics[0].UnderReplicated) != 2 {
		t.Errorf("broker %d gone: healthy %v, single offline %v, eeg under-replicated %v", lone, r.Healthy, r.Topics[1].Offline, r.Topics[0].UnderReplicated)
	}
}
