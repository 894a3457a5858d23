package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

// environmentsSpec is issue 15's "done when": a one-broker laptop target and the three-broker
// MicroK8s target in the same file. The laptop is the embedded (default) target here, so tests
// can apply it in-process.
const environmentsSpec = `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar }
brokers:
  - { id: 1, host: kafka-broker-1, ports: { plaintext: 9092 } }
  - { id: 2, host: kafka-broker-2, ports: { plaintext: 9093 } }
  - { id: 3, host: kafka-broker-3, ports: { plaintext: 9094 } }
topicDefaults: { partitions: 3, replicationFactor: 3, config: { min.insync.replicas: 2 } }
topics:
  - { name: eeg-brainwave-data, retention: 1h }
  - { name: drone-commands, retention: 24h }
clusters:
  embedded:
    overrides:
      brokers: [{ id: 1, host: localhost, ports: { plaintext: 9092 } }]
      topicDefaults: { replicationFactor: 1, config: { min.insync.replicas: 1 } }
      topics: [{ name: eeg-brainwave-data, partitions: 1 }]
  microk8s: { bootstrap: [kafka-broker-1:9092] }
`

func writeEnvironments(t *testing.T, body string) (path, state string) {
	t.Helper()
	dir := t.TempDir()
	path = filepath.Join(dir, "avatar.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, filepath.Join(dir, "state")
}

// TestOverridesPlanApply: plan and apply use the target's merge: the one-broker laptop gets
// replication factor 1 (three would be unsupported there), and converges.
func TestOverridesPlanApply(t *testing.T) {
	path, state := writeEnvironments(t, environmentsSpec)
	code, out, stderr := runCLI(t, "plan", "-f", path, "--state-dir", state)
	if code != exitOK || !strings.Contains(out, "Plan: 2 to create, 0 to update, 0 to delete.") || !strings.Contains(out, "replication.factor:   1") {
		t.Fatalf("plan: exit %d\n%s%s", code, out, stderr)
	}
	if code, out, stderr := runCLI(t, "apply", "--auto-approve", "-f", path, "--state-dir", state); code != exitOK {
		t.Fatalf("apply: exit %d\n%s%s", code, out, stderr)
	}
	if code, out, stderr := runCLI(t, "plan", "--detailed-exitcode", "-f", path, "--state-dir", state); code != exitOK {
		t.Fatalf("plan after apply: exit %d\n%s%s", code, out, stderr)
	}
}

// TestValidateClusterOverrides: validate --cluster checks the target's merged spec with positions in the
// file; validate alone checks every target with overrides.
func TestValidateClusterOverrides(t *testing.T) {
	bad := strings.Replace(environmentsSpec, "topics: [{ name: eeg-brainwave-data, partitions: 1 }]",
		"topics: [{ name: eeg-brainwave-data, replicationFactor: 2 }]", 1)
	path, _ := writeEnvironments(t, bad)
	want := path + ":17:44: topics[0].replicationFactor 2 exceeds the 1 broker (target embedded)"
	for _, args := range [][]string{{"validate", "-f", path, "--cluster", "embedded"}, {"validate", "-f", path}} {
		code, _, stderr := runCLI(t, args...)
		if code != exitError || !strings.Contains(stderr, want) {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant %q", args, code, stderr, want)
		}
	}
	if code, out, stderr := runCLI(t, "validate", "-f", path, "--cluster", "microk8s"); code != exitOK {
		t.Errorf("microk8s has no overrides and is valid: exit %d %s%s", code, out, stderr)
	}
}

// TestConfigCluster: config --cluster prints the merged spec, which loads and holds the merge.
func TestConfigCluster(t *testing.T) {
	path, _ := writeEnvironments(t, environmentsSpec)
	code, out, stderr := runCLI(t, "config", "-f", path, "--cluster", "embedded")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	s, diags := spec.Parse("merged.yaml", []byte(out))
	if s == nil {
		t.Fatalf("printed spec is invalid: %v\n%s", diags, out)
	}
	if len(s.Brokers) != 1 || s.Topics[0].Partitions != 1 || s.Topics[0].ReplicationFactor != 1 || s.Topics[1].Config["min.insync.replicas"] != "1" {
		t.Errorf("merge not printed:\n%s", out)
	}
	if strings.Contains(out, "overrides:") || !strings.Contains(out, "clusters.embedded.overrides merged in") {
		t.Errorf("applied overrides still printed, or the header does not say what was merged:\n%s", out)
	}
	code, out, _ = runCLI(t, "config", "-f", path, "--cluster", "microk8s")
	if s, _ := spec.Parse("m.yaml", []byte(out)); code != exitOK || s == nil || len(s.Brokers) != 3 || s.Topics[0].ReplicationFactor != 3 {
		t.Errorf("microk8s: exit %d\n%s", code, out)
	}
	if code, _, stderr := runCLI(t, "config", "-f", path, "--cluster", "mikrok8s"); code != exitError || !strings.Contains(stderr, `did you mean "microk8s"`) {
		t.Errorf("unknown target: exit %d %s", code, stderr)
	}
}

// TestSpecDirectory: -f DIR merges the *.yaml files in it for every command; a topic declared in
// two files is refused naming both (issue 15).
func TestSpecDirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("00-cluster.yaml", "apiVersion: avatar-sync/v1\nkind: KafkaCluster\nmetadata: { name: avatar }\n"+
		"brokers: [{ id: 1, host: kafka-1, ports: { plaintext: 9092 } }]\ntopicDefaults: { partitions: 1, replicationFactor: 1 }\n")
	write("eeg.yaml", "topics:\n  - { name: eeg-raw, retention: 1h }\n")
	write("drones.yaml", "topics:\n  - { name: drone-commands }\n")
	state := filepath.Join(t.TempDir(), "state")
	if code, out, stderr := runCLI(t, "validate", "-f", dir); code != exitOK || !strings.Contains(out, "2 topics") {
		t.Fatalf("validate: exit %d %s%s", code, out, stderr)
	}
	if code, out, stderr := runCLI(t, "apply", "--auto-approve", "-f", dir, "--state-dir", state); code != exitOK {
		t.Fatalf("apply: exit %d %s%s", code, out, stderr)
	}
	if code, out, stderr := runCLI(t, "plan", "--detailed-exitcode", "-f", dir, "--state-dir", state); code != exitOK {
		t.Fatalf("plan: exit %d %s%s", code, out, stderr)
	}
	write("more.yaml", "topics:\n  - { name: eeg-raw }\n")
	code, _, stderr := runCLI(t, "validate", "-f", dir)
	want := filepath.Join(dir, "more.yaml") + `:2:13: topic "eeg-raw" is also declared in ` + filepath.Join(dir, "eeg.yaml") + ":2:13"
	if code != exitError || !strings.Contains(stderr, want) {
		t.Errorf("duplicate across files: exit %d\n%s\nwant %s", code, stderr, want)
	}
}

// TestRenderIgnoresDefaultTargetOverrides: the kustomize tree's base is the spec as written, not
// the one-broker laptop the default target's overrides describe; --cluster renders a target's merge.
func TestRenderIgnoresDefaultTargetOverrides(t *testing.T) {
	body := strings.Replace(environmentsSpec, "  microk8s: { bootstrap: [kafka-broker-1:9092] }",
		"  microk8s: { bootstrap: [kafka-broker-1:9092], kubernetes: { namespace: avatar } }", 1)
	path, _ := writeEnvironments(t, body)
	count := func(dir string) int {
		t.Helper()
		m, err := filepath.Glob(filepath.Join(dir, "base", "config", "*.properties"))
		if err != nil {
			t.Fatal(err)
		}
		return len(m)
	}
	out := filepath.Join(filepath.Dir(path), "deploy")
	if code, stdout, stderr := runCLI(t, "render", "-f", path, "-d", out); code != exitOK || count(out) != 3 {
		t.Fatalf("render: exit %d, %d brokers in base, want 3\n%s%s", code, count(out), stdout, stderr)
	}
	laptop := filepath.Join(filepath.Dir(path), "deploy-laptop")
	if code, stdout, stderr := runCLI(t, "render", "-f", path, "-d", laptop, "--cluster", "embedded"); code != exitOK || count(laptop) != 1 {
		t.Fatalf("render --cluster embedded: exit %d, %d brokers, want 1\n%s%s", code, count(laptop), stdout, stderr)
	}
}
