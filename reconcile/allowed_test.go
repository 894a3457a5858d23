package reconcile

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/plans"
)

func TestCheckAllowed(t *testing.T) {
	lower := plans.Change{Kind: plans.KindConfig, Name: "a", Action: plans.Update, Risk: plans.RiskDataLoss, Reason: "retention.ms lowered"}
	del := plans.Change{Kind: plans.KindTopic, Name: "old", Action: plans.Delete, Risk: plans.RiskDataLoss}
	shrink := plans.Change{Kind: plans.KindPartitions, Name: "b", Action: plans.Unsupported, Risk: plans.RiskUnsupported, Reason: "recreate it"}
	safe := plans.Change{Kind: plans.KindConfig, Name: "c", Action: plans.Update}
	drift := plans.Change{Kind: plans.KindConfig, Name: "d", Action: plans.NoOp, Risk: plans.RiskDataLoss}
	tests := map[string]struct {
		changes []plans.Change
		opts    ApplyOptions
		want    []string // substrings of the error; nil = allowed
	}{
		"safe change":                 {[]plans.Change{safe, drift}, ApplyOptions{}, nil},
		"data loss needs opt-in":      {[]plans.Change{lower}, ApplyOptions{}, []string{"update topic a config can lose data (retention.ms lowered): it needs --allow-data-loss"}},
		"data loss with opt-in":       {[]plans.Change{lower}, ApplyOptions{AllowDataLoss: true}, nil},
		"delete needs --allow-delete": {[]plans.Change{del}, ApplyOptions{AllowDataLoss: true}, []string{"delete topic old needs --allow-delete"}},
		"delete with opt-in":          {[]plans.Change{del}, ApplyOptions{AllowDelete: true}, nil},
		"unsupported never":           {[]plans.Change{shrink}, ApplyOptions{AllowDataLoss: true, AllowDelete: true, Force: true}, []string{"unsupported topic b partitions: recreate it"}},
		"every problem reported":      {[]plans.Change{lower, del, shrink}, ApplyOptions{}, []string{"--allow-data-loss", "--allow-delete", "recreate it"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := CheckAllowed(plans.Plan{Parts: []plans.Part{kafkaPart("x", tc.changes...)}, ManagedTopics: 10}, tc.opts)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("error %v is not ErrRefused", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestConfigPayloadToRequest(t *testing.T) {
	cc := configChange(plans.Change{Name: "t", Config: &plans.ConfigPayload{Keys: map[string]plans.ConfigEdit{
		"a": {Before: "1", After: "2"}, "gone": {Before: "x", Delete: true}, "new": {After: "3"}}}})
	if cc.Topic != "t" || cc.Set["a"] != "2" || cc.Set["new"] != "3" || len(cc.Set) != 2 || len(cc.Delete) != 1 || cc.Delete[0] != "gone" {
		t.Errorf("configChange: %+v", cc)
	}
}

// TestMassDeleteGuard: a plan deleting every managed topic, or more than half of them (and more
// than one), needs AllowMassDelete (issue 10).
func TestMassDeleteGuard(t *testing.T) {
	del := func(n int) []plans.Change {
		var cs []plans.Change
		for i := range n {
			cs = append(cs, plans.Change{Kind: plans.KindTopic, Name: fmt.Sprintf("t%d", i), Action: plans.Delete, Risk: plans.RiskDataLoss, Topic: &plans.TopicPayload{}})
		}
		return cs
	}
	tests := map[string]struct {
		deletes, managed int
		massive          bool
	}{
		"one of ten":        {1, 10, false},
		"half":              {5, 10, false},
		"more than half":    {6, 10, true},
		"every one":         {3, 3, true},
		"the only one":      {1, 1, true},
		"one of two":        {1, 2, false},
		"two of three":      {2, 3, true},
		"nothing to delete": {0, 0, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := plans.Plan{ManagedTopics: tc.managed, Parts: []plans.Part{kafkaPart("x", del(tc.deletes)...)}}
			if got := IsMassDelete(p); got != tc.massive {
				t.Fatalf("IsMassDelete = %v, want %v", got, tc.massive)
			}
			err := CheckAllowed(p, ApplyOptions{AllowDelete: true})
			if tc.massive != (err != nil && strings.Contains(err.Error(), "--allow-mass-delete")) {
				t.Errorf("CheckAllowed without --allow-mass-delete: %v", err)
			}
			if err := CheckAllowed(p, ApplyOptions{AllowDelete: true, AllowMassDelete: true}); err != nil {
				t.Errorf("CheckAllowed with --allow-mass-delete: %v", err)
			}
		})
	}
}

// TestAllowedCovers: Allow's token spares Planner.Apply a second check only for the plan it was
// made for (its changes, not a copy of them) under the same opt-ins.
func TestAllowedCovers(t *testing.T) {
	lower := plans.Change{Kind: plans.KindConfig, Name: "a", Action: plans.Update, Risk: plans.RiskDataLoss, Reason: "retention.ms lowered"}
	p := plans.Plan{Parts: []plans.Part{kafkaPart("x", lower)}, ManagedTopics: 3}
	opts := ApplyOptions{AllowDataLoss: true}
	tok, err := Allow(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	copied := p
	copied.Parts = []plans.Part{kafkaPart("x", lower)}
	moreManaged := p
	moreManaged.ManagedTopics = 4
	for name, tc := range map[string]struct {
		tok  *Allowed
		p    plans.Plan
		opts ApplyOptions
		want bool
	}{
		"its plan and opt-ins":       {tok, p, opts, true},
		"other limits, same opt-ins": {tok, p, ApplyOptions{AllowDataLoss: true, Force: true, LockWait: time.Second}, true},
		"no token":                   {nil, p, opts, false},
		"other opt-ins":              {tok, p, ApplyOptions{AllowDataLoss: true, AllowDelete: true}, false},
		"a copy of the plan":         {tok, copied, opts, false},
		"other managed topics":       {tok, moreManaged, opts, false},
	} {
		if got := tc.tok.covers(tc.p, tc.opts); got != tc.want {
			t.Errorf("%s: covers = %v, want %v", name, got, tc.want)
		}
	}
}

// TestNotAttempted: a refused or stopped apply lists every pending change of the plan, in order,
// not attempted, and nothing for drift it does not change (no-op) or a plan without changes.
func TestNotAttempted(t *testing.T) {
	update := plans.Change{Kind: plans.KindConfig, Name: "a", Action: plans.Update}
	drift := plans.Change{Kind: plans.KindConfig, Name: "b", Action: plans.NoOp}
	create := plans.Change{Kind: plans.KindTopic, Name: "c", Action: plans.Create}
	got := NotAttempted(plans.Plan{Parts: []plans.Part{kafkaPart("x", update, drift, create)}})
	if len(got) != 2 || got[0].Change.Name != "a" || got[1].Change.Name != "c" || got[0].Status != plans.NotAttempted || got[1].Status != plans.NotAttempted {
		t.Errorf("NotAttempted = %+v, want a and c not attempted", got)
	}
	if got := NotAttempted(plans.Plan{Parts: []plans.Part{kafkaPart("x", drift)}}); got != nil {
		t.Errorf("NotAttempted of drift only = %+v, want nil", got)
	}
}
