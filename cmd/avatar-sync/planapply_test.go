package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/plans"
)

// kafkaWorkspace copies examples/avatar.yaml into a temp dir and returns the spec path and a
// --state-dir for the embedded cluster there, so every invocation of a test sees the same cluster.
// The copy leaves out the example's access control (users, services, quotas): these tests are
// about topics; access_test.go plans the example as it is (issue 14).
func kafkaWorkspace(t *testing.T) (specPath, stateDir string) {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile("../../examples/avatar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data = withoutAccess(t, data)
	specPath = filepath.Join(dir, "avatar.yaml")
	if err := os.WriteFile(specPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return specPath, filepath.Join(dir, "state")
}

func editSpec(t testing.TB, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestApplyThenPlanDetailedExitcode is the "done when": apply creates the three Avatar
// topics, plan then exits 0, and editing a retention makes it exit 2 with a readable diff.
func TestApplyThenPlanDetailedExitcode(t *testing.T) {
	f, state := kafkaWorkspace(t)
	code, out, errOut := runCLI(t, "apply", "--auto-approve", "-f", f, "--state-dir", state)
	if code != exitOK {
		t.Fatalf("apply: code %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"+ create topic eeg-brainwave-data", "+ create topic prediction-results", "+ create topic drone-commands",
		"Plan: 3 to create, 0 to update, 0 to delete.", "Apply complete: 3 applied, 0 failed, 0 unknown, 0 not attempted.", "converged: a fresh plan has no changes"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "[1/3] create topic drone-commands: done") {
		t.Errorf("no progress on stderr:\n%s", errOut)
	}

	code, out, errOut = runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state)
	if code != exitOK || !strings.Contains(out, "No changes.") {
		t.Fatalf("plan after apply: code %d\n%s\n%s", code, out, errOut)
	}

	editSpec(t, f, "retention: 6h", "retention: 2h")
	code, out, errOut = runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state)
	if code != exitChanges {
		t.Fatalf("plan after edit: code %d, want 2\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"~ update topic prediction-results config  [DATA LOSS]", "retention.ms:  6h → 2h (21600000 → 7200000)",
		"Plan: 0 to create, 1 to update, 0 to delete.", "apply needs --allow-data-loss"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	// Without the opt-in nothing happens (and nobody is asked): one refusal, said once (issue 20:
	// the opt-ins are checked once); with it the change lands.
	code, _, errOut = runCLI(t, "apply", "--auto-approve", "-f", f, "--state-dir", state)
	if code != exitError || strings.Count(errOut, "it needs --allow-data-loss") != 1 || strings.Count(errOut, "apply refused") != 1 {
		t.Fatalf("apply lowering retention without opt-in: code %d, want one refusal naming --allow-data-loss once\n%s", code, errOut)
	}
	code, out, errOut = runCLI(t, "apply", "--auto-approve", "--allow-data-loss", "-f", f, "--state-dir", state)
	if code != exitOK || !strings.Contains(out, "1 applied") {
		t.Fatalf("apply with --allow-data-loss: code %d\n%s\n%s", code, out, errOut)
	}
	if code, _, _ := runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state); code != exitOK {
		t.Fatalf("plan after second apply: code %d", code)
	}
}

func TestApplyRefusesWithoutTerminal(t *testing.T) {
	f, state := kafkaWorkspace(t)
	code, out, errOut := runCLI(t, "apply", "-f", f, "--state-dir", state)
	if code != exitError || !strings.Contains(errOut, "stdin is not a terminal") || !strings.Contains(errOut, "--auto-approve") {
		t.Fatalf("code %d\n%s\n%s", code, out, errOut)
	}
	// Nothing was applied.
	code, _, _ = runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state)
	if code != exitChanges {
		t.Fatalf("plan after refused apply: code %d, want 2", code)
	}
}

func TestPlanFormatsAndSavedPlan(t *testing.T) {
	f, state := kafkaWorkspace(t)
	code, out, errOut := runCLI(t, "plan", "-o", "json", "-f", f, "--state-dir", state)
	if code != exitOK {
		t.Fatalf("plan -o json: %d %s", code, errOut)
	}
	var doc struct {
		FormatVersion int `json:"formatVersion"`
		Targets       []struct {
			Target     string `json:"target"`
			ClusterID  string `json:"clusterId"`
			HasChanges bool   `json:"hasChanges"`
		}
		HasChanges bool `json:"hasChanges"`
		Summary    struct{ Targets, Create int }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.FormatVersion != plans.FormatVersion || len(doc.Targets) != 1 || doc.Targets[0].ClusterID == "" ||
		!doc.HasChanges || !doc.Targets[0].HasChanges || doc.Summary.Targets != 1 || doc.Summary.Create != 3 {
		t.Fatalf("json plan %+v (%v):\n%s", doc, err, out)
	}
	code, out, _ = runCLI(t, "plan", "-o", "markdown", "-f", f, "--state-dir", state)
	if code != exitOK || !strings.Contains(out, "**Plan: 3 to create, 0 to update, 0 to delete.**") {
		t.Fatalf("plan -o markdown: %d\n%s", code, out)
	}
	if code, _, errOut := runCLI(t, "plan", "-o", "yaml", "-f", f, "--state-dir", state); code != exitError || !strings.Contains(errOut, "-o/--output") {
		t.Fatalf("plan -o yaml: %d %s", code, errOut)
	}

	// A saved plan applies as saved...
	planFile := filepath.Join(t.TempDir(), "plan.json")
	code, _, errOut = runCLI(t, "plan", "--out", planFile, "-f", f, "--state-dir", state)
	if code != exitOK || !strings.Contains(errOut, "apply --plan "+planFile) {
		t.Fatalf("plan --out: %d %s", code, errOut)
	}
	stale := filepath.Join(t.TempDir(), "stale.json")
	data, _ := os.ReadFile(planFile)
	os.WriteFile(stale, data, 0o644)
	code, out, errOut = runCLI(t, "apply", "--plan", planFile, "--auto-approve", "-f", f, "--state-dir", state)
	if code != exitOK || !strings.Contains(out, "3 applied") {
		t.Fatalf("apply --plan: %d\n%s\n%s", code, out, errOut)
	}
	// ...and is refused once the cluster moved on: the same file again is stale.
	code, out, errOut = runCLI(t, "apply", "--plan", stale, "--auto-approve", "-f", f, "--state-dir", state)
	if code != exitError || !strings.Contains(errOut, "stale plan") || !strings.Contains(errOut, "run plan again") {
		t.Fatalf("stale plan: %d %s", code, errOut)
	}
	if strings.Contains(out, "create topic") {
		t.Errorf("a stale plan was shown as if it could be applied:\n%s", out)
	}
	// A plan for another target is refused before connecting.
	code, _, errOut = runCLI(t, "apply", "--plan", stale, "--auto-approve", "--cluster", "dev", "-f", f, "--state-dir", state)
	if code != exitError || !strings.Contains(errOut, `computed for cluster target "embedded"`) {
		t.Fatalf("plan for another target: %d %s", code, errOut)
	}
}

// TestApplySavedPlanIgnoresLaterSpecEdits is issue 9's saved-plan case: the reviewed plan is
// applied exactly, and its convergence proven against its own snapshot, even though avatar.yaml
// changed since (before, apply exited 1 "did not converge" after applying it); a stale live state
// is still refused, and so is an edited plan file.
func TestApplySavedPlanIgnoresLaterSpecEdits(t *testing.T) {
	f, state := kafkaWorkspace(t)
	if code, out, errOut := runCLI(t, "apply", "--auto-approve", "-f", f, "--state-dir", state); code != exitOK {
		t.Fatalf("apply: %d\n%s\n%s", code, out, errOut)
	}
	editSpec(t, f, "retention: 6h", "retention: 12h")
	planFile := filepath.Join(t.TempDir(), "plan.json")
	if code, _, errOut := runCLI(t, "plan", "--out", planFile, "-f", f, "--state-dir", state); code != exitOK {
		t.Fatalf("plan --out: %d %s", code, errOut)
	}
	data, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(t.TempDir(), "edited.json")
	if err := os.WriteFile(edited, []byte(strings.Replace(string(data), `"prediction-results"`, `"drone-commands"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "apply", "--plan", edited, "--auto-approve", "-f", f, "--state-dir", state)
	if code != exitError || !strings.Contains(errOut, "the document was edited after plan saved it") {
		t.Fatalf("edited plan file: %d\n%s\n%s", code, out, errOut)
	}

	// The spec moves on after the review: drone-commands 24h -> 48h is not in the plan.
	editSpec(t, f, "retention: 24h", "retention: 48h")
	code, out, errOut = runCLI(t, "apply", "--plan", planFile, "--auto-approve", "-f", f, "--state-dir", state)
	if code != exitOK || !strings.Contains(out, "Apply complete: 1 applied") || !strings.Contains(out, "converged") {
		t.Fatalf("apply --plan after the spec changed: %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out, "drone-commands") {
		t.Errorf("apply --plan showed or applied a change that is not in the reviewed plan:\n%s", out)
	}
	// Only the reviewed change landed; the new edit is what a fresh plan shows.
	code, out, _ = runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state)
	if code != exitChanges || !strings.Contains(out, "update topic drone-commands config") || strings.Contains(out, "prediction-results config") {
		t.Fatalf("plan after apply --plan: %d\n%s", code, out)
	}
	// The same file again is stale: the live state moved on.
	code, _, errOut = runCLI(t, "apply", "--plan", planFile, "--auto-approve", "-f", f, "--state-dir", state)
	if code != exitError || !strings.Contains(errOut, "stale plan") {
		t.Fatalf("stale saved plan: %d %s", code, errOut)
	}
}

func TestPlanUnsupportedExitsOne(t *testing.T) {
	f, state := kafkaWorkspace(t)
	if code, _, errOut := runCLI(t, "apply", "--auto-approve", "-f", f, "--state-dir", state); code != exitOK {
		t.Fatal(errOut)
	}
	editSpec(t, f, "partitions: 3", "partitions: 2")
	code, out, errOut := runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state)
	if code != exitError || !strings.Contains(out, "! unsupported topic drone-commands partitions") || !strings.Contains(errOut, "unsupported change") {
		t.Fatalf("code %d\n%s\n%s", code, out, errOut)
	}
}

func TestParseRate(t *testing.T) {
	tests := map[string]struct {
		in   string
		want int64
		ok   bool
	}{
		"plain":     {"1048576", 1048576, true},
		"MiB/s":     {"50MiB/s", 50 << 20, true},
		"MB":        {"10MB", 10_000_000, true},
		"zero":      {"0", 0, true},
		"negative":  {"-1", 0, false},
		"garbage":   {"fast", 0, false},
		"spaced":    {"5 KiB/s", 5 << 10, true},
		"bare unit": {"MiB", 0, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseRate(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("parseRate(%q) = %d, %v", tc.in, got, err)
			}
		})
	}
}

// TestPinnedClusterIDRefused: a target that pins clusterId is checked before anything else, by plan
// and by apply.
func TestPinnedClusterIDRefused(t *testing.T) {
	f, state := kafkaWorkspace(t)
	editSpec(t, f, "embedded: {}", "embedded: { clusterId: MkU3OEVBNTcwNTJENDM2Qk }")
	for _, args := range [][]string{{"plan"}, {"apply", "--auto-approve"}} {
		code, out, errOut := runCLI(t, append(args, "-f", f, "--state-dir", state)...)
		if code != exitError || !strings.Contains(errOut, `pins clusterId "MkU3OEVBNTcwNTJENDM2Qk"`) || strings.Contains(out, "create topic") {
			t.Fatalf("%v: code %d\n%s\n%s", args, code, out, errOut)
		}
	}
	editSpec(t, f, "embedded: { clusterId: MkU3OEVBNTcwNTJENDM2Qk }", "embedded: {}")
	if code, _, _ := runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state); code != exitChanges {
		t.Fatalf("refused apply changed the cluster (plan exit %d, want 2)", code)
	}
}

func TestConfirm(t *testing.T) {
	p := plans.Plan{Cluster: "dev", ClusterID: "abc"}
	tests := map[string]struct {
		input       string
		auto, inter bool
		want        string // "" = approved
	}{
		"auto-approve":       {"", true, false, ""},
		"yes":                {"yes\n", false, true, ""},
		"yes without enter":  {"yes", false, true, ""},
		"y is not yes":       {"y\n", false, true, "apply cancelled: nothing was changed"},
		"no":                 {"no\n", false, true, "apply cancelled"},
		"closed stdin":       {"", false, true, "read confirmation"},
		"no terminal":        {"yes\n", false, false, "stdin is not a terminal"},
		"no terminal + auto": {"", true, false, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			s := &streams{in: strings.NewReader(tc.input), out: &out, err: &out}
			err := confirm(context.Background(), s.in, s.out, tc.auto, tc.inter, p)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if tc.inter && !tc.auto && !strings.Contains(out.String(), `Apply these changes to cluster "dev" (id abc)?`) {
				t.Errorf("prompt: %q", out.String())
			}
		})
	}
}

// TestConfirmCtrlC: Ctrl-C (a cancelled context) at the prompt ends apply even though nobody
// presses Enter; before, the read of the terminal went on until a line came.
func TestConfirmCtrlC(t *testing.T) {
	in, w := io.Pipe() // a terminal nobody types into
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- confirm(ctx, in, &out, false, true, plans.Plan{Cluster: "dev", ClusterID: "abc"}) }()
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "apply cancelled: nothing was changed") {
		t.Fatalf("got %v, want a cancellation that says nothing was changed", err)
	}
}

func TestApplyJSON(t *testing.T) {
	f, state := kafkaWorkspace(t)
	type target struct {
		State   string
		Summary struct{ Create, Update int }
		Changes []struct {
			Name, Action, Status, Error string
		}
		Applied, Failed, NotAttempted int
		Converged                     bool
		Error                         string
	}
	type doc struct {
		FormatVersion int `json:"formatVersion"`
		Targets       []target
		Converged     bool
		Error         string
	}
	code, out, errOut := runCLI(t, "apply", "-o", "json", "--auto-approve", "-f", f, "--state-dir", state)
	var run doc
	if err := json.Unmarshal([]byte(out), &run); err != nil || code != exitOK || len(run.Targets) != 1 {
		t.Fatalf("apply -o json: code %d, %v\n%s\n%s", code, err, out, errOut)
	}
	d := run.Targets[0]
	if run.FormatVersion != plans.FormatVersion || !run.Converged || d.State != "applied" || d.Summary.Create != 3 || d.Applied != 3 || !d.Converged || len(d.Changes) != 3 || d.Changes[0].Status != "applied" {
		t.Fatalf("apply -o json: %+v", run)
	}
	if !strings.Contains(errOut, "done") {
		t.Errorf("progress should stay on stderr with -o json:\n%s", errOut)
	}

	editSpec(t, f, "retention: 24h", "retention: 1h")
	code, out, _ = runCLI(t, "apply", "-o", "json", "--auto-approve", "-f", f, "--state-dir", state)
	run = doc{}
	if err := json.Unmarshal([]byte(out), &run); err != nil || code != exitError || len(run.Targets) != 1 {
		t.Fatalf("refused apply -o json: code %d, %v\n%s", code, err, out)
	}
	d = run.Targets[0]
	if d.State != "failed" || d.NotAttempted != 1 || d.Changes[0].Status != "not-attempted" || !strings.Contains(d.Error, "--allow-data-loss") || d.Converged ||
		run.Converged || run.Error != d.Error {
		t.Fatalf("refused apply -o json: %+v", run)
	}
}

// TestApplyMassDeleteNeedsFlag: apply refuses a plan deleting every managed topic unless
// --allow-mass-delete is given (issue 10 item 12).
func TestApplyMassDeleteNeedsFlag(t *testing.T) {
	f, state := kafkaWorkspace(t)
	if code, _, errOut := runCLI(t, "apply", "--auto-approve", "-f", f, "--state-dir", state); code != exitOK {
		t.Fatal(errOut)
	}
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	emptied := regexp.MustCompile(`(?m)^topics:\n(.*\n)*?clusters:`).ReplaceAllString(string(data), "deletion: prune\ntopics: []\nclusters:")
	if err := os.WriteFile(f, []byte(emptied), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "apply", "--auto-approve", "--allow-delete", "--force", "-f", f, "--state-dir", state)
	if code != exitError || !strings.Contains(errOut, "the plan deletes 3 of the 3 topics avatar-sync manages") || !strings.Contains(errOut, "--allow-mass-delete") {
		t.Fatalf("mass delete without the flag: %d\n%s", code, errOut)
	}
	code, out, errOut := runCLI(t, "apply", "--auto-approve", "--allow-delete", "--force", "--allow-mass-delete", "-f", f, "--state-dir", state)
	if code != exitOK || !strings.Contains(out, "3 applied") {
		t.Fatalf("mass delete with the flag: %d\n%s\n%s", code, out, errOut)
	}
}

// withoutAccess cuts the example's access block: from its "# Who may do what" comment to "clusters:".
func withoutAccess(t *testing.T, data []byte) []byte {
	t.Helper()
	start := bytes.Index(data, []byte("# Who may do what"))
	end := bytes.Index(data, []byte("\nclusters:"))
	if start < 0 || end < start {
		t.Fatal("examples/avatar.yaml: no access block before clusters:")
	}
	return append(data[:start:start], data[end+1:]...)
}
