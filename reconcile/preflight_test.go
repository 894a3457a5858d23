package reconcile

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/spec"
)

// scripted is a Checker whose behaviour is chosen by the device's "do" param. The real probes live
// in plugins/ (and are tested against loopback fakes there); these cover what no real probe can be
// made to do on demand: panic, ignore cancellation, misreport.
type scripted struct {
	release chan struct{} // closed at test end, freeing checkers that ignore cancellation
	mu      sync.Mutex
	seen    map[string]time.Duration // device → the timeout it was given
}

func (s *scripted) Name() string { return "scripted" }

func (s *scripted) Validate(ctx context.Context, d spec.Device) spec.Diagnostics {
	if d.Params["do"] == "validate-waits" {
		// Like an external plugin hanging in validate: only ctx ends it (bounded, so a Preflight
		// that gave Validate no deadline fails the test instead of hanging it).
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(10 * time.Second):
			return spec.Diagnostics{{Message: "Validate had no deadline: still waiting 10s later"}}
		}
	}
	if d.Params["do"] == "invalid" {
		return spec.Diagnostics{
			{Pos: spec.Pos{File: "avatar.yaml", Line: 9, Col: 3}, Message: "bad param"},
			{Pos: spec.Pos{File: "avatar.yaml", Line: 10, Col: 3}, Message: "another bad param"},
			{Severity: spec.SeverityWarning, Message: "just a warning"},
		}
	}
	return nil
}

func (s *scripted) Check(ctx context.Context, d spec.Device) (CheckResult, error) {
	s.mu.Lock()
	s.seen[d.Name] = d.Timeout
	s.mu.Unlock()
	switch d.Params["do"] {
	case "ok":
		return CheckResult{OK: true, Detail: "battery 87%", Facts: map[string]string{"battery": "87"}, Latency: 5 * time.Millisecond}, nil
	case "ok-quiet":
		return CheckResult{OK: true}, nil
	case "fail":
		return CheckResult{Detail: "no answer"}, nil
	case "fail-quiet":
		return CheckResult{}, nil
	case "error":
		return CheckResult{}, errors.New("plugin exploded")
	case "panic":
		panic("nil map")
	case "wait":
		<-ctx.Done()
		return CheckResult{Detail: "no answer within " + d.Timeout.String()}, nil
	case "validate-waits":
		return CheckResult{Detail: "probe started with ctx " + errString(ctx.Err())}, nil
	case "ignore":
		<-s.release
		return CheckResult{OK: true}, nil
	}
	return CheckResult{}, errors.New("unknown script")
}

func errString(err error) string {
	if err == nil {
		return "live"
	}
	return err.Error()
}

type scriptRegistry struct{ c *scripted }

func (r scriptRegistry) Checker(d spec.Device) (Checker, error) {
	if d.Kind != "scripted" {
		return nil, errors.New(`unknown kind "` + d.Kind + `"`)
	}
	return r.c, nil
}

func newScripted(t *testing.T) (*scripted, Registry) {
	s := &scripted{release: make(chan struct{}), seen: map[string]time.Duration{}}
	t.Cleanup(func() { close(s.release) })
	return s, scriptRegistry{s}
}

func dev(name, do string, required bool) spec.Device {
	return spec.Device{Name: name, Kind: "scripted", Address: "127.0.0.1:1", Required: required, Params: map[string]string{"do": do}}
}

func TestPreflight(t *testing.T) {
	_, reg := newScripted(t)
	devices := []spec.Device{
		dev("ok", "ok", true),
		dev("ok-quiet", "ok-quiet", false),
		dev("fail", "fail", false),
		dev("fail-quiet", "fail-quiet", true),
		dev("error", "error", false),
		dev("panic", "panic", false),
		dev("invalid", "invalid", false),
		{Name: "typo", Kind: "tell", Required: true},
	}
	rep, err := Preflight(context.Background(), devices, reg)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		status CheckStatus
		detail string
	}{
		{CheckOK, "battery 87%"},
		{CheckOK, "ok"},
		{CheckFail, "no answer"},
		{CheckFail, "plugin scripted reported a failure without saying why"},
		{CheckError, "plugin exploded"},
		{CheckError, "plugin scripted panicked: nil map"},
		{CheckError, "invalid device entry: avatar.yaml:9:3: bad param (and 1 more)"},
		{CheckError, `unknown kind "tell"`},
	}
	if len(rep.Results) != len(want) {
		t.Fatalf("%d results, want %d", len(rep.Results), len(want))
	}
	for i, w := range want {
		r := rep.Results[i]
		if r.Device != devices[i].Name || r.Kind != devices[i].Kind || r.Required != devices[i].Required {
			t.Errorf("result %d is %q/%q required=%v, want the device's identity in input order", i, r.Device, r.Kind, r.Required)
		}
		if r.Status != w.status || r.Detail != w.detail {
			t.Errorf("%s: got %s %q, want %s %q", r.Device, r.Status, r.Detail, w.status, w.detail)
		}
		if r.Failed() != (w.status != CheckOK) {
			t.Errorf("%s: Failed() = %v", r.Device, r.Failed())
		}
	}
	if got := rep.Results[0].Facts["battery"]; got != "87" {
		t.Errorf("facts not carried: %v", rep.Results[0].Facts)
	}
	if got := names(rep.Failures()); got != "fail,fail-quiet,error,panic,invalid,typo" {
		t.Errorf("Failures() = %s", got)
	}
	if got := names(rep.RequiredFailures()); got != "fail-quiet,typo" {
		t.Errorf("RequiredFailures() = %s", got)
	}
	if rep.OK() {
		t.Error("OK() = true with failed required devices")
	}
}

func TestPreflightOnlyOptionalFailures(t *testing.T) {
	_, reg := newScripted(t)
	rep, err := Preflight(context.Background(), []spec.Device{dev("a", "ok", true), dev("b", "fail", false)}, reg)
	if err != nil || !rep.OK() || len(rep.Failures()) != 1 {
		t.Fatalf("rep %+v, err %v: want OK with one optional failure", rep, err)
	}
}

func TestPreflightTimeouts(t *testing.T) {
	s, reg := newScripted(t)
	short := dev("short", "wait", true)
	short.Timeout = 50 * time.Millisecond
	dflt := dev("default", "ok", true)
	capped := dev("capped", "ok", false)
	capped.Timeout = time.Hour

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, err := Preflight(ctx, []spec.Device{short, dflt, capped}, reg)
	if err != nil {
		t.Fatal(err)
	}
	if s.seen["short"] != 50*time.Millisecond {
		t.Errorf("short got timeout %s, want its own 50ms", s.seen["short"])
	}
	if s.seen["default"] != DefaultDeviceTimeout {
		t.Errorf("default got timeout %s, want DefaultDeviceTimeout", s.seen["default"])
	}
	if got := s.seen["capped"]; got > 10*time.Second || got <= 0 {
		t.Errorf("capped got timeout %s, want the caller's remaining 10s at most", got)
	}
	if rep.Results[0].Status != CheckFail || rep.Results[2].Status != CheckOK {
		t.Errorf("timed-out devices: %+v", rep.Results)
	}
}

func TestPreflightAbandonsCheckersThatIgnoreCancellation(t *testing.T) {
	_, reg := newScripted(t)
	d := dev("stuck", "ignore", true)
	d.Timeout = 20 * time.Millisecond
	rep, err := Preflight(context.Background(), []spec.Device{d}, reg)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Results[0]
	if r.Status != CheckError || !strings.Contains(r.Detail, "did not return within 20ms and ignored cancellation") {
		t.Errorf("got %s %q", r.Status, r.Detail)
	}
}

func TestPreflightInterrupted(t *testing.T) {
	_, reg := newScripted(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := Preflight(ctx, []spec.Device{dev("a", "wait", true)}, reg)
	if !errors.Is(err, context.Canceled) || len(rep.Results) != 1 {
		t.Fatalf("err = %v, results %d: want context.Canceled and the partial report", err, len(rep.Results))
	}
}

func TestValidateDevices(t *testing.T) {
	_, reg := newScripted(t)
	at := func(line int) spec.Pos { return spec.Pos{File: "avatar.yaml", Line: line, Col: 5} }
	devices := []spec.Device{
		{Name: "tello-1", Kind: "scripted", Pos: at(30)},
		{Name: "tello-1", Kind: "scripted", Pos: at(31)},
		{Kind: "scripted", Pos: at(32)},
		{Name: "slow", Kind: "scripted", Timeout: -time.Second, Pos: at(33)},
		{Name: "typo", Kind: "tell", Pos: at(34)},
		{Name: "params", Kind: "scripted", Params: map[string]string{"do": "invalid"}, Pos: at(35)},
		{Name: "env", Kind: "scripted", Env: []string{"LIDAR_TOKEN", "TOKEN=abc", "1X"}, Pos: at(36)},
	}
	var got []string
	for _, d := range ValidateDevices(t.Context(), devices, reg) {
		got = append(got, d.String())
	}
	want := []string{
		`avatar.yaml:31:5: device "tello-1" is declared twice (first at avatar.yaml:30:5); device names must be unique`,
		"avatar.yaml:32:5: device #3 has no name: every device needs a unique name: to select it with `avatar-sync check NAME`",
		`avatar.yaml:33:5: device "slow": timeout -1s is negative; leave it out for the default 3s`,
		`avatar.yaml:34:5: device "typo": unknown kind "tell"`,
		"avatar.yaml:9:3: bad param",
		"avatar.yaml:10:3: another bad param",
		"warning: just a warning",
		`avatar.yaml:36:5: device "env": env entry "TOKEN=abc" is not the name of an environment variable (letters, digits and _, not starting with a digit; no =value: the plugin receives the variable's current value)`,
		`avatar.yaml:36:5: device "env": env entry "1X" is not the name of an environment variable (letters, digits and _, not starting with a digit; no =value: the plugin receives the variable's current value)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCheckResultLine(t *testing.T) {
	r := CheckResult{Device: "tello-1", Address: "192.168.10.1:8889", Detail: `no answer to "command" after 3 tries in 3s — is the laptop on the drone's Wi-Fi?`}
	want := `tello-1 192.168.10.1:8889: no answer to "command" after 3 tries in 3s — is the laptop on the drone's Wi-Fi?`
	if r.Line() != want {
		t.Errorf("Line() = %q", r.Line())
	}
	for _, st := range []CheckStatus{CheckOK, CheckFail, CheckError} {
		text, _ := st.MarshalText()
		var back CheckStatus
		if err := back.UnmarshalText(text); err != nil || back != st {
			t.Errorf("%s: round trip gave %s, %v", st, back, err)
		}
	}
	var bad CheckStatus
	if err := bad.UnmarshalText([]byte("meh")); err == nil {
		t.Error("UnmarshalText accepted an unknown status")
	}
}

func names(rs []CheckResult) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Device)
	}
	return strings.Join(out, ",")
}

// TestPreflightValidationSpendsTheDeviceTimeout: a device's validation and probe share its
// timeout, so a plugin that hangs in validate costs the device's timeout once, and the probe then
// starts with its deadline already spent (issue 10: check used to wait for such a plugin twice).
func TestPreflightValidationSpendsTheDeviceTimeout(t *testing.T) {
	_, reg := newScripted(t)
	d := dev("lidar-1", "validate-waits", false)
	d.Timeout = 200 * time.Millisecond
	rep, err := Preflight(t.Context(), []spec.Device{d}, reg)
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Results[0].Detail; got != "probe started with ctx context deadline exceeded" {
		t.Errorf("detail %q: the probe did not share the deadline its validation used up", got)
	}
}
