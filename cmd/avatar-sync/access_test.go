package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// accessSpecYAML declares the Avatar services with SCRAM users on an embedded target that enforces
// SASL SCRAM and ACLs, its admin password from $AVATAR_ADMIN_PASSWORD (issue 14).
const accessSpecYAML = `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar }
brokers:
  - { id: 1, host: kafka-broker-1, ports: { plaintext: 9092 } }
topicDefaults: { partitions: 1, replicationFactor: 1 }
topics:
  - { name: eeg-brainwave-data }
  - { name: prediction-results }
  - { name: drone-commands }
users:
  - { name: gui5, mechanism: SCRAM-SHA-512, passwordEnv: AVATAR_GUI5_PASSWORD }
  - { name: prediction-service, mechanism: SCRAM-SHA-512, passwordFile: secrets/prediction }
  - { name: drone-controller, mechanism: SCRAM-SHA-256, passwordEnv: AVATAR_DRONE_PASSWORD }
services:
  - { name: gui5, user: gui5, produces: [eeg-brainwave-data] }
  - { name: prediction-service, user: prediction-service, consumes: [eeg-brainwave-data], groups: [prediction], produces: [prediction-results] }
  - { name: drone-controller, user: drone-controller, consumes: [prediction-results], groups: [drone-controller], produces: [drone-commands] }
quotas:
  - { user: gui5, producerByteRate: 1MiB }
clusters:
  embedded: { security: sasl_plaintext, sasl: { mechanism: SCRAM-SHA-256, username: admin, passwordEnv: AVATAR_ADMIN_PASSWORD } }
`

// accessWorkspace writes the spec and the password file, sets the password variables, and returns
// the spec path, the state directory and every test password.
func accessWorkspace(t *testing.T) (specPath, stateDir string, secrets []string) {
	t.Helper()
	dir := t.TempDir()
	specPath = filepath.Join(dir, "avatar.yaml")
	if err := os.WriteFile(specPath, []byte(accessSpecYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", "prediction"), []byte("Prediction-pw-7731\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AVATAR_ADMIN_PASSWORD": "Admin-pw-1904", "AVATAR_GUI5_PASSWORD": "Gui5-pw-5521", "AVATAR_DRONE_PASSWORD": "Drone-pw-3377"}
	for k, v := range env {
		t.Setenv(k, v)
		secrets = append(secrets, v)
	}
	return specPath, filepath.Join(dir, "state"), append(secrets, "Prediction-pw-7731")
}

// TestNoSecretInAnyOutput runs every command that shows access control — validate, plan in text,
// JSON and markdown, plan --out, apply of the saved plan, a password rotation's plan and apply -o json —
// against an embedded cluster enforcing SASL and ACLs, and greps everything they printed, the plan
// file and the cluster's state directory for the test passwords. A password is shown only as
// (sensitive); the plan file holds a salted fingerprint.
func TestNoSecretInAnyOutput(t *testing.T) {
	f, state, secrets := accessWorkspace(t)
	planFile := filepath.Join(filepath.Dir(f), "plan.json")
	var seen strings.Builder
	runOK := func(want int, args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, args...)
		seen.WriteString(out + errOut)
		if code != want {
			t.Fatalf("%s: code %d, want %d\n%s\n%s", strings.Join(args, " "), code, want, out, errOut)
		}
		return out
	}
	runOK(exitOK, "validate", "-f", f)
	text := runOK(exitChanges, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state)
	for _, want := range []string{"+ create user gui5 (SCRAM-SHA-512)", "password:    (sensitive)", "+ create acl User:gui5 allow Write on topic eeg-brainwave-data",
		"+ create quota user=gui5", "adopt principal User:gui5 into the inventory"} {
		if !strings.Contains(text, want) {
			t.Errorf("plan lacks %q:\n%s", want, text)
		}
	}
	runOK(exitChanges, "plan", "--detailed-exitcode", "-o", "json", "-f", f, "--state-dir", state)
	runOK(exitChanges, "plan", "--detailed-exitcode", "-o", "markdown", "-f", f, "--state-dir", state)
	runOK(exitOK, "plan", "--out", planFile, "-f", f, "--state-dir", state)
	runOK(exitOK, "apply", "--plan", planFile, "--auto-approve", "-f", f, "--state-dir", state)
	runOK(exitOK, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state)

	t.Setenv("AVATAR_GUI5_PASSWORD", "Gui5-rotated-8080")
	secrets = append(secrets, "Gui5-rotated-8080")
	rot := runOK(exitChanges, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state)
	if !strings.Contains(rot, "~ update user gui5 (SCRAM-SHA-512)") || !strings.Contains(rot, "(sensitive) → (sensitive) (new)") {
		t.Errorf("rotation plan:\n%s", rot)
	}
	runOK(exitChanges, "plan", "--detailed-exitcode", "-o", "json", "-f", f, "--state-dir", state)
	runOK(exitOK, "apply", "--auto-approve", "-o", "json", "-f", f, "--state-dir", state)

	planJSON, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(planJSON), `"fingerprint": "pbkdf2-sha256$4096$`) {
		t.Errorf("the plan file holds no salted fingerprint:\n%s", planJSON)
	}
	outputs := seen.String() + string(planJSON)
	err = filepath.WalkDir(state, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		outputs += string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range secrets {
		if strings.Contains(outputs, pw) {
			t.Errorf("password %q appears in an output, the plan file or the state directory", pw)
		}
	}
}

// TestExamplePlansAccess plans and applies examples/avatar.yaml as it is: its three services'
// principals are adopted, their 12 ACLs and gui5's quota created, and a second plan is empty.
func TestExamplePlansAccess(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../../examples/avatar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, state := filepath.Join(dir, "avatar.yaml"), filepath.Join(dir, "state")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "apply", "--auto-approve", "-f", f, "--state-dir", state)
	if code != exitOK {
		t.Fatalf("apply: code %d\n%s\n%s", code, out, errOut)
	}
	if n := strings.Count(out, "+ create acl User:CN="); n != 12 {
		t.Errorf("%d ACLs created, want the services' 12:\n%s", n, out)
	}
	for _, want := range []string{"adopt principal User:CN=gui5,O=avatar-sync into the inventory",
		"+ create acl User:CN=gui5,O=avatar-sync allow Write on topic eeg-brainwave-data", "+ create quota user=CN=gui5,O=avatar-sync", "Plan: 16 to create, 0 to update, 3 to adopt, 0 to delete."} {
		if !strings.Contains(out, want) {
			t.Errorf("apply lacks %q:\n%s", want, out)
		}
	}
	if code, out, errOut := runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state); code != exitOK {
		t.Errorf("plan after apply: code %d\n%s\n%s", code, out, errOut)
	}
}

// TestDevUpEnforcesAccessWithKcat is the cross-check with an independent client: `dev up`
// of a spec with users and a sasl_plaintext embedded target serves SASL SCRAM with ACLs on, apply
// (joining it as the admin) creates the services' users and ACLs, and librdkafka (kcat) as gui5 may
// produce to eeg-brainwave-data but not to drone-commands; a wrong password is refused.
func TestDevUpEnforcesAccessWithKcat(t *testing.T) {
	f, state, _ := accessWorkspace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bootstrap := startDevUp(t, ctx, "-f", f, "--state-dir", state, "--ports", "0")
	if code, out, errOut := runCLI(t, "apply", "--auto-approve", "-f", f, "--state-dir", state); code != exitOK {
		t.Fatalf("apply against dev up: code %d\n%s\n%s", code, out, errOut)
	}
	as := func(user, password string, args ...string) []string {
		return append([]string{"-b", bootstrap[0], "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism=SCRAM-SHA-512",
			"-X", "sasl.username=" + user, "-X", "sasl.password=" + password, "-m", "10"}, args...)
	}
	gui5 := os.Getenv("AVATAR_GUI5_PASSWORD")
	if out, err := kcat(t, ctx, "sample\n", as("gui5", gui5, "-P", "-t", "eeg-brainwave-data")...); err != nil {
		t.Errorf("kcat as gui5 → eeg-brainwave-data: %v\n%s", err, out)
	}
	out, err := kcat(t, ctx, "takeoff\n", as("gui5", gui5, "-P", "-t", "drone-commands")...)
	if err == nil || !strings.Contains(strings.ToLower(out), "authorization") {
		t.Errorf("kcat as gui5 → drone-commands: %v, want an authorization failure\n%s", err, out)
	}
	// -m bounds how long kcat retries the failing login; it fails either way.
	if out, err := kcat(t, ctx, "", append(as("gui5", "wrong-password", "-L"), "-m", "2")...); err == nil {
		t.Errorf("kcat with a wrong password listed metadata:\n%s", out)
	}
}

// TestApplyRefusesAnotherPassword: a saved plan carries only the password's fingerprint; when the
// reference holds another password at apply time (changed after plan --out), apply refuses to set
// it rather than set a password nobody reviewed, and says to plan again.
func TestApplyRefusesAnotherPassword(t *testing.T) {
	f, state, _ := accessWorkspace(t)
	planFile := filepath.Join(filepath.Dir(f), "plan.json")
	if code, out, errOut := runCLI(t, "plan", "--out", planFile, "-f", f, "--state-dir", state); code != exitOK {
		t.Fatalf("plan --out: %d\n%s\n%s", code, out, errOut)
	}
	t.Setenv("AVATAR_GUI5_PASSWORD", "Gui5-swapped-6060")
	code, out, errOut := runCLI(t, "apply", "--plan", planFile, "--auto-approve", "-f", f, "--state-dir", state)
	if code != exitError || !strings.Contains(out+errOut, "the password of user gui5 is not the one planned") {
		t.Errorf("apply with a swapped password: code %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, "Gui5-swapped-6060") {
		t.Error("the swapped password was printed")
	}
}
