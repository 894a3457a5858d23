package statuspage

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/health"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// hostile is a name no page may print as markup.
const hostile = `<img src=x onerror=alert(1)>`

func boardFixture() Data {
	rate, msgs, bps := 2.5, 12.0, 2048.0
	ok := &Entry{At: now.Add(-10 * time.Minute), Trigger: "timer", Revision: "0123456789ab", Subject: "raise retention " + hostile, Result: "ok", Applied: 1, Duration: 80 * time.Millisecond}
	bad := &Entry{At: now.Add(-time.Minute), Trigger: "timer", Revision: "ba9876543210", Subject: "typo " + hostile, Result: "error",
		Error: "lab/avatar.yaml:12:5: topics[1].partitions: want a positive number", Duration: 5 * time.Millisecond}
	var h History
	for i := range 3 {
		at := now.Add(time.Duration(i-2) * time.Minute)
		m := msgs * float64(i)
		h.Add(health.Report{Time: at, Groups: []health.GroupReport{{Name: hostile, Lag: int64(10 * i)}, {Name: "prediction", Lag: 3}},
			Topics: []health.TopicReport{{Name: "eeg-brainwave-data", MessagesPerSec: &m}}})
	}
	return Data{
		Cluster: "microk8s", SpecFile: "avatar.yaml", Revision: "ba9876543210 typo", Now: now, Refresh: 10 * time.Second,
		LastPass: &Pass{At: now.Add(-90 * time.Second), Error: "cannot reach cluster \"microk8s\""},
		Pending:  3,
		InForce:  ok, Failed: bad, Journal: []Entry{*ok, *bad},
		Certs: []Cert{{Name: "kafka-broker-1", Status: "renew", DaysLeft: 12, NotAfter: now.Add(12 * 24 * time.Hour)}},
		Devices: []Device{{Name: "tello-1", Kind: "tello", Status: "failed", Detail: "no answer", ProbedAt: now.Add(-42 * time.Second)},
			{Name: hostile, Kind: "tcp", Status: "ok", OK: true, Detail: hostile, ProbedAt: now.Add(-3 * time.Second)}},
		Health: &health.Report{
			Healthy:  false,
			Problems: []string{"broker 3 (kafka-broker-3) is missing from the cluster"},
			Brokers:  []health.BrokerReport{{ID: 3, Name: "broker 3 (kafka-broker-3)", State: "missing", DiskUsedBytes: -1}, {ID: 1, Name: "broker 1", Rack: "lab-a", State: "up", Leaders: 6, DiskUsedBytes: 3 << 20}},
			Summary:  health.PartitionTotal{Topics: 3, Partitions: 9, UnderReplicated: 2},
			Topics: []health.TopicReport{{Name: "eeg-brainwave-data", Partitions: 3, Replicas: 9, InSyncReplicas: 9, MessagesPerSec: &msgs, BytesPerSec: &bps,
				SizeBytes: 5 << 20, RetentionMs: 7 * 24 * 3600 * 1000, RetentionBytes: -1}},
			Groups: []health.GroupReport{{Name: hostile, State: "Stable", Members: 1, Lag: 7, LagRate: &rate,
				Topics: []health.GroupTopicLag{{Topic: "eeg", Lag: 7}}}, {Name: "prediction", State: "Empty", Topics: []health.GroupTopicLag{{Topic: "eeg", Lag: 3}}}},
		},
		Kubernetes: &health.KubeReport{Namespace: "avatar", Mode: "heal",
			StatefulSets: []health.StatefulSetState{{Name: "kafka-broker-1", Ready: 1, Desired: 1, Images: []string{"apache/kafka:3.9.0"}, Updated: 1}},
			Drift:        []health.ObjectDrift{{Kind: "StatefulSet", Name: hostile, Field: "spec.template.spec.containers[0].image", Live: "apache/kafka:3.8.0", Wanted: "apache/kafka:3.9.0", Action: "update"}}},
		History: h,
	}
}

func render(t *testing.T, d Data) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, d); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestRenderShowsEverySectionAndEscapes(t *testing.T) {
	page := render(t, boardFixture())
	for _, want := range []string{
		`<noscript><meta http-equiv="refresh" content="10"></noscript>`,
		`id="verdict">UNHEALTHY</span>`,
		`<li class="tile failing" id="tile-kafka"><h3>Kafka <span>failing</span></h3><p class="why">broker 3 (kafka-broker-3) is missing from the cluster</p></li>`,
		`<li class="tile warning" id="tile-kubernetes"><h3>Kubernetes <span>warning</span></h3><p class="why">1 field(s) drifting (StatefulSet/&lt;img src=x onerror=alert(1)&gt; spec.template.spec.containers[0].image), healing</p></li>`,
		`<li class="tile warning" id="tile-devices"><h3>Devices <span>warning</span></h3><p class="why">tello-1 not answering</p></li>`,
		`<li class="tile failing" id="tile-spec"><h3>Spec <span>failing</span></h3><p class="why">revision ba9876543210 failed: lab/avatar.yaml:12:5: topics[1].partitions: want a positive number; 0123456789ab stays in force</p></li>`,
		`<p id="in-force">In force: <code>0123456789ab</code> raise retention &lt;img src=x onerror=alert(1)&gt;, reconciled 10m0s ago.</p>`,
		`<p id="failed-revision"><span class="bad">Failed:</span> <code>ba9876543210</code> typo &lt;img src=x onerror=alert(1)&gt;, 1m0s ago: lab/avatar.yaml:12:5: topics[1].partitions: want a positive number</p>`,
		`<span class="warn">3 change(s) pending</span>`,
		`<li class="bad">broker 3 (kafka-broker-3) is missing from the cluster</li>`,
		`<span class="warn">2 under-replicated</span>`,
		`<td>&lt;img src=x onerror=alert(1)&gt;</td><td class="opt">Stable</td><td class="n opt">1</td><td>eeg</td><td class="n">7</td><td class="n opt">&#43;2.5/s</td>`,
		`<td>eeg-brainwave-data</td><td class="n">3</td><td class="n">9/9</td><td class="n">12.0/s</td><td class="n">2.0 KiB/s</td><td class="n">5.0 MiB</td><td>7d</td>`,
		`<td class="ok">up</td><td class="n">6</td><td class="n">3.0 MiB</td>`,
		`<td>kafka-broker-1</td><td class="warn">renew</td><td class="n">12</td><td>2026-12-12</td>`,
		`<td>tello-1</td><td class="opt">tello</td><td class="bad">failed</td><td class="probe-age">42s ago</td><td>no answer</td>`,
		`<td>kafka-broker-1</td><td class="n ok">1/1</td><td><code>apache/kafka:3.9.0</code></td><td>done</td>`,
		`<td>StatefulSet</td><td>&lt;img src=x onerror=alert(1)&gt;</td><td><code>spec.template.spec.containers[0].image</code></td><td>apache/kafka:3.8.0 → apache/kafka:3.9.0</td><td>update</td>`,
		`<figure data-group="&lt;img src=x onerror=alert(1)&gt;"><svg class="chart"`,
		`<figure data-topic="eeg-brainwave-data"><svg class="chart"`,
		`<th scope="col">group</th>`,
		`@media (prefers-color-scheme: dark)`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, hostile) {
		t.Errorf("a name reached the page unescaped:\n%s", page)
	}
	// Order: tiles, then devices, then lag, then revisions, then Kubernetes, topics and brokers.
	order := []string{`id="glance"`, `id="devices-section"`, `id="lag-section"`, `id="revisions"`, `id="kubernetes"`, `id="topics-section"`, `id="brokers-section"`, `id="history"`}
	last := -1
	for _, id := range order {
		i := strings.Index(page, id)
		if i < last {
			t.Errorf("%s comes before the section above it", id)
		}
		last = i
	}
	// The journal lists the newest pass first.
	if i, j := strings.Index(page, "<td>11-30 11:59:00</td>"), strings.Index(page, "<td>11-30 11:50:00</td>"); i < 0 || j < 0 || i > j {
		t.Errorf("journal not newest first (%d, %d)", i, j)
	}
	// One chart per group, each with its three points.
	polylines := regexp.MustCompile(`<figure data-group="[^"]*"><svg[^>]*>(?:<line[^>]*/>)<polyline points="([^"]*)"/>`).FindAllStringSubmatch(page, -1)
	if len(polylines) != 2 {
		t.Fatalf("want a lag chart per group (2), got %d", len(polylines))
	}
	for _, m := range polylines {
		if n := len(strings.Fields(m[1])); n != 3 {
			t.Errorf("chart with %d points, want 3: %s", n, m[1])
		}
	}
}

func TestRenderBeforeFirstPass(t *testing.T) {
	page := render(t, Data{Cluster: "embedded", Now: time.Now()})
	for _, want := range []string{"No pass has finished yet.", "Not read yet.", "No device check results yet.", `content="30"`,
		`<li class="tile warning" id="tile-kafka"><h3>Kafka <span>warning</span></h3><p class="why">not read yet</p>`,
		`<p class="why">no pass has succeeded yet</p>`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "tile-kubernetes") {
		t.Error("a target without kubernetes: got a Kubernetes tile")
	}
}

func TestTiles(t *testing.T) {
	healthy := &health.Report{Healthy: true, Brokers: []health.BrokerReport{{State: "up"}, {State: "up"}}, Summary: health.PartitionTotal{Partitions: 9},
		Groups: []health.GroupReport{{Lag: 4}, {Lag: 1}}}
	warned := *healthy
	warned.Warnings = []string{"topic \"eeg\": partition(s) 0 under-replicated"}
	inForce := &Entry{Revision: "abc", Result: "ok"}
	tests := map[string]struct {
		d    Data
		id   string
		want Tile
	}{
		"kafka healthy":        {Data{Health: healthy}, "kafka", Tile{Level: OK, Reason: "2/2 brokers up, 9 partitions, lag 5"}},
		"kafka warning":        {Data{Health: &warned}, "kafka", Tile{Level: Warning, Reason: `topic "eeg": partition(s) 0 under-replicated`}},
		"kafka unreadable":     {Data{HealthError: "lab is unreachable:\n  dial tcp: refused"}, "kafka", Tile{Level: Failing, Reason: "cannot read the cluster: lab is unreachable: dial tcp: refused"}},
		"kafka two problems":   {Data{Health: &health.Report{Problems: []string{"a", "b"}}}, "kafka", Tile{Level: Failing, Reason: "a (+1 more)"}},
		"devices all answer":   {Data{Devices: []Device{{OK: true}, {OK: true}}}, "devices", Tile{Level: OK, Reason: "2/2 answer"}},
		"optional down":        {Data{Devices: []Device{{OK: true}, {Name: "tello-1"}}}, "devices", Tile{Level: Warning, Reason: "tello-1 not answering"}},
		"required down":        {Data{Devices: []Device{{Name: "headset", Required: true}, {Name: "tello-1"}}}, "devices", Tile{Level: Failing, Reason: "required headset not answering"}},
		"no devices in spec":   {Data{NoDevices: true}, "devices", Tile{Level: OK, Reason: "the spec declares no devices"}},
		"spec in sync":         {Data{InForce: inForce, LastPass: &Pass{InSync: true}}, "spec", Tile{Level: OK, Reason: "abc in force, in sync"}},
		"spec pending":         {Data{InForce: inForce, Pending: 2, LastPass: &Pass{}}, "spec", Tile{Level: Warning, Reason: "abc in force, 2 change(s) pending"}},
		"spec failed, no good": {Data{Failed: &Entry{Revision: "def", Error: "boom"}}, "spec", Tile{Level: Failing, Reason: "revision def failed: boom"}},
		"rollout": {Data{Kubernetes: &health.KubeReport{StatefulSets: []health.StatefulSetState{{Name: "kafka-broker-2", Ready: 0, Desired: 1, Rollout: true}}}}, "kubernetes",
			Tile{Level: Warning, Reason: "kafka-broker-2 0/1 ready, rollout in progress"}},
		"not ready": {Data{Kubernetes: &health.KubeReport{StatefulSets: []health.StatefulSetState{{Name: "kafka-broker-2", Ready: 0, Desired: 1}}}}, "kubernetes",
			Tile{Level: Failing, Reason: "kafka-broker-2 0/1 ready"}},
		"drift reported": {Data{Kubernetes: &health.KubeReport{Mode: "report", Drift: []health.ObjectDrift{{Kind: "ConfigMap", Name: "c", Field: "data.x"}}}}, "kubernetes",
			Tile{Level: Warning, Reason: "1 field(s) drifting (ConfigMap/c data.x), reported, not healed"}},
		"kube ok": {Data{Kubernetes: &health.KubeReport{StatefulSets: []health.StatefulSetState{{Ready: 1, Desired: 1}}}}, "kubernetes", Tile{Level: OK, Reason: "1/1 StatefulSets ready, no drift"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for _, got := range Tiles(tc.d) {
				if got.ID == tc.id {
					if got.Level != tc.want.Level || got.Reason != tc.want.Reason {
						t.Errorf("got %s %q, want %s %q", got.Level, got.Reason, tc.want.Level, tc.want.Reason)
					}
					return
				}
			}
			t.Errorf("no %s tile", tc.id)
		})
	}
}

func TestRevisions(t *testing.T) {
	e := func(rev, result string, min int) Entry {
		return Entry{Revision: rev, Result: result, At: now.Add(time.Duration(min) * time.Minute)}
	}
	tests := map[string]struct {
		entries        []Entry
		inForce, faild string
	}{
		"empty":                      {nil, "", ""},
		"good":                       {[]Entry{e("a", "ok", 0)}, "a", ""},
		"bad commit after good":      {[]Entry{e("a", "ok", 0), e("b", "error", 1), e("b", "error", 2)}, "a", "b"},
		"fixed":                      {[]Entry{e("a", "ok", 0), e("b", "error", 1), e("c", "ok", 2)}, "c", ""},
		"interrupted says nothing":   {[]Entry{e("a", "ok", 0), e("b", "interrupted", 1)}, "a", ""},
		"never succeeded":            {[]Entry{e("a", "error", 0)}, "", "a"},
		"same revision fails (blip)": {[]Entry{e("a", "ok", 0), e("a", "error", 1)}, "a", "a"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in, f := Revisions(tc.entries)
			got := [2]string{}
			if in != nil {
				got[0] = in.Revision
			}
			if f != nil {
				got[1] = f.Revision
			}
			if got != [2]string{tc.inForce, tc.faild} {
				t.Errorf("in force, failed = %q, want %q", got, [2]string{tc.inForce, tc.faild})
			}
		})
	}
}

func TestJournalIsBoundedAndSurvivesReload(t *testing.T) {
	path := JournalPath(t.TempDir(), "lab")
	j, err := LoadJournal(path)
	if err != nil || len(j.Entries) != 0 {
		t.Fatalf("new journal: %v %v", j.Entries, err)
	}
	for i := range JournalLimit + 5 {
		if err := j.Append(Entry{At: now.Add(time.Duration(i) * time.Second), Revision: "r", Result: "ok", Applied: i}); err != nil {
			t.Fatal(err)
		}
	}
	again, err := LoadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Entries) != JournalLimit || again.Entries[0].Applied != 5 || again.Entries[JournalLimit-1].Applied != JournalLimit+4 {
		t.Errorf("reloaded %d entries, first %d", len(again.Entries), again.Entries[0].Applied)
	}
}

func TestHistoryKeepsTheLastHour(t *testing.T) {
	var h History
	for i := range 70 {
		at := now.Add(time.Duration(i) * time.Minute)
		h.Add(health.Report{Time: at, Groups: []health.GroupReport{{Name: "g", Lag: int64(i)}}})
	}
	if ps := h.Lag["g"]; len(ps) != 61 || ps[0].Value != 9 {
		t.Errorf("kept %d points from %v", len(ps), ps[0])
	}
	h.Add(health.Report{Time: now.Add(3 * time.Hour)})
	if _, ok := h.Lag["g"]; ok {
		t.Error("a group gone for an hour keeps its chart")
	}
}
