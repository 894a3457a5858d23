package clusters

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
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
	fd      int
	dataDir string
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
	return &stateRewrites{fd: fd, dataDir: dataDir}
}

// logEntries counts the framed entries of the data directory's topics.log: the topic config
// changes kfake appended since it last wrote topics.json (0 without the file).
func (w *stateRewrites) logEntries(t *testing.T) int {
	t.Helper()
	good, size, n, err := framedLogPrefix(filepath.Join(w.dataDir, "topics.log"))
	if err != nil {
		t.Fatal(err)
	}
	if good != size {
		t.Fatalf("topics.log: the entry at byte %d of %d is cut short or damaged", good, size)
	}
	return n
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
// the config of N of N topics cost O(N²): 10,000 topics took 308 s (issue 10 item 3). Its first
// patch in third_party/kfake saved once per request; its seventh appends a config request's
// changed topics to topics.log instead of rewriting every topic (issue 23: ten whole-state saves
// were most of `dev up`'s CPU in a config change on 10,000 topics). This test counts the rewrites
// of topics.json and the entries of topics.log for every request avatar-sync sends that changes
// many topics at once (and for the legacy AlterConfigs, which other tools send to the same
// cluster): a config request appends one entry and rewrites nothing; a request that adds, removes
// or re-places partitions rewrites topics.json once, which empties topics.log. It fails with
// upstream kfake (300 rewrites for 3 config requests) and with only the first patch (3).
func TestStateSavedOncePerRequest(t *testing.T) {
	defer func(n int) { maxConfigRecords = n }(maxConfigRecords)
	maxConfigRecords = 100 // 300 topics, one key each: 3 requests
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

	const n = 300
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
	// appended runs after a config request of api: one topics.log entry per request, no rewrite.
	appended := func(step string, api fakecontrol.API, before int) {
		t.Helper()
		got, entries, sent := rewrites.take(t), rewrites.logEntries(t)-before, reqs.Requests()[api]
		t.Logf("%s: %d rewrites, %d topics.log entries, %d requests", step, got, entries, sent)
		if got != 0 || entries != sent || sent == 0 {
			t.Errorf("%s of %d topics: topics.json rewritten %d times and %d entries appended to topics.log for %d %s requests, want no rewrite and 1 entry per request", step, n, got, entries, sent, api)
		}
		reqs.Reset()
	}
	// saved runs after any other request of api: at most one rewrite per request, and at least
	// one (the changes must have been saved at all), which takes in topics.log.
	saved := func(step string, api fakecontrol.API) {
		t.Helper()
		got, sent := rewrites.take(t), reqs.Requests()[api]
		t.Logf("%s: %d rewrites, %d requests", step, got, sent)
		if got == 0 || got > sent {
			t.Errorf("%s of %d topics: topics.json rewritten %d times for %d %s requests, want 1 per request", step, n, got, sent, api)
		}
		if left := rewrites.logEntries(t); left != 0 {
			t.Errorf("%s: topics.log holds %d entries after topics.json was rewritten, want none", step, left)
		}
		reqs.Reset()
	}

	mustOK(t)(a.AlterTopicConfigs(ctx, changes))
	if sent := reqs.Requests()[fakecontrol.APIIncrementalAlterConfigs]; sent != 3 {
		t.Errorf("%d topics changed in %d requests, want 3 (maxConfigRecords %d)", n, sent, maxConfigRecords)
	}
	appended("config change", fakecontrol.APIIncrementalAlterConfigs, 0)

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
	before := rewrites.logEntries(t)
	legacy(true)
	if got, entries := rewrites.take(t), rewrites.logEntries(t)-before; got != 0 || entries != 0 {
		t.Errorf("a ValidateOnly AlterConfigs rewrote topics.json %d times and appended %d entries, want none", got, entries)
	}
	reqs.Reset()
	legacy(false)
	appended("legacy AlterConfigs", fakecontrol.APIAlterConfigs, before)

	mustOK(t)(a.CreatePartitions(ctx, totals))
	saved("partition increase", fakecontrol.APICreatePartitions)

	mustOK(t)(a.DeleteTopics(ctx, names))
	saved("deletion", fakecontrol.APIDeleteTopics)
}

// TestConfigBatches: a config change goes out in as few IncrementalAlterConfigs requests as
// Kafka's controller takes, each making it write at most maxConfigRecords (10,000) metadata
// records: one per key, two for min.insync.replicas (its ClearElrRecord); a topic's keys are never
// split. 10,000 topics changing one key each are one request, as kadm sends them (issue 23: ten
// requests, each a whole-state save on the embedded cluster, were most of the config change's gap
// to the floor).
func TestConfigBatches(t *testing.T) {
	one := reconcile.ConfigChange{Set: map[string]string{"retention.ms": "1"}}
	two := reconcile.ConfigChange{Set: map[string]string{"retention.ms": "1"}, Delete: []string{"segment.ms"}}
	minISR := reconcile.ConfigChange{Set: map[string]string{"min.insync.replicas": "2"}}
	minISRDeleted := reconcile.ConfigChange{Delete: []string{"min.insync.replicas"}}
	huge := reconcile.ConfigChange{Set: map[string]string{}}
	for i := range 10001 {
		huge.Set[fmt.Sprintf("k%d", i)] = "v"
	}
	many := func(c reconcile.ConfigChange, n int) []reconcile.ConfigChange {
		out := make([]reconcile.ConfigChange, n)
		for i := range out {
			out[i] = c
			out[i].Topic = fmt.Sprintf("t%06d", i)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		changes []reconcile.ConfigChange
		sizes   []int
	}{
		{"none", nil, nil},
		{"one topic", many(one, 1), []int{1}},
		{"10,000 topics, one key each", many(one, 10000), []int{10000}},
		{"10,001 topics, one key each", many(one, 10001), []int{10000, 1}},
		{"100,000 topics, one key each", many(one, 100000), []int{10000, 10000, 10000, 10000, 10000, 10000, 10000, 10000, 10000, 10000}},
		{"two keys each", many(two, 12000), []int{5000, 5000, 2000}},
		{"min.insync.replicas counts twice", many(minISR, 5001), []int{5000, 1}},
		{"so does its deletion", many(minISRDeleted, 5000), []int{5000}},
		{"a topic is never split", append(many(one, 9999), two), []int{9999, 1}},
		{"a topic over the bound goes alone", append(many(one, 2), huge, one), []int{2, 1, 1}},
	} {
		var sizes []int
		next := 0
		for _, b := range configBatches(tc.changes) {
			sizes = append(sizes, len(b))
			for _, c := range b {
				if c.Topic != tc.changes[next].Topic {
					t.Fatalf("%s: batch holds %s at position %d, want %s (the changes in order)", tc.name, c.Topic, next, tc.changes[next].Topic)
				}
				next++
			}
		}
		if !slices.Equal(sizes, tc.sizes) || next != len(tc.changes) {
			t.Errorf("%s: batches of %v topics, want %v", tc.name, sizes, tc.sizes)
		}
	}
}
