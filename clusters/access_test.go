package clusters

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// accessPasswords are the test users' passwords (and the admin's); no output may contain one.
var accessPasswords = map[string]string{
	"ADMIN_PASSWORD": "admin-Secret-0", "GUI5_PASSWORD": "gui5-Secret-1",
	"PREDICTION_PASSWORD": "prediction-Secret-2", "DRONE_PASSWORD": "drone-Secret-3",
}

func accessSecrets(env, _ string) (string, error) {
	if pw, ok := accessPasswords[env]; ok {
		return pw, nil
	}
	return "", errors.New(env + " is not set")
}

// avatarAccessSpec is the example's three services with SCRAM users, for a cluster that enforces
// SASL and ACLs. Every credential has Kafka's default 4096 iterations: kfake's SCRAM server always
// announces 4096, so a credential with more cannot log in to it (real brokers announce the stored
// count; the iteration update path is covered by the pure reconcile tests).
func avatarAccessSpec() *spec.Spec {
	s := testSpec()
	for _, name := range []string{"eeg-brainwave-data", "prediction-results", "drone-commands"} {
		s.Topics = append(s.Topics, spec.Topic{Name: name, Partitions: 3, ReplicationFactor: 3})
	}
	s.Users = []spec.User{
		{Name: "gui5", Mechanism: spec.MechanismSCRAM512, PasswordEnv: "GUI5_PASSWORD", Iterations: 4096},
		{Name: "prediction-service", Mechanism: spec.MechanismSCRAM512, PasswordEnv: "PREDICTION_PASSWORD", Iterations: 4096},
		{Name: "drone-controller", Mechanism: spec.MechanismSCRAM256, PasswordEnv: "DRONE_PASSWORD", Iterations: 4096},
	}
	s.Services = []spec.Service{
		{Name: "gui5", User: "gui5", Produces: []string{"eeg-brainwave-data"}},
		{Name: "prediction-service", User: "prediction-service", Consumes: []string{"eeg-brainwave-data"}, Groups: []string{"prediction"},
			Produces: []string{"prediction-results"}},
		{Name: "drone-controller", User: "drone-controller", Consumes: []string{"prediction-results"}, Groups: []string{"drone-controller"},
			Produces: []string{"drone-commands"}},
	}
	s.Quotas = []spec.Quota{{User: "gui5", ProducerByteRate: 1 << 20}}
	s.Clusters = []spec.Cluster{{Name: "embedded", Security: spec.SecuritySASLPlaintext,
		SASL: &spec.SASL{Mechanism: spec.MechanismSCRAM256, Username: "admin", PasswordEnv: "ADMIN_PASSWORD"}}}
	return s
}

// startSecured starts an in-memory cluster enforcing SASL SCRAM and ACLs with admin as its super
// user, and connects as admin.
func startSecured(t *testing.T, s *spec.Spec) (*Embedded, *Admin) {
	t.Helper()
	ctx := testCtx(t)
	e, err := StartEmbedded(ctx, s, EmbeddedOptions{Admin: &EmbeddedAdmin{Mechanism: spec.MechanismSCRAM256, User: "admin", Password: accessPasswords["ADMIN_PASSWORD"]}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	a, err := e.Connect(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return e, a
}

// applyAccess plans s against the cluster and applies it, failing the test unless it converges.
func applyAccess(t *testing.T, a *Admin, s *spec.Spec, allowDelete bool) plans.Plan {
	t.Helper()
	ctx := testCtx(t)
	pl := &reconcile.Planner{Target: reconcile.KafkaTarget("embedded", a), Secrets: accessSecrets}
	p, err := pl.Plan(ctx, s, reconcile.PlanOptions{AllowDelete: allowDelete})
	if err != nil {
		t.Fatal(err)
	}
	res, err := pl.Apply(ctx, p, reconcile.ApplyOptions{AllowDelete: allowDelete, Secrets: accessSecrets, PollInterval: 10 * time.Millisecond}, nil)
	if err != nil {
		t.Fatalf("apply: %v (residual %v)", err, res.Residual)
	}
	again, err := pl.Plan(ctx, s, reconcile.PlanOptions{AllowDelete: allowDelete})
	if err != nil {
		t.Fatal(err)
	}
	if again.HasChanges() {
		var hs []string
		for _, c := range again.AllChanges() {
			if c.Pending() {
				hs = append(hs, plans.Headline(c))
			}
		}
		t.Fatalf("a fresh plan after apply still has changes: %v", hs)
	}
	return p
}

// produceAs produces one record to topic as a SCRAM user with a client of its own (franz-go, not
// the sarama avatar-sync uses), and returns the broker's verdict.
func produceAs(t *testing.T, bootstrap []string, mechanism, user, password, topic string) error {
	t.Helper()
	auth := scram.Auth{User: user, Pass: password}
	m := auth.AsSha512Mechanism()
	if mechanism == spec.MechanismSCRAM256 {
		m = auth.AsSha256Mechanism()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...), kgo.SASL(m), kgo.RecordRetries(0), kgo.RequestRetries(1),
		kgo.ProducerLinger(0), kgo.UnknownTopicRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("sample")}).FirstErr()
}

// TestAccessAuthorization applies the Avatar services' users and ACLs to a cluster that enforces
// SASL and ACLs, then checks with a second, independent client that the broker lets gui5 do its
// job and nothing more: producing to eeg-brainwave-data is allowed, to drone-commands denied, and
// a wrong password is refused. Without the ACLs the allowed produce fails, without the deny
// semantics of the authorizer the other would pass: the check is the broker's, not ours.
func TestAccessAuthorization(t *testing.T) {
	s := avatarAccessSpec()
	e, a := startSecured(t, s)
	bootstrap := e.Bootstrap()

	// Before apply, gui5 does not even exist.
	if err := produceAs(t, bootstrap, spec.MechanismSCRAM512, "gui5", accessPasswords["GUI5_PASSWORD"], "eeg-brainwave-data"); err == nil {
		t.Fatal("gui5 produced before any user or ACL was applied")
	}

	p := applyAccess(t, a, s, false)
	var creates int
	for _, c := range p.AllChanges() {
		if c.Kind == plans.KindACL && c.Action == plans.Create {
			creates++
		}
	}
	if creates != len(spec.ExpandACLs(s)) || creates != 12 {
		t.Errorf("applied %d ACLs, the services expand to %d (want 12)", creates, len(spec.ExpandACLs(s)))
	}

	gui5 := accessPasswords["GUI5_PASSWORD"]
	if err := produceAs(t, bootstrap, spec.MechanismSCRAM512, "gui5", gui5, "eeg-brainwave-data"); err != nil {
		t.Errorf("gui5 → eeg-brainwave-data: %v, want allowed", err)
	}
	if err := produceAs(t, bootstrap, spec.MechanismSCRAM512, "gui5", gui5, "drone-commands"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("gui5 → drone-commands: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if err := produceAs(t, bootstrap, spec.MechanismSCRAM256, "drone-controller", accessPasswords["DRONE_PASSWORD"], "drone-commands"); err != nil {
		t.Errorf("drone-controller → drone-commands: %v, want allowed", err)
	}
	if err := produceAs(t, bootstrap, spec.MechanismSCRAM512, "gui5", "not-the-password", "eeg-brainwave-data"); err == nil {
		t.Error("gui5 with a wrong password produced")
	}

	// Rotating gui5's password in its reference is detected without reading it back: the old one
	// stops working, the new one works.
	defer func(old string) { accessPasswords["GUI5_PASSWORD"] = old }(gui5)
	accessPasswords["GUI5_PASSWORD"] = "gui5-Rotated-4"
	p = applyAccess(t, a, s, false)
	if got := pending(p); !slices.Equal(got, []string{"update user gui5 (SCRAM-SHA-512)"}) {
		t.Errorf("rotation plan: %v", got)
	}
	if err := produceAs(t, bootstrap, spec.MechanismSCRAM512, "gui5", gui5, "eeg-brainwave-data"); err == nil {
		t.Error("the old password still works after the rotation")
	}
	if err := produceAs(t, bootstrap, spec.MechanismSCRAM512, "gui5", "gui5-Rotated-4", "eeg-brainwave-data"); err != nil {
		t.Errorf("the rotated password: %v", err)
	}
}

// TestAccessRemovalAndQuotas: a removed service's ACLs are listed and kept without the opt-ins,
// deleted with deletion: prune and --allow-delete (after which the broker denies it); an ACL
// someone else made is never deleted; quota changes round-trip through the live cluster.
func TestAccessRemovalAndQuotas(t *testing.T) {
	s := avatarAccessSpec()
	e, a := startSecured(t, s)
	applyAccess(t, a, s, false)
	ctx := testCtx(t)
	foreign := spec.ACLRule{Principal: "User:ops", Host: "*", Resource: spec.ResourceTopic, Name: "drone-commands",
		Pattern: spec.PatternLiteral, Operation: "Read", Permission: spec.PermissionAllow}
	if out, err := a.CreateACLs(ctx, []spec.ACLRule{foreign}); err != nil || out[foreign.String()] != nil {
		t.Fatal(err, out)
	}

	s.Quotas[0].ProducerByteRate = 2 << 20
	s.Quotas[0].ConsumerByteRate = 512 << 10
	p := applyAccess(t, a, s, false)
	if got := pending(p); !slices.Equal(got, []string{"update quota user=gui5"}) {
		t.Errorf("quota plan: %v", got)
	}
	live, err := a.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if q := live.Access.Quotas; len(q) != 1 || q[0].Values[plans.QuotaProducerByteRate] != 2<<20 || q[0].Values[plans.QuotaConsumerByteRate] != 512<<10 {
		t.Errorf("live quotas %+v", q)
	}

	s.Services = s.Services[1:] // gui5's service is gone (its user stays)
	s.Deletion = spec.DeletionPrune
	pl := &reconcile.Planner{Target: reconcile.KafkaTarget("embedded", a), Secrets: accessSecrets}
	kept, err := pl.Plan(ctx, s, reconcile.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := reconcile.CheckAllowed(kept, reconcile.ApplyOptions{}); err != nil {
		t.Errorf("without --allow-delete nothing is deleted, so nothing is refused: %v", err)
	}
	var listed int
	for _, c := range kept.AllChanges() {
		if c.Kind == plans.KindACL && c.Action == plans.NoOp && c.ACL.Principal == "User:gui5" {
			listed++
		}
	}
	if listed != 2 {
		t.Errorf("%d of gui5's 2 ACLs listed", listed)
	}

	p = applyAccess(t, a, s, true)
	var deleted []string
	for _, c := range p.AllChanges() {
		if c.Action == plans.Delete {
			deleted = append(deleted, c.Name)
		}
		if c.Kind == plans.KindACL && c.ACL.Principal == "User:ops" && c.Action != plans.NoOp {
			t.Errorf("the foreign ACL: %s", plans.Headline(c))
		}
	}
	if len(deleted) != 2 {
		t.Errorf("deleted %v, want gui5's two ACLs", deleted)
	}
	if err := produceAs(t, e.Bootstrap(), spec.MechanismSCRAM512, "gui5", accessPasswords["GUI5_PASSWORD"], "eeg-brainwave-data"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("gui5 after its service was pruned: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	live, err = a.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(live.Access.ACLs, foreign) {
		t.Error("the ACL avatar-sync did not make was deleted")
	}
}

func pending(p plans.Plan) []string {
	var out []string
	for _, c := range p.AllChanges() {
		if c.Pending() {
			out = append(out, plans.Headline(c))
		}
	}
	return out
}

// TestAccessEmbeddedAdminOf: only a sasl_plaintext embedded target enforces, and its password
// comes from the reference.
func TestAccessEmbeddedAdminOf(t *testing.T) {
	t.Setenv("ADMIN_PASSWORD", accessPasswords["ADMIN_PASSWORD"])
	admin, err := EmbeddedAdminOf(avatarAccessSpec().Clusters[0])
	if err != nil || admin == nil || admin.User != "admin" || admin.Password != accessPasswords["ADMIN_PASSWORD"] {
		t.Errorf("EmbeddedAdminOf = %+v, %v", admin, err)
	}
	if admin, err := EmbeddedAdminOf(spec.Cluster{Name: "embedded"}); admin != nil || err != nil {
		t.Errorf("a plaintext target: %+v, %v", admin, err)
	}
	if _, err := StartEmbedded(testCtx(t), nil, EmbeddedOptions{Admin: &EmbeddedAdmin{Mechanism: "PLAIN", User: "a", Password: "b"}}); err == nil || !strings.Contains(err.Error(), "SCRAM") {
		t.Errorf("a PLAIN admin: %v", err)
	}
}

// TestAccessEmbeddedSASLOverTLS: dev up with tls.enabled and a sasl_plaintext embedded target serves
// SASL_SSL; the admin connects with TLS and SCRAM, and so does a remote `security: sasl_ssl` target
// naming the admin user (the "connect to SASL_SSL clusters with SCRAM as the admin user"),
// while a wrong password is refused.
func TestAccessEmbeddedSASLOverTLS(t *testing.T) {
	ctx := testCtx(t)
	caFile, serverTLS := testPKI(t, t.TempDir())
	e, err := StartEmbedded(ctx, testSpec(), EmbeddedOptions{TLS: serverTLS, CAFile: caFile,
		Admin: &EmbeddedAdmin{Mechanism: spec.MechanismSCRAM512, User: "admin", Password: accessPasswords["ADMIN_PASSWORD"]}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	a, err := e.Connect(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Describe(ctx); err != nil {
		t.Fatal(err)
	}

	t.Setenv("LAB_ADMIN_PASSWORD", accessPasswords["ADMIN_PASSWORD"])
	t.Setenv("LAB_WRONG_PASSWORD", "not-the-admin-password")
	target := func(env string) *spec.Spec {
		return &spec.Spec{Clusters: []spec.Cluster{{Name: "lab", Bootstrap: e.Bootstrap(), Security: spec.SecuritySASLSSL, CAFile: caFile,
			SASL: &spec.SASL{Mechanism: spec.MechanismSCRAM512, Username: "admin", PasswordEnv: env}}}}
	}
	remote, err := Open(ctx, target("LAB_ADMIN_PASSWORD"), "lab", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	if _, err := remote.Describe(ctx); err != nil {
		t.Fatalf("sasl_ssl target: %v", err)
	}
	if bad, err := Open(ctx, target("LAB_WRONG_PASSWORD"), "lab", Options{}); err == nil {
		bad.Close()
		t.Error("a wrong SCRAM password connected")
	}
}

// TestDescribeReadsEveryCredential: a SCRAM credential another client (franz-go's kadm) made for a
// user avatar-sync never heard of is read, with its mechanism and iterations — import writes it,
// and a plan of a spec naming that user must see it before the user is in the inventory (issue
// 15). Against kfake without the PATCHES.md change (an empty user list answered with none) it fails.
func TestDescribeReadsEveryCredential(t *testing.T) {
	e, a := startSecured(t, avatarAccessSpec())
	ctx := testCtx(t)
	auth := scram.Auth{User: "admin", Pass: accessPasswords["ADMIN_PASSWORD"]}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Bootstrap()...), kgo.SASL(auth.AsSha256Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	res, err := kadm.NewClient(cl).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "legacy-etl", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "legacy-Secret-9"}})
	if err != nil || res.Error() != nil {
		t.Fatalf("kadm: %v %v", err, res.Error())
	}
	live, err := a.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := plans.LiveCredential{User: "legacy-etl", Mechanism: spec.MechanismSCRAM512, Iterations: 8192}
	if !slices.Contains(live.Access.Credentials, want) {
		t.Errorf("credentials %+v lack %+v", live.Access.Credentials, want)
	}
}
