package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/clusters/clustertest"
	"github.com/avatar-project/avatar-sync/health"
)

// TestVerifyRoundTripsEveryTopicAndLeavesNoGroup: verify reads a probe back from every partition
// of the three managed topics, and afterwards a second client lists only the lab's own group,
// whose committed offset is unchanged.
func TestVerifyRoundTripsEveryTopicAndLeavesNoGroup(t *testing.T) {
	c, f := labCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := c.Produce(ctx, "eeg-brainwave-data", 0, 10); err != nil {
		t.Fatal(err)
	}
	if err := c.CommitOffsets(ctx, "prediction", "eeg-brainwave-data", map[int32]int64{0: 7}); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCLI(t, "verify", "-f", f, "--cluster", "lab", "-o", "json")
	if code != exitOK {
		t.Fatalf("verify: %d\n%s%s", code, out, errOut)
	}
	var rep health.ProbeReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	covered := map[string]int{}
	for _, r := range rep.Results {
		if r.Error == "" && r.RoundTrip > 0 {
			covered[r.Topic]++
		}
	}
	if !rep.OK || covered["eeg-brainwave-data"] != 3 || covered["prediction-results"] != 3 || covered["drone-commands"] != 3 {
		t.Fatalf("verify did not round-trip every partition: %+v", rep)
	}
	groups, err := c.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(groups, []string{"prediction"}) {
		t.Errorf("groups after verify: %v, want only prediction", groups)
	}
	code, out, _ = runCLI(t, "status", "-f", f, "--cluster", "lab", "--no-color", "--group", "prediction")
	if code != exitOK || !containsFields(out, "prediction", "Empty", "0", "eeg-brainwave-data", "0", "7", "11", "4") {
		t.Errorf("prediction's offset or lag changed (10 records + 1 probe, committed 7):\n%s", out)
	}
}

// TestVerifyNamesFailingTopicAndPartition: when the cluster refuses the probe records of one topic,
// verify exits 1 naming the topic and each partition, and the others still pass.
func TestVerifyNamesFailingTopicAndPartition(t *testing.T) {
	c, f := labCluster(t)
	if _, err := c.Fail(clustertest.Failure{API: clustertest.APIProduce, Topic: "drone-commands", Code: "NOT_ENOUGH_REPLICAS", Times: 10}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "verify", "-f", f, "--cluster", "lab", "--no-color", "--timeout", "10s")
	if code != exitError {
		t.Fatalf("verify: exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{`failed: topic "drone-commands" partition 0: produce:`, `failed: topic "drone-commands" partition 2: produce:`, "Verify failed: 6 of 9 partitions passed."} {
		if !strings.Contains(out, want) {
			t.Errorf("verify lacks %q:\n%s", want, out)
		}
	}
	passed := 0
	for _, line := range strings.Split(out, "\n") {
		if fs := strings.Fields(line); len(fs) == 6 && fs[5] == "ok" && fs[0] != "drone-commands" {
			passed++
		}
	}
	if passed != 6 {
		t.Errorf("the 6 partitions of the other topics should pass, %d did:\n%s", passed, out)
	}
}

// TestVerifyRecordsReadByKcat cross-checks verify with an independent client: after verify, kcat
// (librdkafka) reads every partition of a topic from the start and finds one probe record in each,
// carrying the avatar-sync-probe header with the run's id and the JSON value docs/status.md shows.
func TestVerifyRecordsReadByKcat(t *testing.T) {
	c, f := labCluster(t)
	code, out, errOut := runCLI(t, "verify", "-f", f, "--cluster", "lab", "--topics", "drone-commands", "-o", "json")
	if code != exitOK {
		t.Fatalf("verify: %d\n%s%s", code, out, errOut)
	}
	var rep health.ProbeReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	got, err := kcat(t, ctx, "", "-b", strings.Join(c.Bootstrap(), ","), "-C", "-t", "drone-commands", "-o", "beginning", "-e", "-q",
		"-f", "%p|%h|%s\n")
	if err != nil {
		t.Fatalf("kcat -C: %v\n%s", err, got)
	}
	lines := strings.Split(strings.TrimSpace(got), "\n")
	slices.Sort(lines)
	var want []string
	for p := range 3 {
		want = append(want, fmt.Sprintf(`%d|%s=%s|{"avatarSyncProbe":%q,"topic":"drone-commands","partition":%d}`, p, health.ProbeHeader, rep.Group, rep.Group, p))
	}
	if !slices.Equal(lines, want) {
		t.Errorf("kcat reads:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
