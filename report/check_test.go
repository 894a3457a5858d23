package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/reconcile"
)

func TestRenderCheckText(t *testing.T) {
	rep := reconcile.Report{Results: []reconcile.CheckResult{
		{Device: "openbci-headset", Kind: "openbci-wifi", Address: "192.168.4.1:80", Required: true, Status: reconcile.CheckOK, Latency: 12300 * time.Microsecond, Detail: "cyton board, 8 channels"},
		{Device: "tello-1", Kind: "tello", Address: "192.168.10.1:8889", Status: reconcile.CheckFail, Latency: 3 * time.Second, Detail: `no answer to "command" after 3 tries in 3s — is the laptop on the drone's Wi-Fi?`},
		{Device: "lidar", Kind: "lidar", Status: reconcile.CheckError, Latency: 20 * time.Microsecond, Detail: "no built-in probe for kind \"lidar\" and no avatar-sync-plugin-lidar on PATH"},
		{Device: "svc", Kind: "http", Address: "http://127.0.0.1:5000/health", Status: reconcile.CheckOK, Latency: 400 * time.Microsecond, Detail: "200 OK in 400µs"},
	}}
	want := `DEVICE             KIND          ADDRESS                       STATUS  LATENCY  DETAIL
openbci-headset *  openbci-wifi  192.168.4.1:80                OK      12ms     cyton board, 8 channels
tello-1            tello         192.168.10.1:8889             FAIL    3.0s     no answer to "command" after 3 tries in 3s — is the laptop on the drone's Wi-Fi?
lidar              lidar         -                             ERROR   -        no built-in probe for kind "lidar" and no avatar-sync-plugin-lidar on PATH
svc                http          http://127.0.0.1:5000/health  OK      0.4ms    200 OK in 400µs
* required. 4 devices: 2 ok, 2 failed (none required).
`
	var b bytes.Buffer
	if err := RenderCheckText(&b, rep, false); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestRenderCheckTextOneLinePerDevice: a plugin's message with a line break, a tab or a terminal
// escape sequence stays in its cell; the table keeps one line per device and no escape reaches the
// terminal.
func TestRenderCheckTextOneLinePerDevice(t *testing.T) {
	rep := reconcile.Report{Results: []reconcile.CheckResult{
		{Device: "disk", Kind: "diskspace", Address: "/data", Status: reconcile.CheckFail, Detail: "only 3 GiB free\n\x1b[2J\tarchive old sessions"},
		{Device: "tello-1", Kind: "tello", Address: "127.0.0.1:8889", Status: reconcile.CheckOK, Latency: time.Millisecond, Detail: "battery 87%"},
	}}
	var b bytes.Buffer
	if err := RenderCheckText(&b, rep, false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 4 || strings.ContainsAny(b.String(), "\x1b\t") {
		t.Errorf("want header, 2 device lines and the summary, no escapes or tabs; got:\n%q", b.String())
	}
	if !strings.Contains(lines[1], `only 3 GiB free \x1b[2J archive old sessions`) {
		t.Errorf("detail cell: %q", lines[1])
	}
}

func TestLatencyText(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{0, "-"},
		{-time.Millisecond, "-"},
		{400 * time.Microsecond, "0.4ms"},
		{9990 * time.Microsecond, "10.0ms"},
		{10 * time.Millisecond, "10ms"},
		{999 * time.Millisecond, "999ms"},
		{time.Second, "1.0s"},
		{3250 * time.Millisecond, "3.2s"},
	} {
		if got := latencyText(tc.in); got != tc.want {
			t.Errorf("latencyText(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCheckSummary(t *testing.T) {
	ok := reconcile.CheckResult{Device: "svc", Status: reconcile.CheckOK}
	req := reconcile.CheckResult{Device: "tello-1", Required: true, Status: reconcile.CheckOK}
	reqFail := reconcile.CheckResult{Device: "tello-1", Required: true, Status: reconcile.CheckFail}
	fail := reconcile.CheckResult{Device: "lidar", Status: reconcile.CheckError}
	for _, tc := range []struct {
		name string
		rs   []reconcile.CheckResult
		want string
	}{
		{"one ok", []reconcile.CheckResult{ok}, "1 device: all ok."},
		{"required ok", []reconcile.CheckResult{ok, req}, "* required. 2 devices: all ok."},
		{"optional failure", []reconcile.CheckResult{ok, fail}, "2 devices: 1 ok, 1 failed (none required)."},
		{"required failure", []reconcile.CheckResult{reqFail, fail, ok}, "* required. 3 devices: 1 ok, 2 failed (required: tello-1)."},
	} {
		if got := checkSummary(reconcile.Report{Results: tc.rs}); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestRenderCheckTextColor(t *testing.T) {
	rep := reconcile.Report{Results: []reconcile.CheckResult{{Device: "a", Kind: "tcp", Status: reconcile.CheckFail}}}
	var b bytes.Buffer
	if err := RenderCheckText(&b, rep, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\x1b[31mFAIL\x1b[0m") {
		t.Errorf("a failure is red on a terminal:\n%q", b.String())
	}
}

func TestRenderCheckJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		rep  reconcile.Report
		want string
	}{
		{"no devices", reconcile.Report{}, `{
  "ok": true,
  "devices": [],
  "failed": [],
  "requiredFailed": []
}
`},
		{"a required failure", reconcile.Report{Results: []reconcile.CheckResult{
			{Device: "tello-1", Kind: "tello", Address: "192.168.10.1:8889", Required: true, Status: reconcile.CheckFail, Latency: 1234567 * time.Nanosecond, Detail: "battery 9%", Facts: map[string]string{"battery": "9"}},
			{Device: "svc", Kind: "http", Status: reconcile.CheckOK},
		}}, `{
  "ok": false,
  "devices": [
    {
      "name": "tello-1",
      "kind": "tello",
      "address": "192.168.10.1:8889",
      "required": true,
      "status": "fail",
      "latencyMs": 1.23,
      "detail": "battery 9%",
      "facts": {
        "battery": "9"
      }
    },
    {
      "name": "svc",
      "kind": "http",
      "address": "",
      "required": false,
      "status": "ok",
      "latencyMs": 0,
      "detail": ""
    }
  ],
  "failed": [
    "tello-1"
  ],
  "requiredFailed": [
    "tello-1"
  ]
}
`},
	} {
		var b bytes.Buffer
		if err := RenderCheckJSON(&b, tc.rep); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("%s: got:\n%s\nwant:\n%s", tc.name, b.String(), tc.want)
		}
	}
}
