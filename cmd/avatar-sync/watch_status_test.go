package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/internal/tooltest"
)

// TestWatchStatusPageInChromium is the status page's test (issue 13): with a lag the test created
// (40 records, group prediction committed 15), freshly generated certificates and two devices (one
// answering, one not), watch --metrics-addr serves "/", and headless Chromium loads it and shows
// lag 25 for prediction on eeg-brainwave-data, the brokers, the last pass, the certificates' days
// left and the device results; it loads nothing from elsewhere (no CDN). The screenshot is kept in the test's artifact directory for review:
//
//	go test -run TestWatchStatusPageInChromium -artifacts -outputdir /tmp/avatar-status ./cmd/avatar-sync/
func TestWatchStatusPageInChromium(t *testing.T) {
	chromium := tooltest.Require(t, "chromium", "apt-get install chromium")
	c, f := labCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if err := c.Produce(ctx, "eeg-brainwave-data", 0, 40); err != nil {
		t.Fatal(err)
	}
	stop, err := c.ConsumeAndCommit(ctx, "prediction", "eeg-brainwave-data", 15)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	// TLS material for the certificates section, and two devices for the device section: one
	// answering (a listener of the test) and one not (a closed port).
	for i, port := range []string{"9092", "9093", "9094"} {
		editSpec(t, f, "plaintext: "+port+" }", fmt.Sprintf("plaintext: %s, ssl: 919%d }", port, 2+i))
	}
	editSpec(t, f, "topicDefaults:", "tls: { enabled: true, passwordEnv: AVATAR_KEYSTORE_PASSWORD, validity: 825d, renewBefore: 30d }\ntopicDefaults:")
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "lab-keystore-secret")
	if code, out, errOut := runCLI(t, "certs", "generate", "-f", f); code != exitOK {
		t.Fatalf("certs generate: %d\n%s%s", code, out, errOut)
	}
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

	log := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"watch", "-f", f, "--cluster", "lab", "--interval", "0", "--metrics-addr", "127.0.0.1:0", "-o", "json"},
			strings.NewReader(""), io.Discard, log)
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("watch did not stop")
		}
	}()
	waitLog(t, log, `"msg":"serving metrics"`, 1)
	m := regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"`).FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("no metrics address in the log:\n%s", log.String())
	}
	url := "http://" + m[1] + "/"
	// The page fills in after the first pass; wait for it (bounded) before starting a browser.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), `id="lag"`) && strings.Contains(string(body), `id="devices"`) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page never showed the lag and device tables; log:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	profile := t.TempDir()
	browser := func(args ...string) string {
		t.Helper()
		bctx, bcancel := context.WithTimeout(ctx, 90*time.Second)
		defer bcancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--user-data-dir=" + profile}
		out, err := exec.CommandContext(bctx, chromium, append(append(base, args...), url)...).Output()
		if err != nil {
			t.Fatalf("chromium %v: %v", args, err)
		}
		return string(out)
	}
	dom := browser("--dump-dom")
	for _, want := range []string{
		`http-equiv="refresh" content="15"`,
		`<td>prediction</td><td class="opt">Stable</td><td class="n opt">1</td><td>eeg-brainwave-data</td><td class="n">25</td>`,
		`<span class="ok" id="verdict">HEALTHY</span>`,
		`broker 3 (kafka-broker-3)`,
		`<p id="last-pass">Last pass <span class="ok">ok</span>`,
		`No drift: the last plan was empty.`,
		`0 under-replicated`,
		`<code id="revision">sha256:`,
		`<td>kafka-broker-1</td><td class="ok">ok</td><td class="n">824</td>`,
		`<td>prediction-api (required)</td><td class="opt">tcp</td><td class="ok">ok</td>`,
		`<td>tello-1</td><td class="opt">tcp</td><td class="bad">fail</td>`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page in Chromium lacks %q:\n%s", want, dom)
		}
	}
	if regexp.MustCompile(`<script[^>]+src=|<link[^>]+href=|url\(`).MatchString(dom) {
		t.Error("the page loads something from elsewhere: it must be one self-contained response")
	}

	shot := filepath.Join(t.ArtifactDir(), "status-page.png")
	browser("--screenshot="+shot, "--window-size=1200,1400", "--hide-scrollbars")
	st, err := os.Stat(shot)
	if err != nil || st.Size() < 1000 {
		t.Fatalf("no screenshot at %s: %v", shot, err)
	}
	t.Logf("screenshot: %s", shot)
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.WriteString(text); err != nil {
		t.Fatal(err)
	}
}
