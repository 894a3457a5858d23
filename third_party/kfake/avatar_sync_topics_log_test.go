package kfake

// avatar-sync patch tests for the seventh patch (PATCHES.md): topic config
// changes appended to topics.log (persist_topics_log.go), and what a process
// killed after answering leaves on disk.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// killedChildEnv makes the test binary, re-executed by TestConfigChangeSurvivesKill,
// a process that serves a cluster on the data directory it names until it is killed.
const killedChildEnv = "KFAKE_TEST_SERVE_DATA_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(killedChildEnv); dir != "" {
		c, err := NewCluster(NumBrokers(1), DataDir(dir))
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("serving", c.ListenAddrs()[0])
		time.Sleep(time.Minute) // killed long before
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// logCluster starts a one-broker cluster on dir and a client of it.
func logCluster(t *testing.T, dir string, opts ...Opt) (*Cluster, *kgo.Client) {
	t.Helper()
	c, err := NewCluster(append([]Opt{NumBrokers(1), DataDir(dir)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, logClient(t, c.ListenAddrs()[0])
}

func logClient(t *testing.T, addr string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopics(t *testing.T, cl *kgo.Client, names ...string) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	for _, name := range names {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Topics {
		if rt.ErrorCode != 0 {
			t.Fatalf("create %s: error code %d", rt.Topic, rt.ErrorCode)
		}
	}
}

func deleteTopics(t *testing.T, cl *kgo.Client, names ...string) {
	t.Helper()
	req := kmsg.NewPtrDeleteTopicsRequest()
	for _, name := range names {
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	if _, err := req.RequestWith(context.Background(), cl); err != nil {
		t.Fatal(err)
	}
}

// alter sends one IncrementalAlterConfigs: for each topic, every "k=v" sets k
// and every "k" alone deletes it.
func alter(t *testing.T, cl *kgo.Client, ops map[string][]string) {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	for topic, kvs := range ops {
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, topic
		for _, kv := range kvs {
			rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			k, v, set := strings.Cut(kv, "=")
			rc.Name, rc.Op = k, kmsg.IncrementalAlterConfigOpDelete
			if set {
				rc.Op, rc.Value = kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(v)
			}
			r.Configs = append(r.Configs, rc)
		}
		req.Resources = append(req.Resources, r)
	}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Resources {
		if r.ErrorCode != 0 {
			t.Fatalf("alter %s: error code %d", r.ResourceName, r.ErrorCode)
		}
	}
}

// legacyAlter sends one AlterConfigs (the whole set) for topic.
func legacyAlter(t *testing.T, cl *kgo.Client, topic string, kvs map[string]string) {
	t.Helper()
	req := kmsg.NewPtrAlterConfigsRequest()
	r := kmsg.NewAlterConfigsRequestResource()
	r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	for k, v := range kvs {
		rc := kmsg.NewAlterConfigsRequestResourceConfig()
		rc.Name, rc.Value = k, kmsg.StringPtr(v)
		r.Configs = append(r.Configs, rc)
	}
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil || resp.Resources[0].ErrorCode != 0 {
		t.Fatalf("AlterConfigs %s: %v %+v", topic, err, resp)
	}
}

// dynamicConfigs is every topic's configs set on the topic itself, as
// DescribeConfigs answers them.
func dynamicConfigs(t *testing.T, cl *kgo.Client, topics ...string) map[string]map[string]string {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	for _, topic := range topics {
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, topic
		req.Resources = append(req.Resources, r)
	}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, r := range resp.Resources {
		if r.ErrorCode != 0 {
			t.Fatalf("describe %s: error code %d", r.ResourceName, r.ErrorCode)
		}
		m := map[string]string{}
		for _, c := range r.Configs {
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig && c.Value != nil {
				m[c.Name] = *c.Value
			}
		}
		out[r.ResourceName] = m
	}
	return out
}

func logEntryCount(t *testing.T, dir string) int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, topicsLogFile))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	entries, valid := readEntries(raw)
	if valid != len(raw) {
		t.Fatalf("topics.log: %d of %d bytes are whole entries", valid, len(raw))
	}
	return len(entries)
}

// copyDir copies a data directory as it is on disk now: what a process
// killed at this moment leaves behind (the page cache survives a kill).
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestConfigChangesAppendToTopicsLog: a config request appends one entry to
// topics.log and leaves topics.json (every topic of the cluster) as it was;
// upstream kfake rewrote topics.json once per topic, the first patch once
// per request. Close writes topics.json with the changes and removes the log.
func TestConfigChangesAppendToTopicsLog(t *testing.T) {
	dir := t.TempDir()
	c, cl := logCluster(t, dir)
	var names []string
	for i := range 200 {
		names = append(names, fmt.Sprintf("t%03d", i))
	}
	createTopics(t, cl, names...)
	snapshot, err := os.ReadFile(filepath.Join(dir, "topics.json"))
	if err != nil {
		t.Fatal(err)
	}

	for round := range 3 {
		ops := map[string][]string{}
		for _, name := range names {
			ops[name] = []string{"retention.ms=" + strconv.Itoa(60000+round)}
		}
		alter(t, cl, ops)
	}
	legacyAlter(t, cl, "t000", map[string]string{"cleanup.policy": "compact"})
	now, err := os.ReadFile(filepath.Join(dir, "topics.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(now, snapshot) {
		t.Error("config requests rewrote topics.json; want them appended to topics.log")
	}
	if n := logEntryCount(t, dir); n != 4 {
		t.Errorf("topics.log holds %d entries after 4 config requests, want 4", n)
	}

	c.Close()
	if _, err := os.Stat(filepath.Join(dir, topicsLogFile)); !os.IsNotExist(err) {
		t.Errorf("topics.log after Close: %v, want it removed (topics.json holds it)", err)
	}
	_, cl = logCluster(t, dir)
	got := dynamicConfigs(t, cl, "t000", "t199")
	if want := map[string]string{"cleanup.policy": "compact"}; fmt.Sprint(got["t000"]) != fmt.Sprint(want) {
		t.Errorf("t000 after restart: %v, want %v (AlterConfigs replaces the whole set)", got["t000"], want)
	}
	if want := map[string]string{"retention.ms": "60002"}; fmt.Sprint(got["t199"]) != fmt.Sprint(want) {
		t.Errorf("t199 after restart: %v, want %v", got["t199"], want)
	}
}

// TestConfigChangeSurvivesKill: Kafka answers a config change once it is in
// the metadata log; kfake answers once it is in topics.log. A cluster process
// killed (SIGKILL, for real) right after its answers comes back with every
// change, and with topics.json holding them and topics.log gone.
func TestConfigChangeSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), killedChildEnv+"="+dir)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill() //nolint:errcheck // killed below in the normal case
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "serving ")
	if err != nil || !ok {
		t.Fatalf("child did not serve: %q %v", line, err)
	}
	cl := logClient(t, addr)
	createTopics(t, cl, "set", "deleted", "legacy", "untouched")
	alter(t, cl, map[string][]string{"set": {"retention.ms=120000"}, "deleted": {"retention.ms=120000", "segment.ms=3600000"}})
	alter(t, cl, map[string][]string{"deleted": {"retention.ms"}, "set": {"max.message.bytes=2000000"}})
	legacyAlter(t, cl, "legacy", map[string]string{"cleanup.policy": "compact"})
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	cl.Close()

	if n := logEntryCount(t, dir); n != 3 {
		t.Fatalf("the killed cluster left %d entries in topics.log, want 3 (one per config request)", n)
	}
	_, cl = logCluster(t, dir)
	got := dynamicConfigs(t, cl, "set", "deleted", "legacy", "untouched")
	want := map[string]map[string]string{
		"set":       {"retention.ms": "120000", "max.message.bytes": "2000000"},
		"deleted":   {"segment.ms": "3600000"},
		"legacy":    {"cleanup.policy": "compact"},
		"untouched": {},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after SIGKILL and restart: %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, topicsLogFile)); !os.IsNotExist(err) {
		t.Errorf("topics.log after loading it: %v, want it folded into topics.json and removed", err)
	}
}

// TestTopicsLogReplaysOnlyWhatHolds: an entry cut short (a process killed in
// the middle of the append, never answered) is dropped with what follows, and
// an entry left behind by a process killed between writing topics.json and
// removing topics.log changes nothing: it names topics by id, so a topic
// deleted and created again under its name keeps its own configs.
func TestTopicsLogReplaysOnlyWhatHolds(t *testing.T) {
	dir := t.TempDir()
	_, cl := logCluster(t, dir)
	createTopics(t, cl, "kept", "recreated")
	alter(t, cl, map[string][]string{"kept": {"retention.ms=120000"}, "recreated": {"retention.ms=120000"}})
	stale, err := os.ReadFile(filepath.Join(dir, topicsLogFile))
	if err != nil {
		t.Fatal(err)
	}
	deleteTopics(t, cl, "recreated")
	createTopics(t, cl, "recreated")
	alter(t, cl, map[string][]string{"kept": {"retention.ms=180000"}})

	crashed := t.TempDir()
	copyDir(t, dir, crashed)
	f, err := os.OpenFile(filepath.Join(crashed, topicsLogFile), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Before the live entry: the stale one, as if topics.log had not been
	// removed after the DeleteTopics' topics.json. After it: half an entry.
	live, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	torn := stale[:len(stale)/2]
	if _, err := f.WriteAt(append(append(append([]byte(nil), stale...), live...), torn...), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()

	_, cl = logCluster(t, crashed)
	got := dynamicConfigs(t, cl, "kept", "recreated")
	want := map[string]map[string]string{"kept": {"retention.ms": "180000"}, "recreated": {}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after replaying a stale, a live and a torn entry: %v, want %v", got, want)
	}
}

// TestTopicsLogCompactsAtStateLogCompactBytes: topics.log is folded into
// topics.json once it reaches state.log.compact.bytes, as kfake compacts its
// groups and producer id logs.
func TestTopicsLogCompactsAtStateLogCompactBytes(t *testing.T) {
	dir := t.TempDir()
	_, cl := logCluster(t, dir, BrokerConfigs(map[string]string{"state.log.compact.bytes": "1000"}))
	var names []string
	for i := range 20 {
		names = append(names, fmt.Sprintf("t%02d", i))
	}
	createTopics(t, cl, names...)
	ops := map[string][]string{}
	for _, name := range names[:2] {
		ops[name] = []string{"retention.ms=120000"}
	}
	alter(t, cl, ops)
	if n := logEntryCount(t, dir); n != 1 {
		t.Fatalf("topics.log holds %d entries after a small change, want 1", n)
	}
	for _, name := range names {
		ops[name] = []string{"retention.ms=180000"}
	}
	alter(t, cl, ops) // 20 topics: past 1,000 bytes
	if n := logEntryCount(t, dir); n != 0 {
		t.Errorf("topics.log holds %d entries past state.log.compact.bytes, want it folded into topics.json", n)
	}
	b, err := os.ReadFile(filepath.Join(dir, "topics.json"))
	if err != nil || bytes.Count(b, []byte(`"retention.ms":"180000"`)) != len(names) {
		t.Errorf("topics.json after compaction does not hold the %d changes (%v)", len(names), err)
	}
}
