package devices

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/avatar-project/avatar-sync/internal/printable"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// cytonBaud is the Cyton dongle's fixed serial rate.
const cytonBaud = 115200

// endOfMessage terminates every Cyton answer to a query command.
const endOfMessage = "$$$"

var serialSchema = schema{
	{name: "path", typ: paramString, check: func(v string) string {
		if !filepath.IsAbs(v) {
			return fmt.Sprintf("%q must be an absolute device path such as /dev/ttyUSB0 or /dev/serial/by-id/...", v)
		}
		return ""
	}},
	{name: "probe", typ: paramBool}, // open the port and ask the board for its version
	{name: "baud", typ: paramInt, check: func(v string) string {
		n, _ := strconv.Atoi(strings.TrimSpace(v))
		if _, ok := baudRates[n]; !ok {
			return fmt.Sprintf("%s is not a supported rate (%s)", v, supportedBauds())
		}
		return ""
	}},
}

// OpenBCISerial checks a Cyton/Ganglion USB dongle: the device node exists, is a character device
// this user may read and write; with probe: true it also opens the port, sends "v" (version) and
// waits for the "$$$" end-of-message.
type OpenBCISerial struct{}

var _ reconcile.Checker = OpenBCISerial{}

// Name is the kind OpenBCISerial serves.
func (OpenBCISerial) Name() string { return "openbci-serial" }

// serialPath is the path param, else the address.
func serialPath(d spec.Device) string { return paramStr(d, "path", d.Address) }

// Validate requires a device path (path: or address:) and known params.
func (OpenBCISerial) Validate(_ context.Context, d spec.Device) spec.Diagnostics {
	diags := serialSchema.validate(d)
	switch p := serialPath(d); {
	case p == "":
		diags = append(diags, diagErr(d.Pos, fmt.Sprintf("device %q (kind openbci-serial): set path: (or address:) to the dongle's device, e.g. /dev/ttyUSB0", d.Name)))
	case !filepath.IsAbs(p):
		if _, isParam := d.Params["path"]; !isParam {
			diags = append(diags, diagErr(d.PosOf("address"), fmt.Sprintf("device %q (kind openbci-serial): address %q must be an absolute device path such as /dev/ttyUSB0", d.Name, p)))
		}
	}
	return diags
}

// Check inspects the device node, then talks to the board when asked to.
func (OpenBCISerial) Check(ctx context.Context, d spec.Device) (reconcile.CheckResult, error) {
	path := serialPath(d)
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return reconcile.CheckResult{Detail: fmt.Sprintf("%s does not exist — is the dongle plugged in? (ls /dev/ttyUSB* /dev/serial/by-id/)", path)}, nil
	case err != nil:
		return reconcile.CheckResult{Detail: fmt.Sprintf("cannot inspect %s: %v", path, err)}, nil
	case st.Mode()&fs.ModeCharDevice == 0:
		return reconcile.CheckResult{Detail: fmt.Sprintf("%s is not a character device (mode %s) — point path: at the dongle's tty", path, st.Mode())}, nil
	}
	if err := accessRW(path); err != nil {
		return reconcile.CheckResult{Detail: fmt.Sprintf("%s is not readable and writable by %s (%v) — %s", path, currentUser(), err, groupHint(st))}, nil
	}
	if !paramBoolean(d, "probe", false) {
		return reconcile.CheckResult{OK: true, Detail: "character device, readable and writable (probe: true also asks the board its version)"}, nil
	}

	baud := paramNumber(d, "baud", cytonBaud)
	start := time.Now()
	reply, err := querySerial(ctx, path, baud, "v", endOfMessage)
	lat := time.Since(start)
	switch {
	case errors.Is(err, syscall.EBUSY):
		return reconcile.CheckResult{Latency: lat, Detail: fmt.Sprintf("%s is busy — close the OpenBCI GUI or any other program using the dongle", path)}, nil
	case errors.Is(err, errNoEOM):
		got := "nothing"
		if s := oneLine(reply); s != "" {
			got = strconv.Quote(s)
		}
		return reconcile.CheckResult{Latency: lat, Detail: fmt.Sprintf(
			"no %q from the board within %s after \"v\" (got %s) — is the board on (PC position) and paired with the dongle?", endOfMessage, roundDur(d.Timeout), got)}, nil
	case errors.Is(err, errUnsupported):
		return reconcile.CheckResult{}, err
	case err != nil:
		return reconcile.CheckResult{Latency: lat, Detail: fmt.Sprintf("%s: %v", path, err)}, nil
	}
	text := oneLine(strings.TrimSuffix(reply, endOfMessage))
	if strings.Contains(strings.ToLower(text), "failed") {
		// The RFduino dongle answers by itself when the board is off: "Device failed to poll Host".
		return reconcile.CheckResult{Latency: lat, Detail: fmt.Sprintf("the dongle answers but the board does not (%q) — switch the board on (PC) and check the channel pairing", text)}, nil
	}
	res := reconcile.CheckResult{OK: true, Latency: lat, Facts: map[string]string{"version": text}}
	if fw := firmware(reply); fw != "" {
		res.Facts["firmware"] = fw
	}
	res.Detail = "board answered: " + text
	return res, nil
}

var (
	errNoEOM       = errors.New("no end-of-message")
	errUnsupported = errors.New("serial probing is implemented for Linux only")
)

// firmware extracts "v3.1.2" from a "Firmware: v3.1.2" line.
func firmware(reply string) string {
	for _, line := range strings.Split(reply, "\n") {
		if _, v, ok := strings.Cut(line, "Firmware:"); ok {
			return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), endOfMessage))
		}
	}
	return ""
}

// oneLine folds a multi-line board answer into one line for the check table.
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	out := printable.Line(strings.Join(parts, ", "))
	if len(out) > 120 {
		out = out[:120] + "…"
	}
	return out
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return fmt.Sprintf("user %s (uid %s)", u.Username, u.Uid)
	}
	return fmt.Sprintf("uid %d", os.Getuid())
}

// groupHint names the group that owns the device, which is what the user usually needs to join.
func groupHint(st fs.FileInfo) string {
	id, ok := fileGID(st)
	if !ok {
		return "give this user read/write access to it"
	}
	gid := strconv.FormatUint(uint64(id), 10)
	name := gid
	if g, err := user.LookupGroupId(gid); err == nil {
		name = g.Name
	}
	return fmt.Sprintf("add the user to group %s (sudo usermod -aG %s $USER) and log in again", name, name)
}

var baudRates = map[int]uint32{} // filled per platform in serial_<os>.go

func supportedBauds() string {
	rates := []int{9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600}
	var out []string
	for _, r := range rates {
		if _, ok := baudRates[r]; ok {
			out = append(out, strconv.Itoa(r))
		}
	}
	return strings.Join(out, ", ")
}
