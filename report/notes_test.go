package report

import (
	"bytes"
	"errors"
	"testing"

	"github.com/avatar-project/avatar-sync/plans"
)

// TestRenderPlanOut: plan --out's line on stderr, saved or not; nothing without --out.
func TestRenderPlanOut(t *testing.T) {
	tests := map[string]struct {
		out  PlanOut
		want string
	}{
		"no --out": {PlanOut{Saved: true, ApplyLine: "avatar-sync apply --plan plan.json"}, ""},
		"saved": {PlanOut{Path: "plan.json", Saved: true, ApplyLine: "avatar-sync apply --plan plan.json --cluster dev,lab"},
			"Saved the plan to plan.json; apply exactly this plan with: avatar-sync apply --plan plan.json --cluster dev,lab\n"},
		"not saved": {PlanOut{Path: "plan.json"}, "The plan was not saved to plan.json: every target must be planned.\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := RenderPlanOut(&buf, tc.out); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tc.want {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestRenderAdvisoryNotes: apply -o json's advisories on stderr, one note per advisory of every
// target in the run's order; a target that was not planned has none; a failed write is returned.
func TestRenderAdvisoryNotes(t *testing.T) {
	cert := plans.Advisory{Subject: "certificate kafka-broker-1", Status: "expiring", Reason: "expires in 3 days: run avatar-sync certs renew"}
	topics := plans.Advisory{Subject: "topics", Status: "deferred", Reason: "the brokers did not answer"}
	tests := map[string]struct {
		run  plans.Run
		want string
	}{
		"none": {plans.Run{Targets: []plans.TargetPlan{{Target: "lab"}}}, ""},
		"fleet": {plans.Run{Targets: []plans.TargetPlan{
			{Target: "dev", Plan: plans.Plan{Advisories: []plans.Advisory{cert}}},
			{Target: "gone", Err: errors.New("connection refused")},
			{Target: "lab", Plan: plans.Plan{Advisories: []plans.Advisory{topics, cert}}},
		}}, "note: certificate kafka-broker-1: expires in 3 days: run avatar-sync certs renew\n" +
			"note: topics: the brokers did not answer\n" +
			"note: certificate kafka-broker-1: expires in 3 days: run avatar-sync certs renew\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := RenderAdvisoryNotes(&buf, tc.run); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tc.want {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
	if err := RenderAdvisoryNotes(failingWriter{}, plans.Run{Targets: []plans.TargetPlan{{Target: "lab", Plan: plans.Plan{Advisories: []plans.Advisory{cert}}}}}); err == nil {
		t.Error("a failed write was not returned")
	}
}

// failingWriter refuses every write, like a closed stderr.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("write refused") }
