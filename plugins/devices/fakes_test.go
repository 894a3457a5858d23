package devices

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Loopback fakes of the lab's devices. Each listens on 127.0.0.1 only and stops when the test
// ends (closing its socket ends its loop), so no test can send a packet off this machine.

// telloMode selects how the fake Tello answers.
type telloMode int

const (
	telloAnswers   telloMode = iota // "ok" and the battery level
	telloSilent                     // reads and never answers
	telloGarbage                    // answers binary junk to everything
	telloDropFirst                  // ignores the first "command", then behaves
	telloBusy                       // answers "error" to "command"
)

// fakeTello is a UDP responder speaking the Tello SDK text protocol.
type fakeTello struct {
	addr    string
	mu      sync.Mutex
	got     []string
	battery string
	// statePort, when set, receives SDK state datagrams after "command", like a real drone.
	statePort int
}

func startFakeTello(t *testing.T, mode telloMode, battery string) *fakeTello {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	f := &fakeTello{addr: pc.LocalAddr().String(), battery: battery}
	go func() {
		buf := make([]byte, 1500)
		seen := 0
		for { // ends when the test closes pc
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			cmd := string(buf[:n])
			f.mu.Lock()
			f.got = append(f.got, cmd)
			statePort := f.statePort
			f.mu.Unlock()
			reply := ""
			switch {
			case mode == telloSilent:
			case mode == telloGarbage:
				reply = "\xff\xfe\x00\x01zz"
			case cmd == "command" && mode == telloDropFirst && seen == 0:
				seen++
			case cmd == "command" && mode == telloBusy:
				reply = "error"
			case cmd == "command":
				reply = "ok"
				if statePort != 0 {
					go sendState(from.(*net.UDPAddr).IP, statePort, battery)
				}
			case cmd == "battery?":
				reply = f.battery + "\r\n"
			default:
				reply = "unknown command: " + cmd
			}
			if reply != "" {
				_, _ = pc.WriteTo([]byte(reply), from)
			}
		}
	}()
	return f
}

func (f *fakeTello) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

// sendState sends a few state datagrams, as the drone streams them at ~10 Hz.
func sendState(ip net.IP, port int, battery string) {
	conn, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: ip, Port: port})
	if err != nil {
		return
	}
	defer conn.Close()
	line := "pitch:0;roll:0;yaw:0;vgx:0;vgy:0;vgz:0;templ:60;temph:62;tof:10;h:0;bat:" + battery + ";baro:12.3;time:0;agx:0;agy:0;agz:-1000;\r\n"
	for range 5 {
		_, _ = conn.Write([]byte(line))
		time.Sleep(20 * time.Millisecond)
	}
}

// closedUDPPort returns a loopback UDP address nothing listens on.
func closedUDPPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

// closedTCPPort returns a loopback TCP address nothing listens on.
func closedTCPPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mustContain(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s = %q, want it to contain %q", what, got, w)
		}
	}
}
