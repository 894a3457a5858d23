package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/clusters/clustertest"
	"github.com/avatar-project/avatar-sync/spec"
)

// scriptCluster is the lab's cluster as the old scripts left it: topics made by another client
// (franz-go's kadm, not avatar-sync), with odd configs in odd units, one per line of
// setup-topics.sh.
func scriptCluster(t *testing.T) *clustertest.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := clustertest.Start(ctx, nil, clusters.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Bootstrap()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name       string
		partitions int32
		rf         int16
		configs    map[string]*string
	}{
		{"eeg-raw", 6, 3, map[string]*string{
			"retention.ms":        str("5400000"),   // 1h30m
			"segment.bytes":       str("536870912"), // 512MiB
			"compression.type":    str("lz4"),
			"min.insync.replicas": str("2"),
		}},
		{"drone.commands", 3, 3, map[string]*string{
			"cleanup.policy":            str("delete,compact"), // Kafka's order, not ours
			"min.cleanable.dirty.ratio": str("0.25"),
			"delete.retention.ms":       str("90061001"), // 1d1h1m1s1ms
			"max.message.bytes":         str("1000000"),  // 1MB, decimal
		}},
		{"prediction_results", 3, 2, map[string]*string{
			"retention.ms":           str("-1"),
			"retention.bytes":        str("-1"), // equals Kafka's default, but set on the topic
			"message.timestamp.type": str("LogAppendTime"),
			"flush.messages":         str("9223372036854775807"),
		}},
		{"scratch", 1, 1, nil},
		{"_schemas", 1, 3, nil}, // Schema Registry's: internal, never imported
	} {
		resp, err := adm.CreateTopic(ctx, tc.partitions, tc.rf, tc.configs, tc.name)
		if err != nil || resp.Err != nil {
			t.Fatalf("kadm create %s: %v %v", tc.name, err, resp.Err)
		}
	}
	return e
}

// TestImportRoundTrip is issue 15's test: import a cluster made by another client, then plan the
// imported spec against the same cluster: nothing but adopting the topics into the inventory;
// after one apply the plan is empty (exit 0 with --detailed-exitcode).
func TestImportRoundTrip(t *testing.T) {
	e := scriptCluster(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "avatar.yaml")
	code, _, stderr := runCLI(t, "import", "--bootstrap", strings.Join(e.Bootstrap(), ","), "--out", out, "--name", "lab")
	if code != exitOK {
		t.Fatalf("import exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{"retention.ms: 1h30m", "segment.bytes: 512MiB", "cleanup.policy: compact,delete",
		"retention.ms: forever", "max.message.bytes: 1MB", "delete.retention.ms: 1d1h1m1s1ms", "lab:", "- name: scratch",
		"internal topics", "_schemas", "equals Kafka's default"} {
		if !strings.Contains(text, want) {
			t.Errorf("imported spec lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "- name: _schemas") || strings.Contains(text, "__consumer_offsets\n") {
		t.Errorf("an internal topic was imported:\n%s", text)
	}
	sp, diags := spec.Parse(out, data)
	if sp == nil {
		t.Fatalf("imported spec is invalid: %v", diags)
	}

	// Applied back to the same cluster: no change to any topic, only the adoption.
	adopted := map[string]bool{}
	for _, c := range planChanges(t, "-f", out, "--cluster", "lab") {
		if c.Kind != "inventory" {
			t.Errorf("plan of the imported spec changes %s %s (%s); want only adoptions", c.Kind, c.Name, c.Action)
			continue
		}
		adopted[c.Name] = true
	}
	for _, name := range []string{"eeg-raw", "drone.commands", "prediction_results", "scratch"} {
		if !adopted[name] {
			t.Errorf("topic %s is not adopted into the inventory by the first apply", name)
		}
	}
	if code, _, stderr := runCLI(t, "apply", "--auto-approve", "-f", out, "--cluster", "lab"); code != exitOK {
		t.Fatalf("apply exit %d: %s", code, stderr)
	}
	if code, stdout, stderr := runCLI(t, "plan", "--detailed-exitcode", "-f", out, "--cluster", "lab"); code != exitOK {
		t.Fatalf("plan after the adopting apply: exit %d, want 0 (empty)\n%s%s", code, stdout, stderr)
	}
}

// TestImportRefusesToOverwrite: an existing --out is kept unless --force (issue 15).
func TestImportRefusesToOverwrite(t *testing.T) {
	e := scriptCluster(t)
	out := filepath.Join(t.TempDir(), "avatar.yaml")
	if err := os.WriteFile(out, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	boot := strings.Join(e.Bootstrap(), ",")
	code, _, stderr := runCLI(t, "import", "--bootstrap", boot, "--out", out)
	if code != exitError || !strings.Contains(stderr, "never overwrites a file without --force") {
		t.Fatalf("exit %d, stderr %q; want a refusal", code, stderr)
	}
	if data, _ := os.ReadFile(out); string(data) != "mine\n" {
		t.Fatalf("the existing file was changed: %q", data)
	}
	if code, _, stderr := runCLI(t, "import", "--bootstrap", boot, "--out", out, "--force"); code != exitOK {
		t.Fatalf("--force: exit %d: %s", code, stderr)
	}
	if data, _ := os.ReadFile(out); !strings.HasPrefix(string(data), "# Imported by") {
		t.Fatalf("--force did not write the import: %q", data)
	}
}

// TestImportNeverWritesAnInvalidSpec: a spec validate would refuse is not written (here an
// invalid --name); the error says what is wrong.
func TestImportNeverWritesAnInvalidSpec(t *testing.T) {
	e := scriptCluster(t)
	out := filepath.Join(t.TempDir(), "avatar.yaml")
	code, _, stderr := runCLI(t, "import", "--bootstrap", strings.Join(e.Bootstrap(), ","), "--out", out, "--name", "Lab_1")
	if code != exitError || !strings.Contains(stderr, "metadata.name") || !strings.Contains(stderr, "nothing was written") {
		t.Errorf("exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("an invalid spec was written: %v", err)
	}
}

// TestImportTopicsFilter: --topics narrows the import, and the comment names what it left out.
func TestImportTopicsFilter(t *testing.T) {
	e := scriptCluster(t)
	code, stdout, stderr := runCLI(t, "import", "--bootstrap", strings.Join(e.Bootstrap(), ","), "--topics", `^(eeg|drone)\.?`)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sp, diags := spec.Parse("imported.yaml", []byte(stdout))
	if sp == nil {
		t.Fatalf("invalid: %v\n%s", diags, stdout)
	}
	var names []string
	for _, tp := range sp.Topics {
		names = append(names, tp.Name)
	}
	if strings.Join(names, ",") != "drone.commands,eeg-raw" {
		t.Errorf("imported topics %v, want drone.commands, eeg-raw", names)
	}
	if !strings.Contains(stdout, "not matching --topics") || !strings.Contains(stdout, "prediction_results, scratch") {
		t.Errorf("the output does not say which topics --topics left out:\n%s", stdout)
	}
}

// TestImportNeedsOneSource: --bootstrap and --cluster are exclusive, and one is needed.
func TestImportNeedsOneSource(t *testing.T) {
	for _, args := range [][]string{{"import"}, {"import", "--bootstrap", "x:1", "--cluster", "lab"}} {
		if code, _, stderr := runCLI(t, args...); code != exitError || !strings.Contains(stderr, "--bootstrap HOST:PORT") {
			t.Errorf("%v: exit %d, %q", args, code, stderr)
		}
	}
	if code, _, stderr := runCLI(t, "import", "--bootstrap", "x:1", "--topics", "(eeg"); code != exitError || !strings.Contains(stderr, "--topics \"(eeg\" is not a regular expression") {
		t.Errorf("bad --topics: exit %d, %q", code, stderr)
	}
}

// TestExplainCommand: explain prints one key, lists all, and refuses an unknown key with a hint.
func TestExplainCommand(t *testing.T) {
	code, out, _ := runCLI(t, "explain", "segment.bytes")
	if code != exitOK || !strings.Contains(out, "1073741824 (1GiB)") || !strings.Contains(out, "512KiB") {
		t.Errorf("explain segment.bytes: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "explain")
	if code != exitOK || strings.Count(out, "\n") != len(spec.TopicConfigs()) {
		t.Errorf("explain lists %d lines, want one per key (%d)", strings.Count(out, "\n"), len(spec.TopicConfigs()))
	}
	code, _, stderr := runCLI(t, "explain", "log.retention.hours")
	if code != exitError || !strings.Contains(stderr, "retention.ms") {
		t.Errorf("unknown key: exit %d, %q", code, stderr)
	}
	code, out, _ = runCLI(t, "explain", "cleanup.policy", "-o", "json")
	var e spec.Explanation
	if code != exitOK || json.Unmarshal([]byte(out), &e) != nil || e.Allowed != "compact, delete" {
		t.Errorf("json: exit %d %q", code, out)
	}
}

// TestImportFromTarget: --cluster NAME reads through a target of an existing spec, keeps its
// connection settings and the spec's metadata.name, and the result plans only adoptions.
func TestImportFromTarget(t *testing.T) {
	e := scriptCluster(t)
	dir := t.TempDir()
	old := filepath.Join(dir, "old.yaml")
	body := "apiVersion: avatar-sync/v1\nkind: KafkaCluster\nmetadata: { name: avatar }\n" +
		"brokers: [{ id: 1, host: kafka-1, ports: { plaintext: 9092 } }]\n" +
		"clusters:\n  lab: { bootstrap: [" + strings.Join(e.Bootstrap(), ", ") + "] }\n"
	if err := os.WriteFile(old, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out", "avatar.yaml")
	if err := os.Mkdir(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "import", "--cluster", "lab", "-f", old, "--out", out); code != exitOK {
		t.Fatalf("import: exit %d: %s", code, stderr)
	}
	data, _ := os.ReadFile(out)
	s, diags := spec.Parse(out, data)
	if s == nil {
		t.Fatalf("invalid: %v", diags)
	}
	lab, ok := s.FindCluster("lab")
	if s.Metadata.Name != "avatar" || !ok || strings.Join(lab.Bootstrap, ",") != strings.Join(e.Bootstrap(), ",") || len(s.Topics) != 4 {
		t.Errorf("imported spec: name %q, target %+v, %d topics\n%s", s.Metadata.Name, lab, len(s.Topics), data)
	}
	code, stdout, stderr := runCLI(t, "plan", "-f", out, "--cluster", "lab", "-o", "json")
	if code != exitOK || strings.Count(stdout, `"kind": "inventory"`) != 4 || strings.Contains(stdout, `"kind": "config"`) || strings.Contains(stdout, `"kind": "topic"`) {
		t.Errorf("plan: exit %d\n%s%s", code, stdout, stderr)
	}
}

// scriptAccessPasswords are the passwords of the secured script cluster's users; no imported file
// or output may contain one.
var scriptAccessPasswords = map[string]string{"admin": "Admin-pw-4410", "gui5": "Gui5-pw-2291",
	"prediction-service": "Prediction-pw-6617", "drone-controller": "Drone-pw-8853"}

// scriptAccessCluster is a cluster that enforces SASL SCRAM and ACLs, whose topics, SCRAM users,
// ACLs and quotas were all made by another client (franz-go's kadm as the admin), as a lab's
// hand-written scripts would, plus the old spec whose target reaches it as the admin.
func scriptAccessCluster(t *testing.T) (e *clustertest.Cluster, oldSpec string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := clustertest.Start(ctx, nil, clusters.EmbeddedOptions{Admin: &clusters.EmbeddedAdmin{
		Mechanism: spec.MechanismSCRAM256, User: "admin", Password: scriptAccessPasswords["admin"]}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	auth := scram.Auth{User: "admin", Pass: scriptAccessPasswords["admin"]}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Bootstrap()...), kgo.SASL(auth.AsSha256Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, name := range []string{"eeg-brainwave-data", "prediction-results", "drone-commands", "scratch"} {
		if resp, err := adm.CreateTopic(ctx, 3, 1, nil, name); err != nil || resp.Err != nil {
			t.Fatalf("kadm create %s: %v %v", name, err, resp.Err)
		}
	}
	up, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "gui5", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: scriptAccessPasswords["gui5"]},
		{User: "prediction-service", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: scriptAccessPasswords["prediction-service"]},
		{User: "drone-controller", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: scriptAccessPasswords["drone-controller"]},
	})
	if err != nil || up.Error() != nil {
		t.Fatalf("kadm users: %v %v", err, up.Error())
	}
	for _, b := range []*kadm.ACLBuilder{
		kadm.NewACLs().Allow("User:gui5").AllowHosts("*").Topics("eeg-brainwave-data").Operations(kadm.OpWrite, kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral),
		kadm.NewACLs().Allow("User:prediction-service").AllowHosts("*").Topics("eeg-brainwave-data").Operations(kadm.OpRead, kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral),
		kadm.NewACLs().Allow("User:prediction-service").AllowHosts("*").Groups("prediction").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral),
		kadm.NewACLs().Allow("User:drone-controller").AllowHosts("*").Topics("drone-").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternPrefixed),
		kadm.NewACLs().Deny("User:gui5").DenyHosts("*").Topics("drone-commands").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral),
		kadm.NewACLs().Allow("User:ops").AllowHosts("10.0.0.7").Topics("scratch").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral),
	} {
		res, err := adm.CreateACLs(ctx, b)
		if err != nil {
			t.Fatalf("kadm ACLs: %v", err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("kadm ACL %+v: %v", r, r.Err)
			}
		}
	}
	name := func(s string) *string { return &s }
	qs, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{
		{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: name("gui5")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1 << 20}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: name("eeg-dashboard")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "consumer_byte_rate", Value: 5e6}, {Key: "request_percentage", Value: 25}}},
	})
	if err != nil {
		t.Fatalf("kadm quotas: %v", err)
	}
	for _, q := range qs {
		if q.Err != nil {
			t.Fatalf("kadm quota %v: %v", q.Entity, q.Err)
		}
	}

	t.Setenv("LAB_ADMIN_PASSWORD", scriptAccessPasswords["admin"])
	oldSpec = filepath.Join(t.TempDir(), "old.yaml")
	body := "apiVersion: avatar-sync/v1\nkind: KafkaCluster\nmetadata: { name: avatar }\n" +
		"brokers: [{ id: 1, host: kafka-1, ports: { plaintext: 9092 } }]\n" +
		"clusters:\n  lab: { bootstrap: [" + strings.Join(e.Bootstrap(), ", ") + "], security: sasl_plaintext,\n" +
		"         sasl: { mechanism: SCRAM-SHA-256, username: admin, passwordEnv: LAB_ADMIN_PASSWORD } }\n"
	if err := os.WriteFile(oldSpec, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return e, oldSpec
}

// plannedChange is what these tests read of a change in plan -o json.
type plannedChange struct{ Kind, Name, Action string }

// planChanges runs plan -o json with args and returns its changes; any exit but 0 fails the test.
func planChanges(t *testing.T, args ...string) []plannedChange {
	t.Helper()
	code, stdout, stderr := runCLI(t, append([]string{"plan", "-o", "json"}, args...)...)
	if code != exitOK {
		t.Fatalf("plan exit %d: %s", code, stderr)
	}
	var plan struct {
		Targets []struct {
			Parts []struct{ Changes []plannedChange } // one per plane (formatVersion 5)
		}
	}
	if err := json.Unmarshal([]byte(stdout), &plan); err != nil || len(plan.Targets) != 1 {
		t.Fatalf("plan json: %v\n%s", err, stdout)
	}
	var changes []plannedChange
	for _, part := range plan.Targets[0].Parts {
		changes = append(changes, part.Changes...)
	}
	return changes
}

// pendingChanges runs plan -o json and returns "kind action name" of every change that is not a
// no-op.
func pendingChanges(t *testing.T, args ...string) []string {
	t.Helper()
	var out []string
	for _, c := range planChanges(t, args...) {
		if c.Action != "no-op" {
			out = append(out, c.Kind+" "+c.Action+" "+c.Name)
		}
	}
	return out
}

// TestImportAccessRoundTrip is issue 15's round trip with access control: a cluster enforcing SASL
// and ACLs whose users, ACLs and quotas another client made is imported through a SASL target;
// the file declares them without any password (and never the admin), and the plan of it against
// the same cluster changes nothing but adopting topics and principals; after that apply the plan
// is empty (exit 0 with --detailed-exitcode). No test password appears in the file or any output.
func TestImportAccessRoundTrip(t *testing.T) {
	e, old := scriptAccessCluster(t)
	out := filepath.Join(filepath.Dir(old), "avatar.yaml")
	var seen strings.Builder
	code, stdout, stderr := runCLI(t, "import", "--cluster", "lab", "-f", old, "--out", out)
	seen.WriteString(stdout + stderr)
	if code != exitOK {
		t.Fatalf("import exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "3 users (no passwords)") {
		t.Errorf("import summary: %q", stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	sp, diags := spec.Parse(out, data)
	if sp == nil || len(diags.Errors()) > 0 {
		t.Fatalf("imported spec is invalid: %v\n%s", diags, text)
	}
	var users []string
	for _, u := range sp.Users {
		users = append(users, fmt.Sprintf("%s %s %d %q%q", u.Name, u.Mechanism, u.Iterations, u.PasswordEnv, u.PasswordFile))
	}
	want := []string{`drone-controller SCRAM-SHA-256 4096 """"`, `gui5 SCRAM-SHA-512 4096 """"`, `prediction-service SCRAM-SHA-512 8192 """"`}
	if diff := cmp.Diff(want, users); diff != "" {
		t.Errorf("users (-want +got):\n%s\n%s", diff, text)
	}
	var rules []string
	for _, r := range spec.ExpandACLs(sp) {
		rules = append(rules, r.String())
	}
	wantRules := []string{
		"User:drone-controller allow Write on topic drone-*",
		"User:gui5 deny Write on topic drone-commands",
		"User:gui5 allow Describe on topic eeg-brainwave-data",
		"User:gui5 allow Write on topic eeg-brainwave-data",
		"User:ops allow Read on topic scratch from 10.0.0.7",
		"User:prediction-service allow Read on group prediction",
		"User:prediction-service allow Describe on topic eeg-brainwave-data",
		"User:prediction-service allow Read on topic eeg-brainwave-data",
	}
	if diff := cmp.Diff(wantRules, rules); diff != "" {
		t.Errorf("ACLs (-want +got):\n%s", diff)
	}
	var services []string
	for _, svc := range sp.Services {
		services = append(services, fmt.Sprintf("%s produces %v consumes %v groups %v", svc.Name, svc.Produces, svc.Consumes, svc.Groups))
	}
	wantServices := []string{"gui5 produces [eeg-brainwave-data] consumes [] groups []",
		"prediction-service produces [] consumes [eeg-brainwave-data] groups [prediction]"}
	if diff := cmp.Diff(wantServices, services); diff != "" {
		t.Errorf("recognised services (-want +got):\n%s", diff)
	}
	for _, w := range []string{"producerByteRate: 1MiB", "consumerByteRate: 5MB", "requestPercentage: 25", "admin, the user avatar-sync connects as", "add passwordEnv"} {
		if !strings.Contains(text, w) {
			t.Errorf("imported file lacks %q:\n%s", w, text)
		}
	}

	// Applied back: only adoptions of topics and principals, no user, ACL or quota change.
	pending := pendingChanges(t, "-f", out, "--cluster", "lab")
	for _, c := range pending {
		if !strings.HasPrefix(c, "inventory update ") {
			t.Errorf("the imported spec plans %s", c)
		}
	}
	for _, w := range []string{"inventory update User:gui5", "inventory update User:ops", "inventory update eeg-brainwave-data"} {
		if !slices.Contains(pending, w) {
			t.Errorf("plan lacks %q: %v", w, pending)
		}
	}
	code, stdout, stderr = runCLI(t, "apply", "--auto-approve", "-f", out, "--cluster", "lab")
	seen.WriteString(stdout + stderr)
	if code != exitOK {
		t.Fatalf("apply exit %d: %s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "plan", "--detailed-exitcode", "-f", out, "--cluster", "lab")
	seen.WriteString(stdout + stderr)
	if code != exitOK {
		t.Fatalf("plan after the adopting apply: exit %d, want 0 (empty)\n%s%s", code, stdout, stderr)
	}
	// The users' passwords were never touched: each still logs in with the one kadm set.
	gui5 := scram.Auth{User: "gui5", Pass: scriptAccessPasswords["gui5"]}
	pcl, err := kgo.NewClient(kgo.SeedBrokers(e.Bootstrap()...), kgo.SASL(gui5.AsSha512Mechanism()), kgo.RecordRetries(0), kgo.RequestRetries(1))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := pcl.ProduceSync(ctx, &kgo.Record{Topic: "eeg-brainwave-data", Value: []byte("sample")}).FirstErr(); err != nil {
		t.Errorf("gui5 with the password kadm set, producing as its imported ACLs allow: %v", err)
	}
	outputs := seen.String() + text
	for user, pw := range scriptAccessPasswords {
		if strings.Contains(outputs, pw) {
			t.Errorf("the password of %s appears in the imported file or an output", user)
		}
	}
}

// TestImportedUserMissingIsAPlanError: an imported user (no password reference) that no longer
// exists on the cluster cannot be created — avatar-sync has no password for it — so plan fails
// with the entry's position in the file and says to add passwordEnv or passwordFile.
func TestImportedUserMissingIsAPlanError(t *testing.T) {
	e, old := scriptAccessCluster(t)
	out := filepath.Join(filepath.Dir(old), "avatar.yaml")
	if code, _, stderr := runCLI(t, "import", "--cluster", "lab", "-f", old, "--out", out); code != exitOK {
		t.Fatalf("import exit %d: %s", code, stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	auth := scram.Auth{User: "admin", Pass: scriptAccessPasswords["admin"]}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Bootstrap()...), kgo.SASL(auth.AsSha256Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	del, err := kadm.NewClient(cl).AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "gui5", Mechanism: kadm.ScramSha512}}, nil)
	if err != nil || del.Error() != nil {
		t.Fatalf("kadm delete: %v %v", err, del.Error())
	}
	data, _ := os.ReadFile(out)
	line := 0
	for i, l := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(l) == "- name: gui5" && line == 0 { // users: comes before services:
			line = i + 1
		}
	}
	code, stdout, stderr := runCLI(t, "plan", "-f", out, "--cluster", "lab")
	wantPrefix := fmt.Sprintf("%s:%d:5: users[1] gui5 (SCRAM-SHA-512) does not exist on cluster \"lab\"", out, line)
	if code != exitError || line == 0 || !strings.Contains(stderr, wantPrefix) || !strings.Contains(stderr, "passwordEnv or passwordFile") {
		t.Errorf("plan: exit %d, want an error at %s\n%s%s", code, wantPrefix, stdout, stderr)
	}
}
