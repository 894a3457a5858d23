package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/certs"
)

// certsWorkspace copies the example spec into a temp dir, so tls.dir (ssl-certs, relative to the
// spec) lands there too.
func certsWorkspace(t *testing.T) (specPath, tlsDir string) {
	t.Helper()
	data, err := os.ReadFile("../../examples/avatar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	specPath = filepath.Join(dir, "avatar.yaml")
	if err := os.WriteFile(specPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return specPath, filepath.Join(dir, "ssl-certs")
}

func TestCertsGenerateInspectRotate(t *testing.T) {
	specPath, tlsDir := certsWorkspace(t)
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "lab-secret-42")

	code, out, errOut := runCLI(t, "certs", "generate", "-f", specPath)
	if code != exitOK || !strings.Contains(out, "Wrote 14 files") || !strings.Contains(out, "from $AVATAR_KEYSTORE_PASSWORD") {
		t.Fatalf("generate: code %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if strings.Contains(out+errOut, "lab-secret-42") {
		t.Fatal("the password was printed")
	}
	for _, f := range []string{"ca.crt", "kafka-broker-1.crt", "kafka-broker-1.key", "kafka-broker-3.keystore.p12", "kafka-broker-3.truststore.p12"} {
		if _, err := os.Stat(filepath.Join(tlsDir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	code, out, _ = runCLI(t, "certs", "generate", "-f", specPath)
	if code != exitOK || !strings.Contains(out, "up to date; nothing to write") {
		t.Fatalf("second generate: code %d\n%s", code, out)
	}

	code, out, errOut = runCLI(t, "certs", "inspect", "-f", specPath)
	if code != exitOK || !strings.Contains(out, "Certificates: 4 ok, 0 renew, 0 expired, 0 mismatch, 0 missing.") ||
		!strings.Contains(out, "kafka-broker-2-0.kafka-headless.avatar.svc.cluster.local") {
		t.Fatalf("inspect: code %d\nstdout %s\nstderr %s", code, out, errOut)
	}

	// Three years on every leaf has expired: exit 1, and JSON says which.
	code, out, errOut = runCLI(t, "certs", "inspect", "-f", specPath, "--at", "2030-01-01", "-o", "json")
	if code != exitError || !strings.Contains(errOut, "3 certificates need attention (kafka-broker-1 expired") {
		t.Fatalf("inspect --at 2030: code %d\nstderr %s", code, errOut)
	}
	var rep certs.InspectReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("inspect -o json: %v\n%s", err, out)
	}
	if rep.OK || len(rep.Certificates) != 4 || rep.Certificates[1].Status != "expired" || rep.Certificates[0].Status != "ok" {
		t.Errorf("json report: %+v", rep)
	}

	// A broker renamed in the spec: only it is issued.
	data, _ := os.ReadFile(specPath)
	os.WriteFile(specPath, []byte(strings.Replace(string(data), "host: kafka-broker-3", "host: kafka-broker-9", 1)), 0o644)
	code, out, _ = runCLI(t, "certs", "generate", "-f", specPath, "-o", "json")
	var gen certs.GenerateReport
	if err := json.Unmarshal([]byte(out), &gen); err != nil || code != exitOK {
		t.Fatalf("generate -o json: code %d, %v\n%s", code, err, out)
	}
	if gen.Written != 4 || !strings.HasSuffix(gen.Actions[0].File, "kafka-broker-9.key") {
		t.Errorf("rename: %+v", gen)
	}

	// CA rotation, both steps, then the old CA is dropped; everything stays ok throughout.
	for i, args := range [][]string{{"--ca"}, {"--ca"}, {"--drop-previous-ca"}, {}} {
		code, out, errOut = runCLI(t, append([]string{"certs", "rotate", "-f", specPath}, args...)...)
		if code != exitOK {
			t.Fatalf("rotate %v (run %d): code %d\n%s\n%s", args, i, code, out, errOut)
		}
		if code, out, _ := runCLI(t, "certs", "inspect", "-f", specPath); code != exitOK {
			t.Fatalf("inspect after rotate %v: code %d\n%s", args, code, out)
		}
	}
	if !strings.Contains(out, "reissue") {
		t.Errorf("plain rotate did not re-issue leaves:\n%s", out)
	}
}

func TestCertsGeneratedPasswordIsNeverPrinted(t *testing.T) {
	specPath, tlsDir := certsWorkspace(t)
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "")
	code, out, errOut := runCLI(t, "certs", "generate", "-f", specPath)
	if code != exitOK || !strings.Contains(errOut, "is not set; generated a keystore password into") {
		t.Fatalf("code %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	pw, err := os.ReadFile(filepath.Join(tlsDir, "keystore.password"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out+errOut, strings.TrimSpace(string(pw))) {
		t.Fatal("the generated password was printed")
	}
	// Exporting a different password later would re-key the stores; forgetting it is refused.
	os.Remove(filepath.Join(tlsDir, "keystore.password"))
	code, _, errOut = runCLI(t, "certs", "generate", "-f", specPath)
	if code != exitError || !strings.Contains(errOut, "already holds keystores") {
		t.Fatalf("missing password with existing stores: code %d\n%s", code, errOut)
	}
}

func TestCertsRefusesSpecWithoutTLS(t *testing.T) {
	specPath, _ := certsWorkspace(t)
	data, _ := os.ReadFile(specPath)
	s := strings.Replace(string(data), "enabled: true", "enabled: false", 1)
	s = strings.NewReplacer(", ssl: 9192", "", ", ssl: 9193", "", ", ssl: 9194", "").Replace(s)
	os.WriteFile(specPath, []byte(s), 0o644)
	code, _, errOut := runCLI(t, "certs", "inspect", "-f", specPath)
	if code != exitError || !strings.Contains(errOut, "tls.enabled is false") {
		t.Fatalf("code %d\n%s", code, errOut)
	}
	code, _, errOut = runCLI(t, "certs", "inspect", "-f", specPath, "--at", "next week")
	if code != exitError || !strings.Contains(errOut, `--at "next week"`) {
		t.Fatalf("bad --at: code %d\n%s", code, errOut)
	}
}

// TestCertsUnknownSubcommandFails: a mistyped subcommand is an error naming it (exit 1), not the
// help text with exit 0 that a CI script would take for success.
func TestCertsUnknownSubcommandFails(t *testing.T) {
	code, out, errOut := runCLI(t, "certs", "genrate")
	if code != exitError || !strings.Contains(errOut, `unknown command "genrate" for "avatar-sync certs"`) {
		t.Fatalf("certs genrate: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, out, _ := runCLI(t, "certs"); code != exitOK || !strings.Contains(out, "Available Commands") {
		t.Fatalf("certs: code %d, stdout %q; want the help and exit 0", code, out)
	}
}

// TestCertsGeneratePEM: PEM stores carry no password, and the summary says so plainly (it used to
// read "keystore password from none (PEM keystores are not encrypted)").
func TestCertsGeneratePEM(t *testing.T) {
	path := writeSpec(t, `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: lab }
brokers:
  - { id: 1, host: kafka-broker-1, ports: { ssl: 9192 } }
tls: { enabled: true, keystoreType: PEM }
`)
	code, out, errOut := runCLI(t, "certs", "generate", "-f", path)
	if code != exitOK || !strings.Contains(out, "in "+filepath.Join(filepath.Dir(path), "ssl-certs")+" (PEM keystores: no password).") {
		t.Fatalf("code %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), "ssl-certs", "kafka-broker-1.keystore.pem")); err != nil {
		t.Error(err)
	}
}
