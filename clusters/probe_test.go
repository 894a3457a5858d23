package clusters

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/avatar-project/avatar-sync/clusters/internal/fakecontrol"
	"github.com/avatar-project/avatar-sync/health"
	"github.com/avatar-project/avatar-sync/spec"
)

// probeCluster creates three topics of 3 partitions on a, and gives group "prediction" committed
// offsets on one of them.
func probeTopics(t *testing.T, a *Admin, bootstrap []string) []string {
	t.Helper()
	names := []string{"eeg-brainwave-data", "prediction-results", "drone-commands"}
	var create []spec.Topic
	for _, n := range names {
		create = append(create, spec.Topic{Name: n, Partitions: 3, ReplicationFactor: 3})
	}
	if out, err := a.CreateTopics(testCtx(t), create); err != nil || out["eeg-brainwave-data"] != nil {
		t.Fatalf("create: %v %v", err, out)
	}
	if err := fakecontrol.Produce(testCtx(t), bootstrap, "eeg-brainwave-data", 0, 10); err != nil {
		t.Fatal(err)
	}
	if err := fakecontrol.CommitOffsets(testCtx(t), bootstrap, "prediction", "eeg-brainwave-data", map[int32]int64{0: 4}); err != nil {
		t.Fatal(err)
	}
	return names
}

func committed(t *testing.T, a *Admin) map[string]map[string]map[int32]int64 {
	t.Helper()
	snap, err := a.Health(testCtx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]map[int32]int64{}
	for _, g := range snap.Groups {
		out[g.Name] = g.Committed
	}
	return out
}

// TestProbeRoundTripsAndLeavesNoGroup: verify reads its record back from every partition of every
// topic through a dedicated group, deletes that group (a second client listing groups sees only
// "prediction"), and leaves prediction's committed offsets exactly as they were.
func TestProbeRoundTripsAndLeavesNoGroup(t *testing.T) {
	e, a := startTest(t)
	names := probeTopics(t, a, e.Bootstrap())
	before := committed(t, a)

	rep, err := a.Probe(testCtx(t), names, ProbeOptions{Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || !rep.GroupDeleted || len(rep.Results) != 9 {
		t.Fatalf("probe: %+v", rep)
	}
	if !strings.HasPrefix(rep.Group, "avatar-sync-verify-") {
		t.Errorf("group name %q", rep.Group)
	}
	for _, r := range rep.Results {
		if r.RoundTrip <= 0 || r.Offset < 0 {
			t.Errorf("%s/%d: %+v", r.Topic, r.Partition, r)
		}
	}
	groups, err := fakecontrol.ListGroups(testCtx(t), e.Bootstrap())
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(groups, []string{"prediction"}) {
		t.Errorf("groups after verify: %v, want only prediction", groups)
	}
	if d := cmp.Diff(before, committed(t, a)); d != "" {
		t.Errorf("verify changed committed offsets (-before +after):\n%s", d)
	}

	// The record is marked: a consumer can tell it is a probe by its header.
	cl, err := sarama.NewConsumer(e.Bootstrap(), a.conf)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pc, err := cl.ConsumePartition("drone-commands", 2, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	select {
	case m := <-pc.Messages():
		if len(m.Headers) != 1 || string(m.Headers[0].Key) != health.ProbeHeader || string(m.Headers[0].Value) != rep.Group {
			t.Errorf("probe record headers: %+v", m.Headers)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no probe record on drone-commands/2")
	}
}

// TestProbeProduceOnlyJoinsNoGroup: --produce-only writes to every partition and never joins a
// group; a failure (a topic that does not exist) is named.
func TestProbeProduceOnlyJoinsNoGroup(t *testing.T) {
	e, a := startTest(t)
	names := probeTopics(t, a, e.Bootstrap())
	reqs := fakecontrol.CountRequests(e.c)
	rep, err := a.Probe(testCtx(t), append(names, "no-such-topic"), ProbeOptions{ProduceOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || rep.Group != "" || len(rep.Results) != 10 {
		t.Fatalf("probe: %+v", rep)
	}
	if want := `topic "no-such-topic": `; len(rep.Failures) != 1 || !strings.HasPrefix(rep.Failures[0], want) {
		t.Errorf("failures %q, want one starting %q", rep.Failures, want)
	}
	if n := reqs.Requests()[fakecontrol.API(11)]; n != 0 { // JoinGroup
		t.Errorf("--produce-only sent %d JoinGroup requests", n)
	}
	groups, _ := fakecontrol.ListGroups(testCtx(t), e.Bootstrap())
	if !slices.Equal(groups, []string{"prediction"}) {
		t.Errorf("groups: %v", groups)
	}
}

// TestProbeOverTLSAndSASL: verify works over ssl and sasl_ssl targets (the probe's own client
// uses the target's security settings).
func TestProbeOverTLSAndSASL(t *testing.T) {
	dir := t.TempDir()
	caFile, serverTLS := testPKI(t, dir)
	tlsOnly, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.TLS(serverTLS))
	if err != nil {
		t.Fatal(err)
	}
	defer tlsOnly.Close()
	sasl, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.TLS(serverTLS), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-256", "scram256", "s256-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer sasl.Close()
	t.Setenv("AVATAR_TEST_PW_256", "s256-secret")
	for name, c := range map[string]spec.Cluster{
		"ssl":      {Bootstrap: tlsOnly.ListenAddrs(), Security: spec.SecuritySSL, CAFile: caFile},
		"sasl_ssl": {Bootstrap: sasl.ListenAddrs(), Security: spec.SecuritySASLSSL, CAFile: caFile, SASL: &spec.SASL{Mechanism: "SCRAM-SHA-256", Username: "scram256", PasswordEnv: "AVATAR_TEST_PW_256"}},
	} {
		t.Run(name, func(t *testing.T) {
			c.Name = "lab"
			a, err := Open(testCtx(t), &spec.Spec{Clusters: []spec.Cluster{c}}, "lab", Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if _, err := a.CreateTopics(testCtx(t), []spec.Topic{{Name: "eeg", Partitions: 2, ReplicationFactor: 3}}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(testCtx(t), time.Minute)
			defer cancel()
			rep, err := a.Probe(ctx, []string{"eeg"}, ProbeOptions{Timeout: 20 * time.Second})
			if err != nil || !rep.OK || len(rep.Results) != 2 || !rep.GroupDeleted {
				t.Fatalf("probe over %s: %v %+v", name, err, rep)
			}
		})
	}
}

// TestProbeRequestsGrowWithBrokers: verify's requests do not grow with the partitions (issue 23:
// a consumer-group claim, OffsetFetch and ListOffsets per partition made 7,014 requests for 3,000
// partitions). Probing 9 or 1,200 partitions on 3 brokers stays within the same per-broker bounds:
// one Produce, ListOffsets and reader connection per leader, Fetch rounds that follow the time the
// records take to arrive, and the consumer group used for one OffsetCommit and one OffsetFetch only;
// no group is ever joined.
func TestProbeRequestsGrowWithBrokers(t *testing.T) {
	e, a := startTest(t)
	probe := func(topics, partitions int) (map[fakecontrol.API]int, time.Duration) {
		var names []string
		var create []spec.Topic
		for i := range topics {
			name := fmt.Sprintf("probe-%d-%03d", partitions, i)
			names = append(names, name)
			create = append(create, spec.Topic{Name: name, Partitions: partitions, ReplicationFactor: 3})
		}
		if _, err := a.CreateTopics(testCtx(t), create); err != nil {
			t.Fatal(err)
		}
		reqs := fakecontrol.CountRequests(e.c)
		start := time.Now()
		rep, err := a.Probe(testCtx(t), names, ProbeOptions{Timeout: time.Minute})
		took := time.Since(start)
		counts := reqs.Requests()
		if err != nil || !rep.OK || len(rep.Results) != topics*partitions || !rep.GroupDeleted {
			t.Fatalf("probe of %d×%d: %v %+v", topics, partitions, err, rep.Failures)
		}
		return counts, took
	}
	const brokers = 3
	for _, size := range []struct{ topics, partitions int }{{3, 3}, {60, 20}} {
		counts, took := probe(size.topics, size.partitions)
		name := fmt.Sprintf("%d partitions", size.topics*size.partitions)
		t.Logf("%s: %v in %s", name, counts, took)
		bounds := map[fakecontrol.API]int{
			fakecontrol.APIMetadata:        2,
			fakecontrol.APIListOffsets:     brokers,
			fakecontrol.APIProduce:         brokers,
			fakecontrol.APIApiVersions:     1 + 2*brokers, // bootstrap, a client and a reader connection per broker
			fakecontrol.APIFindCoordinator: 1,
			fakecontrol.APIOffsetCommit:    1,
			fakecontrol.APIOffsetFetch:     1,
			fakecontrol.API(42):            1, // DeleteGroups
			// Each reader's Fetch waits at most probeFetchWait at the broker, or returns with records.
			fakecontrol.APIFetch: brokers * (int(took/probeFetchWait) + 3),
		}
		for api, n := range counts {
			if limit, ok := bounds[api]; !ok || n > limit {
				t.Errorf("%s: %d %s requests; want at most %d", name, n, api, limit)
			}
		}
		if counts[fakecontrol.APIOffsetCommit] != 1 || counts[fakecontrol.APIOffsetFetch] != 1 || counts[fakecontrol.API(42)] != 1 {
			t.Errorf("%s: want one OffsetCommit, OffsetFetch and DeleteGroups (the offset-commit check): %v", name, counts)
		}
	}
}

// TestProbeInterruptedCleansUp is issue 21: verify interrupted (Ctrl-C cancels its context, here
// as the probe records are produced) still deletes its probe group, on a fresh bounded context, and
// reports the interrupt as such, never as "not consumed back within 30s".
func TestProbeInterruptedCleansUp(t *testing.T) {
	e, a := startTest(t)
	names := probeTopics(t, a, e.Bootstrap())

	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	// The first Produce request is the probe's: the group has joined and owns every partition.
	fakecontrol.ClusterOf(e).ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		cancel()
		return nil, nil, false
	})
	rep, err := a.Probe(ctx, names, ProbeOptions{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() == nil {
		t.Fatal("the probe was not interrupted")
	}
	if !rep.GroupDeleted || rep.OK {
		t.Errorf("interrupted probe: GroupDeleted=%v OK=%v failures=%v", rep.GroupDeleted, rep.OK, rep.Failures)
	}
	if !slices.ContainsFunc(rep.Failures, func(f string) bool { return strings.Contains(f, "interrupted") }) {
		t.Errorf("failures do not say the probe was interrupted: %v", rep.Failures)
	}
	for _, r := range rep.Results {
		if strings.Contains(r.Error, "within") {
			t.Errorf("%s/%d reported as a time-out after an interrupt: %s", r.Topic, r.Partition, r.Error)
		}
	}
	groups, err := fakecontrol.ListGroups(testCtx(t), e.Bootstrap())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(groups, []string{"prediction"}) {
		t.Errorf("groups after an interrupted verify: %v, want only prediction", groups)
	}
}
