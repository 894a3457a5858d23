package reconcile_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// TestAccessChangeMakesSavedPlanStale: an ACL, a SCRAM credential or a quota changed on the
// cluster after `plan --out` makes the saved plan stale, even when the plan manages no access
// control itself (issue 20: no behavioural test covered the access part of the fingerprint, and
// removing it left every test green). Nothing of the plan is applied.
func TestAccessChangeMakesSavedPlanStale(t *testing.T) {
	tests := map[string]func(e *env) error{
		"acl created": func(e *env) error {
			_, err := e.admin.CreateACLs(e.ctx, []spec.ACLRule{{Principal: "User:intruder", Host: "*", Resource: "topic", Name: "eeg-brainwave-data",
				Pattern: "literal", Operation: "Read", Permission: "allow"}})
			return err
		},
		"credential created": func(e *env) error {
			_, err := e.admin.UpsertCredentials(e.ctx, []reconcile.CredentialUpsert{{Key: "intruder", User: "intruder",
				Mechanism: spec.MechanismSCRAM512, Iterations: 4096, Password: "Intruder-pw-1"}})
			return err
		},
		"quota set": func(e *env) error {
			_, err := e.admin.AlterQuotas(e.ctx, []reconcile.QuotaChange{{Key: "user=intruder", User: "intruder",
				Set: map[string]float64{plans.QuotaProducerByteRate: 1024}}})
			return err
		},
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			want := avatarSpec()
			var saved bytes.Buffer
			if err := reconcile.WritePlan(&saved, e.plan(want, reconcile.DiffOptions{})); err != nil {
				t.Fatal(err)
			}
			if err := change(e); err != nil {
				t.Fatal(err)
			}
			p, err := reconcile.ReadPlan(&saved)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.apply(p, want, reconcile.ApplyOptions{}); !errors.Is(err, reconcile.ErrStalePlan) {
				t.Fatalf("apply after %s: %v, want ErrStalePlan", name, err)
			}
			live, err := e.admin.Describe(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := live.Topics["eeg-brainwave-data"]; ok {
				t.Error("the stale plan was applied")
			}
		})
	}
}
