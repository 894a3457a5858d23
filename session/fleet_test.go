package session

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/clusters/clustertest"
	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// fleetSpec starts two in-process 3-broker clusters and loads a spec whose targets "east" and
// "west" bootstrap from them and "gone" from a port nothing listens on.
func fleetSpec(t *testing.T) (east, west *clustertest.Cluster, sp *spec.Spec) {
	t.Helper()
	brokers := &spec.Spec{Brokers: []spec.Broker{{ID: 1}, {ID: 2}, {ID: 3}}}
	east, west = clustertest.StartFor(t, brokers), clustertest.StartFor(t, brokers)
	gone := clustertest.Unreachable(t)
	path := filepath.Join(t.TempDir(), "avatar.yaml")
	doc := fmt.Sprintf(`apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar, namespace: avatar }
brokers:
  - { id: 1, host: kafka-broker-1, ports: { plaintext: 9092 } }
  - { id: 2, host: kafka-broker-2, ports: { plaintext: 9093 } }
  - { id: 3, host: kafka-broker-3, ports: { plaintext: 9094 } }
topicDefaults: { partitions: 3, replicationFactor: 3 }
topics:
  - { name: eeg-brainwave-data, retention: 1h }
  - { name: drone-commands, retention: 24h }
clusters:
  east: { bootstrap: [%q] }
  west: { bootstrap: [%q] }
  gone: { bootstrap: [%q] }
`, east.Bootstrap()[0], west.Bootstrap()[0], gone)
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	sp, diags := spec.LoadFile(path)
	if diags.Err() != nil {
		t.Fatal(diags.Err())
	}
	return east, west, sp
}

func openTestFleet(t *testing.T, sp *spec.Spec, names ...string) *Fleet {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	specs := make([]*spec.Spec, len(names))
	for i := range names {
		specs[i] = sp
	}
	f := OpenFleet(ctx, specs, names, Options{Notice: func(string) {}})
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	})
	return f
}

func TestParseTargets(t *testing.T) {
	sp := &spec.Spec{File: "avatar.yaml", Clusters: []spec.Cluster{{Name: "dev", Bootstrap: []string{"a:1"}}, {Name: "lab", Bootstrap: []string{"b:1"}}}}
	for _, tc := range []struct {
		list    string
		want    []string
		wantErr string
	}{
		{"dev", []string{"dev"}, ""},
		{"dev,lab", []string{"dev", "lab"}, ""},
		{"lab, dev", []string{"lab", "dev"}, ""},
		{"embedded", []string{"embedded"}, ""},
		{"dev,lba", nil, `--cluster "lba" is not a target in avatar.yaml (targets: dev, lab, embedded); did you mean "lab"?`},
		{"dev,dev", nil, `--cluster "dev,dev" names target "dev" twice`},
		{"dev,,lab", nil, `--cluster "dev,,lab" has an empty target name`},
	} {
		got, err := ParseTargets(sp, tc.list)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseTargets(%q) = %v, %v; want error %q", tc.list, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("ParseTargets(%q) = %v, %v; want %v", tc.list, got, err, tc.want)
		}
	}
}

// TestFleetPlanUnreachableTarget: a target nothing answers for carries its error; the others'
// plans are complete, in the order given.
func TestFleetPlanUnreachableTarget(t *testing.T) {
	_, _, sp := fleetSpec(t)
	f := openTestFleet(t, sp, "gone", "east")
	run := f.Plan(t.Context(), reconcile.PlanOptions{})
	if len(run.Targets) != 2 || run.Targets[0].Target != "gone" || run.Targets[1].Target != "east" {
		t.Fatalf("run targets: %+v", run.Targets)
	}
	if err := run.Targets[0].Err; err == nil || !strings.Contains(err.Error(), "target gone:") {
		t.Errorf("gone: %v, want its connection error", err)
	}
	if tp := run.Targets[1]; tp.Err != nil || tp.Plan.Summary().Create != 2 {
		t.Errorf("east: %v, %+v; want a plan creating 2 topics", tp.Err, tp.Plan.Summary())
	}
	_, err := f.Apply(t.Context(), run, ApplyOptions{}, ApplyHooks{Confirm: func(context.Context, plans.Run) error {
		t.Error("a run with an unplanned target was confirmed")
		return nil
	}})
	if err == nil || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("Apply of a run with an unplanned target: %v", err)
	}
}

// TestFleetApplyOrderAndStop: the run is confirmed once before anything changes; targets are
// applied in the run's order; the first failure stops the run and the later targets' results are
// every change NotAttempted.
func TestFleetApplyOrderAndStop(t *testing.T) {
	east, _, sp := fleetSpec(t)
	remove, err := east.Fail(clustertest.Failure{API: clustertest.APICreateTopics, Topic: "drone-commands", Times: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer remove()
	f := openTestFleet(t, sp, "east", "west")
	run := f.Plan(t.Context(), reconcile.PlanOptions{})
	var mu sync.Mutex
	var events []string
	log := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	results, err := f.Apply(t.Context(), run, ApplyOptions{Apply: reconcile.ApplyOptions{LockWait: time.Second}}, ApplyHooks{
		Confirm: func(_ context.Context, r plans.Run) error {
			log(fmt.Sprintf("confirm %d", len(r.Targets)))
			return nil
		},
		Progress: func(target string) reconcile.Progress {
			return func(ev plans.Event) {
				if ev.Status == plans.Running {
					log("run " + target)
				}
			}
		},
		Applied: func(target string, _ plans.Plan, _ plans.Result, err error) {
			log(fmt.Sprintf("applied %s %v", target, err != nil))
		},
	})
	if !errors.Is(err, ErrNotAttempted) || !strings.Contains(err.Error(), "target east:") || !strings.Contains(err.Error(), "not attempted: west") {
		t.Errorf("Apply: %v", err)
	}
	if got := strings.Join(compact(events), ", "); got != "confirm 2, run east, applied east true" {
		t.Errorf("events: %s", got)
	}
	if len(results) != 1 {
		t.Fatalf("%d results, want east's only (west was not attempted): %+v", len(results), results)
	}
	if results[0].Count(plans.Failed) == 0 {
		t.Errorf("east's result has no failed change: %+v", results[0])
	}
	remove()
	// west is untouched: its plan still creates both topics.
	w := openTestFleet(t, sp, "west")
	if p := w.Plan(t.Context(), reconcile.PlanOptions{}).Targets[0]; p.Err != nil || p.Plan.Summary().Create != 2 {
		t.Errorf("west after the stopped run: %v %+v", p.Err, p.Plan.Summary())
	}
}

// compact drops repeated events (one "run" per change).
func compact(s []string) []string {
	var out []string
	for _, e := range s {
		if len(out) == 0 || out[len(out)-1] != e {
			out = append(out, e)
		}
	}
	return out
}

// TestFleetCheckSavedTargets: a saved run is checked for every target before any change: another
// order of targets is refused, and a target whose cluster moved on refuses the whole run.
func TestFleetCheckSavedTargets(t *testing.T) {
	_, _, sp := fleetSpec(t)
	f := openTestFleet(t, sp, "east", "west")
	run := f.Plan(t.Context(), reconcile.PlanOptions{})
	swapped := plans.Run{Targets: []plans.TargetPlan{run.Targets[1], run.Targets[0]}}
	if _, err := f.CheckSaved(t.Context(), swapped); err == nil || !strings.Contains(err.Error(), "the plan was computed for targets west,east, but --cluster is east,west") {
		t.Errorf("CheckSaved of another order: %v", err)
	}
	if _, err := f.CheckSaved(t.Context(), run); err != nil {
		t.Fatalf("CheckSaved of a fresh run: %v", err)
	}
	// west moves on: its topics are created by another apply.
	g := openTestFleet(t, sp, "west")
	if _, err := g.Targets[0].Planner().Apply(t.Context(), g.Plan(t.Context(), reconcile.PlanOptions{}).Targets[0].Plan, reconcile.ApplyOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	f2 := openTestFleet(t, sp, "east", "west")
	_, err := f2.CheckSaved(t.Context(), run)
	if err == nil || !strings.Contains(err.Error(), "no target was changed") || !strings.Contains(err.Error(), "target west:") || strings.Contains(err.Error(), "target east:") {
		t.Errorf("CheckSaved with west stale: %v", err)
	}
}

// TestFleetOptInsRefuseBeforeAnyChange: a fleet whose second target needs an opt-in is refused as
// a whole, before anyone is asked and before the first target changes; the refusal names that
// target and says what it needs once (issue 20: the opt-ins are checked once, by the fleet).
func TestFleetOptInsRefuseBeforeAnyChange(t *testing.T) {
	_, _, sp := fleetSpec(t)
	// west holds eeg-brainwave-data with a longer retention than the spec's: the plan lowers it.
	longer := *sp
	longer.Topics = slices.Clone(sp.Topics)
	longer.Topics[0].Config = maps.Clone(sp.Topics[0].Config)
	longer.Topics[0].Config["retention.ms"] = "7200000"
	w := openTestFleet(t, &longer, "west")
	if _, err := w.Apply(t.Context(), w.Plan(t.Context(), reconcile.PlanOptions{}), ApplyOptions{Apply: reconcile.ApplyOptions{AllowDataLoss: true}}, ApplyHooks{}); err != nil {
		t.Fatal(err)
	}

	f := openTestFleet(t, sp, "east", "west")
	run := f.Plan(t.Context(), reconcile.PlanOptions{})
	results, err := f.Apply(t.Context(), run, ApplyOptions{Apply: reconcile.ApplyOptions{LockWait: time.Second}}, ApplyHooks{
		Confirm: func(context.Context, plans.Run) error {
			t.Error("a run a target's opt-ins refuse was confirmed")
			return nil
		},
		Applied: func(target string, _ plans.Plan, _ plans.Result, _ error) { t.Errorf("target %s was applied", target) },
	})
	if !errors.Is(err, reconcile.ErrRefused) || !strings.Contains(err.Error(), "target west:") || strings.Contains(err.Error(), "target east:") ||
		strings.Count(err.Error(), "needs --allow-data-loss") != 1 {
		t.Errorf("Apply: %v; want west refused, --allow-data-loss said once", err)
	}
	if len(results) != 0 {
		t.Errorf("results %+v of a run refused before any change", results)
	}
	// east is untouched: its plan still creates both topics.
	e := openTestFleet(t, sp, "east")
	if p := e.Plan(t.Context(), reconcile.PlanOptions{}).Targets[0]; p.Err != nil || p.Plan.Summary().Create != 2 {
		t.Errorf("east after the refused run: %v %+v", p.Err, p.Plan.Summary())
	}
}

// TestFleetChecksOptInsOncePerTarget: an allowed fleet apply of two targets checks each target's
// opt-ins once — the fleet's check, whose token each target's apply is handed and uses instead
// of checking again (issue 20: CheckAllowed once; without the token, two checks per target).
func TestFleetChecksOptInsOncePerTarget(t *testing.T) {
	_, _, sp := fleetSpec(t)
	var mu sync.Mutex
	var tokens []*reconcile.Allowed
	check := allow
	allow = func(p plans.Plan, opts reconcile.ApplyOptions) (*reconcile.Allowed, error) {
		a, err := check(p, opts)
		mu.Lock()
		tokens = append(tokens, a)
		mu.Unlock()
		return a, err
	}
	t.Cleanup(func() { allow = check })

	f := openTestFleet(t, sp, "east", "west")
	run := f.Plan(t.Context(), reconcile.PlanOptions{})
	var applied []string
	results, err := f.Apply(t.Context(), run, ApplyOptions{Apply: reconcile.ApplyOptions{LockWait: time.Second}}, ApplyHooks{
		Applied: func(target string, _ plans.Plan, _ plans.Result, _ error) { applied = append(applied, target) },
	})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got := strings.Join(applied, ","); got != "east,west" || len(results) != 2 {
		t.Fatalf("applied %s with %d results, want east,west with 2", got, len(results))
	}
	if len(tokens) != 2 {
		t.Fatalf("the fleet checked the opt-ins %d times, want once per target (2)", len(tokens))
	}
	for i, a := range tokens {
		// Each check that is not spared by the token is a second check of that target's plan.
		if a == nil {
			t.Fatalf("target %s: the fleet's check gave no token", run.Targets[i].Target)
		}
		if a.Spared() != 1 {
			t.Errorf("target %s: its apply used the fleet's token %d times, want 1 (else it checked the opt-ins again: 2 checks)", run.Targets[i].Target, a.Spared())
		}
	}
}
