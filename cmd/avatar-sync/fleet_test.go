package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/clusters/clustertest"
	"github.com/avatar-project/avatar-sync/spec"
)

// The fleet as users run it (plan, -o json, a saved plan applied as one, a stale target, promotion,
// an unreachable target) is TestFleetOnDevUp, on two `dev up` processes (fleet_devup_test.go). The
// tests here use in-process clusters for what that one does not: apply's JSON result, status, the
// --cluster list's checks and per-target overrides.

// fleetClusters starts two in-process 3-broker clusters on free ports and writes a spec whose
// targets "east" and "west" bootstrap from them, and "gone" from a port nothing listens on (issue
// 20: a fleet in one run). Nothing is applied yet: each target's plan creates the three topics.
func fleetClusters(t *testing.T) (east, west *clustertest.Cluster, specPath string) {
	t.Helper()
	brokers := &spec.Spec{Brokers: []spec.Broker{{ID: 1, Rack: "lab-a"}, {ID: 2, Rack: "lab-b"}, {ID: 3, Rack: "lab-c"}}}
	east, west = clustertest.StartFor(t, brokers), clustertest.StartFor(t, brokers)
	gone := clustertest.Unreachable(t)
	specPath = filepath.Join(t.TempDir(), "avatar.yaml")
	writeLabSpec(t, specPath, east.Bootstrap(), "")
	data, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(data), "  lab: {", "  east: {", 1) +
		fmt.Sprintf("  west: { bootstrap: [%q] }\n  gone: { bootstrap: [%q] }\n", west.Bootstrap()[0], gone)
	if err := os.WriteFile(specPath, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return east, west, specPath
}

// TestFleetApplyJSON: apply -o json of two targets is one document with a result per target.
func TestFleetApplyJSON(t *testing.T) {
	_, _, f := fleetClusters(t)
	code, out, errOut := runCLI(t, "apply", "-f", f, "--cluster", "east,west", "--auto-approve", "-o", "json")
	if code != exitOK {
		t.Fatalf("apply -o json: code %d\n%s%s", code, out, errOut)
	}
	var doc struct {
		Targets []struct {
			Target, State string
			Changes       []struct{ Status string }
		}
		Converged bool
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(doc.Targets) != 2 || doc.Targets[1].Target != "west" || doc.Targets[1].State != "applied" || !doc.Converged ||
		len(doc.Targets[1].Changes) != 3 || doc.Targets[1].Changes[0].Status != "applied" {
		t.Errorf("apply -o json: %+v\n%s", doc, out)
	}
}

// TestFleetStatus: status --cluster east,west shows one section per target (text) and one document
// with every target's report (JSON, docs/status.md); an unreachable target makes it exit 1.
func TestFleetStatus(t *testing.T) {
	_, _, f := fleetClusters(t)
	code, out, errOut := runCLI(t, "status", "-f", f, "--cluster", "east,west")
	if code != exitOK || !strings.Contains(out, `Cluster "east"`) || !strings.Contains(out, `Cluster "west"`) {
		t.Errorf("status: code %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "status", "-f", f, "--cluster", "west,gone", "-o", "json")
	var doc struct {
		Healthy bool `json:"healthy"`
		Targets []struct {
			Cluster  string   `json:"cluster"`
			Healthy  bool     `json:"healthy"`
			Problems []string `json:"problems"`
		} `json:"targets"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("status -o json: %v\n%s%s", err, out, errOut)
	}
	if code != exitError || doc.Healthy || len(doc.Targets) != 2 || !doc.Targets[0].Healthy || doc.Targets[1].Healthy ||
		len(doc.Targets[1].Problems) == 0 || !strings.Contains(doc.Targets[1].Problems[0], "cannot read the cluster") {
		t.Errorf("status west,gone: code %d, %+v", code, doc)
	}
	if code, _, errOut := runCLI(t, "status", "-f", f, "--cluster", "east,west", "--watch", "5s"); code != exitError || !strings.Contains(errOut, "--watch samples one target") {
		t.Errorf("status --watch of two targets: code %d\n%s", code, errOut)
	}
}

// TestClusterListChecked: names are checked against the spec before anything connects (did you
// mean), duplicates are refused, and commands that act on one target refuse a list.
func TestClusterListChecked(t *testing.T) {
	_, _, f := fleetClusters(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "--cluster", "east,wset"}, `--cluster "wset" is not a target in ` + f + ` (targets: embedded, east, west, gone); did you mean "west"?`},
		{[]string{"apply", "--cluster", "east,east"}, `--cluster "east,east" names target "east" twice`},
		{[]string{"status", "--cluster", "east,"}, `--cluster "east," has an empty target name`},
		{[]string{"render", "--target", "compose", "--cluster", "east,west"}, `--cluster "east,west": avatar-sync render acts on one target; a comma-separated list of targets is taken by plan, apply, status and watch`},
		{[]string{"dev", "up", "--cluster", "east,west"}, `avatar-sync dev up acts on one target`},
		{[]string{"verify", "--cluster", "east,west"}, `avatar-sync verify acts on one target`},
	} {
		code, out, errOut := runCLI(t, append(tc.args, "-f", f)...)
		if code != exitError || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: code %d, want %q\n%s%s", tc.args, code, tc.want, out, errOut)
		}
	}
}

// TestFleetTargetOverrides: each target of a fleet is planned against the spec as it sees it, its
// own overrides merged in (west keeps eeg-brainwave-data 10 minutes, east an hour), also when the
// spec comes from standard input.
func TestFleetTargetOverrides(t *testing.T) {
	_, _, f := fleetClusters(t)
	editSpec(t, f, "  west: { bootstrap: [", "  west: { overrides: { topics: [{ name: eeg-brainwave-data, retention: 10m }] }, bootstrap: [")
	check := func(what, out string) {
		t.Helper()
		east, west, ok := strings.Cut(out, "Target west")
		if !ok || !strings.Contains(east, "retention.ms:         3600000 (1h)") || strings.Contains(east, "(10m)") || !strings.Contains(west, "retention.ms:         600000 (10m)") {
			t.Errorf("%s: the targets are not planned with their own overrides:\n%s", what, out)
		}
	}
	code, out, errOut := runCLI(t, "plan", "-f", f, "--cluster", "east,west")
	if code != exitOK {
		t.Fatalf("plan: code %d\n%s%s", code, out, errOut)
	}
	check("plan -f FILE", out)
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	if code := run(t.Context(), []string{"plan", "-f", "-", "--cluster", "east,west"}, strings.NewReader(string(data)), &stdout, &stderr); code != exitOK {
		t.Fatalf("plan -f -: code %d\n%s%s", code, stdout.String(), stderr.String())
	}
	check("plan -f -", stdout.String())
}
