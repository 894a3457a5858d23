package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Issue 22: the embedded cluster is faithful where users look. These tests run the commands as
// the README does and read the result with clients avatar-sync does not use (franz-go's kadm, kcat).

// independentAdmin is a franz-go admin client, a client avatar-sync does not use itself.
func independentAdmin(t *testing.T, bootstrap []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// TestDevUpServesTheSpecsBrokers is issue 22's first test and issue 21's "status --cluster dev
// against dev up": dev up with the lab's spec serves brokers 1, 2, 3 on racks lab-a..c (kadm and
// kcat -L see them), and status through the spec's own bootstrap: target `dev`, pointed at it,
// calls the cluster healthy (exit 0): no broker "unexpected", none "missing".
func TestDevUpServesTheSpecsBrokers(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	f, state := kafkaWorkspace(t)
	bootstrap := startDevUp(t, ctx, "-f", f, "--state-dir", state, "--ports", "0,0,0", "--plaintext")
	// The example's `dev` target names localhost:9092-9094; tests never bind fixed ports, so it
	// points at the ports dev up took.
	editSpec(t, f, "dev: { bootstrap: [localhost:9092, localhost:9093, localhost:9094] }",
		`dev: { bootstrap: ["`+strings.Join(bootstrap, `", "`)+`"] }`)

	md, err := independentAdmin(t, bootstrap).BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range md.Brokers {
		rack := "<none>"
		if b.Rack != nil {
			rack = *b.Rack
		}
		got = append(got, fmt.Sprintf("%d@%s", b.NodeID, rack))
	}
	slices.Sort(got)
	if want := []string{"1@lab-a", "2@lab-b", "3@lab-c"}; !slices.Equal(got, want) {
		t.Errorf("kadm sees brokers %v, want %v", got, want)
	}
	out, err := kcat(t, ctx, "", "-b", bootstrap[0], "-L", "-m", "10")
	if err != nil {
		t.Fatalf("kcat -L: %v\n%s", err, out)
	}
	ids := regexp.MustCompile(`broker (\d+) at `).FindAllStringSubmatch(out, -1)
	var kcatIDs []string
	for _, m := range ids {
		kcatIDs = append(kcatIDs, m[1])
	}
	slices.Sort(kcatIDs)
	if !slices.Equal(kcatIDs, []string{"1", "2", "3"}) {
		t.Errorf("kcat -L lists brokers %v, want 1 2 3:\n%s", kcatIDs, out)
	}

	if code, out, errOut := runCLI(t, "apply", "--auto-approve", "-f", f, "--cluster", "dev"); code != exitOK {
		t.Fatalf("apply --cluster dev: %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := runCLI(t, "status", "-f", f, "--cluster", "dev", "--no-color")
	if code != exitOK || !strings.Contains(out, "HEALTHY") || strings.Contains(out, "UNHEALTHY") ||
		strings.Contains(out, "unexpected") || strings.Contains(out, "missing") {
		t.Fatalf("status --cluster dev against dev up: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"broker 1 (kafka-broker-1)", "lab-a", "broker 3 (kafka-broker-3)", "lab-c"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}

// TestReplicationFactorChangeConvergesOnTheEmbeddedCluster is issue 22's second test: a
// replication factor 2 → 3 change, planned and applied by avatar-sync on the default (embedded)
// target, converges: another client reads three replicas per partition on three racks, all in
// sync, and the next plan is empty.
func TestReplicationFactorChangeConvergesOnTheEmbeddedCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	f, state := kafkaWorkspace(t)
	editSpec(t, f, "topicDefaults: { partitions: 3, replicationFactor: 3, config: { min.insync.replicas: 2 } }",
		"topicDefaults: { partitions: 3, replicationFactor: 2, config: { min.insync.replicas: 1 } }")
	if code, out, errOut := runCLI(t, "apply", "--auto-approve", "-f", f, "--state-dir", state); code != exitOK {
		t.Fatalf("first apply: %d\n%s%s", code, out, errOut)
	}
	editSpec(t, f, "replicationFactor: 2", "replicationFactor: 3")
	code, out, errOut := runCLI(t, "apply", "--auto-approve", "-f", f, "--state-dir", state)
	if code != exitOK {
		t.Fatalf("apply 2 → 3: %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state); code != exitOK {
		t.Errorf("second plan is not empty: %d\n%s%s", code, out, errOut)
	}

	// Read the result through dev up with another client.
	bootstrap := startDevUp(t, ctx, "-f", f, "--state-dir", state, "--ports", "0,0,0", "--plaintext")
	adm := independentAdmin(t, bootstrap)
	bm, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rackOf := map[int32]string{}
	for _, b := range bm.Brokers {
		if b.Rack != nil {
			rackOf[b.NodeID] = *b.Rack
		}
	}
	md, err := adm.Metadata(ctx, "eeg-brainwave-data", "prediction-results", "drone-commands")
	if err != nil {
		t.Fatal(err)
	}
	for _, td := range md.Topics.Sorted() {
		for _, pd := range td.Partitions.Sorted() {
			racks := map[string]bool{}
			for _, r := range pd.Replicas {
				racks[rackOf[r]] = true
			}
			if len(pd.Replicas) != 3 || len(pd.ISR) != 3 || len(racks) != 3 || racks[""] {
				t.Errorf("%s/%d: replicas %v isr %v racks %v, want 3 in sync on 3 racks", td.Topic, pd.Partition, pd.Replicas, pd.ISR, racks)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(state, "data", "meta.json")); err != nil {
		t.Errorf("state: %v", err)
	}
}

// TestDevUpAutoCreateTopics: with --auto-create-topics dev up stands in for a legacy cluster whose
// topics were made on first use: a producer (franz-go, and kcat as the adoption tutorial runs it)
// creates its topic by writing to it, and avatar-sync's plan sees it as unmanaged. Without the
// flag, as on the rendered brokers, nothing is created on first use.
func TestDevUpAutoCreateTopics(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	produce := func(bootstrap []string, topic string) error {
		cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...), kgo.AllowAutoTopicCreation(),
			kgo.RecordDeliveryTimeout(5*time.Second), kgo.UnknownTopicRetries(2))
		if err != nil {
			return err
		}
		defer cl.Close()
		return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("legacy")}).FirstErr()
	}

	f, state := kafkaWorkspace(t)
	off := startDevUp(t, ctx, "-f", f, "--state-dir", state, "--ports", "0,0,0", "--plaintext")
	if err := produce(off, "legacy-sensor"); err == nil {
		t.Error("without --auto-create-topics a producer created a topic on first use")
	}

	f2, state2 := kafkaWorkspace(t)
	on := startDevUp(t, ctx, "-f", f2, "--state-dir", state2, "--ports", "0,0,0", "--plaintext", "--auto-create-topics")
	if err := produce(on, "legacy-sensor"); err != nil {
		t.Fatalf("produce with --auto-create-topics: %v", err)
	}
	if out, err := kcat(t, ctx, "reading\n", "-b", on[0], "-P", "-t", "legacy-eeg"); err != nil {
		t.Errorf("kcat -P on a missing topic with --auto-create-topics: %v\n%s", err, out)
	}
	topics, err := independentAdmin(t, on).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"legacy-sensor", "legacy-eeg"} {
		td, ok := topics[name]
		if !ok || len(td.Partitions) != 1 {
			t.Errorf("%s after first use: %+v (exists %v), want 1 partition", name, td, ok)
		}
	}
	code, out, errOut := runCLI(t, "plan", "-f", f2, "--state-dir", state2, "--no-color")
	if code != exitOK || !strings.Contains(out, "legacy-sensor") {
		t.Errorf("plan does not list the auto-created topic as unmanaged: %d\n%s%s", code, out, errOut)
	}
}

// TestStatusShowsAFollowerFallenBehind: with the test hook making followers of one partition fall
// behind on the embedded cluster, status reports the partition under-replicated and under its
// min.insync.replicas and exits 1; once they catch up it exits 0 again.
func TestStatusShowsAFollowerFallenBehind(t *testing.T) {
	c, f := labCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	md, err := independentAdmin(t, c.Bootstrap()).Metadata(ctx, "eeg-brainwave-data")
	if err != nil {
		t.Fatal(err)
	}
	p1 := md.Topics["eeg-brainwave-data"].Partitions[1]
	if err := c.FallBehind("eeg-brainwave-data", 1, p1.Replicas[1], p1.Replicas[2]); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "status", "-f", f, "--cluster", "lab", "--no-color")
	if code != exitError || !strings.Contains(out, "UNHEALTHY") {
		t.Fatalf("status with followers behind: exit %d, want 1\n%s%s", code, out, errOut)
	}
	// … then size on disk (nothing produced), retention, and no rates (one sample): issue 24's columns.
	if !containsFields(out, "eeg-brainwave-data", "3", "3", "7/9", "2", "1", "[1]", "0", "1", "[1]", "0", "0", "B", "1h", "-", "-") {
		t.Errorf("status does not show eeg-brainwave-data with 7/9 in sync, 1 under-replicated, 1 under min ISR:\n%s", out)
	}
	if err := c.FallBehind("eeg-brainwave-data", 1); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "status", "-f", f, "--cluster", "lab", "--no-color"); code != exitOK {
		t.Errorf("status after catching up: exit %d\n%s%s", code, out, errOut)
	}
}
