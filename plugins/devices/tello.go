package devices

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// Tello SDK facts: commands go to UDP 8889 and are answered from there; after "command" the drone
// streams its state as "key:value;" text to UDP 8890 on the sender's host.
const (
	telloCommandPort  = 8889
	telloStateListen  = ":8890"
	telloDefaultTries = 3
	telloMinBattery   = 20
)

var telloSchema = schema{
	{name: "minBattery", typ: paramPercent},           // fail under this level (default 20%)
	{name: "retries", typ: paramInt, min: 1, max: 10}, // tries of "command" (default 3)
	{name: "stateStream", typ: paramBool},             // also require a state datagram
	{name: "stateListen", typ: paramHostPort},         // where the state arrives (default :8890)
	{name: "stateTimeout", typ: paramDuration},        // wait for state (default: what is left)
}

// Tello probes a DJI Tello (or Tello EDU) with its text SDK over UDP: it enters SDK mode with
// "command", reads the battery with "battery?" and optionally confirms the state stream.
type Tello struct{}

var _ reconcile.Checker = Tello{}

// Name is the kind Tello serves.
func (Tello) Name() string { return "tello" }

// Validate checks the address (port defaults to 8889) and the tello params.
func (Tello) Validate(_ context.Context, d spec.Device) spec.Diagnostics {
	return append(validateAddress(d, telloCommandPort), telloSchema.validate(d)...)
}

// Check runs the SDK handshake.
//
//  1. Send "command" up to `retries` times, each try waiting timeout/retries for "ok". Silence on
//     every try is the classic "laptop not on the drone's Wi-Fi" finding.
//  2. Ask "battery?"; an answer under minBattery is a finding.
//  3. With stateStream: true, wait for one state datagram from the drone's address.
func (Tello) Check(ctx context.Context, d spec.Device) (reconcile.CheckResult, error) {
	host, port, err := splitAddress(d.Address, telloCommandPort)
	if err != nil {
		return reconcile.CheckResult{}, err
	}
	addr := joinAddress(host, port)
	tries := paramNumber(d, "retries", telloDefaultTries)
	minBattery := paramNumber(d, "minBattery", telloMinBattery)

	// The state listener must exist before "command" is sent: the drone starts streaming at once.
	var state net.PacketConn
	if paramBoolean(d, "stateStream", false) {
		listen := paramStr(d, "stateListen", telloStateListen)
		state, err = (&net.ListenConfig{}).ListenPacket(ctx, "udp", listen)
		if err != nil {
			return reconcile.CheckResult{}, fmt.Errorf("listen for the Tello state stream on %s: %w (is another Tello app running?)", listen, err)
		}
		defer state.Close()
		stopState := context.AfterFunc(ctx, func() { _ = state.SetDeadline(time.Unix(1, 0)) })
		defer stopState()
	}

	conn, err := (&net.Dialer{}).DialContext(ctx, "udp", addr)
	if err != nil {
		return reconcile.CheckResult{Detail: describeNetErr(err, d.Timeout)}, nil
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	// 1. Enter SDK mode.
	start := time.Now()
	perTry := d.Timeout / time.Duration(tries)
	reply, used, lat, err := exchange(ctx, conn, "command", tries, perTry, nil)
	if err != nil {
		// The budget spent, not the wall clock: "after 3 tries in 3s" reads the same on every run.
		elapsed := roundDur(perTry * time.Duration(used))
		switch {
		case errors.Is(err, errSilent):
			return reconcile.CheckResult{Latency: time.Since(start), Detail: fmt.Sprintf(
				"no answer to %q after %s in %s — is the laptop on the drone's Wi-Fi (TELLO-xxxxxx) and the drone switched on?",
				"command", plural(used, "try", "tries"), elapsed)}, nil
		case errors.Is(err, syscall.ECONNREFUSED):
			return reconcile.CheckResult{Latency: time.Since(start), Detail: fmt.Sprintf(
				"port %d is closed (ICMP port unreachable) — the host answers but is not a Tello, check the address", port)}, nil
		default:
			// No route / host unreachable: the laptop is usually on the wrong network.
			return reconcile.CheckResult{Latency: time.Since(start), Detail: fmt.Sprintf(
				"sending %q: %s — is the laptop on the drone's Wi-Fi (TELLO-xxxxxx)?", "command", describeNetErr(err, d.Timeout))}, nil
		}
	}
	if reply != "ok" {
		return reconcile.CheckResult{Latency: lat, Detail: fmt.Sprintf(
			"answered %s to %q (want \"ok\") — is this a Tello, and is no other app controlling it?", quote(reply), "command")}, nil
	}

	// 2. Battery. Late duplicate "ok"s from earlier tries of step 1 are skipped.
	left := time.Until(deadlineOf(ctx, start.Add(d.Timeout)))
	reply, _, _, err = exchange(ctx, conn, "battery?", 2, max(left/2, time.Millisecond), func(s string) bool { return s == "ok" })
	if err != nil {
		why := describeNetErr(err, left)
		if errors.Is(err, errSilent) {
			why = "no answer"
		}
		return reconcile.CheckResult{Latency: lat, Detail: fmt.Sprintf(
			"answered \"command\" but not %q (%s) — the SDK link is flaky, move closer or retry", "battery?", why)}, nil
	}
	level, convErr := strconv.Atoi(reply)
	if convErr != nil || level < 0 || level > 100 {
		return reconcile.CheckResult{Latency: lat, Detail: fmt.Sprintf("answered %s to %q (want a percentage)", quote(reply), "battery?")}, nil
	}
	res := reconcile.CheckResult{Latency: lat, Facts: map[string]string{"battery": strconv.Itoa(level)}}
	if level < minBattery {
		res.Detail = fmt.Sprintf("battery %d%% is under minBattery %d%% — charge or swap the battery before flying", level, minBattery)
		return res, nil
	}
	res.Detail = fmt.Sprintf("battery %d%%", level)

	// 3. State stream, from this drone only: several Tellos in station mode share port 8890.
	if state != nil {
		left := time.Until(deadlineOf(ctx, start.Add(d.Timeout)))
		wait := min(paramDur(d, "stateTimeout", left), left)
		if err := awaitState(state, host, wait); err != nil {
			res.Detail += fmt.Sprintf(", but no state stream on %s: %v — allow inbound UDP %s in the firewall",
				state.LocalAddr(), err, paramStr(d, "stateListen", telloStateListen))
			return res, nil
		}
		res.Facts["stateStream"] = "ok"
		res.Detail += ", state stream ok"
	}
	res.OK = true
	return res, nil
}

// errSilent means every try went unanswered.
var errSilent = errors.New("no answer")

// exchange sends cmd up to tries times and returns the first answer that skip does not reject,
// trimmed; used is the number of sends made.
func exchange(ctx context.Context, conn net.Conn, cmd string, tries int, perTry time.Duration, skip func(string) bool) (reply string, used int, lat time.Duration, err error) {
	buf := make([]byte, 1500)
	for used = 1; used <= tries; used++ {
		if err := ctx.Err(); err != nil {
			return "", used - 1, 0, errSilent
		}
		sent := time.Now()
		if _, err := conn.Write([]byte(cmd)); err != nil {
			return "", used, 0, err
		}
		tryEnd := deadlineOf(ctx, sent.Add(perTry))
		_ = conn.SetReadDeadline(tryEnd)
		for { // bounded by tryEnd: every Read returns by the deadline
			n, err := conn.Read(buf)
			if err != nil {
				if isTimeout(err) {
					break
				}
				return "", used, 0, err
			}
			got := strings.TrimSpace(string(buf[:n]))
			if skip != nil && skip(got) {
				continue
			}
			return got, used, time.Since(sent), nil
		}
	}
	return "", tries, 0, errSilent
}

// awaitState waits for one datagram from the drone that looks like SDK state ("bat:87;...").
func awaitState(pc net.PacketConn, droneHost string, wait time.Duration) error {
	end := time.Now().Add(wait)
	_ = pc.SetReadDeadline(end)
	droneIPs, _ := net.LookupHost(droneHost)
	buf := make([]byte, 2048)
	for { // bounded by the read deadline
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if isTimeout(err) {
				return fmt.Errorf("nothing within %s", roundDur(wait))
			}
			return err
		}
		if !fromDrone(from, droneIPs) {
			continue
		}
		if strings.Contains(string(buf[:n]), "bat:") {
			return nil
		}
	}
}

func fromDrone(from net.Addr, droneIPs []string) bool {
	ua, ok := from.(*net.UDPAddr)
	if !ok {
		return false
	}
	for _, ip := range droneIPs {
		if parsed := net.ParseIP(ip); parsed != nil && parsed.Equal(ua.IP) {
			return true
		}
	}
	return false
}

func deadlineOf(ctx context.Context, fallback time.Time) time.Time {
	if dl, ok := ctx.Deadline(); ok && dl.Before(fallback) {
		return dl
	}
	return fallback
}

// quote shows a reply safely: printable text in quotes, binary as a short hex-escaped string.
func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Sprintf("garbage %q", s)
		}
	}
	return strconv.Quote(s)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
