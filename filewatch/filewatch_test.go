package filewatch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/reconcile"
)

// waitTrigger bounds every wait so a broken watcher fails the test instead of hanging it.
func waitTrigger(t *testing.T, ch <-chan reconcile.Trigger) reconcile.Trigger {
	t.Helper()
	select {
	case tr, ok := <-ch:
		if !ok {
			t.Fatal("trigger channel closed")
		}
		return tr
	case <-time.After(10 * time.Second):
		t.Fatal("no trigger within 10s")
	}
	return reconcile.Trigger{}
}

func TestSourceDebouncesWritesAndSurvivesRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "avatar.yaml")
	if err := os.WriteFile(path, []byte("a: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The debounce is wide enough that five writes land inside it even on a loaded CI machine (at
	// 50 ms a stalled writer split the burst in make test).
	src := &Source{Path: path, Debounce: 500 * time.Millisecond}
	ch, err := src.Triggers(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// A burst of writes is one trigger.
	for i := 0; i < 5; i++ {
		if err := os.WriteFile(path, []byte(strings.Repeat("b", i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tr := waitTrigger(t, ch)
	if !strings.HasPrefix(tr.Reason, "avatar.yaml ") {
		t.Errorf("reason %q does not name the file", tr.Reason)
	}
	select {
	case extra := <-ch:
		t.Errorf("burst produced a second trigger %+v", extra)
	case <-time.After(800 * time.Millisecond):
	}

	// Other files in the directory do not trigger.
	if err := os.WriteFile(filepath.Join(dir, "other.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case extra := <-ch:
		t.Errorf("unrelated file triggered %+v", extra)
	case <-time.After(300 * time.Millisecond):
	}

	// Editors save by writing a temp file and renaming it over the original.
	tmp := filepath.Join(dir, ".avatar.yaml.swp")
	if err := os.WriteFile(tmp, []byte("c: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitTrigger(t, ch)

	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			// A last queued trigger is fine; the channel must still close.
			if _, ok := <-ch; ok {
				t.Error("channel still open after cancel")
			}
		}
	case <-time.After(5 * time.Second):
		t.Error("channel not closed after cancel")
	}
}

// TestLoopRunsOnFileChange drives reconcile.Loop with the real file watcher: one pass at start,
// one per settled change, and a clean stop on cancel.
func TestLoopRunsOnFileChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "avatar.yaml")
	if err := os.WriteFile(path, []byte("a: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var mu sync.Mutex
	var reasons []string
	passes := make(chan struct{}, 10)
	done := make(chan error, 1)
	go func() {
		done <- reconcile.Loop(ctx, &Source{Path: path, Debounce: 20 * time.Millisecond}, reconcile.LoopOptions{},
			func(ctx context.Context, tr reconcile.Trigger) error {
				mu.Lock()
				reasons = append(reasons, tr.Reason)
				mu.Unlock()
				passes <- struct{}{}
				return nil
			}, nil)
	}()
	waitPass := func() {
		t.Helper()
		select {
		case <-passes:
		case <-time.After(10 * time.Second):
			t.Fatal("no pass within 10s")
		}
	}
	waitPass()
	if err := os.WriteFile(path, []byte("a: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitPass()
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("Loop returned %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Loop did not stop after cancel")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reasons) != 2 || reasons[0] != "start" || !strings.HasPrefix(reasons[1], "avatar.yaml ") {
		t.Errorf("passes ran for %q, want [start, avatar.yaml …]", reasons)
	}
}

// kubeletUpdate swaps a ConfigMap volume's content exactly as the kubelet's AtomicWriter does: a
// new timestamped directory with the files, a new ..data_tmp link to it renamed over ..data, then
// the old directory removed.
func kubeletUpdate(t *testing.T, dir, stamp, content string) {
	t.Helper()
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	ts := "..2026_11_30_" + stamp
	if err := os.Mkdir(filepath.Join(dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ts, "avatar.yaml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(ts, filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSourceFollowsConfigMapUpdates (issue 10 item 11): with the file mounted from a ConfigMap
// (avatar.yaml -> ..data/avatar.yaml, ..data -> ..<timestamp>/), an update touches only ..data. Each
// of two successive updates triggers, so watch with --interval 0 applies them.
func TestSourceFollowsConfigMapUpdates(t *testing.T) {
	dir := t.TempDir()
	kubeletUpdate(t, dir, "10_00_00.000000001", "v: 1\n")
	path := filepath.Join(dir, "avatar.yaml")
	if err := os.Symlink(filepath.Join("..data", "avatar.yaml"), path); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := (&Source{Path: path, Debounce: 50 * time.Millisecond}).Triggers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, stamp := range []string{"10_05_00.000000002", "10_10_00.000000003"} {
		kubeletUpdate(t, dir, stamp, "v: 2\n")
		tr := waitTrigger(t, ch)
		if !strings.HasPrefix(tr.Reason, "avatar.yaml") {
			t.Errorf("update %d: reason %q does not name the file", i+1, tr.Reason)
		}
	}
}

// TestSourceFollowsALinkToAnotherDirectory: avatar.yaml links to a file elsewhere; editing that
// file in place triggers, and so does re-pointing the link.
func TestSourceFollowsALinkToAnotherDirectory(t *testing.T) {
	root := t.TempDir()
	shared := filepath.Join(root, "shared")
	for _, d := range []string{shared, filepath.Join(root, "repo")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(shared, "avatar.yaml")
	if err := os.WriteFile(target, []byte("v: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "repo", "avatar.yaml")
	if err := os.Symlink("../shared/avatar.yaml", path); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := (&Source{Path: path, Debounce: 50 * time.Millisecond}).Triggers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, []byte("v: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitTrigger(t, ch)

	other := filepath.Join(shared, "avatar-v3.yaml")
	if err := os.WriteFile(other, []byte("v: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The unrelated new file alone is not a change; re-pointing the link is.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../shared/avatar-v3.yaml", path); err != nil {
		t.Fatal(err)
	}
	waitTrigger(t, ch)
	time.Sleep(200 * time.Millisecond) // let the re-point's events settle, then drop their trigger
	select {
	case <-ch:
	default:
	}
	// From now on the new target is the watched file.
	if err := os.WriteFile(other, []byte("v: 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitTrigger(t, ch)
}

// TestSourceWatchesASpecDirectory: with -f DIR (issue 15) a change of any *.yaml file in DIR
// triggers a pass; other files do not.
func TestSourceWatchesASpecDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spec")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := (&Source{Path: dir, Debounce: 20 * time.Millisecond}).Triggers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case tr := <-ch:
		t.Fatalf("a non-yaml file triggered %+v", tr)
	case <-time.After(200 * time.Millisecond):
	}
	if err := os.WriteFile(filepath.Join(dir, "drones.yaml"), []byte("topics: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if tr := waitTrigger(t, ch); !strings.Contains(tr.Reason, "drones.yaml") {
		t.Errorf("reason %q does not name the file", tr.Reason)
	}
}
