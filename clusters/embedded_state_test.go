package clusters

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/IBM/sarama"
	"github.com/google/go-cmp/cmp"

	"github.com/avatar-project/avatar-sync/spec"
)

// stateWithRecords leaves a state directory holding topic eeg-raw (1 partition) with 20 records,
// as a `dev up` with a producer would.
func stateWithRecords(t *testing.T) string {
	t.Helper()
	ctx := testCtx(t)
	dir := t.TempDir()
	e, a := startIn(t, ctx, dir)
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "eeg-raw", Partitions: 1, ReplicationFactor: 3}}))
	a.Close()
	conf := sarama.NewConfig()
	conf.Producer.Return.Successes = true
	conf.Producer.RequiredAcks = sarama.WaitForAll
	p, err := sarama.NewSyncProducer(e.Bootstrap(), conf)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "eeg-raw", Value: sarama.StringEncoder(fmt.Sprintf("sample %d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// treeSnapshot maps every file below dir to its mode and content.
func treeSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == stateLock {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = fmt.Sprintf("%s %q", info.Mode(), b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDamagedStateIsRefusedAndKept plays issue 10 item 9: one flipped byte in a segment, a deleted
// topics.json. kfake would drop the partition (truncating the file to 0 bytes) or start empty;
// StartEmbedded, writable (dev up, apply) or read-only (plan), refuses with the path and leaves
// every byte as it was.
func TestDamagedStateIsRefusedAndKept(t *testing.T) {
	segment := filepath.Join(stateData, "partitions", "eeg-raw-0", "0.dat")
	cases := map[string]struct {
		damage func(t *testing.T, dir string)
		want   string
	}{
		"one corrupt byte in a segment": {func(t *testing.T, dir string) {
			p := filepath.Join(dir, segment)
			b, err := os.ReadFile(p)
			if err != nil || len(b) < 100 {
				t.Fatalf("segment: %d bytes, %v", len(b), err)
			}
			b[40] ^= 0x01
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}, segment + ": only the first 0 of "},
		"topics.json deleted": {func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, stateData, "topics.json")); err != nil {
				t.Fatal(err)
			}
		}, "topics.json: missing"},
		"groups.log with a torn entry": {func(t *testing.T, dir string) {
			f, err := os.OpenFile(filepath.Join(dir, stateData, "groups.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte{40, 0, 0, 0, 1, 2, 3, 4, 1, 0, '{'})
			f.Close()
		}, "groups.log: only the first"},
		// topics.log holds the topic config changes since topics.json (kfake's seventh patch).
		"topics.log with a torn entry": {func(t *testing.T, dir string) {
			f, err := os.OpenFile(filepath.Join(dir, stateData, "topics.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte{40, 0, 0, 0, 1, 2, 3, 4, 1, 0, '{'})
			f.Close()
		}, "topics.log: only the first"},
	}
	for name, tc := range cases {
		for _, readOnly := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/readOnly=%v", name, readOnly), func(t *testing.T) {
				dir := stateWithRecords(t)
				tc.damage(t, dir)
				before := treeSnapshot(t, dir)
				e, err := StartEmbedded(testCtx(t), testSpec(), EmbeddedOptions{StateDir: dir, ReadOnly: readOnly})
				if err == nil {
					e.Close()
				}
				if !errors.Is(err, ErrDamagedState) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "has changed nothing") {
					t.Fatalf("want ErrDamagedState naming %q, got %v", tc.want, err)
				}
				if d := cmp.Diff(before, treeSnapshot(t, dir)); d != "" {
					t.Errorf("a refused start changed the state:\n%s", d)
				}
			})
		}
	}
}

// TestReadOnlyOpenSavesNothing: plan's open runs kfake on a copy. Even a topic created through it
// is gone afterwards, the files are byte-for-byte the same, and the directory is not held while
// it runs (an apply may start meanwhile).
func TestReadOnlyOpenSavesNothing(t *testing.T) {
	ctx := testCtx(t)
	dir := stateWithRecords(t)
	before := treeSnapshot(t, dir)
	e, err := StartEmbedded(ctx, testSpec(), EmbeddedOptions{StateDir: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.Connect(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	live, err := a.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := live.Topics["eeg-raw"]; !ok || live.ClusterID != e.ClusterID() {
		t.Fatalf("read-only view lacks the saved state: topics %v, id %s vs %s", sortedKeys(live.Topics), live.ClusterID, e.ClusterID())
	}
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "written-by-plan", Partitions: 1, ReplicationFactor: 1}}))
	a.Close()
	other, err := StartEmbedded(ctx, testSpec(), EmbeddedOptions{StateDir: dir})
	if err != nil {
		t.Fatalf("the read-only open holds the directory: %v", err)
	}
	other.Close()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(before, treeSnapshot(t, dir)); strings.Contains(d, "written-by-plan") {
		t.Errorf("the read-only open saved a topic:\n%s", d)
	}
	e, err = StartEmbedded(ctx, testSpec(), EmbeddedOptions{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	a, err = e.Connect(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	live, err = a.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := live.Topics["written-by-plan"]; ok {
		t.Error("a topic created on the read-only cluster was saved")
	}
	if _, ok := live.Topics["eeg-raw"]; !ok {
		t.Error("eeg-raw lost")
	}
}

// TestStateIsPrivate (issue 10 item 14): records sent over mutual TLS must not be readable from
// the segment files by other users. A new state directory is 0700; an existing world-readable one
// is made 0700/0600 when a writable cluster opens it.
func TestStateIsPrivate(t *testing.T) {
	dir := stateWithRecords(t)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(p, 0o755)
		}
		return os.Chmod(p, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	e, err := StartEmbedded(testCtx(t), testSpec(), EmbeddedOptions{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	var loose []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, _ := d.Info()
		if p == dir || filepath.Base(p) == stateData {
			if info.Mode().Perm() != 0o700 {
				loose = append(loose, fmt.Sprintf("%s %s", p, info.Mode()))
			}
			return nil
		}
		if filepath.Base(p) == "0.dat" && info.Mode().Perm()&0o077 != 0 {
			loose = append(loose, fmt.Sprintf("%s %s", p, info.Mode()))
		}
		return nil
	})
	if len(loose) > 0 {
		t.Errorf("state readable by others:\n%s", strings.Join(loose, "\n"))
	}

	fresh := filepath.Join(t.TempDir(), ".avatar-sync", "embedded")
	e, err = StartEmbedded(testCtx(t), testSpec(), EmbeddedOptions{StateDir: fresh})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	for _, p := range []string{filepath.Dir(fresh), fresh} {
		if info, err := os.Stat(p); err != nil || info.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v, want 0700", p, info.Mode(), err)
		}
	}
	// What kfake wrote during the run (0644/0755) is private once the cluster is closed.
	filepath.WalkDir(fresh, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if info, _ := d.Info(); info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: %s after Close", p, info.Mode())
		}
		return nil
	})
}

// TestClusterIDHasOneSource (issue 10 item 16): the id the cluster reports is kfake's meta.json;
// a cluster-id file disagreeing with it is corrected, and one holding garbage before kfake ever
// saved is refused, quoted, instead of reaching a terminal.
func TestClusterIDHasOneSource(t *testing.T) {
	ctx := testCtx(t)
	dir := stateWithRecords(t)
	idFile := filepath.Join(dir, stateClusterID)
	if err := os.WriteFile(idFile, []byte("\x1b[2J\x07garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e, a := startIn(t, ctx, dir)
	live, err := a.Describe(ctx)
	a.Close()
	e.Close()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(idFile)
	if e.ClusterID() != live.ClusterID || strings.TrimSpace(string(b)) != live.ClusterID {
		t.Errorf("ids disagree: ClusterID() %q, metadata %q, cluster-id file %q", e.ClusterID(), live.ClusterID, b)
	}

	fresh := t.TempDir()
	if err := os.WriteFile(filepath.Join(fresh, stateClusterID), []byte("\x1b[2J\x07garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = StartEmbedded(ctx, testSpec(), EmbeddedOptions{StateDir: fresh})
	if err == nil || !strings.Contains(err.Error(), `holds "\x1b[2J\agarbage", which is not a Kafka cluster id`) {
		t.Fatalf("garbage cluster-id: %v", err)
	}
}

// BenchmarkOpenEmbedded measures what the safety of opening a state directory costs: the damage
// check (every segment's CRC) on a writable open, plus the private copy of a read-only one (plan).
func BenchmarkOpenEmbedded(b *testing.B) {
	for _, mb := range []int{0, 64} {
		dir := b.TempDir()
		ctx := context.Background()
		e, err := StartEmbedded(ctx, testSpec(), EmbeddedOptions{StateDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		a, err := e.Connect(ctx, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := a.CreateTopics(ctx, []spec.Topic{{Name: "eeg-raw", Partitions: 1, ReplicationFactor: 3}}); err != nil {
			b.Fatal(err)
		}
		a.Close()
		if mb > 0 {
			conf := sarama.NewConfig()
			conf.Producer.Return.Successes = true
			p, err := sarama.NewSyncProducer(e.Bootstrap(), conf)
			if err != nil {
				b.Fatal(err)
			}
			value := sarama.ByteEncoder(make([]byte, 64<<10))
			msgs := make([]*sarama.ProducerMessage, 16)
			for i := 0; i < mb; i++ {
				for j := range msgs {
					msgs[j] = &sarama.ProducerMessage{Topic: "eeg-raw", Value: value}
				}
				if err := p.SendMessages(msgs); err != nil {
					b.Fatal(err)
				}
			}
			p.Close()
		}
		e.Close()
		for _, readOnly := range []bool{false, true} {
			b.Run(fmt.Sprintf("records=%dMB/readOnly=%v", mb, readOnly), func(b *testing.B) {
				for b.Loop() {
					e, err := StartEmbedded(ctx, testSpec(), EmbeddedOptions{StateDir: dir, ReadOnly: readOnly})
					if err != nil {
						b.Fatal(err)
					}
					e.Close()
				}
			})
		}
	}
}
