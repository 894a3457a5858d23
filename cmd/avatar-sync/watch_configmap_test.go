package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mountConfigMap lays content out as the kubelet mounts a ConfigMap key, or updates such a mount
// exactly as its AtomicWriter does: a new ..<timestamp> directory, a ..data_tmp link to it renamed
// over ..data, the old directory removed. avatar.yaml itself is a link to ..data/avatar.yaml.
func mountConfigMap(t *testing.T, dir, stamp, content string) {
	t.Helper()
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	ts := "..2026_11_30_" + stamp
	for _, err := range []error{
		os.MkdirAll(filepath.Join(dir, ts), 0o755),
		os.WriteFile(filepath.Join(dir, ts, "avatar.yaml"), []byte(content), 0o644),
		os.Symlink(ts, filepath.Join(dir, "..data_tmp")),
		os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if old == "" {
		if err := os.Symlink(filepath.Join("..data", "avatar.yaml"), filepath.Join(dir, "avatar.yaml")); err != nil {
			t.Fatal(err)
		}
	} else if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
		t.Fatal(err)
	}
}

// TestWatchAppliesConfigMapUpdates (issue 10 item 11): watch --interval 0 on a spec mounted from a
// ConfigMap applies an update, which only swaps the ..data link.
func TestWatchAppliesConfigMapUpdates(t *testing.T) {
	example, err := os.ReadFile("../../examples/avatar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	mount := filepath.Join(root, "config")
	mountConfigMap(t, mount, "10_00_00.000000001", string(example))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	log := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"watch", "-f", filepath.Join(mount, "avatar.yaml"), "--state-dir", filepath.Join(root, "state"),
			"--interval", "0", "--debounce", "20ms", "-o", "json"}, strings.NewReader(""), &stdout, log)
	}()
	waitLog(t, log, `"msg":"applied"`, 1)

	edited := strings.Replace(string(example), "retention: 24h", "retention: 48h", 1)
	if edited == string(example) {
		t.Fatal("example spec changed shape; update this test")
	}
	mountConfigMap(t, mount, "10_05_00.000000002", edited)
	waitLog(t, log, `"detail":"retention.ms: 86400000 → 172800000"`, 1)
	waitLog(t, log, `"msg":"applied"`, 2)

	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("watch did not stop after cancel")
	}
}
