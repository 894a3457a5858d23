package devices

import (
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/avatar-project/avatar-sync/spec"
)

func TestTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for { // ends when the test closes l
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	res, err := probe(t, TCP{}, spec.Device{Name: "kafka", Kind: "tcp", Address: l.Addr().String(), Timeout: time.Second})
	if err != nil || !res.OK {
		t.Fatalf("open port: %+v, %v; want OK", res, err)
	}
	mustContain(t, "detail", res.Detail, "connected in")

	res, err = probe(t, TCP{}, spec.Device{Name: "kafka", Kind: "tcp", Address: closedTCPPort(t), Timeout: time.Second})
	if err != nil || res.OK {
		t.Fatalf("closed port: %+v, %v; want a failed finding", res, err)
	}
	mustContain(t, "detail", res.Detail, "connection refused")
}

func TestUDP(t *testing.T) {
	echo, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	go func() {
		buf := make([]byte, 1500)
		for { // ends when the test closes echo
			n, from, err := echo.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = echo.WriteTo([]byte("pong "+string(buf[:n])), from)
		}
	}()
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })

	tests := map[string]struct {
		address    string
		params     map[string]string
		wantOK     bool
		wantDetail string
	}{
		"expected answer":         {address: echo.LocalAddr().String(), params: map[string]string{"send": "ping", "expect": "pong"}, wantOK: true, wantDetail: `answered "pong ping"`},
		"wrong answer":            {address: echo.LocalAddr().String(), params: map[string]string{"send": "ping", "expect": "ack"}, wantDetail: `does not contain "ack"`},
		"silent without expect":   {address: silent.LocalAddr().String(), wantOK: true, wantDetail: "UDP has no handshake"},
		"silent with expect":      {address: silent.LocalAddr().String(), params: map[string]string{"expect": "x"}, wantDetail: "no answer within"},
		"closed port":             {address: closedUDPPort(t), wantDetail: "port unreachable (ICMP)"},
		"closed port with expect": {address: closedUDPPort(t), params: map[string]string{"expect": "x"}, wantDetail: "port unreachable"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := spec.Device{Name: "u", Kind: "udp", Address: tc.address, Timeout: 300 * time.Millisecond, Params: tc.params}
			res, err := probe(t, UDP{}, d)
			if err != nil {
				t.Fatal(err)
			}
			if res.OK != tc.wantOK || !strings.Contains(res.Detail, tc.wantDetail) {
				t.Errorf("got OK=%v %q, want OK=%v containing %q", res.OK, res.Detail, tc.wantOK, tc.wantDetail)
			}
		})
	}
}

// TestHeadKeepsUTF8: a device's answer quoted in a detail is cut on a character boundary, so the
// JSON report carries what the device said, not a replacement character.
func TestHeadKeepsUTF8(t *testing.T) {
	for n := 0; n < 12; n++ {
		got := head([]byte("Gerät läuft — ok"), n)
		if !utf8.ValidString(got) {
			t.Errorf("head(…, %d) = %q is not valid UTF-8", n, got)
		}
	}
	if got := head([]byte("short"), 60); got != "short" {
		t.Errorf("head(short) = %q", got)
	}
}
