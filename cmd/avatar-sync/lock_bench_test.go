package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Benchmarks of what a user waits for after saving a one-topic edit (issue 9: the apply lock
// cost every apply ~0.6 s). Not part of `make test`:
//
//	go test -run '^$' -bench 'ApplyOneTopic|WatchReaction' -benchtime 10x ./cmd/avatar-sync/
//
// Results: docs/benchmarks.md, "Apply lock and watch reaction".

// benchWorkspace is kafkaWorkspace for benchmarks: examples/avatar.yaml in a temp dir.
func benchWorkspace(b *testing.B) (specPath, stateDir string) {
	b.Helper()
	dir := b.TempDir()
	data, err := os.ReadFile("../../examples/avatar.yaml")
	if err != nil {
		b.Fatal(err)
	}
	specPath = filepath.Join(dir, "avatar.yaml")
	if err := os.WriteFile(specPath, data, 0o644); err != nil {
		b.Fatal(err)
	}
	return specPath, filepath.Join(dir, "state")
}

// retentionEdit raises drone-commands' retention by an hour (24h, 25h, ...): a one-topic change
// that loses no data, so it needs no flag.
func retentionEdit(b *testing.B, path string, i int) {
	b.Helper()
	from, to := fmt.Sprintf("retention: %dh", 24+i), fmt.Sprintf("retention: %dh", 25+i)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), from, to, 1)), 0o644); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkApplyOneTopic: `apply --auto-approve` of a one-topic config change, in process, each
// run starting the embedded cluster from its state directory as the command does.
func BenchmarkApplyOneTopic(b *testing.B) {
	f, state := benchWorkspace(b)
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"apply", "--auto-approve", "-f", f, "--state-dir", state}, strings.NewReader(""), &out, &errOut); code != exitOK {
		b.Fatalf("setup apply: %d\n%s\n%s", code, out.String(), errOut.String())
	}
	i := 0
	for b.Loop() {
		b.StopTimer()
		retentionEdit(b, f, i)
		i++
		out.Reset()
		errOut.Reset()
		b.StartTimer()
		if code := run(ctx, []string{"apply", "--auto-approve", "-f", f, "--state-dir", state}, strings.NewReader(""), &out, &errOut); code != exitOK {
			b.Fatalf("apply: %d\n%s", code, errOut.String())
		}
		if !strings.Contains(out.String(), "1 applied") {
			b.Fatalf("apply did not apply one change:\n%s", out.String())
		}
	}
}

// BenchmarkWatchReaction: from saving a one-topic edit to watch having applied it, with watch's
// default debounce.
func BenchmarkWatchReaction(b *testing.B) {
	f, state := benchWorkspace(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"watch", "-f", f, "--state-dir", state, "--interval", "0", "-o", "json"}, strings.NewReader(""), &bytes.Buffer{}, log)
	}()
	waitApplied := func(n int) {
		deadline := time.Now().Add(30 * time.Second)
		for strings.Count(log.String(), `"msg":"applied"`) < n {
			if time.Now().After(deadline) {
				b.Fatalf("watch did not apply pass %d:\n%s", n, log.String())
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	waitApplied(1)
	i := 0
	for b.Loop() {
		retentionEdit(b, f, i)
		i++
		waitApplied(i + 1)
	}
	b.StopTimer()
	cancel()
	if code := <-done; code != exitOK {
		b.Fatalf("watch exited %d:\n%s", code, log.String())
	}
}
