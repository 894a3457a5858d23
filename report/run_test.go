package report

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
	"github.com/google/go-cmp/cmp"
)

// named is p as the plan of target name.
func named(p plans.Plan, name string) plans.TargetPlan {
	p.Cluster = name
	return plans.TargetPlan{Target: name, Plan: p}
}

func emptyPlan() plans.Plan {
	return reconcile.Diff(plans.DesiredOf(&spec.Spec{}), live(nil), reconcile.DiffOptions{Cluster: "embedded"})
}

// fleetRun is a fleet of four: changes of every sort, a deferred fresh cluster, a target that
// could not be reached and one that matches its spec.
func fleetRun() plans.Run {
	return plans.Run{Targets: []plans.TargetPlan{
		named(samplePlan(), "lab-east"),
		named(deferredPlan(), "lab-west"),
		{Target: "lab-north", Err: errors.New(`target "lab-north": no broker answered at 10.0.0.9:9092 within 10s: dial tcp 10.0.0.9:9092: connection refused`)},
		named(emptyPlan(), "lab-south"),
	}}
}

// checkGolden compares got with testdata/name, rewriting it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-golden +got); run with -update if intended:\n%s", golden, d)
	}
}

var runRenderers = map[string]func(*bytes.Buffer, plans.Run) error{
	"txt":  func(b *bytes.Buffer, r plans.Run) error { return RenderRunText(b, r, RenderOptions{}) },
	"ansi": func(b *bytes.Buffer, r plans.Run) error { return RenderRunText(b, r, RenderOptions{Color: true}) },
	"json": func(b *bytes.Buffer, r plans.Run) error { return RenderRunJSON(b, r) },
	"md":   func(b *bytes.Buffer, r plans.Run) error { return RenderRunMarkdown(b, r) },
}

// TestRenderRunOneTargetIsThePlan: a one-target run prints exactly what a single plan printed
// before fleets: the goldens of TestRenderGolden, unchanged. Its JSON is the document plan --out
// saves, byte for byte.
func TestRenderRunOneTargetIsThePlan(t *testing.T) {
	samples := map[string]plans.Plan{"plan": samplePlan(), "empty": emptyPlan(), "objects": objectsPlan(), "deferred": deferredPlan()}
	for ext, render := range runRenderers {
		for name, p := range samples {
			t.Run(ext+"/"+name, func(t *testing.T) {
				var got bytes.Buffer
				if err := render(&got, plans.SingleRun(p)); err != nil {
					t.Fatal(err)
				}
				want, err := os.ReadFile(filepath.Join("testdata", name+"."+ext+".golden"))
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(string(want), got.String()); d != "" {
					t.Errorf("one-target run differs from the plan's golden (-golden +run):\n%s", d)
				}
			})
		}
	}
	var saved, shown bytes.Buffer
	if err := plans.WriteRun(&saved, plans.SingleRun(samplePlan())); err != nil {
		t.Fatal(err)
	}
	if err := RenderRunJSON(&shown, plans.SingleRun(samplePlan())); err != nil {
		t.Fatal(err)
	}
	if saved.String() != shown.String() {
		t.Error("plan -o json differs from the document plan --out saves")
	}
}

// TestRenderRunGolden: a fleet has one section per target, its plan or its error, and the fleet
// summary.
func TestRenderRunGolden(t *testing.T) {
	for ext, render := range runRenderers {
		t.Run(ext, func(t *testing.T) {
			var buf bytes.Buffer
			if err := render(&buf, fleetRun()); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "fleet."+ext+".golden", buf.Bytes())
		})
	}
}

// TestRenderRunSections: every target appears once, in order, with what decides its review.
func TestRenderRunSections(t *testing.T) {
	var text, md bytes.Buffer
	if err := RenderRunText(&text, fleetRun(), RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := RenderRunMarkdown(&md, fleetRun()); err != nil {
		t.Fatal(err)
	}
	const fleet = "Fleet: 4 targets, 2 with changes (2 to create, 4 to update, 1 to adopt, 1 to delete, 1 unsupported), 1 failed (lab-north)."
	for view, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
		last := -1
		for _, want := range []string{"lab-east", "lab-west", "lab-north", "lab-south"} {
			section := "Target " + want
			if view == "markdown" {
				section = "<b>" + want + "</b>"
			}
			i := strings.Index(out, section)
			if i < last || strings.Count(out, section) != 1 {
				t.Errorf("%s: target %s missing, repeated or out of order:\n%s", view, want, out)
			}
			last = i
		}
		for _, want := range []string{fleet, "connection refused", "apply needs --allow-data-loss"} {
			if view == "markdown" && strings.HasPrefix(want, "apply needs") {
				want = ":warning: 3 change(s) can lose data."
			}
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q:\n%s", view, want, out)
			}
		}
	}
	if n := strings.Count(md.String(), "<details"); n != 4 || strings.Count(md.String(), "</details>") != 4 {
		t.Errorf("markdown: %d collapsible blocks, want one per target:\n%s", n, md.String())
	}
	if !strings.HasSuffix(text.String(), fleet+"\n") {
		t.Errorf("text does not end with the fleet summary:\n%s", text.String())
	}
}

func TestFleetLine(t *testing.T) {
	down := errors.New("unreachable")
	tests := map[string]struct {
		run  plans.Run
		want string
	}{
		"in sync": {plans.Run{Targets: []plans.TargetPlan{named(emptyPlan(), "a"), named(emptyPlan(), "b")}},
			"Fleet: 2 targets, none with changes."},
		"one with changes": {plans.Run{Targets: []plans.TargetPlan{named(emptyPlan(), "a"), named(deferredPlan(), "b")}},
			"Fleet: 2 targets, 1 with changes (1 to create, 0 to update, 0 to delete)."},
		"all failed": {plans.Run{Targets: []plans.TargetPlan{{Target: "a", Err: down}, {Target: "b", Err: down}}},
			"Fleet: 2 targets, none with changes, 2 failed (a, b)."},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := fleetLine(tc.run); got != tc.want {
				t.Errorf("fleetLine = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRenderRunOneFailedTarget: a one-target run whose target could not be planned says so in
// every view (the JSON with its error, which plans.ReadRun refuses).
func TestRenderRunOneFailedTarget(t *testing.T) {
	run := plans.Run{Targets: []plans.TargetPlan{{Target: "lab", Err: errors.New("no broker answered")}}}
	for ext, render := range runRenderers {
		var buf bytes.Buffer
		if err := render(&buf, run); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "no broker answered") || !strings.Contains(buf.String(), "lab") {
			t.Errorf("%s view of a failed target:\n%s", ext, buf.String())
		}
		if ext == "json" {
			if _, err := plans.ReadRun(&buf); err == nil || !strings.Contains(err.Error(), "failed when planned") {
				t.Errorf("a document with a failed target read back: %v", err)
			}
		}
	}
}
