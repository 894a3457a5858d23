package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/avatar-project/avatar-sync/plans"
)

// pending is p's pending changes.
func pending(p plans.Plan) []plans.Change {
	var out []plans.Change
	for _, c := range p.AllChanges() {
		if c.Pending() {
			out = append(out, c)
		}
	}
	return out
}

// TestApplyProgressGolden: one line per change as apply runs, a wait's messages indented, the
// time each change took (a fixed clock here).
func TestApplyProgressGolden(t *testing.T) {
	changes := pending(samplePlan())
	objects := pending(objectsPlan())
	clock := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	now := func() time.Time { clock = clock.Add(1500 * time.Millisecond); return clock }
	var buf bytes.Buffer
	progress := applyProgress(&buf, now)
	n := len(changes)
	for _, ev := range []plans.Event{
		{Status: plans.Running, Message: "waiting up to 30s for the apply lock held by ops@lab (expires 01:00:30)"},
		{Index: 1, Total: n, Change: objects[0], Status: plans.Applied},
		{Index: 2, Total: n, Change: changes[0], Status: plans.Running},
		{Index: 2, Total: n, Change: changes[0], Status: plans.Applied},
		{Index: 3, Total: n, Change: changes[1], Status: plans.Running},
		{Index: 3, Total: n, Change: changes[1], Status: plans.Unknown, Err: errors.New("request timed out after 10s")},
		{Index: 4, Total: n, Change: changes[5], Status: plans.Running},
		{Message: "reassignment of replays: 1 of 2 partitions moved"},
		{Message: "waiting for the reassignment", Err: errors.New("broker 2 did not answer")},
		{Index: 4, Total: n, Change: changes[5], Status: plans.Failed, Err: errors.New("INVALID_REPLICA_ASSIGNMENT")},
	} {
		progress(ev)
	}
	checkGolden(t, "apply-progress.txt.golden", buf.Bytes())
}

// TestRenderApplyResultTextGolden: the end of an apply says what happened to each change that was
// not applied and proves convergence; a refused apply prints nothing (its error says why).
func TestRenderApplyResultTextGolden(t *testing.T) {
	c := pending(samplePlan())
	applied := func(cs ...plans.Change) []plans.ChangeResult {
		var out []plans.ChangeResult
		for _, c := range cs {
			out = append(out, plans.ChangeResult{Change: c, Status: plans.Applied})
		}
		return out
	}
	cases := []struct {
		name string
		res  plans.Result
		err  error
	}{
		{"converged", plans.Result{ClusterID: "test-cluster", Changes: applied(c[0], c[1]), Verified: true}, nil},
		{"incomplete", plans.Result{ClusterID: "test-cluster", Verified: true, Residual: c[3:5], Changes: append(applied(c[0]),
			plans.ChangeResult{Change: c[1], Status: plans.Unknown, Err: errors.New("timed out")},
			plans.ChangeResult{Change: c[3], Status: plans.Failed, Err: errors.New("POLICY_VIOLATION")},
			plans.ChangeResult{Change: c[4], Status: plans.NotAttempted})}, errors.New("apply stopped")},
		{"unverified", plans.Result{ClusterID: "test-cluster", Changes: applied(c[0])}, nil},
		{"refused", plans.Result{}, errors.New("apply needs --allow-data-loss")},
	}
	var buf bytes.Buffer
	for _, tc := range cases {
		fmt.Fprintf(&buf, "== %s ==\n", tc.name)
		if err := RenderApplyResultText(&buf, tc.res, tc.err); err != nil {
			t.Fatal(err)
		}
	}
	checkGolden(t, "apply-result.txt.golden", buf.Bytes())
	if strings.Contains(buf.String(), "== refused ==\nApply") {
		t.Errorf("a refused apply printed a result:\n%s", buf.String())
	}
}

// TestRenderDeferredTextGolden: what became of the topics a plan deferred.
func TestRenderDeferredTextGolden(t *testing.T) {
	inSync := emptyPlan()
	behind := samplePlan()
	var buf bytes.Buffer
	for _, tc := range []struct {
		name string
		res  plans.Result
	}{
		{"brokers still down", plans.Result{}},
		{"in sync", plans.Result{Continued: &inSync}},
		{"changes pending", plans.Result{Continued: &behind}},
	} {
		fmt.Fprintf(&buf, "== %s ==\n", tc.name)
		if err := RenderDeferredText(&buf, "microk8s", tc.res); err != nil {
			t.Fatal(err)
		}
	}
	checkGolden(t, "deferred-apply.txt.golden", buf.Bytes())
}

// fleetResult is a promotion that stopped at its second target: lab-east applied and converged,
// lab-west failed halfway, lab-south never reached.
func fleetResult() (plans.Run, []plans.Result, error) {
	run := plans.Run{Targets: []plans.TargetPlan{named(deferredPlan(), "lab-east"), named(samplePlan(), "lab-west"), named(objectsPlan(), "lab-south")}}
	east := pending(run.Targets[0].Plan)
	west := pending(run.Targets[1].Plan)
	continued := emptyPlan()
	results := []plans.Result{
		{ClusterID: "east-id", Verified: true, Changes: []plans.ChangeResult{{Change: east[0], Status: plans.Applied}}, Continued: &continued},
		{ClusterID: "test-cluster", Verified: true, Residual: west[1:2], Changes: []plans.ChangeResult{
			{Change: west[0], Status: plans.Applied},
			{Change: west[1], Status: plans.Failed, Err: errors.New("INVALID_PARTITIONS: Topic already has 6 partitions")},
			{Change: west[2], Status: plans.NotAttempted},
		}},
	}
	return run, results, errors.New(`target "lab-west": apply stopped: 1 applied, 1 failed, 0 unknown, 1 not attempted; fix the cause and run apply again to finish`)
}

func TestRenderRunResultJSONGolden(t *testing.T) {
	run, results, err := fleetResult()
	var buf bytes.Buffer
	if err := RenderRunResultJSON(&buf, run, results, err); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "apply-result.json.golden", buf.Bytes())
}

// applyDoc is what the tests read of the apply result document.
type applyDoc struct {
	FormatVersion int
	PlanDigest    string
	Targets       []struct {
		Target, ClusterID, State, Error        string
		Applied, Failed, Unknown, NotAttempted int
		Converged, HasChanges                  bool
		Summary                                *plans.Summary
		Changes                                []struct{ Name, Status string }
	}
	Summary   plans.RunSummary
	Converged bool
	Error     string
}

// TestRenderRunResultJSONStates: per target what is true after an apply: applied, failed (with
// the error), not attempted (every change not attempted), not planned; the whole run converged
// only when every target did.
func TestRenderRunResultJSONStates(t *testing.T) {
	run, results, applyErr := fleetResult()
	down := errors.New("no broker answered")
	withUnplanned := plans.Run{Targets: append([]plans.TargetPlan{{Target: "lab-north", Err: down}}, run.Targets...)}
	tests := map[string]struct {
		run       plans.Run
		results   []plans.Result
		err       error
		states    []string
		converged bool
	}{
		"stopped at the second":  {run, results, applyErr, []string{StateApplied, StateFailed, StateNotAttempted}, false},
		"all applied":            {plans.Run{Targets: run.Targets[:1]}, results[:1], nil, []string{StateApplied}, true},
		"refused before any":     {run, nil, errors.New(`target "lab-west": the plan is stale`), []string{StateNotAttempted, StateNotAttempted, StateNotAttempted}, false},
		"refused, one target":    {plans.Run{Targets: run.Targets[1:2]}, []plans.Result{{}}, errors.New("apply needs --allow-data-loss"), []string{StateFailed}, false},
		"a target not planned":   {withUnplanned, nil, nil, []string{StateNotPlanned, StateNotAttempted, StateNotAttempted, StateNotAttempted}, false},
		"no changes, unverified": {plans.Run{Targets: []plans.TargetPlan{named(emptyPlan(), "lab")}}, []plans.Result{{ClusterID: "test-cluster"}}, nil, []string{StateApplied}, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := RenderRunResultJSON(&buf, tc.run, tc.results, tc.err); err != nil {
				t.Fatal(err)
			}
			var doc applyDoc
			if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			var states []string
			for _, td := range doc.Targets {
				states = append(states, td.State)
				switch td.State {
				case StateNotAttempted:
					if td.NotAttempted != len(td.Changes) || td.Applied+td.Failed+td.Unknown != 0 || td.Converged {
						t.Errorf("target %s not attempted, yet %+v", td.Target, td)
					}
				case StateFailed, StateNotPlanned:
					if td.Error == "" {
						t.Errorf("target %s %s without its error", td.Target, td.State)
					}
				}
			}
			if d := cmp.Diff(tc.states, states); d != "" {
				t.Errorf("states (-want +got):\n%s", d)
			}
			if doc.Converged != tc.converged || (tc.err != nil) != (doc.Error != "") || doc.FormatVersion != plans.FormatVersion ||
				doc.PlanDigest != plans.DocumentOf(tc.run).Digest || doc.Summary != tc.run.Summary() {
				t.Errorf("document: %+v", doc)
			}
		})
	}
}

// TestAppliedTargetHeading: a fleet's apply heads each target's result with its name, and says
// "Nothing was changed" only when the target failed before its first change.
func TestAppliedTargetHeading(t *testing.T) {
	refused := errors.New("stale plan")
	ran := plans.Result{Changes: []plans.ChangeResult{{Status: plans.Applied}, {Status: plans.Failed}}}
	notRun := plans.Result{Changes: []plans.ChangeResult{{Status: plans.NotAttempted}}}
	for _, tc := range []struct {
		res     plans.Result
		err     error
		nothing bool
	}{{notRun, refused, true}, {ran, refused, false}, {ran, nil, false}, {plans.Result{}, nil, false}} {
		var b bytes.Buffer
		if err := RenderAppliedTarget(&b, "lab", tc.res, tc.err); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(b.String(), "\nTarget lab:\n") || strings.Contains(b.String(), "Nothing was changed on this target") != tc.nothing {
			t.Errorf("result %+v, error %v:\n%q", tc.res.Changes, tc.err, b.String())
		}
	}
	var b bytes.Buffer
	if err := RenderWaitingForBrokers(&b, "lab", 2*time.Minute); err != nil || !strings.Contains(b.String(), `Waiting up to 2m0s for the brokers of "lab" to answer`) {
		t.Errorf("waiting line %q, %v", b.String(), err)
	}
}
