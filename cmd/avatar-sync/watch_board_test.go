package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/avatar-project/avatar-sync/internal/gittest"
	"github.com/avatar-project/avatar-sync/internal/tooltest"
)

// hostileName is a name no page may render as markup: a consumer group, a device and commit
// subjects carry it.
const hostileName = `<img src=x onerror=alert(1)>`

// TestWatchBoardInChromium is issue 24's flight-day board, end to end: watch --git follows a
// repository whose commit subjects carry markup, against the lab cluster with lag in two groups
// (one named with markup), a producer writing a known 200 records/s, and two devices. Headless
// Chromium loads the page at 1280×800 and 390×844 (screenshots kept as test artifacts) and the test
// checks: the tiles come first and, with the devices and the lag, sit above the fold at both
// sizes; devices come before brokers; every group has an SVG chart with at least two points; the
// measured messages/s is the produce rate; no name is rendered as markup; the page updates itself
// with JavaScript and carries a refresh without it. Then a bad commit shows the revision still in
// force beside the failed one with its file:line:col, and after a daemon restart the journal and
// the revision in force are still there.
//
//	go test -run TestWatchBoardInChromium -artifacts -outputdir /tmp/avatar-board ./cmd/avatar-sync/
func TestWatchBoardInChromium(t *testing.T) {
	chromium := tooltest.Require(t, "chromium", "apt-get install chromium")
	c, f := labCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	if err := c.Produce(ctx, "eeg-brainwave-data", 0, 40); err != nil {
		t.Fatal(err)
	}
	stop, err := c.ConsumeAndCommit(ctx, "prediction", "eeg-brainwave-data", 15)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := c.CommitOffsets(ctx, hostileName, "eeg-brainwave-data", map[int32]int64{0: 30}); err != nil {
		t.Fatal(err)
	}

	// A producer at a known rate: 20 records every 100 ms to prediction-results.
	const rate = 200.0
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...), kgo.DefaultProduceTopic("prediction-results"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pctx, stopProducing := context.WithCancel(ctx)
	defer stopProducing()
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-tick.C:
			}
			recs := make([]*kgo.Record, int(rate/10))
			for i := range recs {
				recs[i] = &kgo.Record{Value: []byte("prediction 0.93")}
			}
			_ = cl.ProduceSync(pctx, recs...)
		}
	}()

	api, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	appendFile(t, f, fmt.Sprintf("devices:\n  - { name: prediction-api, kind: tcp, address: %q, required: true }\n  - { name: tello-1, kind: tcp, address: %q, timeout: 1s }\n",
		api.Addr().String(), closed.Addr().String()))
	specText, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	remote := gittest.New(t)
	good := remote.Commit("lab spec "+hostileName, map[string]string{"lab/avatar.yaml": string(specText)})
	state := filepath.Join(t.TempDir(), "state")
	args := []string{"--git", remote.URL, "--branch", "main", "--path", "lab/avatar.yaml", "--git-interval", "1s", "--interval", "1s",
		"--cluster", "lab", "--state-dir", state, "--metrics-addr", "127.0.0.1:0"}
	_, stopWatch, base := runWatch(t, args...)

	get := func(base string) string {
		resp, err := http.Get(base + "/")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	points := regexp.MustCompile(`<figure data-group="([^"]*)"><svg[^>]*>(?:<line[^>]*/>)<polyline points="([^"]*)"/>`)
	// Two reads at least: every group's chart has two points and the producer's topic a rate.
	waitFor(t, func() bool {
		page := get(base)
		charts := points.FindAllStringSubmatch(page, -1)
		return len(charts) == 2 && len(strings.Fields(charts[0][2])) >= 3 && len(strings.Fields(charts[1][2])) >= 3 &&
			strings.Contains(page, `id="devices"`) && strings.Contains(page, `<figure data-topic="prediction-results">`)
	})

	// Throughput against the known produce rate, as /metrics and the page report it.
	m := regexp.MustCompile(`avatar_sync_topic_messages_in_per_second\{topic="prediction-results"\} (\S+)`).FindStringSubmatch(scrape(t, base))
	if m == nil {
		t.Fatalf("no messages/s for prediction-results in /metrics:\n%s", scrape(t, base))
	}
	if got, _ := strconv.ParseFloat(m[1], 64); math.Abs(got-rate) > 0.35*rate {
		t.Errorf("messages/s in of prediction-results = %.1f, produced at %.0f/s", got, rate)
	}

	// A same-origin harness measures where the sections end inside a frame of each size.
	proxyURL, _ := url.Parse(base)
	proxy := httputil.NewSingleHostReverseProxy(proxyURL)
	harness := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/harness" {
			proxy.ServeHTTP(w, r)
			return
		}
		// sandbox=1 frames the page with scripts disabled (a sandbox without allow-scripts), as a
		// browser with JavaScript off shows it: <noscript> then holds real elements.
		sandbox := ""
		if r.URL.Query().Get("sandbox") == "1" {
			sandbox = ` sandbox="allow-same-origin"`
		}
		fmt.Fprintf(w, `<!DOCTYPE html><html><body style="margin:0"><iframe id="f" src="/" width="%s" height="%s" style="border:0"%s></iframe><pre id="out">waiting</pre>
<script>document.getElementById("f").onload = function () {
  var d = this.contentDocument, out = [];
  out.push("refresh=" + (d.querySelector("noscript meta[http-equiv=refresh]") ? d.querySelector("noscript meta[http-equiv=refresh]").content : "none"));
  out.push("live=" + (d.documentElement.dataset.live || "none"));
  ["glance", "devices", "lag", "brokers-section"].forEach(function (id) {
    var e = d.getElementById(id); out.push(id + "=" + (e ? Math.round(e.getBoundingClientRect().bottom) : -1));
  });
  out.push("scrollWidth=" + d.documentElement.scrollWidth);
  document.getElementById("out").textContent = out.join(" ");
};</script></body></html>`, r.URL.Query().Get("w"), r.URL.Query().Get("h"), sandbox)
	}))
	defer harness.Close()

	profile := t.TempDir()
	browser := func(target string, args ...string) string {
		t.Helper()
		bctx, bcancel := context.WithTimeout(ctx, 90*time.Second)
		defer bcancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir=" + profile}
		out, err := exec.CommandContext(bctx, chromium, append(append(base, args...), target)...).Output()
		if err != nil {
			t.Fatalf("chromium %v: %v", args, err)
		}
		return string(out)
	}
	screenshot := func(name string, args ...string) {
		t.Helper()
		shot := filepath.Join(t.ArtifactDir(), name)
		browser(base+"/", append([]string{"--screenshot=" + shot}, args...)...)
		if st, err := os.Stat(shot); err != nil || st.Size() < 1000 {
			t.Fatalf("no screenshot at %s: %v", shot, err)
		}
		t.Logf("screenshot: %s", shot)
	}
	for _, size := range [][2]int{{1280, 800}, {390, 844}} {
		out := browser(fmt.Sprintf("%s/harness?w=%d&h=%d", harness.URL, size[0], size[1]), "--dump-dom", "--virtual-time-budget=5000")
		m := regexp.MustCompile(`glance=(\d+) devices=(\d+) lag=(\d+) brokers-section=(\d+) scrollWidth=(\d+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("the harness measured nothing at %dx%d:\n%s", size[0], size[1], out)
		}
		n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
		if n(1) > size[1] || n(2) > size[1] || n(3) > size[1] {
			t.Errorf("at %dx%d the tiles, devices and lag end at %d, %d, %d px: not all above the fold", size[0], size[1], n(1), n(2), n(3))
		}
		if n(1) >= n(2) || n(2) >= n(4) {
			t.Errorf("at %dx%d the order is not tiles, devices, …, brokers: %s", size[0], size[1], m[0])
		}
		if n(5) > size[0] {
			t.Errorf("at %dx%d the page is %d px wide: it scrolls sideways", size[0], size[1], n(5))
		}
		screenshot(fmt.Sprintf("board-%dx%d.png", size[0], size[1]), fmt.Sprintf("--window-size=%d,%d", size[0], size[1]))
	}
	screenshot("board-dark-1280x800.png", "--window-size=1280,800", "--force-dark-mode", "--blink-settings=preferredColorScheme=0")

	dom := browser(base+"/", "--dump-dom", "--virtual-time-budget=8000")
	for _, want := range []string{
		`<html lang="en" data-live="ok">`, // the script fetched the page again and swapped it in
		`<li class="tile ok" id="tile-kafka">`,
		`<li class="tile warning" id="tile-devices"><h3>Devices <span>warning</span></h3><p class="why">tello-1 not answering</p></li>`,
		`<li class="tile ok" id="tile-spec"><h3>Spec <span>ok</span></h3><p class="why">` + good[:12] + ` in force, in sync</p></li>`,
		`<td>prediction</td><td class="opt">Stable</td><td class="n opt">1</td><td>eeg-brainwave-data</td><td class="n">25</td>`,
		`<td>&lt;img src=x onerror=alert(1)&gt;</td><td class="opt">Empty</td><td class="n opt">0</td><td>eeg-brainwave-data</td><td class="n">10</td>`,
		`<code>` + good[:12] + `</code> lab spec &lt;img src=x onerror=alert(1)&gt;`,
		`<td>prediction-api (required)</td><td class="opt">tcp</td><td class="ok">ok</td><td class="probe-age">`,
		`<th scope="col" class="n">disk used</th>`,
		`<td>eeg-brainwave-data</td><td class="n">3</td><td class="n">9/9</td>`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page in Chromium lacks %q:\n%s", want, dom)
		}
	}
	if strings.Contains(dom, "<img") || strings.Contains(dom, "onerror=\"") {
		t.Errorf("a name was rendered as markup:\n%s", dom)
	}
	glance, devices, brokers := strings.Index(dom, `id="glance"`), strings.Index(dom, `id="devices"`), strings.Index(dom, `id="brokers"`)
	if glance < 0 || glance > devices || devices > brokers || strings.Index(dom, "<section") != strings.Index(dom, `<section id="glance"`) {
		t.Errorf("tiles first, then devices, then brokers: %d %d %d", glance, devices, brokers)
	}
	// Without JavaScript: the same sections, reloaded by the <noscript> refresh. With it, the
	// refresh stays inert text and the script keeps the board live instead.
	noJS := browser(harness.URL+"/harness?w=1280&h=800&sandbox=1", "--dump-dom", "--virtual-time-budget=3000")
	if !regexp.MustCompile(`refresh=5 live=none glance=\d+ devices=\d+ lag=\d+ brokers-section=\d+`).MatchString(noJS) {
		t.Errorf("without JavaScript the page lacks its sections or its refresh:\n%s", noJS)
	}
	withJS := browser(harness.URL+"/harness?w=1280&h=800", "--dump-dom", "--virtual-time-budget=3000")
	if !strings.Contains(withJS, "refresh=none") {
		t.Errorf("with JavaScript the page would also reload itself:\n%s", withJS)
	}

	// A bad commit: the revision in force stays, the failed one is shown with its position.
	bad := remote.Commit("typo "+hostileName, map[string]string{"lab/avatar.yaml": strings.Replace(string(specText), "partitions: 3", "partitions: -3", 1)})
	waitFor(t, func() bool { return strings.Contains(get(base), `<p id="failed-revision">`) })
	page := get(base)
	for _, want := range []string{
		`<p id="in-force">In force: <code>` + good[:12] + `</code> lab spec &lt;img src=x onerror=alert(1)&gt;`,
		`<p id="failed-revision"><span class="bad">Failed:</span> <code>` + bad[:12] + `</code> typo &lt;img src=x onerror=alert(1)&gt;`,
		`lab/avatar.yaml:`,
		`<li class="tile failing" id="tile-spec"><h3>Spec <span>failing</span></h3><p class="why">revision ` + bad[:12] + ` failed: `,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("during a bad commit the page lacks %q:\n%s", want, page)
		}
	}
	screenshot("board-bad-commit-1280x800.png", "--window-size=1280,800")
	stopWatch()
	stopProducing()

	// A restart: before its first pass ends, the new daemon shows the journal and the revision in
	// force from the state directory (its own passes can only fail: the head is the bad commit).
	journal, err := os.ReadFile(filepath.Join(state, "watch-journal-lab.json"))
	if err != nil || !strings.Contains(string(journal), good[:12]) {
		t.Fatalf("no journal in the state directory: %v\n%s", err, journal)
	}
	_, _, base2 := runWatch(t, args...)
	page = get(base2)
	if !strings.Contains(page, `<p id="in-force">In force: <code>`+good[:12]+`</code>`) || !strings.Contains(page, `<table id="journal"`) ||
		!strings.Contains(page, `<td>interval</td>`) {
		t.Errorf("after a restart the page lacks the journal or the revision in force:\n%s", page)
	}
}
