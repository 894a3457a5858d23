package devices

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// probe validates d with c and runs its check under d.Timeout, as reconcile.Preflight would.
func probe(t *testing.T, c reconcile.Checker, d spec.Device) (reconcile.CheckResult, error) {
	t.Helper()
	if errs := c.Validate(t.Context(), d).Errors(); len(errs) > 0 {
		t.Fatalf("Validate(%+v): %v", d, errs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.Timeout)
	defer cancel()
	return c.Check(ctx, d)
}

func TestTello(t *testing.T) {
	tests := map[string]struct {
		mode       telloMode
		battery    string
		params     map[string]string
		timeout    time.Duration
		wantOK     bool
		wantDetail []string
		wantFacts  map[string]string
	}{
		"healthy": {
			mode: telloAnswers, battery: "87", timeout: 2 * time.Second,
			wantOK: true, wantDetail: []string{"battery 87%"}, wantFacts: map[string]string{"battery": "87"},
		},
		"answers on the second try": {
			mode: telloDropFirst, battery: "64", timeout: 3 * time.Second,
			wantOK: true, wantDetail: []string{"battery 64%"},
		},
		"silent": {
			mode: telloSilent, timeout: 300 * time.Millisecond,
			wantDetail: []string{`no answer to "command" after 3 tries in`, "is the laptop on the drone's Wi-Fi"},
		},
		"silent with one try": {
			mode: telloSilent, timeout: 100 * time.Millisecond, params: map[string]string{"retries": "1"},
			wantDetail: []string{`no answer to "command" after 1 try in 100ms`},
		},
		"silent with two retries": {
			mode: telloSilent, timeout: 200 * time.Millisecond, params: map[string]string{"retries": "2"},
			wantDetail: []string{"after 2 tries"},
		},
		"garbage": {
			mode: telloGarbage, timeout: time.Second,
			wantDetail: []string{"answered garbage", `to "command" (want "ok")`},
		},
		"busy": {
			mode: telloBusy, timeout: time.Second,
			wantDetail: []string{`answered "error" to "command"`},
		},
		"low battery, default threshold": {
			mode: telloAnswers, battery: "12", timeout: time.Second,
			wantDetail: []string{"battery 12% is under minBattery 20%", "charge"},
			wantFacts:  map[string]string{"battery": "12"},
		},
		"threshold from the spec": {
			mode: telloAnswers, battery: "45", timeout: time.Second, params: map[string]string{"minBattery": "50%"},
			wantDetail: []string{"battery 45% is under minBattery 50%"},
		},
		"battery answer is not a number": {
			mode: telloAnswers, battery: "high", timeout: time.Second,
			wantDetail: []string{`answered "high" to "battery?"`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := startFakeTello(t, tc.mode, tc.battery)
			d := spec.Device{Name: "tello-1", Kind: "tello", Address: f.addr, Timeout: tc.timeout, Params: tc.params}
			res, err := probe(t, Tello{}, d)
			if err != nil {
				t.Fatalf("Check error: %v", err)
			}
			if res.OK != tc.wantOK {
				t.Errorf("OK = %v, want %v (detail %q)", res.OK, tc.wantOK, res.Detail)
			}
			mustContain(t, "detail", res.Detail, tc.wantDetail...)
			for k, v := range tc.wantFacts {
				if res.Facts[k] != v {
					t.Errorf("fact %s = %q, want %q", k, res.Facts[k], v)
				}
			}
		})
	}
}

func TestTelloRetriesAreBounded(t *testing.T) {
	f := startFakeTello(t, telloSilent, "")
	d := spec.Device{Name: "tello-1", Kind: "tello", Address: f.addr, Timeout: 300 * time.Millisecond, Params: map[string]string{"retries": "4"}}
	if res, err := probe(t, Tello{}, d); err != nil || res.OK {
		t.Fatalf("got %+v, %v; want a failed finding", res, err)
	}
	got := f.commands()
	if len(got) != 4 || slices.ContainsFunc(got, func(c string) bool { return c != "command" }) {
		t.Errorf("drone received %q, want exactly 4 \"command\"", got)
	}
}

func TestTelloClosedPort(t *testing.T) {
	d := spec.Device{Name: "tello-1", Kind: "tello", Address: closedUDPPort(t), Timeout: time.Second}
	res, err := probe(t, Tello{}, d)
	if err != nil || res.OK {
		t.Fatalf("got %+v, %v; want a failed finding", res, err)
	}
	mustContain(t, "detail", res.Detail, "closed (ICMP port unreachable)")
}

func TestTelloStateStream(t *testing.T) {
	f := startFakeTello(t, telloAnswers, "77")
	listen := closedUDPPort(t) // a free loopback port for the probe's state listener
	f.mu.Lock()
	f.statePort = port(t, listen)
	f.mu.Unlock()
	d := spec.Device{Name: "tello-1", Kind: "tello", Address: f.addr, Timeout: 2 * time.Second,
		Params: map[string]string{"stateStream": "true", "stateListen": listen}}
	res, err := probe(t, Tello{}, d)
	if err != nil || !res.OK {
		t.Fatalf("got %+v, %v; want OK", res, err)
	}
	mustContain(t, "detail", res.Detail, "battery 77%", "state stream ok")
}

func TestTelloStateStreamMissing(t *testing.T) {
	f := startFakeTello(t, telloAnswers, "77") // statePort unset: the drone never streams
	d := spec.Device{Name: "tello-1", Kind: "tello", Address: f.addr, Timeout: time.Second,
		Params: map[string]string{"stateStream": "true", "stateListen": closedUDPPort(t), "stateTimeout": "200ms"}}
	res, err := probe(t, Tello{}, d)
	if err != nil || res.OK {
		t.Fatalf("got %+v, %v; want a failed finding", res, err)
	}
	mustContain(t, "detail", res.Detail, "battery 77%", "no state stream", "nothing within")
}

func TestTelloStateListenBusyIsAnError(t *testing.T) {
	f := startFakeTello(t, telloAnswers, "77")
	// The fake's own socket occupies the port: the probe cannot run, which is not a device finding.
	d := spec.Device{Name: "tello-1", Kind: "tello", Address: f.addr, Timeout: time.Second,
		Params: map[string]string{"stateStream": "true", "stateListen": "127.0.0.1:" + strconv.Itoa(port(t, f.addr))}}
	if _, err := probe(t, Tello{}, d); err == nil {
		t.Fatal("want an error when the state port is taken")
	}
}

// TestTelloHonoursCancellation: a cancelled context ends a probe whose own timeout is an hour,
// whether it was cancelled before or during the probe. A probe that ignored ctx would run for
// the hour, so the test bounds its wait and fails with the reason instead of hanging (issue 9).
func TestTelloHonoursCancellation(t *testing.T) {
	f := startFakeTello(t, telloSilent, "")
	d := spec.Device{Name: "tello-1", Kind: "tello", Address: f.addr, Timeout: time.Hour}
	for name, cancelAfter := range map[string]time.Duration{"before": 0, "during": 50 * time.Millisecond} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if cancelAfter == 0 {
				cancel()
			} else {
				time.AfterFunc(cancelAfter, cancel)
			}
			type outcome struct {
				res reconcile.CheckResult
				err error
			}
			done := make(chan outcome, 1)
			go func() {
				res, err := Tello{}.Check(ctx, d)
				done <- outcome{res, err}
			}()
			select {
			case o := <-done:
				if o.err != nil || o.res.OK {
					t.Fatalf("got %+v, %v; want a failed finding", o.res, o.err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Tello.Check ignored its cancelled context: still probing 10s later (its timeout is an hour)")
			}
		})
	}
}
