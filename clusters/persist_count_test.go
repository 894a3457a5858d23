package clusters

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"testing"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/sys/unix"

	"github.com/avatar-project/avatar-sync/clusters/internal/fakecontrol"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// stateRewrites counts how often kfake replaces topics.json in its data directory: every save
// writes topics.json.tmp and renames it over topics.json, which inotify reports as IN_MOVED_FROM
// (the .tmp) and IN_MOVED_TO (topics.json). Both are watched: inotify merges an event into an
// identical one still unread at the end of the queue, so with IN_MOVED_TO alone any number of
// back-to-back saves would count as one.
type stateRewrites struct {
	fd int
}

// watchStateRewrites starts counting rewrites of the topics.json below stateDir.
func watchStateRewrites(t *testing.T, stateDir string) *stateRewrites {
	t.Helper()
	var dataDir string
	err := filepath.WalkDir(stateDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "topics.json" {
			dataDir = filepath.Dir(p)
			return filepath.SkipAll
		}
		return err
	})
	if err != nil || dataDir == "" {
		t.Fatalf("no topics.json below %s (%v)", stateDir, err)
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if _, err := unix.InotifyAddWatch(fd, dataDir, unix.IN_MOVED_FROM|unix.IN_MOVED_TO); err != nil {
		t.Fatal(err)
	}
	return &stateRewrites{fd: fd}
}

// take returns the rewrites since the last call. The renames happened before kfake answered the
// request, so their events are queued by the time the caller has its response.
func (w *stateRewrites) take(t *testing.T) int {
	t.Helper()
	n := 0
	buf := make([]byte, 64<<10)
	for {
		got, err := unix.Read(w.fd, buf)
		if errors.Is(err, unix.EAGAIN) {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off+unix.SizeofInotifyEvent <= got; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
				t.Fatal("inotify queue overflowed: too many rewrites to count")
			}
			name := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			if ev.Mask&unix.IN_MOVED_TO != 0 && string(bytes.TrimRight(name, "\x00")) == "topics.json" {
				n++
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
	}
}

// TestStateSavedOncePerRequest: with a state directory, kfake rewrote (and fsynced) the whole
// topics.json once per topic of an AlterConfigs or IncrementalAlterConfigs request, so changing
// the config of N of N topics cost O(N²): 10,000 topics took 308 s (issue 10 item 3). The patched
// kfake in third_party/kfake saves once per request. This test counts the rewrites of topics.json
// for every request avatar-sync sends that changes many topics at once (and for the legacy
// AlterConfigs, which other tools send to the same cluster); it fails with the unpatched kfake.
func TestStateSavedOncePerRequest(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	e, err := StartEmbedded(ctx, testSpec(), EmbeddedOptions{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	a, err := e.Connect(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })

	const n = 3 * configChunk
	var create []spec.Topic
	var changes []reconcile.ConfigChange
	var names []string
	totals := map[string]int{}
	for i := range n {
		name := fmt.Sprintf("t%04d", i)
		names = append(names, name)
		create = append(create, spec.Topic{Name: name, Partitions: 1, ReplicationFactor: 1})
		changes = append(changes, reconcile.ConfigChange{Topic: name, Set: map[string]string{"retention.ms": "7200000"}})
		totals[name] = 2
	}
	mustOK(t)(a.CreateTopics(ctx, create))

	reqs := fakecontrol.CountRequests(fakecontrol.ClusterOf(e))
	rewrites := watchStateRewrites(t, dir)
	// check runs after each step: at most one rewrite per request of api, and at least one (the
	// changes must have been saved at all).
	check := func(step string, api fakecontrol.API) {
		t.Helper()
		got, sent := rewrites.take(t), reqs.Requests()[api]
		t.Logf("%s: %d rewrites, %d requests", step, got, sent)
		if got == 0 || got > sent {
			t.Errorf("%s of %d topics: topics.json rewritten %d times for %d %s requests, want 1 per request", step, n, got, sent, api)
		}
		reqs.Reset()
	}

	mustOK(t)(a.AlterTopicConfigs(ctx, changes))
	check("config change", fakecontrol.APIIncrementalAlterConfigs)

	// Nothing to change: a ValidateOnly request must not save at all.
	raw, err := kgo.NewClient(kgo.SeedBrokers(e.Bootstrap()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(raw.Close)
	legacy := func(validateOnly bool) {
		t.Helper()
		req := kmsg.NewPtrAlterConfigsRequest()
		req.ValidateOnly = validateOnly
		for _, name := range names {
			r := kmsg.NewAlterConfigsRequestResource()
			r.ResourceType = kmsg.ConfigResourceTypeTopic
			r.ResourceName = name
			c := kmsg.NewAlterConfigsRequestResourceConfig()
			c.Name = "retention.ms"
			c.Value = kmsg.StringPtr(strconv.Itoa(3600000))
			r.Configs = append(r.Configs, c)
			req.Resources = append(req.Resources, r)
		}
		resp, err := req.RequestWith(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.Resources {
			if r.ErrorCode != 0 {
				t.Fatalf("AlterConfigs %s: error code %d", r.ResourceName, r.ErrorCode)
			}
		}
	}
	legacy(true)
	if got := rewrites.take(t); got != 0 {
		t.Errorf("a ValidateOnly AlterConfigs rewrote topics.json %d times, want 0", got)
	}
	reqs.Reset()
	legacy(false)
	check("legacy AlterConfigs", fakecontrol.APIAlterConfigs)

	mustOK(t)(a.CreatePartitions(ctx, totals))
	check("partition increase", fakecontrol.APICreatePartitions)

	mustOK(t)(a.DeleteTopics(ctx, names))
	check("deletion", fakecontrol.APIDeleteTopics)
}

// TestConfigChunkSize: a config change goes out in chunks of at least configChunk topics and in
// at most maxConfigRequests requests, so its cost on the embedded cluster (one whole-state save
// per request) stays linear in the number of topics (issue 10 item 3).
func TestConfigChunkSize(t *testing.T) {
	for n, want := range map[int]struct{ size, requests int }{
		1:      {100, 1},
		100:    {100, 1},
		250:    {100, 3},
		1000:   {100, 10},
		1001:   {101, 10},
		10000:  {1000, 10},
		100001: {10001, 10},
	} {
		size := configChunkSize(n)
		if requests := (n + size - 1) / size; size != want.size || requests != want.requests {
			t.Errorf("%d topics: %d per request in %d requests, want %d in %d", n, size, requests, want.size, want.requests)
		}
	}
}
