package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

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
	code, stdout, stderr := runCLI(t, "plan", "-f", out, "--cluster", "lab", "-o", "json")
	if code != exitOK {
		t.Fatalf("plan exit %d: %s", code, stderr)
	}
	var plan struct {
		Changes []struct{ Kind, Name, Action string }
	}
	if err := json.Unmarshal([]byte(stdout), &plan); err != nil {
		t.Fatalf("plan json: %v\n%s", err, stdout)
	}
	adopted := map[string]bool{}
	for _, c := range plan.Changes {
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
