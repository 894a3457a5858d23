package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/spec"
)

// syncBuffer lets the test read what a running command has printed so far.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freePorts reserves n loopback ports for the brokers (closed again: kfake binds them later). They
// are picked below the kernel's ephemeral range (32768-60999), so that no outgoing connection of
// this or another process takes one in the meantime.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var out []int
	var ls []net.Listener
	for port := 20000 + rand.IntN(10000); len(out) < n && port < 32000; port++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		out = append(out, port)
	}
	for _, l := range ls {
		l.Close()
	}
	if len(out) < n {
		t.Fatalf("no %d free ports between 20000 and 32000", n)
	}
	return out
}

// TestDevUp starts `dev up` on free ports, uses it as a plain bootstrap target, then cancels the
// context as SIGINT would and expects a clean exit 0.
func TestDevUp(t *testing.T) {
	stateDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "up", "-f", "../../examples/avatar.yaml", "--state-dir", stateDir, "--ports", "0,0,0", "--plaintext"},
			strings.NewReader(""), &out, &errOut)
	}()

	var bootstrap []string
	for deadline := time.Now().Add(30 * time.Second); bootstrap == nil; {
		for _, line := range strings.Split(out.String(), "\n") {
			if addrs, ok := strings.CutPrefix(line, "bootstrap: "); ok {
				bootstrap = strings.Split(addrs, ",")
			}
		}
		select {
		case code := <-done:
			t.Fatalf("dev up exited early with %d: %s%s", code, out.String(), errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no bootstrap line after 30s: %q", out.String())
		}
	}
	if len(bootstrap) != 3 {
		t.Fatalf("bootstrap %v, want 3 brokers", bootstrap)
	}

	s := &spec.Spec{Clusters: []spec.Cluster{{Name: "dev", Bootstrap: bootstrap}}}
	a, err := clusters.Open(ctx, s, "dev", clusters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.CreateTopics(ctx, []spec.Topic{{Name: "drone-commands", Partitions: 3, ReplicationFactor: 3}})
	if err != nil || res["drone-commands"] != nil {
		t.Fatalf("create on dev up cluster: %v %v", err, res)
	}
	// plan/apply on the embedded target reach the running server rather than fighting over the dir.
	emb, err := clusters.Open(ctx, s, "embedded", clusters.Options{StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	live, err := emb.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := live.Topics["drone-commands"]; !ok {
		t.Errorf("embedded target does not see the dev up cluster's topic: %v", live.Topics)
	}
	emb.Close()
	a.Close()

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("dev up exit code %d after cancel: %s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("dev up did not stop within 30s of cancellation")
	}
	if !strings.Contains(errOut.String(), "SSL ports 9192,9193,9194 are not served") {
		t.Errorf("stderr %q does not say the SSL ports are not served", errOut.String())
	}
	// A fresh state directory has none of the spec's topics, and nothing creates them on first use.
	if !strings.Contains(errOut.String(), "Note: 3 of the spec's 3 topics do not exist here yet (eeg-brainwave-data, prediction-results, drone-commands)") {
		t.Errorf("stderr %q does not name the missing topics", errOut.String())
	}
	// The example declares services, and this embedded target has no SASL: dev up says so (issue 14).
	if !strings.Contains(errOut.String(), `Note: target "embedded" is the embedded cluster without SASL: it stores the users and ACLs apply creates but authenticates no one and enforces nothing`) {
		t.Errorf("stderr %q does not say that access control is not enforced", errOut.String())
	}
	if !strings.Contains(errOut.String(), "Stopped; state saved in "+stateDir) {
		t.Errorf("stderr %q lacks the stop line", errOut.String())
	}
}

// TestDevUpNoteRunsAsPrinted: dev up's note on missing topics names the apply that reaches this
// cluster. With a spec elsewhere and a state directory of its own, the printed line, run as it is
// from another directory, creates the topics in the running cluster (it used to say `avatar-sync
// apply`, which read ./avatar.yaml and would start a cluster of its own in the default state
// directory).
func TestDevUpNoteRunsAsPrinted(t *testing.T) {
	dir := t.TempDir()
	specFile, stateDir := filepath.Join(dir, "avatar.yaml"), filepath.Join(dir, "dev state")
	writeLabSpec(t, specFile, []string{"localhost:1"}, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "up", "-f", specFile, "--state-dir", stateDir, "--ports", "0,0,0"}, strings.NewReader(""), &out, &errOut)
	}()
	note := regexp.MustCompile("do not exist here yet .*: run `([^`]+)` in another terminal")
	var line string
	for line == "" {
		if m := note.FindStringSubmatch(errOut.String()); m != nil {
			line = m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("dev up exited with %d: %s%s", code, out.String(), errOut.String())
		case <-ctx.Done():
			t.Fatalf("no note on missing topics: %q", errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if want := "avatar-sync apply -f " + specFile + " --state-dir '" + stateDir + "'"; line != want {
		t.Errorf("dev up's note says run %q, want %q", line, want)
	}
	words, _, err := shellWords(line)
	if err != nil || len(words) < 2 || words[0] != "avatar-sync" {
		t.Fatalf("the note's command %q: %v", line, err)
	}
	if code, aout, aerr := runCLI(t, append(words[1:], "--auto-approve")...); code != exitOK || !strings.Contains(aout, "Apply complete: 3 applied") {
		t.Errorf("%s --auto-approve: code %d\n%s%s", line, code, aout, aerr)
	}
	if code, pout, perr := runCLI(t, "plan", "-f", specFile, "--state-dir", stateDir, "--detailed-exitcode"); code != exitOK {
		t.Errorf("the running cluster still lacks topics after the note's apply: code %d\n%s%s", code, pout, perr)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("dev up did not stop within 30s")
	}
}

// TestShellLine: the command lines printed to be copied survive a shell: words it would split or
// expand are single-quoted, and control characters are escaped, not printed.
func TestShellLine(t *testing.T) {
	for name, tc := range map[string]struct {
		words []string
		want  string
	}{
		"plain":          {[]string{"avatar-sync", "apply", "--plan", "ci/plan.json", "--cluster", "dev,lab"}, "avatar-sync apply --plan ci/plan.json --cluster dev,lab"},
		"space":          {[]string{"avatar-sync", "apply", "--state-dir", "dev state"}, "avatar-sync apply --state-dir 'dev state'"},
		"single quote":   {[]string{"-f", "it's.yaml"}, `-f 'it'\''s.yaml'`},
		"shell meta":     {[]string{"-f", "$HOME/a.yaml", "x;y", "*"}, "-f '$HOME/a.yaml' 'x;y' '*'"},
		"empty":          {[]string{"--state-dir", ""}, "--state-dir ''"},
		"control escape": {[]string{"-f", "a\x1b[2J.yaml"}, `-f 'a\x1b[2J.yaml'`},
	} {
		if got := shellLine(tc.words...); got != tc.want {
			t.Errorf("%s: shellLine(%q) = %q, want %q", name, tc.words, got, tc.want)
		}
	}
}

func TestDevUpPortsMustMatchBrokers(t *testing.T) {
	code, _, errOut := runCLI(t, "dev", "up", "-f", "../../examples/avatar.yaml", "--state-dir", t.TempDir(), "--ports", "0,0")
	if code != exitError || !strings.Contains(errOut, "--ports: 2 ports for 3 brokers") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}

// TestDevUpRefusesSharedPorts: brokers on different hosts may share a port in avatar.yaml (issue
// 15), but dev up serves them all on this machine, so it says so before binding anything.
func TestDevUpRefusesSharedPorts(t *testing.T) {
	multiHost := writeSpec(t, `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: lab }
brokers:
  - { id: 1, host: kafka-1.lab, ports: { plaintext: 9092 } }
  - { id: 2, host: kafka-2.lab, ports: { plaintext: 9092 } }
topics:
  - { name: t1, partitions: 1, replicationFactor: 2 }
`)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-f", multiHost}, "brokers[0] and brokers[1] both use plaintext port 9092; dev up serves every broker on this machine, so pass --ports with one port per broker"},
		{[]string{"-f", "../../examples/avatar.yaml", "--ports", "0,19092,19092"}, "--ports: port 19092 is given twice; each broker needs its own"},
	} {
		code, _, errOut := runCLI(t, append([]string{"dev", "up", "--state-dir", t.TempDir()}, tc.args...)...)
		if code != exitError || !strings.Contains(errOut, tc.want) {
			t.Errorf("dev up %v: code %d, stderr %q; want %q", tc.args, code, errOut, tc.want)
		}
	}
}

// TestDevUpServesTheClusterTarget: dev up serves the --cluster target when it is embedded (no
// bootstrap:), with that target's SASL, and refuses a target whose brokers run elsewhere instead
// of quietly serving the plaintext `embedded` one (it used to ignore --cluster).
func TestDevUpServesTheClusterTarget(t *testing.T) {
	f, state, _ := accessWorkspace(t)
	body, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	// The spec's embedded target serves SASL; rename it and add one that points elsewhere.
	renamed := strings.Replace(string(body), "  embedded:", "  laptop:", 1)
	if renamed == string(body) {
		t.Fatal("the access spec has no embedded target to rename")
	}
	renamed += "  lab: { bootstrap: [\"kafka-1.lab:9092\"] }\n"
	if err := os.WriteFile(f, []byte(renamed), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "dev", "up", "-f", f, "--cluster", "lab", "--state-dir", state, "--ports", "0,0,0")
	if want := "--cluster lab: dev up serves an embedded target (one without bootstrap:), and clusters.lab points at brokers that run elsewhere (kafka-1.lab:9092)"; code != exitError || !strings.Contains(errOut, want) {
		t.Errorf("dev up --cluster lab: code %d, stderr %q; want %q", code, errOut, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "up", "-f", f, "--cluster", "laptop", "--state-dir", state, "--ports", "0"}, strings.NewReader(""), &out, &errs)
	}()
	for !strings.Contains(out.String(), "bootstrap: ") {
		select {
		case code := <-done:
			t.Fatalf("dev up --cluster laptop exited with %d: %s%s", code, out.String(), errs.String())
		case <-ctx.Done():
			t.Fatalf("no bootstrap line: %q", out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if !strings.Contains(out.String(), "SASL: every listener asks for SCRAM") {
		t.Errorf("dev up --cluster laptop does not serve the laptop target's SASL:\n%s", out.String())
	}
	// plan against the same target joins it as that target's admin.
	if code, pout, perr := runCLI(t, "plan", "-f", f, "--cluster", "laptop", "--state-dir", state); code != exitOK {
		t.Errorf("plan --cluster laptop against dev up: code %d\n%s\n%s", code, pout, perr)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("dev up did not stop within 30s")
	}
}

func TestDevUpPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	code, _, errOut := runCLI(t, "dev", "up", "-f", "../../examples/avatar.yaml", "--state-dir", t.TempDir(), "--ports", fmt.Sprintf("0,%d,0", port), "--plaintext")
	if code != exitError || !strings.Contains(errOut, "a port is already in use") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}

// TestDevUpBannerEscapesControlCharacters (issue 10 item 16): nothing dev up prints from a path or
// a state file can drive the terminal. A state directory named with BEL and an escape sequence is
// printed escaped; a cluster-id file holding such bytes is refused, quoted.
func TestDevUpBannerEscapesControlCharacters(t *testing.T) {
	stateDir := filepath.Join(t.TempDir(), "state\a\x1b[2J")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "up", "-f", "../../examples/avatar.yaml", "--state-dir", stateDir, "--ports", "0,0,0", "--plaintext"},
			strings.NewReader(""), &out, &errOut)
	}()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "bootstrap: "); {
		if time.Now().After(deadline) {
			t.Fatalf("no bootstrap line after 30s: %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("dev up did not stop within 30s")
	}
	printed := out.String() + errOut.String()
	if !strings.Contains(printed, `state in `+filepath.Dir(stateDir)+`/state\x07\x1b[2J`) {
		t.Errorf("banner does not show the escaped path:\n%q", printed)
	}
	if strings.ContainsAny(printed, "\a\x1b") {
		t.Errorf("raw control characters reached the terminal:\n%q", printed)
	}

	fresh := t.TempDir()
	if err := os.WriteFile(filepath.Join(fresh, "cluster-id"), []byte("\x07\x1b]0;owned\x07\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "dev", "up", "-f", "../../examples/avatar.yaml", "--state-dir", fresh, "--ports", "0,0,0", "--plaintext")
	if code != exitError || !strings.Contains(stderr, `cluster-id holds "\a\x1b]0;owned\a", which is not a Kafka cluster id`) || strings.ContainsAny(stdout+stderr, "\a\x1b") {
		t.Errorf("garbage cluster-id: code %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
}
