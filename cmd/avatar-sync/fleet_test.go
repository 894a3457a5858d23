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

// pendingCreates runs plan for one target and returns its "Plan: ..." line.
func planLine(t *testing.T, specPath, target string) string {
	t.Helper()
	_, out, errOut := runCLI(t, "plan", "-f", specPath, "--cluster", target)
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Plan: ") || strings.HasPrefix(line, "No changes.") {
			return line
		}
	}
	t.Fatalf("plan --cluster %s printed no plan line:\n%s%s", target, out, errOut)
	return ""
}

const threeCreates = "Plan: 3 to create, 0 to update, 0 to delete."

// TestFleetPlanSectionsAndExitcode: plan --cluster east,west plans both (one section each and the
// fleet's summary, in text and JSON); --detailed-exitcode is 2 while any target has changes and 0
// once both are in sync.
func TestFleetPlanSectionsAndExitcode(t *testing.T) {
	_, _, f := fleetClusters(t)
	code, out, errOut := runCLI(t, "plan", "-f", f, "--cluster", "east,west", "--detailed-exitcode")
	if code != exitChanges {
		t.Fatalf("plan: code %d, want %d\n%s%s", code, exitChanges, out, errOut)
	}
	for _, want := range []string{"Target east (cluster id ", "Target west (cluster id ", "Fleet: 2 targets, 2 with changes (6 to create, 0 to update, 0 to delete)."} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "Target east") > strings.Index(out, "Target west") {
		t.Errorf("sections are not in --cluster order:\n%s", out)
	}
	if n := strings.Count(out, threeCreates); n != 2 {
		t.Errorf("%d sections plan three creates, want 2:\n%s", n, out)
	}

	code, out, errOut = runCLI(t, "plan", "-f", f, "--cluster", "east,west", "-o", "json")
	if code != exitOK {
		t.Fatalf("plan -o json: code %d\n%s%s", code, out, errOut)
	}
	var doc struct {
		Targets []struct {
			Target  string `json:"target"`
			Cluster string `json:"cluster"`
			Parts   []struct {
				Plane   string            `json:"plane"`
				Changes []json.RawMessage `json:"changes"`
			} `json:"parts"`
		} `json:"targets"`
		Summary struct{ Targets, WithChanges, Create int }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("plan -o json: %v\n%s", err, out)
	}
	if len(doc.Targets) != 2 || doc.Targets[0].Target != "east" || doc.Targets[1].Target != "west" ||
		doc.Targets[0].Cluster != "east" || len(doc.Targets[1].Parts) != 1 || doc.Targets[1].Parts[0].Plane != "kafka" || len(doc.Targets[1].Parts[0].Changes) != 3 || doc.Summary.WithChanges != 2 || doc.Summary.Create != 6 {
		t.Errorf("plan -o json: %+v", doc)
	}

	// The pull-request comment of docs/ci.md: every environment's plan in one markdown document.
	code, out, errOut = runCLI(t, "plan", "-f", f, "--cluster", "east,west", "-o", "markdown", "--detailed-exitcode")
	if code != exitChanges || !strings.Contains(out, "<b>east</b>") || !strings.Contains(out, "<b>west</b>") || !strings.Contains(out, "**Fleet: 2 targets, 2 with changes") {
		t.Errorf("plan -o markdown: code %d\n%s%s", code, out, errOut)
	}

	// east in sync, west pending: still 2; both in sync: 0.
	if code, out, errOut := runCLI(t, "apply", "-f", f, "--cluster", "east", "--auto-approve"); code != exitOK {
		t.Fatalf("apply east: code %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "plan", "-f", f, "--cluster", "east,west", "--detailed-exitcode")
	if code != exitChanges || !strings.Contains(out, "Fleet: 2 targets, 1 with changes (3 to create, 0 to update, 0 to delete).") {
		t.Errorf("plan with west pending: code %d, want %d\n%s", code, exitChanges, out)
	}
	if code, out, errOut := runCLI(t, "apply", "-f", f, "--cluster", "west", "--auto-approve"); code != exitOK {
		t.Fatalf("apply west: code %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "plan", "-f", f, "--cluster", "east,west", "--detailed-exitcode"); code != exitOK {
		t.Errorf("plan with both in sync: code %d\n%s%s", code, out, errOut)
	}
}

// TestFleetUnreachableTargetFailsItsSection: a target nothing answers for fails its own section;
// the reachable target's plan still prints, and plan exits 1 (also with --detailed-exitcode), and
// --out saves nothing.
func TestFleetUnreachableTargetFailsItsSection(t *testing.T) {
	_, _, f := fleetClusters(t)
	planFile := filepath.Join(filepath.Dir(f), "plan.json")
	code, out, errOut := runCLI(t, "plan", "-f", f, "--cluster", "east,gone", "--detailed-exitcode", "--out", planFile)
	if code != exitError {
		t.Errorf("plan east,gone: code %d, want %d", code, exitError)
	}
	for _, want := range []string{"Target east (cluster id ", threeCreates, "Target gone: not planned", "target gone: ", "1 failed (gone)"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if want := "1 of 2 targets could not be planned (gone)"; !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
	if _, err := os.Stat(planFile); !os.IsNotExist(err) {
		t.Errorf("a plan with a failed target was saved (%v)", err)
	}
}

// TestFleetSavedPlanAppliesEveryTarget: plan --out for two targets writes one document; apply
// --plan with the same --cluster applies both and each converges; another order or another set of
// targets is refused, naming the plan's.
func TestFleetSavedPlanAppliesEveryTarget(t *testing.T) {
	_, _, f := fleetClusters(t)
	planFile := filepath.Join(filepath.Dir(f), "plan.json")
	code, out, errOut := runCLI(t, "plan", "-f", f, "--cluster", "east,west", "--out", planFile)
	if code != exitOK || !strings.Contains(errOut, "apply --plan "+planFile+" --cluster east,west") {
		t.Fatalf("plan --out: code %d\n%s%s", code, out, errOut)
	}
	for _, tc := range []struct{ cluster, want string }{
		{"west,east", "was computed for targets east,west, but --cluster is west,east"},
		{"east", "was computed for targets east,west, but --cluster is east"},
	} {
		code, out, errOut := runCLI(t, "apply", "-f", f, "--cluster", tc.cluster, "--plan", planFile, "--auto-approve")
		if code != exitError || !strings.Contains(errOut, tc.want) {
			t.Errorf("apply --plan --cluster %s: code %d, want %q\n%s%s", tc.cluster, code, tc.want, out, errOut)
		}
	}
	code, out, errOut = runCLI(t, "apply", "-f", f, "--cluster", "east,west", "--plan", planFile, "--auto-approve")
	if code != exitOK {
		t.Fatalf("apply --plan: code %d\n%s%s", code, out, errOut)
	}
	if n := strings.Count(out, "Apply complete: 3 applied, 0 failed, 0 unknown, 0 not attempted."); n != 2 {
		t.Errorf("%d targets applied completely, want 2:\n%s", n, out)
	}
	if strings.Index(out, "Target east:\nApply complete") > strings.Index(out, "Target west:\nApply complete") {
		t.Errorf("west was not applied after east:\n%s", out)
	}
	if e, w := strings.Index(errOut, "Applying target east:\n[1/3]"), strings.Index(errOut, "Applying target west:\n[1/3]"); e < 0 || w < e {
		t.Errorf("the progress on stderr does not say which target it is about, in order:\n%s", errOut)
	}
	for _, target := range []string{"east", "west"} {
		if got := planLine(t, f, target); !strings.HasPrefix(got, "No changes.") {
			t.Errorf("after apply, plan --cluster %s: %q", target, got)
		}
	}
}

// TestFleetStaleSecondTargetRefusesAll: west changes between plan and apply; apply --plan refuses
// the whole plan, naming west, before east (first in order, unchanged itself) is touched.
func TestFleetStaleSecondTargetRefusesAll(t *testing.T) {
	_, _, f := fleetClusters(t)
	planFile := filepath.Join(filepath.Dir(f), "plan.json")
	if code, out, errOut := runCLI(t, "plan", "-f", f, "--cluster", "east,west", "--out", planFile); code != exitOK {
		t.Fatalf("plan --out: code %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "apply", "-f", f, "--cluster", "west", "--auto-approve"); code != exitOK {
		t.Fatalf("apply west: code %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := runCLI(t, "apply", "-f", f, "--cluster", "east,west", "--plan", planFile, "--auto-approve")
	if code != exitError || !strings.Contains(errOut, "the saved plan is refused, no target was changed") || !strings.Contains(errOut, "target west:") {
		t.Errorf("apply of a plan stale on west: code %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(errOut, "target east:") {
		t.Errorf("east, unchanged since the plan, is reported:\n%s", errOut)
	}
	if got := planLine(t, f, "east"); got != threeCreates {
		t.Errorf("east changed although the plan was refused: %q", got)
	}
}

// TestFleetPromotionStopsAtFirstFailure: east's apply fails (its brokers refuse CreateTopics);
// west, later in the promotion order, is not attempted and says so; exit 1.
func TestFleetPromotionStopsAtFirstFailure(t *testing.T) {
	east, _, f := fleetClusters(t)
	remove, err := east.Fail(clustertest.Failure{API: clustertest.APICreateTopics, Topic: "eeg-brainwave-data", Times: 1000, Code: "POLICY_VIOLATION"})
	if err != nil {
		t.Fatal(err)
	}
	defer remove()
	code, out, errOut := runCLI(t, "apply", "-f", f, "--cluster", "east,west", "--auto-approve")
	if code != exitError {
		t.Errorf("apply: code %d, want %d", code, exitError)
	}
	if !strings.Contains(out, "Target east:\nApply incomplete") {
		t.Errorf("east's result is not shown as incomplete:\n%s%s", out, errOut)
	}
	if strings.Contains(out, "Target west:") {
		t.Errorf("west was applied after east failed:\n%s", out)
	}
	if want := "(not attempted: west; fix east and apply again)"; !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
	// -o json says the same per target: east failed, west not attempted.
	code, out, errOut = runCLI(t, "apply", "-f", f, "--cluster", "east,west", "--auto-approve", "-o", "json")
	var doc struct {
		Targets []struct{ Target, State, Error string }
		Error   string
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != exitError {
		t.Fatalf("apply -o json: code %d, %v\n%s%s", code, err, out, errOut)
	}
	if len(doc.Targets) != 2 || doc.Targets[0].State != "failed" || doc.Targets[1].State != "not-attempted" || !strings.Contains(doc.Error, "not attempted: west") {
		t.Errorf("apply -o json after east failed: %+v", doc)
	}
	remove()
	if got := planLine(t, f, "west"); got != threeCreates {
		t.Errorf("west changed although east failed first: %q", got)
	}
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
