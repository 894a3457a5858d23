package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
	"github.com/avatar-project/avatar-sync/topics"
)

// accessPlan has every access change a view shows: principals adopted, a credential created and
// one rotated, ACLs created, listed as unmanaged and deleted, a quota created and one updated.
func accessPlan(t *testing.T) plans.Plan {
	t.Helper()
	const pw = "Report-pw-4242"
	want := spec.Spec{Deletion: spec.DeletionPrune,
		Topics: []spec.Topic{topic("eeg-brainwave-data", 3, 3, nil), topic("drone-commands", 3, 3, nil)},
		Users: []spec.User{
			{Name: "gui5", Mechanism: spec.MechanismSCRAM512, PasswordEnv: "GUI5_PASSWORD", Iterations: 4096},
			{Name: "drone-controller", Mechanism: spec.MechanismSCRAM256, PasswordEnv: "DRONE_PASSWORD", Iterations: 4096},
		},
		Services: []spec.Service{{Name: "gui5", User: "gui5", Produces: []string{"eeg-brainwave-data"}}},
		Quotas:   []spec.Quota{{User: "gui5", ProducerByteRate: 2 << 20}, {User: "drone-controller", ConsumerByteRate: 1 << 20}},
	}
	have := live([]string{"eeg-brainwave-data", "drone-commands", "User:drone-controller", "scram:SCRAM-SHA-256:pbkdf2-sha256$4096$AAAAAAAAAAAAAAAAAAAAAA$old:drone-controller"},
		obs("eeg-brainwave-data", 3, 3, nil), obs("drone-commands", 3, 3, nil))
	have.Topics = map[string]topics.Observed{"eeg-brainwave-data": obs("eeg-brainwave-data", 3, 3, nil), "drone-commands": obs("drone-commands", 3, 3, nil)}
	have.Access = plans.LiveAccess{
		ACLs: []spec.ACLRule{
			{Principal: "User:drone-controller", Host: "*", Resource: "topic", Name: "drone-commands", Pattern: "literal", Operation: "Write", Permission: "allow"},
			{Principal: "User:ops", Host: "10.0.0.7", Resource: "topic", Name: "eeg-", Pattern: "prefixed", Operation: "Read", Permission: "deny"},
		},
		Credentials: []plans.LiveCredential{{User: "drone-controller", Mechanism: spec.MechanismSCRAM256, Iterations: 4096}},
		Quotas:      []plans.LiveQuota{{User: "gui5", Values: map[string]float64{plans.QuotaProducerByteRate: 1 << 20}}},
	}
	d := plans.DesiredOf(&want)
	if err := reconcile.FingerprintCredentials(d.Access, have.Inventory, func(string, string) (string, error) { return pw, nil },
		bytes.NewReader(make([]byte, 64))); err != nil {
		t.Fatal(err)
	}
	return reconcile.Diff(d, have, reconcile.DiffOptions{Cluster: "embedded", AllowDelete: true})
}

// TestRenderAccessGolden pins how plans show access control (issue 14): one line per ACL, users
// with their password only as (sensitive), quotas as before → after; the password is in no view.
func TestRenderAccessGolden(t *testing.T) {
	p := accessPlan(t)
	renderers := map[string]func(*bytes.Buffer) error{
		"txt":  func(b *bytes.Buffer) error { return RenderText(b, p, RenderOptions{}) },
		"md":   func(b *bytes.Buffer) error { return RenderMarkdown(b, p) },
		"json": func(b *bytes.Buffer) error { return RenderJSON(b, p) },
	}
	for ext, render := range renderers {
		t.Run(ext, func(t *testing.T) {
			var buf bytes.Buffer
			if err := render(&buf); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(buf.String(), "Report-pw-4242") {
				t.Fatalf("the password appears in the %s view", ext)
			}
			golden := filepath.Join("testdata", "access-plan."+ext+".golden")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./report -update)", err)
			}
			if d := cmp.Diff(string(want), buf.String()); d != "" {
				t.Errorf("%s differs (-golden +got); run with -update if intended:\n%s", golden, d)
			}
		})
	}
}

// TestDataLossWarningBesideAccessDeletions: a plan that lowers a retention and deletes an ACL
// still says "apply needs --allow-data-loss" (issue 20). The warning used to subtract every
// deletion, access ones included, from the data-loss count, and printed nothing.
func TestDataLossWarningBesideAccessDeletions(t *testing.T) {
	p := accessPlan(t)
	lowered := plans.Change{Kind: plans.KindConfig, Name: "eeg-brainwave-data", Action: plans.Update, Risk: plans.RiskDataLoss,
		Reason: "retention.ms lowered", Config: &plans.ConfigPayload{Keys: map[string]plans.ConfigEdit{"retention.ms": {Before: "604800000", After: "3600000"}}}}
	p.Parts[0].Changes = append([]plans.Change{lowered}, p.Parts[0].Changes...) // Diff's one part, the Kafka plane's
	accessDeletes := 0
	for _, c := range p.AllChanges() {
		if c.Action == plans.Delete && c.Kind != plans.KindTopic {
			accessDeletes++
		}
	}
	if accessDeletes == 0 {
		t.Fatal("the access plan deletes nothing; the test needs an ACL deletion")
	}
	var text, md bytes.Buffer
	if err := RenderText(&text, p, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1 change(s) can lose data: apply needs --allow-data-loss.", "ACL(s), credential(s) or quota(s) will be removed: apply needs --allow-delete."} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text plan lacks %q:\n%s", want, text.String())
		}
	}
	if strings.Contains(text.String(), "topic(s) and their records will be deleted") {
		t.Errorf("text plan calls an ACL a topic:\n%s", text.String())
	}
	if err := RenderMarkdown(&md, p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), ":warning: 1 change(s) can lose data.") {
		t.Errorf("markdown plan lacks the data-loss warning:\n%s", md.String())
	}
}
