package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/clusters/clustertest"
	"github.com/avatar-project/avatar-sync/health"
	"github.com/avatar-project/avatar-sync/spec"
)

// labCluster starts an in-process 3-broker cluster with the lab's broker ids and racks (1-3 on
// lab-a..c, as the spec below names them) and writes a spec whose target "lab" bootstraps from it,
// then applies the spec so the three managed topics exist.
func labCluster(t *testing.T) (c *clustertest.Cluster, specPath string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	brokers := &spec.Spec{Brokers: []spec.Broker{{ID: 1, Rack: "lab-a"}, {ID: 2, Rack: "lab-b"}, {ID: 3, Rack: "lab-c"}}}
	c, err := clustertest.Start(ctx, brokers, clusters.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	specPath = filepath.Join(t.TempDir(), "avatar.yaml")
	writeLabSpec(t, specPath, c.Bootstrap(), "")
	if code, out, errOut := runCLI(t, "apply", "--auto-approve", "-f", specPath, "--cluster", "lab"); code != exitOK {
		t.Fatalf("apply: %d\n%s%s", code, out, errOut)
	}
	return c, specPath
}

func writeLabSpec(t *testing.T, path string, bootstrap []string, targetExtra string) {
	t.Helper()
	quoted := make([]string, len(bootstrap))
	for i, b := range bootstrap {
		quoted[i] = fmt.Sprintf("%q", b)
	}
	doc := fmt.Sprintf(`apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar, namespace: avatar }
brokers:
  - { id: 1, host: kafka-broker-1, rack: lab-a, ports: { plaintext: 9092 } }
  - { id: 2, host: kafka-broker-2, rack: lab-b, ports: { plaintext: 9093 } }
  - { id: 3, host: kafka-broker-3, rack: lab-c, ports: { plaintext: 9094 } }
topicDefaults: { partitions: 3, replicationFactor: 3, config: { min.insync.replicas: 2 } }
topics:
  - { name: eeg-brainwave-data, retention: 1h }
  - { name: prediction-results, retention: 6h }
  - { name: drone-commands, retention: 24h }
clusters:
  embedded: {}
  lab: { bootstrap: [%s]%s }
`, strings.Join(quoted, ", "), targetExtra)
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStatusReportsLagOfTheGroup is the lag test: a producer writes N records, a consumer in
// group "prediction" commits M, and status reports lag N-M for exactly that group and topic, in
// text and in JSON; another group on another topic keeps its own lag.
func TestStatusReportsLagOfTheGroup(t *testing.T) {
	c, f := labCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	const n, m = 50, 18
	if err := c.Produce(ctx, "eeg-brainwave-data", 1, n); err != nil {
		t.Fatal(err)
	}
	if err := c.Produce(ctx, "prediction-results", 0, 5); err != nil {
		t.Fatal(err)
	}
	stop, err := c.ConsumeAndCommit(ctx, "prediction", "eeg-brainwave-data", m)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := c.CommitOffsets(ctx, "drone-control", "prediction-results", map[int32]int64{0: 5}); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCLI(t, "status", "-f", f, "--cluster", "lab", "--no-color")
	if code != exitOK {
		t.Fatalf("status: %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		`Cluster "lab"`, "HEALTHY", "Spec: in sync with the spec",
		"eeg-brainwave-data  3           3   9/9      2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if !containsFields(out, "prediction", "Stable", "1", "eeg-brainwave-data", "1", fmt.Sprint(m), fmt.Sprint(n), fmt.Sprint(n-m)) ||
		!containsFields(out, "prediction", "Stable", "1", "total", fmt.Sprint(n-m)) {
		t.Errorf("status does not show lag %d of group prediction on eeg-brainwave-data/1:\n%s", n-m, out)
	}
	if !containsFields(out, "drone-control", "Empty", "0", "total", "0") {
		t.Errorf("drone-control should show lag 0:\n%s", out)
	}

	code, out, errOut = runCLI(t, "status", "-f", f, "--cluster", "lab", "-o", "json", "--group", "prediction")
	if code != exitOK {
		t.Fatalf("status -o json: %d\n%s%s", code, out, errOut)
	}
	var r health.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if r.Version != 1 || !r.Healthy || r.Spec == nil || !r.Spec.InSync || len(r.Groups) != 1 {
		t.Fatalf("document: %+v", r)
	}
	g := r.Groups[0]
	if g.Name != "prediction" || g.Lag != n-m || len(g.Topics) != 1 || g.Topics[0].Topic != "eeg-brainwave-data" {
		t.Fatalf("group: %+v", g)
	}
	if p := g.Topics[0].Partitions; len(p) != 1 || p[0] != (health.PartitionLag{Partition: 1, Committed: m, LogEnd: n, Lag: n - m}) {
		t.Errorf("partitions: %+v", p)
	}
}

// containsFields reports whether some line of out holds exactly these whitespace-separated fields.
func containsFields(out string, fields ...string) bool {
	want := strings.Join(fields, " ")
	for _, line := range strings.Split(out, "\n") {
		if strings.Join(strings.Fields(line), " ") == want {
			return true
		}
	}
	return false
}

// TestStatusNamesMissingBroker takes a broker away (kfake RemoveNode: its listener closes and the
// metadata stops naming it): status exits 1 and names the spec's broker.
func TestStatusNamesMissingBroker(t *testing.T) {
	c, f := labCluster(t)
	if err := c.RemoveBroker(3); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "status", "-f", f, "--cluster", "lab", "--no-color")
	if code != exitError {
		t.Fatalf("status with a broker gone: exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"UNHEALTHY", "problem: broker 3 (kafka-broker-3) is missing from the cluster (2 of 3 spec brokers present)"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "status", "-f", f, "--cluster", "lab", "-o", "json")
	var r health.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != exitError || r.Healthy {
		t.Fatalf("json: code %d err %v healthy %v", code, err, r.Healthy)
	}
	if last := r.Brokers[len(r.Brokers)-1]; last.ID != 3 || last.State != "missing" {
		t.Errorf("broker 3: %+v", last)
	}
}

// TestStatusAgreesWithKcatConsumer cross-checks lag with an independent client: kcat (librdkafka)
// consumes 12 of 30 records as a balanced consumer in group kcat-prediction and commits on exit;
// status reports committed 12, log end 30, lag 18 for that group and partition.
func TestStatusAgreesWithKcatConsumer(t *testing.T) {
	c, f := labCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := c.Produce(ctx, "eeg-brainwave-data", 2, 30); err != nil {
		t.Fatal(err)
	}
	out, err := kcat(t, ctx, "", "-b", strings.Join(c.Bootstrap(), ","), "-G", "kcat-prediction",
		"-X", "auto.offset.reset=earliest", "-c", "12", "-q", "-f", "%p:%o\n", "eeg-brainwave-data")
	if err != nil {
		t.Fatalf("kcat -G: %v\n%s", err, out)
	}
	code, js, errOut := runCLI(t, "status", "-f", f, "--cluster", "lab", "-o", "json", "--group", "kcat-prediction")
	if code != exitOK {
		t.Fatalf("status: %d\n%s%s", code, js, errOut)
	}
	var r health.Report
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Groups) != 1 || r.Groups[0].Lag != 18 {
		t.Fatalf("kcat consumed 12 of 30; status says %+v\nkcat printed:\n%s", r.Groups, out)
	}
	if p := r.Groups[0].Topics[0].Partitions; len(p) != 1 || p[0] != (health.PartitionLag{Partition: 2, Committed: 12, LogEnd: 30, Lag: 18}) {
		t.Errorf("partition lag %+v", p)
	}
}

// TestStatusWatchShowsLagRate samples twice through a pipe (plain blocks, no terminal control
// codes); records produced between the samples show as a positive lag rate for the group.
func TestStatusWatchShowsLagRate(t *testing.T) {
	c, f := labCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := c.CommitOffsets(ctx, "prediction", "eeg-brainwave-data", map[int32]int64{0: 0}); err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	done := make(chan int, 1)
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		done <- run(wctx, []string{"status", "-f", f, "--cluster", "lab", "--no-color", "--group", "prediction", "--watch", "1s"}, strings.NewReader(""), out, io.Discard)
	}()
	waitLog(t, out, "Healthy.", 1)
	if err := c.Produce(ctx, "eeg-brainwave-data", 0, 20); err != nil {
		t.Fatal(err)
	}
	waitLog(t, out, "Healthy.", 2)
	stop()
	if code := <-done; code != exitOK {
		t.Errorf("status --watch ended with %d", code)
	}
	text := out.String()
	if strings.Count(text, "\n--- ") != 1 || !strings.HasPrefix(text, "--- ") || strings.Contains(text, "\x1b[") {
		t.Errorf("piped --watch should print plain blocks headed by their time:\n%q", text)
	}
	second := text[strings.LastIndex(text, "--- "):]
	if !regexp.MustCompile(`prediction\s+Empty\s+0\s+total\s+20 \(\+\d+\.\d/s\)`).MatchString(second) {
		t.Errorf("second sample lacks a positive lag rate for prediction:\n%s", second)
	}
}

// TestStatusAndVerifyNeverWriteEmbeddedState: like plan, status and verify open the embedded
// cluster read-only: its state directory is unchanged afterwards, although verify produced probe
// records to every partition (against that private copy).
func TestStatusAndVerifyNeverWriteEmbeddedState(t *testing.T) {
	f, state := kafkaWorkspace(t)
	if code, out, errOut := runCLI(t, "apply", "--auto-approve", "-f", f, "--state-dir", state); code != exitOK {
		t.Fatalf("apply: %d\n%s%s", code, out, errOut)
	}
	before := stateFiles(t, state)
	if code, out, errOut := runCLI(t, "status", "-f", f, "--state-dir", state); code != exitOK || !strings.Contains(out, "broker 3 (kafka-broker-3)") {
		t.Fatalf("status: %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "verify", "-f", f, "--state-dir", state); code != exitOK {
		t.Fatalf("verify: %d\n%s%s", code, out, errOut)
	}
	if d := cmp.Diff(before, stateFiles(t, state)); d != "" {
		t.Errorf("status/verify changed the state directory:\n%s", d)
	}
}

// TestStatusReadsMetadataAndConfigsOnce is issue 23's status item: status used to read Metadata
// and DescribeConfigs twice (once for health, once for the plan). Counting the requests the
// embedded cluster receives during one `status`, the plan's read is the health read: one
// DescribeConfigs, and one Metadata of every topic besides the connection's (one absent topic);
// before, a second all-topics Metadata made four, and the inventory read's own Metadata of its
// topic three (issue 23: it reads the leader the first names). DescribeLogDirs (the disk use,
// issue 24) is one per broker.
func TestStatusReadsMetadataAndConfigsOnce(t *testing.T) {
	c, f := labCluster(t)
	c.ResetRequests()
	if code, out, errOut := runCLI(t, "status", "-f", f, "--cluster", "lab", "-o", "json"); code != exitOK {
		t.Fatalf("status: %d\n%s%s", code, out, errOut)
	}
	got := c.Requests()
	if got[clustertest.APIDescribeConfigs] != 1 {
		t.Errorf("status sent %d DescribeConfigs, want 1: %v", got[clustertest.APIDescribeConfigs], got)
	}
	if got[clustertest.APIMetadata] != 2 {
		t.Errorf("status sent %d Metadata, want 2 (connect, every topic once): %v", got[clustertest.APIMetadata], got)
	}
	if n := got[clustertest.API(35)]; n != 3 {
		t.Errorf("status sent %d DescribeLogDirs, want one per broker (3): %v", n, got)
	}
}
