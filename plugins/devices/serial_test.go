//go:build linux

package devices

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/avatar-project/avatar-sync/spec"
)

// fakeDongle opens a pseudo-terminal pair; the slave side stands in for /dev/ttyUSB0 and a
// goroutine on the master side answers "v" like a Cyton behind its RFduino dongle. answer=="" means
// the board stays silent. It returns the slave's path and a channel of what the board received.
func fakeDongle(t *testing.T, answer string) (string, <-chan string) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("posix_openpt: %v", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN) // ptsname
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil { // so Close unblocks the reader below
		t.Fatal(err)
	}
	master := os.NewFile(uintptr(fd), "ptmx")
	t.Cleanup(func() { master.Close() })
	received := make(chan string, 16)
	go func() {
		buf := make([]byte, 64)
		for { // ends when the test closes master
			n, err := master.Read(buf)
			if err != nil {
				return
			}
			got := string(buf[:n])
			received <- got
			if strings.Contains(got, "v") && answer != "" {
				// Answer in two chunks, as a real 115200-baud line delivers it.
				half := len(answer) / 2
				_, _ = master.Write([]byte(answer[:half]))
				time.Sleep(10 * time.Millisecond)
				_, _ = master.Write([]byte(answer[half:]))
			}
		}
	}()
	return fmt.Sprintf("/dev/pts/%d", n), received
}

const cytonHello = "OpenBCI V3 8-16 channel\nOn Board ADS1299 Device ID: 0x3E\nLIS3DH Device ID: 0x33\nFirmware: v3.1.2\n$$$"

func TestOpenBCISerialProbe(t *testing.T) {
	tests := map[string]struct {
		answer     string
		wantOK     bool
		wantDetail []string
	}{
		"board answers": {
			answer: cytonHello, wantOK: true,
			wantDetail: []string{"board answered: OpenBCI V3 8-16 channel", "Firmware: v3.1.2"},
		},
		"board silent": {
			wantDetail: []string{`no "$$$" from the board within 300ms after "v" (got nothing)`, "PC position"},
		},
		"answer cut short": {
			answer:     "OpenBCI V3 8-16",
			wantDetail: []string{`(got "OpenBCI V3 8-16")`},
		},
		"dongle without board": {
			answer:     "Device failed to poll Host$$$",
			wantDetail: []string{"the dongle answers but the board does not"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path, received := fakeDongle(t, tc.answer)
			d := spec.Device{Name: "cyton", Kind: "openbci-serial", Timeout: 300 * time.Millisecond,
				Params: map[string]string{"path": path, "probe": "true"}}
			if tc.wantOK {
				d.Timeout = 3 * time.Second
			}
			res, err := probe(t, OpenBCISerial{}, d)
			if err != nil {
				t.Fatalf("Check error: %v", err)
			}
			if res.OK != tc.wantOK {
				t.Errorf("OK = %v, want %v (detail %q)", res.OK, tc.wantOK, res.Detail)
			}
			mustContain(t, "detail", res.Detail, tc.wantDetail...)
			select {
			case got := <-received:
				if got != "v" {
					t.Errorf("board received %q, want \"v\"", got)
				}
			default:
				t.Error("the board received nothing")
			}
			if tc.wantOK && res.Facts["firmware"] != "v3.1.2" {
				t.Errorf("firmware fact = %q", res.Facts["firmware"])
			}
		})
	}
}

func TestOpenBCISerialWithoutProbeDoesNotTalk(t *testing.T) {
	path, received := fakeDongle(t, cytonHello)
	d := spec.Device{Name: "cyton", Kind: "openbci-serial", Address: path, Timeout: time.Second}
	res, err := probe(t, OpenBCISerial{}, d)
	if err != nil || !res.OK {
		t.Fatalf("got %+v, %v; want OK", res, err)
	}
	mustContain(t, "detail", res.Detail, "character device, readable and writable")
	select {
	case got := <-received:
		t.Errorf("board received %q without probe: true", got)
	default:
	}
}

func TestOpenBCISerialDeviceNode(t *testing.T) {
	regular := filepath.Join(t.TempDir(), "ttyUSB0")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		path, want string
	}{
		"missing":   {path: filepath.Join(t.TempDir(), "ttyUSB9"), want: "does not exist — is the dongle plugged in?"},
		"not a tty": {path: regular, want: "is not a character device"},
		"directory": {path: t.TempDir(), want: "is not a character device"},
		// Refused before it is opened (issue 10: a spec can name /dev/watchdog, which opening arms).
		"not serial": {path: "/dev/null", want: "/dev/null: not a serial port: a mem device, not a terminal (tty) device, so it is not opened"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := spec.Device{Name: "cyton", Kind: "openbci-serial", Timeout: time.Second,
				Params: map[string]string{"path": tc.path, "probe": "true"}}
			res, err := probe(t, OpenBCISerial{}, d)
			if err != nil || res.OK {
				t.Fatalf("got %+v, %v; want a failed finding", res, err)
			}
			mustContain(t, "detail", res.Detail, tc.want)
		})
	}
}
