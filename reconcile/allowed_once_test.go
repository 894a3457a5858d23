package reconcile_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/reconcile"
)

// TestApplyChecksTheOptInsOnce: an apply checks a plan's opt-ins once (issue 20: `apply` used to
// check them in the fleet and again in Planner.Apply). A plan that needs --allow-data-loss is
// refused by one check, its message said once, before the lock; a plan the caller checked with
// Allow is applied without a second check; a token for other opt-ins is not trusted
// (TestAllowedCovers: nor one for another plan), and the plan is checked.
func TestApplyChecksTheOptInsOnce(t *testing.T) {
	e := newEnv(t)
	spy := &readSpy{Admin: e.admin}
	pl := &reconcile.Planner{Target: reconcile.KafkaTarget("embedded", spy)}
	p, err := pl.Plan(e.ctx, avatarSpec(), reconcile.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	opts := reconcile.ApplyOptions{PollInterval: 10 * time.Millisecond}
	if _, err := pl.Apply(e.ctx, p, opts, nil); err != nil {
		t.Fatal(err)
	}
	lowered := avatarSpec()
	lowered.Topics[0].Config["retention.ms"] = "60000"
	if p, err = pl.Plan(e.ctx, lowered, reconcile.PlanOptions{}); err != nil {
		t.Fatal(err)
	}

	checks := reconcile.CountAllowedChecks(t)
	spy.calls = nil
	_, err = pl.Apply(e.ctx, p, opts, nil)
	if !errors.Is(err, reconcile.ErrRefused) || strings.Count(err.Error(), "needs --allow-data-loss") != 1 {
		t.Fatalf("a data-loss plan without the opt-in: %v; want one refusal saying --allow-data-loss once", err)
	}
	if n := checks.Load(); n != 1 {
		t.Errorf("refused after %d opt-in checks, want 1", n)
	}
	if slices.Contains(spy.calls, "lease") {
		t.Errorf("calls %v: a refused plan took the lock", spy.calls)
	}

	// Checked by the caller (a fleet, before any target changes): not checked again. A token of
	// other opt-ins is not trusted: the plan is checked, and refused.
	if _, err := reconcile.Allow(p, opts); !errors.Is(err, reconcile.ErrRefused) {
		t.Fatalf("Allow without the opt-in: %v", err)
	}
	opts.AllowDataLoss = true
	allowed, err := reconcile.Allow(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	checks.Store(0)
	if _, err := pl.Apply(e.ctx, p, reconcile.ApplyOptions{PollInterval: opts.PollInterval, Allowed: allowed}, nil); !errors.Is(err, reconcile.ErrRefused) {
		t.Fatalf("a token of --allow-data-loss applied without it: %v", err)
	}
	if n := checks.Load(); n != 1 {
		t.Errorf("%d opt-in checks with a token of other opt-ins, want 1", n)
	}
	checks.Store(0)
	withToken := opts
	withToken.Allowed = allowed
	res, err := pl.Apply(e.ctx, p, withToken, nil)
	if err != nil || !res.Converged() {
		t.Fatalf("apply of the allowed plan: %v", err)
	}
	if n := checks.Load(); n != 0 {
		t.Errorf("the allowed plan was checked %d more time(s), want none", n)
	}
}
