package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/avatar-project/avatar-sync/spec"
)

const example = "../../examples/avatar.yaml"

// writeSpec writes a spec file for one test and returns its path.
func writeSpec(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "avatar.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const invalidSpec = `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: lab }
brokers:
  - { id: 1, host: b1, ports: { plaintext: 9092 } }
  - { id: 2, host: b2, ports: { plaintext: 9093 } }
  - { id: 3, host: b3, ports: { plaintext: 9094 } }
topics:
  - { name: eeg, partitions: 3, replicationFactor: 3 }
  - name: drones
    partitions: 1
    replicationFactor: 4
    retension: 1h
`

const warningSpec = `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: lab }
brokers:
  - { id: 1, host: b1, ports: { plaintext: 9092 } }
  - { id: 2, host: b2, ports: { plaintext: 9093 } }
topics:
  - { name: eeg, partitions: 3, replicationFactor: 2, config: { min.insync.replicas: 2 } }
`

func TestValidateExample(t *testing.T) {
	code, out, errOut := runCLI(t, "validate", "-f", example)
	want := example + " is valid: 3 brokers, 3 topics, 3 cluster targets, 2 devices\n"
	if code != exitOK || out != want || errOut != "" {
		t.Fatalf("code %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}

// TestValidateInvalid: every error on stderr as file:line:col: message, then a summary; exit 1.
func TestValidateInvalid(t *testing.T) {
	path := writeSpec(t, invalidSpec)
	code, out, errOut := runCLI(t, "validate", "-f", path)
	want := path + ":12:5: topics[1].replicationFactor 4 exceeds the 3 brokers\n" +
		path + ":13:5: topics[1].retension is not a known key; did you mean \"retention\"?\n" +
		path + " is invalid: 2 errors, 0 warnings\n"
	if code != exitError || out != "" {
		t.Errorf("code %d, stdout %q", code, out)
	}
	if diff := cmp.Diff(want, errOut); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
}

func TestValidateWarningsAndStrict(t *testing.T) {
	path := writeSpec(t, warningSpec)
	warning := path + ":8:65: warning: topics[0].config.min.insync.replicas 2 equals replicationFactor: one broker down stops producers using acks=all\n"

	code, out, errOut := runCLI(t, "validate", "-f", path)
	if code != exitOK || errOut != warning || !strings.HasSuffix(out, "is valid: 2 brokers, 1 topic, 1 cluster target, 0 devices (1 warning)\n") {
		t.Errorf("without --strict: code %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "validate", "--strict", "-f", path)
	if code != exitError || out != "" || errOut != warning+path+" has 1 warning and --strict is set\n" {
		t.Errorf("with --strict: code %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}

func TestValidateJSON(t *testing.T) {
	type diag struct {
		Severity, File, Message string
		Line, Col               int
	}
	type report struct {
		File             string
		Valid            bool
		Errors, Warnings int
		Diagnostics      []diag
	}
	decode := func(out string) report {
		t.Helper()
		var r report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, out)
		}
		return r
	}

	path := writeSpec(t, invalidSpec)
	code, out, errOut := runCLI(t, "validate", "-o", "json", "-f", path)
	if code != exitError || errOut != "" {
		t.Errorf("code %d, stderr %q", code, errOut)
	}
	want := report{File: path, Valid: false, Errors: 2, Diagnostics: []diag{
		{Severity: "error", File: path, Line: 12, Col: 5, Message: "topics[1].replicationFactor 4 exceeds the 3 brokers"},
		{Severity: "error", File: path, Line: 13, Col: 5, Message: `topics[1].retension is not a known key; did you mean "retention"?`},
	}}
	if diff := cmp.Diff(want, decode(out)); diff != "" {
		t.Errorf("invalid spec (-want +got):\n%s", diff)
	}

	code, out, _ = runCLI(t, "validate", "-o", "json", "--strict", "-f", writeSpec(t, warningSpec))
	if r := decode(out); code != exitError || r.Valid || r.Warnings != 1 || r.Diagnostics[0].Severity != "warning" {
		t.Errorf("--strict with a warning: code %d, %+v", code, r)
	}

	code, out, _ = runCLI(t, "validate", "-o", "json", "-f", example)
	if r := decode(out); code != exitOK || !r.Valid || r.Diagnostics == nil || len(r.Diagnostics) != 0 {
		t.Errorf("example: code %d, %+v (diagnostics must be [] not null)", code, r)
	}
}

func TestValidateMissingFile(t *testing.T) {
	code, _, errOut := runCLI(t, "validate", "-f", "no/such/avatar.yaml")
	if code != exitError || !strings.Contains(errOut, "no/such/avatar.yaml: no such file (point -f/--file at your avatar.yaml)") {
		t.Errorf("code %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "validate", "-o", "yaml", "-f", example)
	if code != exitError || !strings.Contains(errOut, `-o/--output "yaml"`) {
		t.Errorf("-o yaml: code %d, stderr %q", code, errOut)
	}
}

// TestLoadSpec covers the loader every other command uses: warnings to stderr, errors in the
// returned error one per line (so `avatar-sync: ...` output stays jumpable), missing file named.
func TestLoadSpec(t *testing.T) {
	var errOut strings.Builder
	s := &streams{out: &strings.Builder{}, err: &errOut}

	sp, err := loadSpec(t.Context(), &globalOptions{file: writeSpec(t, warningSpec)}, s)
	if err != nil || sp == nil || len(sp.Topics) != 1 || !strings.Contains(errOut.String(), ": warning: topics[0].config.min.insync.replicas") {
		t.Errorf("warning spec: %v, %v, stderr %q", sp, err, errOut.String())
	}

	path := writeSpec(t, invalidSpec)
	_, err = loadSpec(t.Context(), &globalOptions{file: path}, s)
	want := path + " is invalid: 2 errors, 0 warnings:\n" +
		path + ":12:5: topics[1].replicationFactor 4 exceeds the 3 brokers\n" +
		path + ":13:5: topics[1].retension is not a known key; did you mean \"retention\"?"
	if !errors.Is(err, spec.ErrInvalid) || err.Error() != want {
		t.Errorf("invalid spec error:\n%v\nwant:\n%s", err, want)
	}

	_, err = loadSpec(t.Context(), &globalOptions{file: "missing.yaml"}, s)
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "missing.yaml: no such file (point -f/--file at your avatar.yaml)") {
		t.Errorf("missing file: %v", err)
	}
}

// TestReadmeSpecIsValid keeps the avatar.yaml sample in README.md loadable: readers copy it.
func TestReadmeSpecIsValid(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```yaml\napiVersion:")
	if !ok {
		t.Fatal("README.md has no avatar.yaml sample (```yaml block starting with apiVersion:)")
	}
	sample, _, _ := strings.Cut("apiVersion:"+rest, "```")
	code, out, errOut := runCLI(t, "validate", "--strict", "-f", writeSpec(t, sample))
	if code != exitOK {
		t.Errorf("README sample is invalid: %s%s", out, errOut)
	}
}

// TestValidateStdin: -f - reads the spec from standard input (git show HEAD:avatar.yaml | ...).
func TestValidateStdin(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"validate", "-f", "-"}, strings.NewReader(invalidSpec), &out, &errOut)
	if code != exitError || !strings.HasPrefix(errOut.String(), "<stdin>:12:5: topics[1].replicationFactor 4 exceeds the 3 brokers\n") {
		t.Errorf("code %d, stderr %q", code, errOut.String())
	}
}

// TestValidateCluster: an explicit --cluster must name a declared target (embedded always exists).
func TestValidateCluster(t *testing.T) {
	code, _, errOut := runCLI(t, "validate", "-f", example, "--cluster", "mikrok8s")
	want := `--cluster "mikrok8s" is not a target in ` + example + ` (targets: embedded, dev, microk8s); did you mean "microk8s"?` + "\n"
	if code != exitError || !strings.HasPrefix(errOut, want) {
		t.Errorf("code %d, stderr %q", code, errOut)
	}
	for _, target := range []string{"dev", "embedded"} {
		if code, _, errOut := runCLI(t, "validate", "-f", example, "--cluster", target); code != exitOK {
			t.Errorf("--cluster %s: code %d, stderr %q", target, code, errOut)
		}
	}
}

// TestValidateReportsSpecAndDeviceErrorsTogether: a spec error used to hide the device plugins'
// parameter checks until it was fixed, so a second run found more. Now one run reports both, in
// file order, without the plugins repeating what the loader already said about a device.
func TestValidateReportsSpecAndDeviceErrorsTogether(t *testing.T) {
	path := writeSpec(t, `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: lab }
brokers:
  - { id: 1, host: b1, ports: { plaintext: 9092 } }
topics:
  - { name: eeg, partitions: 3, replicationFactor: 1, retension: 1h }
devices:
  - { name: tello-1, kind: tello, address: "127.0.0.1:8889", minBatery: 30 }
  - { name: sock, kind: udp, address: "localhost:99999" }
`)
	code, _, errOut := runCLI(t, "validate", "-f", path)
	want := path + ":7:55: topics[0].retension is not a known key; did you mean \"retention\"?\n" +
		path + ":9:62: device \"tello-1\": unknown parameter \"minBatery\" for kind tello (did you mean \"minBattery\"?); known: minBattery, retries, stateStream, stateListen, stateTimeout\n" +
		path + ":10:30: devices[1].address \"localhost:99999\" has an invalid port (use 1-65535); udp devices are reached at host:port\n" +
		path + " is invalid: 3 errors, 0 warnings\n"
	if code != exitError {
		t.Errorf("code %d", code)
	}
	if diff := cmp.Diff(want, errOut); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
}

// TestValidateDirectory: -f naming a directory without spec files says so and what to do (a
// directory of *.yaml files is a spec, issue 15).
func TestValidateDirectory(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := runCLI(t, "validate", "-f", dir)
	want := dir + ": is a directory without *.yaml files; point -f/--file at avatar.yaml or at a directory of spec files\n"
	if code != exitError || !strings.HasPrefix(errOut, want) {
		t.Errorf("code %d, stderr %q; want it to start with %q", code, errOut, want)
	}
}

// TestPlanAndValidateCountTheSameErrors: a spec with a topic error, a device parameter error and a
// warning is refused by plan, apply and status with the problems and the count validate reports
// (issue 21: plan used to stop at the topic error and say "is invalid:" with no device error).
func TestPlanAndValidateCountTheSameErrors(t *testing.T) {
	path := writeSpec(t, `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: lab }
brokers:
  - { id: 1, host: b1, ports: { plaintext: 9092 } }
  - { id: 2, host: b2, ports: { plaintext: 9093 } }
  - { id: 3, host: b3, ports: { plaintext: 9094 } }
topics:
  - { name: eeg, partitions: 3, replicationFactor: 4 }
  - { name: drones, partitions: 1, replicationFactor: 3, config: { min.insync.replicas: 3 } }
devices:
  - { name: tello-1, kind: tello, address: 192.168.10.1:8889, minBatery: 20 }
`)
	summary := path + " is invalid: 2 errors, 1 warning"
	problems := []string{
		path + ":9:33: topics[0].replicationFactor 4 exceeds the 3 brokers",
		path + `:12:63: device "tello-1": unknown parameter "minBatery" for kind tello (did you mean "minBattery"?)`,
	}
	code, _, errOut := runCLI(t, "validate", "-f", path)
	if code != exitError || !strings.Contains(errOut, summary) {
		t.Fatalf("validate: exit %d; want 1 and %q:\n%s", code, summary, errOut)
	}
	for _, args := range [][]string{{"plan"}, {"apply", "--auto-approve"}, {"status"}} {
		code, _, errOut := runCLI(t, append(args, "-f", path, "--state-dir", t.TempDir())...)
		if code != exitError || !strings.Contains(errOut, summary) {
			t.Errorf("%s: exit %d; want 1 and validate's %q:\n%s", args[0], code, summary, errOut)
		}
		for _, p := range problems {
			if !strings.Contains(errOut, p) {
				t.Errorf("%s: stderr lacks %q:\n%s", args[0], p, errOut)
			}
		}
	}
}
