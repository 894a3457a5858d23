package reconcile

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
)

// testPasswords are the passwords the tests' users have; no output may ever contain one.
var testPasswords = map[string]string{"GUI5_PASSWORD": "gui5-Secret-pw", "DRONE_PASSWORD": "drone-Secret-pw"}

func testSecrets(env, _ string) (string, error) {
	if pw, ok := testPasswords[env]; ok {
		return pw, nil
	}
	return "", errors.New(env + " is not set")
}

func zeroSalt() io.Reader { return bytes.NewReader(make([]byte, 1<<10)) }

// accessSpec is the three Avatar services with SCRAM users (the integration tests use the same).
func accessSpec() *spec.Spec {
	return &spec.Spec{Deletion: spec.DeletionRetain,
		Topics: []spec.Topic{topic("eeg", 1, 1, nil), topic("cmds", 1, 1, nil)},
		Users: []spec.User{
			{Name: "gui5", Mechanism: spec.MechanismSCRAM512, PasswordEnv: "GUI5_PASSWORD", Iterations: 8192},
			{Name: "drone", Mechanism: spec.MechanismSCRAM256, PasswordEnv: "DRONE_PASSWORD", Iterations: 8192},
		},
		Services: []spec.Service{
			{Name: "gui5", User: "gui5", Produces: []string{"eeg"}},
			{Name: "drone", User: "drone", Consumes: []string{"eeg"}, Groups: []string{"drone"}, Produces: []string{"cmds"}},
		},
		Quotas: []spec.Quota{{User: "gui5", ProducerByteRate: 1 << 20}},
	}
}

// desiredAccess snapshots s with fingerprints against have.
func desiredAccess(t *testing.T, s *spec.Spec, have plans.Live) plans.Desired {
	t.Helper()
	d := plans.DesiredOf(s)
	if err := FingerprintCredentials(d.Access, have.Inventory, testSecrets, zeroSalt()); err != nil {
		t.Fatal(err)
	}
	return d
}

// converged is the live state after applying d: every ACL, credential (with its fingerprint
// record), quota and principal in place.
func converged(d plans.Desired, have plans.Live) plans.Live {
	have.Inventory = append(have.Inventory, d.Access.Principals...)
	have.Access.ACLs = append(have.Access.ACLs, d.Access.ACLs...)
	for _, u := range d.Access.Users {
		have.Access.Credentials = append(have.Access.Credentials, plans.LiveCredential{User: u.Name, Mechanism: u.Mechanism, Iterations: u.Iterations})
		have.Inventory = append(have.Inventory, plans.ScramRecord(u.Name, u.Mechanism, u.Fingerprint))
	}
	for _, q := range d.Access.Quotas {
		have.Access.Quotas = append(have.Access.Quotas, plans.LiveQuota(q))
	}
	return have
}

func headlines(p plans.Plan) []string {
	var out []string
	for _, c := range p.AllChanges() {
		out = append(out, plans.Headline(c))
	}
	return out
}

// TestAccessDiffFresh: a cluster without access gets principals adopted, users created before
// the ACLs that name them, ACLs and the quota; applying that leaves nothing to do.
func TestAccessDiffFresh(t *testing.T) {
	have := live(obs("eeg", 1, 1, nil), obs("cmds", 1, 1, nil))
	have.Inventory = []string{"eeg", "cmds"}
	d := desiredAccess(t, accessSpec(), have)
	p := Diff(d, have, DiffOptions{})
	want := []string{
		"adopt principal User:drone into the inventory",
		"adopt principal User:gui5 into the inventory",
		"create user drone (SCRAM-SHA-256)",
		"create user gui5 (SCRAM-SHA-512)",
		"create acl User:drone allow Describe on topic cmds",
		"create acl User:drone allow Describe on topic eeg",
		"create acl User:drone allow Read on group drone",
		"create acl User:drone allow Read on topic eeg",
		"create acl User:drone allow Write on topic cmds",
		"create acl User:gui5 allow Describe on topic eeg",
		"create acl User:gui5 allow Write on topic eeg",
		"create quota user=gui5",
	}
	if diff := cmp.Diff(want, headlines(p)); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	if err := Verify(p, have); err != nil {
		t.Errorf("Verify of a fresh plan: %v", err)
	}
	after := converged(d, have)
	again := Diff(desiredAccess(t, accessSpec(), after), after, DiffOptions{})
	if again.HasChanges() {
		t.Errorf("converged cluster still has changes: %v", headlines(again))
	}
}

// TestAccessDiffPasswords: a password change in the reference is detected without reading it back,
// shown as an update, and the plan holds only a salted fingerprint; a credential set outside
// avatar-sync (no record) is set again; the admin's own credential is never touched.
func TestAccessDiffPasswords(t *testing.T) {
	s := accessSpec()
	have := live(obs("eeg", 1, 1, nil), obs("cmds", 1, 1, nil))
	after := converged(desiredAccess(t, s, have), have)

	defer func(old string) { testPasswords["GUI5_PASSWORD"] = old }(testPasswords["GUI5_PASSWORD"])
	testPasswords["GUI5_PASSWORD"] = "gui5-Rotated-pw"
	p := Diff(desiredAccess(t, s, after), after, DiffOptions{})
	if diff := cmp.Diff([]string{"update user gui5 (SCRAM-SHA-512)"}, pendingHeadlines(p)); diff != "" {
		t.Fatalf("rotation plan (-want +got):\n%s", diff)
	}
	c := p.AllChanges()[changeIndex(p, "update user gui5 (SCRAM-SHA-512)")]
	if !strings.HasPrefix(c.User.Fingerprint, "pbkdf2-sha256$4096$") || len(c.User.Replaces) != 1 {
		t.Errorf("payload = %+v, want a fresh fingerprint replacing the old record", c.User)
	}
	if !fingerprintMatches(c.User.Fingerprint, "gui5-Rotated-pw") || fingerprintMatches(c.User.Fingerprint, "gui5-Secret-pw") {
		t.Errorf("the fingerprint does not identify the new password")
	}

	outside := after
	outside.Inventory = []string{"eeg", "cmds", "User:gui5", "User:drone"} // credentials exist, no fingerprint recorded
	p = Diff(desiredAccess(t, s, outside), outside, DiffOptions{})
	if diff := cmp.Diff([]string{"update user drone (SCRAM-SHA-256)", "update user gui5 (SCRAM-SHA-512)"}, pendingHeadlines(p)); diff != "" {
		t.Errorf("credentials without a record (-want +got):\n%s", diff)
	}
	for _, c := range p.AllChanges() {
		if c.Kind == plans.KindUser && !strings.Contains(c.Reason, "set outside avatar-sync") {
			t.Errorf("%s: reason %q", plans.Headline(c), c.Reason)
		}
	}

	d := desiredAccess(t, s, outside)
	d.Access.Admin = "gui5"
	p = Diff(d, outside, DiffOptions{})
	if i := changeIndex(p, "unsupported user gui5 (SCRAM-SHA-512)"); i < 0 {
		t.Errorf("the admin's credential would be changed: %v", headlines(p))
	}
}

// TestAccessDiffRemoval: a removed service's ACLs are listed, and deleted only with deletion: prune
// and --allow-delete; ACLs of a principal avatar-sync never managed are never deleted; the admin's
// credential is never deleted; Verify refuses a plan edited to delete unmanaged access.
func TestAccessDiffRemoval(t *testing.T) {
	s := accessSpec()
	have := live(obs("eeg", 1, 1, nil), obs("cmds", 1, 1, nil))
	after := converged(desiredAccess(t, s, have), have)
	foreign := spec.ACLRule{Principal: "User:ops", Host: "*", Resource: "topic", Name: "eeg", Pattern: "literal", Operation: "Read", Permission: "allow"}
	after.Access.ACLs = append(after.Access.ACLs, foreign)

	s.Services = s.Services[:1] // the drone service is gone; its user stays
	for name, tc := range map[string]struct {
		deletion    string
		allowDelete bool
		want        plans.Action
	}{
		"retain":                    {spec.DeletionRetain, true, plans.NoOp},
		"prune without the flag":    {spec.DeletionPrune, false, plans.NoOp},
		"prune with --allow-delete": {spec.DeletionPrune, true, plans.Delete},
	} {
		t.Run(name, func(t *testing.T) {
			s.Deletion = tc.deletion
			p := Diff(desiredAccess(t, s, after), after, DiffOptions{AllowDelete: tc.allowDelete})
			var drone, ops int
			for _, c := range p.AllChanges() {
				switch {
				case c.Kind == plans.KindACL && c.ACL.Principal == "User:drone":
					drone++
					if c.Action != tc.want {
						t.Errorf("%s: %s, want %s", c.Name, c.Action, tc.want)
					}
				case c.Kind == plans.KindACL && c.ACL.Principal == "User:ops":
					ops++
					if c.Action != plans.NoOp || !strings.HasPrefix(c.Reason, "unmanaged") {
						t.Errorf("foreign ACL: %s (%s)", c.Action, c.Reason)
					}
				}
			}
			if drone != 5 || ops != 1 {
				t.Errorf("listed %d drone and %d foreign ACLs, want 5 and 1", drone, ops)
			}
			if err := Verify(p, after); err != nil {
				t.Errorf("Verify: %v", err)
			}
			if tc.want == plans.Delete {
				if IsMassDelete(p) {
					t.Errorf("access deletions counted as a mass delete of topics")
				}
				edited := p
				edited.Parts = []plans.Part{kafkaPart(p.Part(plans.PlaneKafka).Fingerprint, append(slicesClone(p.AllChanges()), plans.Change{Kind: plans.KindACL, Name: foreign.String(), Action: plans.Delete, ACL: &plans.ACLPayload{ACLRule: foreign}})...)}
				if err := Verify(edited, after); err == nil || !strings.Contains(err.Error(), "not in avatar-sync's inventory") {
					t.Errorf("Verify of a plan deleting an unmanaged ACL: %v", err)
				}
			}
		})
	}

	s.Users = s.Users[:1] // drone's user leaves too, and it is the admin
	s.Deletion = spec.DeletionPrune
	d := desiredAccess(t, s, after)
	d.Access.Admin = "drone"
	p := Diff(d, after, DiffOptions{AllowDelete: true})
	i := changeIndex(p, "keep user drone (SCRAM-SHA-256)")
	if i < 0 || !strings.Contains(p.AllChanges()[i].Reason, "connects as") {
		t.Errorf("the admin's credential: %v", headlines(p))
	}
}

// TestAccessDiffQuotasAndAuthorizer: a quota change is an update with before and after; a cluster
// without an authorizer makes every ACL unsupported, and apply refuses the plan.
func TestAccessDiffQuotasAndAuthorizer(t *testing.T) {
	s := accessSpec()
	have := live(obs("eeg", 1, 1, nil), obs("cmds", 1, 1, nil))
	after := converged(desiredAccess(t, s, have), have)
	s.Quotas[0].ProducerByteRate = 2 << 20
	s.Quotas[0].RequestPercentage = 50
	p := Diff(desiredAccess(t, s, after), after, DiffOptions{})
	if diff := cmp.Diff([]string{"update quota user=gui5"}, pendingHeadlines(p)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	q := p.AllChanges()[changeIndex(p, "update quota user=gui5")].Quota
	if q.Before[plans.QuotaProducerByteRate] != 1<<20 || q.After[plans.QuotaProducerByteRate] != 2<<20 || q.After[plans.QuotaRequestPercentage] != 50 {
		t.Errorf("quota payload %+v", q)
	}

	have.Access.NoAuthorizer = true
	p = Diff(desiredAccess(t, accessSpec(), have), have, DiffOptions{})
	if n := p.Summary().Unsupported; n != 7 {
		t.Errorf("%d unsupported changes, want the 7 ACLs: %v", n, headlines(p))
	}
	if err := CheckAllowed(p, ApplyOptions{}); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "no authorizer") {
		t.Errorf("CheckAllowed: %v", err)
	}
}

func pendingHeadlines(p plans.Plan) []string {
	var out []string
	for _, c := range p.AllChanges() {
		if c.Pending() {
			out = append(out, plans.Headline(c))
		}
	}
	return out
}

func changeIndex(p plans.Plan, headline string) int {
	for i, c := range p.AllChanges() {
		if plans.Headline(c) == headline {
			return i
		}
	}
	return -1
}

func slicesClone(cs []plans.Change) []plans.Change { return append([]plans.Change(nil), cs...) }

// TestAccessUndeclaredLeavesClusterAlone: a spec without users, services, acls or quotas manages no
// access control: even with deletion: prune and --allow-delete, the cluster's ACLs, credentials and
// quotas — avatar-sync's own included — are neither listed nor deleted (removing the whole section
// must not wipe access).
func TestAccessUndeclaredLeavesClusterAlone(t *testing.T) {
	have := live(obs("eeg", 1, 1, nil), obs("cmds", 1, 1, nil))
	after := converged(desiredAccess(t, accessSpec(), have), have)
	bare := accessSpec()
	bare.Users, bare.Services, bare.Quotas = nil, nil, nil
	bare.Deletion = spec.DeletionPrune
	p := Diff(plans.DesiredOf(bare), after, DiffOptions{AllowDelete: true})
	for _, c := range p.AllChanges() {
		if plans.IsAccess(c.Kind) {
			t.Errorf("access change without access in the spec: %s", plans.Headline(c))
		}
	}
}

// TestAccessDiffUnreferencedUsers: a SCRAM user without a password reference (what import writes,
// issue 15) plans nothing while it exists with its mechanism and iterations, never reads a
// password, is never created, never has its credential replaced, and is never deleted (avatar-sync
// did not set it); giving it a reference hands the password over to avatar-sync.
func TestAccessDiffUnreferencedUsers(t *testing.T) {
	noSecrets := func(env, file string) (string, error) {
		t.Errorf("a password was read (%q %q) for a user without a reference", env, file)
		return "", errors.New("no")
	}
	legacy := spec.User{Name: "legacy", Mechanism: spec.MechanismSCRAM512, Iterations: 8192, Pos: spec.Pos{File: "avatar.yaml", Line: 7, Col: 5}}
	cred := plans.LiveCredential{User: "legacy", Mechanism: spec.MechanismSCRAM512, Iterations: 8192}
	oldRecord := plans.ScramRecord("legacy", spec.MechanismSCRAM512, PasswordFingerprint("earlier", make([]byte, 16)))
	tests := map[string]struct {
		user     spec.User
		creds    []plans.LiveCredential
		records  []string
		deletion string
		want     []string // pending headlines
		reason   string   // in the one pending change's reason
	}{
		"exists: nothing to do": {user: legacy, creds: []plans.LiveCredential{cred}},
		"exists, avatar-sync set it once: its record is left alone": {user: legacy, creds: []plans.LiveCredential{cred}, records: []string{oldRecord}},
		"exists with other iterations: needs the password": {user: legacy, creds: []plans.LiveCredential{{User: "legacy", Mechanism: spec.MechanismSCRAM512, Iterations: 4096}},
			want: []string{"unsupported user legacy (SCRAM-SHA-512)"}, reason: "needs the password"},
		"exists with the other mechanism only: cannot be created": {user: legacy, creds: []plans.LiveCredential{{User: "legacy", Mechanism: spec.MechanismSCRAM256, Iterations: 8192}},
			want: []string{"unsupported user legacy (SCRAM-SHA-512)"}, reason: "add passwordEnv or passwordFile"},
		"missing: cannot be created": {user: legacy,
			want: []string{"unsupported user legacy (SCRAM-SHA-512)"}, reason: "does not exist on the cluster"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := &spec.Spec{Deletion: spec.DeletionPrune, Users: []spec.User{tc.user}}
			have := live()
			have.Inventory = append([]string{"User:legacy"}, tc.records...)
			have.Access.Credentials = tc.creds
			d := plans.DesiredOf(s)
			if err := FingerprintCredentials(d.Access, have.Inventory, noSecrets, zeroSalt()); err != nil {
				t.Fatal(err)
			}
			p := Diff(d, have, DiffOptions{AllowDelete: true})
			if diff := cmp.Diff(tc.want, pendingHeadlines(p)); diff != "" {
				t.Fatalf("pending (-want +got):\n%s", diff)
			}
			for _, c := range p.AllChanges() {
				if c.Pending() && !strings.Contains(c.Reason, tc.reason) {
					t.Errorf("%s: reason %q lacks %q", plans.Headline(c), c.Reason, tc.reason)
				}
				if c.User != nil && len(c.User.Replaces) > 0 && c.Pending() {
					t.Errorf("%s would drop records %v", plans.Headline(c), c.User.Replaces)
				}
			}
			err := uncreatableUsers(s, have, "lab")
			exists := slices.ContainsFunc(tc.creds, func(c plans.LiveCredential) bool { return c.Mechanism == tc.user.Mechanism })
			switch {
			case exists && err != nil:
				t.Errorf("uncreatableUsers: %v, want nil", err)
			case !exists && (err == nil || !strings.HasPrefix(err.Error(), `avatar.yaml:7:5: users[0] legacy (SCRAM-SHA-512) does not exist on cluster "lab"`) ||
				!strings.Contains(err.Error(), "add one")):
				t.Errorf("uncreatableUsers: %v, want the positioned error", err)
			}
		})
	}

	// Left out of the spec, with deletion: prune and --allow-delete: avatar-sync never set it, so it
	// is listed and kept.
	have := live()
	have.Inventory = []string{"User:legacy", "User:gui5"}
	have.Access.Credentials = []plans.LiveCredential{cred}
	s := &spec.Spec{Deletion: spec.DeletionPrune, Users: []spec.User{{Name: "gui5", Mechanism: spec.MechanismSCRAM512, Iterations: 4096}}}
	have.Access.Credentials = append(have.Access.Credentials, plans.LiveCredential{User: "gui5", Mechanism: spec.MechanismSCRAM512, Iterations: 4096})
	d := plans.DesiredOf(s)
	if err := FingerprintCredentials(d.Access, have.Inventory, noSecrets, zeroSalt()); err != nil {
		t.Fatal(err)
	}
	if p := Diff(d, have, DiffOptions{AllowDelete: true}); len(pendingHeadlines(p)) > 0 {
		t.Errorf("an unreferenced credential avatar-sync never set would change: %v", pendingHeadlines(p))
	}

	// Handing the password over: a reference on an existing user sets it once and records it.
	s.Users[0].PasswordEnv = "GUI5_PASSWORD"
	p := Diff(desiredAccess(t, s, have), have, DiffOptions{})
	if diff := cmp.Diff([]string{"update user gui5 (SCRAM-SHA-512)"}, pendingHeadlines(p)); diff != "" {
		t.Errorf("adding passwordEnv (-want +got):\n%s", diff)
	}
}
