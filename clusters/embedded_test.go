package clusters

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/clusters/internal/fakecontrol"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
	"github.com/avatar-project/avatar-sync/topics"
)

// testSpec is three brokers like examples/avatar.yaml.
func testSpec() *spec.Spec {
	return &spec.Spec{
		Brokers: []spec.Broker{
			{ID: 1, Rack: "lab-a", Ports: spec.BrokerPorts{Plaintext: 9092}},
			{ID: 2, Rack: "lab-b", Ports: spec.BrokerPorts{Plaintext: 9093}},
			{ID: 3, Rack: "lab-c", Ports: spec.BrokerPorts{Plaintext: 9094}},
		},
		Clusters: []spec.Cluster{{Name: "embedded"}},
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// startTest starts an in-memory 3-broker cluster and an Admin on it.
func startTest(t *testing.T) (*Embedded, *Admin) {
	t.Helper()
	ctx := testCtx(t)
	e, err := StartEmbedded(ctx, testSpec(), EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	a, err := e.Connect(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return e, a
}

// startIn starts the 3-broker cluster on the state directory dir and an Admin on it; the caller
// closes both (tests of saved state close and start again midway).
func startIn(t *testing.T, ctx context.Context, dir string) (*Embedded, *Admin) {
	t.Helper()
	e, err := StartEmbedded(ctx, testSpec(), EmbeddedOptions{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.Connect(ctx, Options{})
	if err != nil {
		e.Close()
		t.Fatal(err)
	}
	return e, a
}

// mustOK fails the test on a request error or any per-item error: mustOK(t)(a.CreateTopics(...)).
func mustOK(t *testing.T) func(reconcile.Outcome, error) {
	t.Helper()
	return func(out reconcile.Outcome, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for name, err := range out {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}

func TestCreateDescribeAlterDelete(t *testing.T) {
	e, a := startTest(t)
	ctx := testCtx(t)

	out, err := a.CreateTopics(ctx, []spec.Topic{
		{Name: "eeg-brainwave-data", Partitions: 3, ReplicationFactor: 3, Config: map[string]string{"retention.ms": "3600000", "segment.ms": "600000"}},
		{Name: "prediction-results", Partitions: 3, ReplicationFactor: 3, Config: map[string]string{"retention.ms": "21600000"}},
	})
	mustOK(t)(out, err)

	live, err := a.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if live.ClusterID != e.ClusterID() || live.ClusterID == "" {
		t.Errorf("cluster id = %q, want %q", live.ClusterID, e.ClusterID())
	}
	if len(live.Brokers) != 3 {
		t.Errorf("brokers = %+v, want 3", live.Brokers)
	}
	eeg := live.Topics["eeg-brainwave-data"]
	if eeg.Partitions() != 3 || eeg.ReplicationFactor() != 3 {
		t.Errorf("eeg = %d partitions rf %d, want 3/3", eeg.Partitions(), eeg.ReplicationFactor())
	}
	if got := eeg.Config["retention.ms"]; got != (topics.ConfigValue{Value: "3600000", Source: topics.SourceTopic}) {
		t.Errorf("retention.ms = %+v, want 3600000 set on the topic", got)
	}
	if got := eeg.Config["cleanup.policy"]; got.Source == topics.SourceTopic || got.Value == "" {
		t.Errorf("cleanup.policy = %+v, want a default, not a topic setting", got)
	}

	out, err = a.AlterTopicConfigs(ctx, []reconcile.ConfigChange{
		{Topic: "eeg-brainwave-data", Set: map[string]string{"retention.ms": "7200000"}, Delete: []string{"segment.ms"}},
		{Topic: "prediction-results", Set: map[string]string{"min.insync.replicas": "2"}},
	})
	mustOK(t)(out, err)
	out, err = a.CreatePartitions(ctx, map[string]int{"prediction-results": 6})
	mustOK(t)(out, err)

	live, err = a.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eeg = live.Topics["eeg-brainwave-data"]
	if v := eeg.Config["retention.ms"].Value; v != "7200000" {
		t.Errorf("retention.ms after alter = %s", v)
	}
	if s := eeg.Config["segment.ms"].Source; s == topics.SourceTopic {
		t.Errorf("segment.ms still set on the topic after delete")
	}
	if p := live.Topics["prediction-results"].Partitions(); p != 6 {
		t.Errorf("partitions after CreatePartitions = %d, want 6", p)
	}

	out, err = a.DeleteTopics(ctx, []string{"prediction-results"})
	mustOK(t)(out, err)
	live, err = a.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := live.Topics["prediction-results"]; ok {
		t.Error("prediction-results still listed after delete")
	}
}

func TestPerItemErrors(t *testing.T) {
	_, a := startTest(t)
	ctx := testCtx(t)
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "a", Partitions: 1, ReplicationFactor: 1}}))

	out, err := a.CreateTopics(ctx, []spec.Topic{
		{Name: "a", Partitions: 1, ReplicationFactor: 1},
		{Name: "b", Partitions: 2, ReplicationFactor: 3},
		{Name: "c", Partitions: 1, ReplicationFactor: 7},
	})
	if err != nil {
		t.Fatal(err)
	}
	if out["a"] == nil || !strings.Contains(out["a"].Error(), "already exists") {
		t.Errorf("a: got %v, want already exists", out["a"])
	}
	if out["b"] != nil {
		t.Errorf("b: %v", out["b"])
	}
	if out["c"] == nil {
		t.Error("c: replication factor 7 on 3 brokers accepted")
	}

	out, err = a.CreatePartitions(ctx, map[string]int{"b": 1, "nope": 4})
	if err != nil {
		t.Fatal(err)
	}
	if out["b"] == nil || out["nope"] == nil {
		t.Errorf("shrink and unknown topic should fail per item: %v", out)
	}
}

// TestDescribeIsBatched proves Describe costs the same requests for 5 and 200 topics (issue 3).
func TestDescribeIsBatched(t *testing.T) {
	counts := map[int]map[fakecontrol.API]int{}
	for _, n := range []int{5, 200} {
		e, a := startTest(t)
		ctx := testCtx(t)
		var create []spec.Topic
		for i := range n {
			create = append(create, spec.Topic{Name: fmt.Sprintf("t%04d", i), Partitions: 3, ReplicationFactor: 3, Config: map[string]string{"retention.ms": "60000"}})
		}
		mustOK(t)(a.CreateTopics(ctx, create))
		reqs := fakecontrol.CountRequests(e.c)
		live, err := a.Describe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(live.Topics) != n {
			t.Fatalf("described %d topics, want %d", len(live.Topics), n)
		}
		for name, o := range live.Topics {
			if o.Config["retention.ms"].Value != "60000" {
				t.Fatalf("%s: config not described: %+v", name, o.Config["retention.ms"])
			}
		}
		counts[n] = reqs.Requests()
	}
	if fmt.Sprint(counts[5]) != fmt.Sprint(counts[200]) {
		t.Errorf("requests grow with topics: 5 topics %v, 200 topics %v", counts[5], counts[200])
	}
	if counts[200][fakecontrol.APIMetadata] != 1 || counts[200][fakecontrol.APIDescribeConfigs] != 1 {
		t.Errorf("want 1 Metadata and 1 DescribeConfigs, got %v", counts[200])
	}
}

func TestInternalTopicsMarked(t *testing.T) {
	_, a := startTest(t)
	ctx := testCtx(t)
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "_schemas", Partitions: 1, ReplicationFactor: 1}, {Name: "drone-commands", Partitions: 1, ReplicationFactor: 1}}))
	l, err := a.AcquireLease(ctx, "test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	live, err := a.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"_schemas": true, LockTopic: true, "drone-commands": false} {
		o, ok := live.Topics[name]
		if !ok {
			t.Errorf("%s not described", name)
			continue
		}
		if o.Internal != want {
			t.Errorf("%s internal = %v, want %v", name, o.Internal, want)
		}
	}
}

func TestFailureInjection(t *testing.T) {
	e, a := startTest(t)
	ctx := testCtx(t)
	if _, err := fakecontrol.Fail(e.c, fakecontrol.Failure{API: fakecontrol.APICreateTopics, Topic: "b", Code: "POLICY_VIOLATION"}); err != nil {
		t.Fatal(err)
	}
	out, err := a.CreateTopics(ctx, []spec.Topic{{Name: "a", Partitions: 1, ReplicationFactor: 1}, {Name: "b", Partitions: 1, ReplicationFactor: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if out["a"] != nil || out["b"] == nil || !strings.Contains(out["b"].Error(), "policy") {
		t.Errorf("want a ok and b failed with a policy error, got %v", out)
	}
	// The fault fired once; the retry succeeds.
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "b", Partitions: 1, ReplicationFactor: 1}}))

	// After: 1 lets the first IncrementalAlterConfigs through and fails the second.
	if _, err := fakecontrol.Fail(e.c, fakecontrol.Failure{API: fakecontrol.APIIncrementalAlterConfigs, After: 1}); err != nil {
		t.Fatal(err)
	}
	mustOK(t)(a.AlterTopicConfigs(ctx, []reconcile.ConfigChange{{Topic: "a", Set: map[string]string{"retention.ms": "1000"}}}))
	out, err = a.AlterTopicConfigs(ctx, []reconcile.ConfigChange{{Topic: "a", Set: map[string]string{"retention.ms": "2000"}}})
	if err != nil {
		t.Fatal(err)
	}
	if out["a"] == nil {
		t.Error("second IncrementalAlterConfigs was not failed")
	}
	if _, err := fakecontrol.Fail(e.c, fakecontrol.Failure{API: fakecontrol.APICreateTopics, Code: "NOT_A_KAFKA_ERROR"}); err == nil {
		t.Error("unknown error name accepted")
	}
}

func TestGroupsWithOffsets(t *testing.T) {
	e, a := startTest(t)
	ctx := testCtx(t)
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "drone-commands", Partitions: 3, ReplicationFactor: 3}, {Name: "idle", Partitions: 1, ReplicationFactor: 1}}))
	for _, g := range []string{"tello-1", "tello-2", "dashboard"} {
		if err := fakecontrol.CommitOffsets(ctx, e.Bootstrap(), g, "drone-commands", map[int32]int64{0: 5, 2: 1}); err != nil {
			t.Fatal(err)
		}
	}
	reqs := fakecontrol.CountRequests(e.c)
	got, err := a.GroupsWithOffsets(ctx, []string{"drone-commands", "idle"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "[dashboard tello-1 tello-2]"; fmt.Sprint(got["drone-commands"]) != want {
		t.Errorf("drone-commands groups = %v, want %s", got["drone-commands"], want)
	}
	if len(got["idle"]) != 0 {
		t.Errorf("idle groups = %v, want none", got["idle"])
	}
	if n := reqs.Requests()[fakecontrol.APIOffsetFetch]; n > 3 {
		t.Errorf("%d OffsetFetch requests for 3 groups on 3 brokers; want at most one per broker", n)
	}
}

func TestPersistence(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	e, err := StartEmbedded(ctx, testSpec(), EmbeddedOptions{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	id := e.ClusterID()
	// A second cluster on the same directory must refuse, not corrupt the files.
	if _, err := StartEmbedded(ctx, testSpec(), EmbeddedOptions{StateDir: dir}); !errors.Is(err, ErrEmbeddedBusy) {
		t.Errorf("second start on the same dir: got %v, want ErrEmbeddedBusy", err)
	}
	a, err := e.Connect(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "drone-commands", Partitions: 3, ReplicationFactor: 3, Config: map[string]string{"retention.ms": "86400000"}}}))
	mustOK(t)(a.AlterTopicConfigs(ctx, []reconcile.ConfigChange{{Topic: "drone-commands", Set: map[string]string{"min.insync.replicas": "2"}}}))
	a.Close()
	e.Close()

	e, err = StartEmbedded(ctx, testSpec(), EmbeddedOptions{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.ClusterID() != id {
		t.Errorf("cluster id changed across restarts: %s → %s", id, e.ClusterID())
	}
	a, err = e.Connect(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	live, err := a.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := live.Topics["drone-commands"]
	if !ok {
		t.Fatalf("topic lost across restart; have %v", sortedKeys(live.Topics))
	}
	if o.Partitions() != 3 || o.Config["retention.ms"].Value != "86400000" || o.Config["min.insync.replicas"] != (topics.ConfigValue{Value: "2", Source: topics.SourceTopic}) {
		t.Errorf("topic after restart: %d partitions, config %+v", o.Partitions(), o.Config)
	}
	if live.ClusterID != id {
		t.Errorf("metadata cluster id %s, want %s", live.ClusterID, id)
	}
}

// TestUnwritableStateDirRefused: kfake only logs a failed save, so a state directory it cannot
// write must be refused at start; otherwise apply reports success and the next command finds the
// old state. (A regular file where kfake keeps partitions makes the directory unwritable even for
// root, which chmod would not.)
func TestUnwritableStateDirRefused(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	e, err := StartEmbedded(ctx, testSpec(), EmbeddedOptions{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	parts := filepath.Join(dir, stateData, "partitions")
	if err := os.RemoveAll(parts); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(parts, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	e, err = StartEmbedded(ctx, testSpec(), EmbeddedOptions{StateDir: dir})
	if err == nil {
		e.Close()
		t.Fatal("started on a state directory it cannot save to")
	}
	if !strings.Contains(err.Error(), "embedded cluster state directory is not writable (--state-dir)") {
		t.Errorf("got %v", err)
	}
	// The refusal released the directory: a fixed directory starts again.
	if err := os.Remove(parts); err != nil {
		t.Fatal(err)
	}
	e, err = StartEmbedded(ctx, testSpec(), EmbeddedOptions{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
}

// TestFailedSaveReported: a state directory that stops taking writes during a run (disk full,
// removed mount) makes Close fail instead of claiming the state was saved.
func TestFailedSaveReported(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	e, a := startIn(t, ctx, dir)
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "lost", Partitions: 1, ReplicationFactor: 1}}))
	a.Close()
	parts := filepath.Join(dir, stateData, "partitions")
	if err := os.RemoveAll(parts); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(parts, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := e.Close()
	if err == nil || !strings.Contains(err.Error(), "state not fully saved to "+dir) {
		t.Fatalf("Close after a failed save: %v", err)
	}
	if again := e.Close(); again == nil {
		t.Error("a second Close forgot the failure")
	}
}

// TestReplicasStableAcrossRestarts: an empty topic keeps its replica lists when the embedded
// cluster restarts, so a plan saved by one command is not stale for the next (plan --out, then
// apply --plan). kfake re-drew the leaders of empty partitions at random on every start.
func TestReplicasStableAcrossRestarts(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	replicas := func() map[int32][]int32 {
		t.Helper()
		e, err := StartEmbedded(ctx, testSpec(), EmbeddedOptions{StateDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		a, err := e.Connect(ctx, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		live, err := a.Describe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := live.Topics["empty"]; !ok {
			mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "empty", Partitions: 24, ReplicationFactor: 3}}))
			if live, err = a.Describe(ctx); err != nil {
				t.Fatal(err)
			}
		}
		return live.Topics["empty"].Replicas
	}
	want := replicas()
	// 24 partitions on 3 brokers: a random re-draw keeps all of them with probability 3^-24.
	for run := 1; run <= 2; run++ {
		if got := replicas(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("restart %d changed the replicas of an empty topic:\n got %v\nwant %v", run, got, want)
		}
	}
}

// TestOpenEmbeddedJoinsRunningServer: while `dev up` holds the state dir, Open on the embedded
// target talks to it instead of failing or opening the files twice.
func TestOpenEmbeddedJoinsRunningServer(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	e, err := StartEmbedded(ctx, testSpec(), EmbeddedOptions{StateDir: dir, Advertise: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	reqs := fakecontrol.CountRequests(e.c)
	a1, err := Open(ctx, testSpec(), "embedded", Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer a1.Close()
	mustOK(t)(a1.CreateTopics(ctx, []spec.Topic{{Name: "x", Partitions: 1, ReplicationFactor: 1}}))
	if reqs.Requests()[fakecontrol.APICreateTopics] != 1 {
		t.Errorf("Open did not reach the running cluster: %v", reqs.Requests())
	}
}

// TestOpenEmbeddedWaitsForShortLivedHolder: two plan/apply processes on one state dir take turns
// (the second waits for the first to close) rather than the second joining a cluster about to stop.
func TestOpenEmbeddedWaitsForShortLivedHolder(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	first, err := Open(ctx, testSpec(), "embedded", Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t)(first.CreateTopics(ctx, []spec.Topic{{Name: "from-first", Partitions: 1, ReplicationFactor: 1}}))
	type result struct {
		a   *Admin
		err error
	}
	second := make(chan result, 1)
	waited := make(chan error, 2)
	go func() {
		a, err := Open(ctx, testSpec(), "embedded", Options{StateDir: dir, Waiting: func(busy error) { waited <- busy }})
		second <- result{a, err}
	}()
	// The second process says once why it pauses, naming the holder.
	if busy := <-waited; !errors.Is(busy, ErrEmbeddedBusy) || !strings.Contains(busy.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("waiting callback got %v", busy)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	r := <-second
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.a.Close()
	if len(waited) != 0 {
		t.Errorf("waiting reported more than once")
	}
	live, err := r.a.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := live.Topics["from-first"]; !ok {
		t.Errorf("second process does not see the first one's topic: %v", sortedKeys(live.Topics))
	}

	// A holder that never lets go: the wait is bounded and the message names the process.
	_, err = Open(ctx, testSpec(), "embedded", Options{StateDir: dir, RequestTimeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrEmbeddedBusy) || !strings.Contains(err.Error(), "pid ") {
		t.Errorf("got %v, want ErrEmbeddedBusy naming the pid", err)
	}
}

func TestUnreachableIsOneLine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	s := &spec.Spec{Clusters: []spec.Cluster{{Name: "dev", Bootstrap: []string{addr, addr}}}}
	_, err = Open(testCtx(t), s, "dev", Options{})
	want := fmt.Sprintf("cannot reach cluster %q at %s,%s: connection refused", "dev", addr, addr)
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Errorf("error is not an *UnreachableError: %T", err)
	}
}

// silentListener accepts connections and never answers, like a port that is not Kafka.
func silentListener(t *testing.T) string {
	t.Helper()
	return silentListenerThen(t, func() {})
}

// silentListenerThen is silentListener calling accepted after each connection it accepts.
func silentListenerThen(t *testing.T, accepted func()) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			accepted()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// TestSilentBrokerIsUnreachable: a port that accepts but never answers is reported after
// ConnectTimeout per bootstrap broker, not after sarama's three 30 s request timeouts.
func TestSilentBrokerIsUnreachable(t *testing.T) {
	addr := silentListener(t)
	s := &spec.Spec{Clusters: []spec.Cluster{{Name: "dev", Bootstrap: []string{addr}}}}
	_, err := Open(testCtx(t), s, "dev", Options{ConnectTimeout: 200 * time.Millisecond, RequestTimeout: time.Hour})
	want := fmt.Sprintf("cannot reach cluster %q at %s: no answer within 200ms (is it a Kafka listener? does it need security: ssl or sasl_ssl?)", "dev", addr)
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestOpenHonoursContext(t *testing.T) {
	// A listener that accepts but never answers: sarama would wait for its read timeout (30s);
	// cancelling the context mid-call must return at once.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := silentListenerThen(t, cancel) // the request is now in flight
	s := &spec.Spec{Clusters: []spec.Cluster{{Name: "dev", Bootstrap: []string{addr}}}}
	_, err := Open(ctx, s, "dev", Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestUnknownTarget(t *testing.T) {
	_, err := Open(testCtx(t), testSpec(), "prod", Options{})
	if err == nil || !strings.Contains(err.Error(), `--cluster "prod"`) || !strings.Contains(err.Error(), "embedded") || strings.Contains(err.Error(), "did you mean") {
		t.Fatalf("got %v", err)
	}
	// A typo names the target it is closest to.
	s := testSpec()
	s.Clusters = append(s.Clusters, spec.Cluster{Name: "dev", Bootstrap: []string{"localhost:9092"}})
	_, err = Open(testCtx(t), s, "devv", Options{})
	if err == nil || !strings.HasSuffix(err.Error(), `(targets: embedded, dev); did you mean "dev"?`) {
		t.Fatalf("got %v", err)
	}
}

// TestAlterTopicConfigsChunked: config changes past maxConfigRecords keys go out in several
// requests (Kafka's controller refuses one that would write more than 10,000 records), and a
// failure of one request stays with that request's topics.
func TestAlterTopicConfigsChunked(t *testing.T) {
	defer func(n int) { maxConfigRecords = n }(maxConfigRecords)
	const chunk = 100
	maxConfigRecords = chunk
	e, a := startTest(t)
	ctx := testCtx(t)
	n := 2*chunk + chunk/2
	var create []spec.Topic
	var changes []reconcile.ConfigChange
	for i := range n {
		name := fmt.Sprintf("t%04d", i)
		create = append(create, spec.Topic{Name: name, Partitions: 1, ReplicationFactor: 1})
		changes = append(changes, reconcile.ConfigChange{Topic: name, Set: map[string]string{"retention.ms": "7200000"}})
	}
	mustOK(t)(a.CreateTopics(ctx, create))
	reqs := fakecontrol.CountRequests(e.c)
	// The second request fails; the first and third go through.
	if _, err := fakecontrol.Fail(e.c, fakecontrol.Failure{API: fakecontrol.APIIncrementalAlterConfigs, After: 1, Code: "POLICY_VIOLATION"}); err != nil {
		t.Fatal(err)
	}
	out, err := a.AlterTopicConfigs(ctx, changes)
	if err != nil {
		t.Fatal(err)
	}
	if got := reqs.Requests()[fakecontrol.APIIncrementalAlterConfigs]; got != 3 {
		t.Errorf("%d IncrementalAlterConfigs requests for %d topics, want 3", got, n)
	}
	live, err := a.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range changes {
		inFailed := i >= chunk && i < 2*chunk
		applied := live.Topics[c.Topic].Config["retention.ms"].Value == "7200000"
		if (out[c.Topic] != nil) != inFailed || applied == inFailed {
			t.Fatalf("%s: outcome %v, applied %v; want failed=%v", c.Topic, out[c.Topic], applied, inFailed)
		}
	}
}

// TestDescribeConfigsInBatches: past describeConfigsBatch topics, Describe asks for their configs
// in several DescribeConfigs requests, and reads every topic's (issue 23: 100,000 topics in one
// request answered 141 MB, past what sarama accepts, and could not be planned).
func TestDescribeConfigsInBatches(t *testing.T) {
	defer func(n int) { describeConfigsBatch = n }(describeConfigsBatch)
	describeConfigsBatch = 2
	e, a := startTest(t)
	ctx := testCtx(t)
	var create []spec.Topic
	for i := range 5 {
		create = append(create, spec.Topic{Name: fmt.Sprintf("t%d", i), Partitions: 1, ReplicationFactor: 1, Config: map[string]string{"retention.ms": fmt.Sprint(60000 + i)}})
	}
	mustOK(t)(a.CreateTopics(ctx, create))
	reqs := fakecontrol.CountRequests(e.c)
	live, err := a.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		name := fmt.Sprintf("t%d", i)
		if got, want := live.Topics[name].Config["retention.ms"].Value, fmt.Sprint(60000+i); got != want {
			t.Errorf("%s: retention.ms %q, want %q", name, got, want)
		}
	}
	if n := reqs.Requests()[fakecontrol.APIDescribeConfigs]; n != 3 {
		t.Errorf("%d DescribeConfigs requests for 5 topics in batches of 2, want 3", n)
	}
}
