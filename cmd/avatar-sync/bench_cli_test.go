package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The figure a user sees is the whole command, process start and spec parse included, not an
// in-process call (issue 9). These benchmarks build the binary once and time it end to end; they are
// kept out of `make test` (run `make bench-cli`) and recorded in docs/benchmarks.md.

// cliBenchSpec is a spec of n topics, two lines each (20,000 lines at n = 10,000).
func cliBenchSpec(n int) string {
	var b strings.Builder
	b.WriteString(`apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar, namespace: avatar }
brokers:
  - { id: 1, host: kafka-broker-1, rack: lab-a, ports: { plaintext: 9092, internal: 29092 } }
  - { id: 2, host: kafka-broker-2, rack: lab-b, ports: { plaintext: 9093, internal: 29093 } }
  - { id: 3, host: kafka-broker-3, rack: lab-c, ports: { plaintext: 9094, internal: 29094 } }
topicDefaults: { partitions: 3, replicationFactor: 3, config: { min.insync.replicas: 2 } }
topics:
`)
	for i := range n {
		fmt.Fprintf(&b, "  - name: avatar.topic-%05d\n    retention: 7d\n", i)
	}
	return b.String()
}

// buildCLI builds avatar-sync into dir.
func buildCLI(b *testing.B, dir string) string {
	b.Helper()
	bin := filepath.Join(dir, "avatar-sync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runCLIBinary runs the binary and fails the benchmark on an exit code other than want.
func runCLIBinary(b *testing.B, want int, bin string, args ...string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		b.Fatalf("%v: %v", args, err)
	}
	if code != want {
		b.Fatalf("%v: exit %d, want %d\n%s", args, code, want, out)
	}
}

// BenchmarkCLIValidate is `avatar-sync validate` of a 10,000-topic spec: process start, read, parse
// and validate, nothing else.
func BenchmarkCLIValidate(b *testing.B) {
	dir := b.TempDir()
	bin := buildCLI(b, dir)
	file := filepath.Join(dir, "avatar.yaml")
	if err := os.WriteFile(file, []byte(cliBenchSpec(10000)), 0o600); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		runCLIBinary(b, exitOK, bin, "validate", "-f", file)
	}
}

// BenchmarkCLIPlanNoop is a no-op `avatar-sync plan --detailed-exitcode` over 10,000 topics against
// the embedded cluster served by `dev up` from a state directory prepared once (apply created the
// topics): the set-up of issue 9's measurement.
func BenchmarkCLIPlanNoop(b *testing.B) {
	dir := b.TempDir()
	bin := buildCLI(b, dir)
	file, state := filepath.Join(dir, "avatar.yaml"), filepath.Join(dir, "state")
	if err := os.WriteFile(file, []byte(cliBenchSpec(10000)), 0o600); err != nil {
		b.Fatal(err)
	}
	runCLIBinary(b, exitOK, bin, "apply", "--auto-approve", "-f", file, "--state-dir", state)

	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Minute)
	defer cancel()
	up := exec.CommandContext(ctx, bin, "dev", "up", "-f", file, "--state-dir", state, "--ports", "0,0,0")
	up.Cancel = func() error { return up.Process.Signal(syscall.SIGINT) }
	up.WaitDelay = time.Minute // saving 10,000 topics' state takes a few seconds
	stdout, err := up.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := up.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		cancel()
		_ = up.Wait()
	}()
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "bootstrap:") {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			b.Fatal("dev up ended before serving")
		}
	case <-time.After(2 * time.Minute):
		b.Fatal("dev up did not serve within 2 minutes")
	}

	b.ResetTimer()
	for b.Loop() {
		runCLIBinary(b, exitOK, bin, "plan", "--detailed-exitcode", "-f", file, "--state-dir", state)
	}
}
