// Package external runs device plugins that live outside the avatar-sync binary: an executable
// named avatar-sync-plugin-<kind> on PATH (or the device's plugin: path) that reads one JSON
// request on stdin and answers JSON findings on stdout (protocol avatar-sync.device/v1, documented
// in docs/devices.md). The executable runs in its own process group under a hard timeout, so a
// plugin that hangs, crashes or prints garbage becomes a clear error, never a hang (issue 6).
package external

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// Protocol is the version string both sides of the exchange carry; a plugin answering another
// version is refused rather than misread.
const Protocol = "avatar-sync.device/v1"

// Prefix is prepended to a device's kind to find its plugin on PATH.
const Prefix = "avatar-sync-plugin-"

// maxStdout bounds what a plugin may print: an answer is a few hundred bytes, so a megabyte means
// the plugin is broken, and avatar-sync must not buffer an endless stream.
const maxStdout = 1 << 20

// stderrTail is how much of a plugin's stderr is quoted in error messages.
const stderrTail = 512

// waitDelay bounds how long Wait lingers for output pipes after the process group was killed
// (a grandchild that escaped the group could otherwise hold stdout open forever).
const waitDelay = 500 * time.Millisecond

// Request is what avatar-sync writes to the plugin's stdin.
type Request struct {
	Protocol string `json:"protocol"`
	// Op is "check" in protocol v1; plugins must answer an error for ops they do not know.
	Op string `json:"op"`
	// TimeoutMs is the plugin's whole budget; its process group is killed when it runs out.
	TimeoutMs int64         `json:"timeoutMs"`
	Device    RequestDevice `json:"device"`
}

// RequestDevice is the device's spec entry as the plugin sees it.
type RequestDevice struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Address  string `json:"address"`
	Required bool   `json:"required"`
	// Timeout is the same budget as Request.TimeoutMs, as a Go duration string ("3s").
	Timeout string `json:"timeout"`
	// Params are the kind-specific keys of the entry, values as written in the spec.
	Params map[string]string `json:"params"`
}

// Response is what the plugin must print on stdout (one JSON object) before exiting 0.
type Response struct {
	Protocol string `json:"protocol"`
	// Findings are what the probe observed; the device passes only when every finding is ok.
	Findings []Finding `json:"findings"`
	// Facts are values for machines (battery, firmware, ...), shown in `check -o json`.
	Facts map[string]string `json:"facts,omitempty"`
	// LatencyMs is the probe's own measure of the device's response time (optional).
	LatencyMs float64 `json:"latencyMs,omitempty"`
	// Error, when set, means the plugin could not probe at all (as opposed to a failing finding).
	Error string `json:"error,omitempty"`
}

// Finding is one observation about the device.
type Finding struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

// Plugin is the external checker for one device. It is a reconcile.Checker.
type Plugin struct {
	// Kind is the device kind the plugin serves.
	Kind string
	// Path is the resolved executable; empty when none was found (see Missing).
	Path string
	// Missing says why no executable was found; Check reports it as an error.
	Missing error
	// Explicit is the device's plugin: path, if it named one.
	Explicit string
}

var _ reconcile.Checker = (*Plugin)(nil)

// Find resolves the plugin for d: its explicit plugin: path, else avatar-sync-plugin-<kind> via
// lookPath (nil means exec.LookPath, i.e. $PATH). A plugin that cannot be found is still returned,
// with Missing set, so validation can warn and check can report it per device.
func Find(d spec.Device, lookPath func(string) (string, error)) *Plugin {
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	p := &Plugin{Kind: d.Kind, Explicit: d.Plugin}
	if d.Plugin != "" {
		st, err := os.Stat(d.Plugin)
		switch {
		case err != nil:
			p.Missing = fmt.Errorf("plugin %s: %w", d.Plugin, err)
		case st.IsDir() || st.Mode().Perm()&0o111 == 0:
			p.Missing = fmt.Errorf("plugin %s is not an executable file (chmod +x it)", d.Plugin)
		default:
			p.Path = d.Plugin
		}
		return p
	}
	name := Prefix + d.Kind
	path, err := lookPath(name)
	if err != nil {
		p.Missing = fmt.Errorf("no built-in probe for kind %q and no %s on PATH", d.Kind, name)
		return p
	}
	p.Path = path
	return p
}

// Name is the executable's file name, as users would look for it.
func (p *Plugin) Name() string {
	switch {
	case p.Path != "":
		return filepath.Base(p.Path)
	case p.Explicit != "":
		return filepath.Base(p.Explicit)
	}
	return Prefix + p.Kind
}

// Validate only warns about a plugin that is not installed: the spec may be validated on a CI
// machine that never talks to devices, and the plugin owns the meaning of its own params.
func (p *Plugin) Validate(d spec.Device) spec.Diagnostics {
	if p.Missing == nil {
		return nil
	}
	return spec.Diagnostics{{
		Pos:      d.Pos,
		Severity: spec.SeverityWarning,
		Message:  fmt.Sprintf("device %q: %v; `avatar-sync check` will report this device as an error until it is installed", d.Name, p.Missing),
	}}
}

// Check runs the plugin once for d.
//
//  1. Encode the request; start the executable in a new process group with the request on stdin.
//  2. When ctx ends first, kill the whole group (SIGKILL) and report the hang.
//  3. A crash, non-zero exit, oversized output, invalid JSON or a protocol mismatch is an error
//     quoting the tail of the plugin's stderr; a well-formed answer becomes the result.
func (p *Plugin) Check(ctx context.Context, d spec.Device) (reconcile.CheckResult, error) {
	if p.Missing != nil {
		return reconcile.CheckResult{}, p.Missing
	}
	timeout := d.Timeout
	if dl, ok := ctx.Deadline(); ok {
		// Preflight derives ctx's deadline from d.Timeout itself, so it is always a hair shorter;
		// only a clearly shorter caller deadline (check --timeout) replaces the device's budget in
		// the request and in messages ("within 500ms", not "within 499ms").
		if remaining := time.Until(dl); timeout <= 0 || remaining < timeout*9/10 {
			timeout = remaining
		}
	}
	params := d.Params
	if params == nil {
		params = map[string]string{}
	}
	req, err := json.Marshal(Request{
		Protocol:  Protocol,
		Op:        "check",
		TimeoutMs: timeout.Milliseconds(),
		Device: RequestDevice{
			Name: d.Name, Kind: d.Kind, Address: d.Address, Required: d.Required,
			Timeout: timeout.String(), Params: params,
		},
	})
	if err != nil {
		return reconcile.CheckResult{}, fmt.Errorf("encode request for plugin %s: %w", p.Name(), err)
	}

	cmd := exec.CommandContext(ctx, p.Path)
	ownProcessGroup(cmd)
	cmd.Cancel = func() error { return killProcessGroup(cmd) }
	cmd.WaitDelay = waitDelay
	cmd.Stdin = bytes.NewReader(req)
	stdout := &cappedBuffer{limit: maxStdout}
	stderr := &tailBuffer{limit: stderrTail}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = append(os.Environ(), "AVATAR_SYNC_PLUGIN_PROTOCOL="+Protocol)

	start := time.Now()
	runErr := cmd.Run()
	elapsed := time.Since(start)
	if runErr != nil && ctx.Err() != nil {
		return reconcile.CheckResult{}, fmt.Errorf("plugin %s did not answer within %s; killed its process group%s",
			p.Name(), round(timeout), stderr.suffix())
	}
	if runErr != nil {
		var exitErr *exec.ExitError
		if errors.As(runErr, &exitErr) {
			if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return reconcile.CheckResult{}, fmt.Errorf("plugin %s crashed (%s)%s", p.Name(), ws.Signal(), stderr.suffix())
			}
			return reconcile.CheckResult{}, fmt.Errorf("plugin %s exited with status %d (a plugin reports failed devices as findings and exits 0)%s",
				p.Name(), exitErr.ExitCode(), stderr.suffix())
		}
		if errors.Is(runErr, exec.ErrWaitDelay) {
			return reconcile.CheckResult{}, fmt.Errorf("plugin %s exited but left a process holding its output open%s", p.Name(), stderr.suffix())
		}
		return reconcile.CheckResult{}, fmt.Errorf("run plugin %s: %w", p.Name(), runErr)
	}
	if stdout.overflow {
		return reconcile.CheckResult{}, fmt.Errorf("plugin %s printed more than %d bytes on stdout; an answer is one small JSON object", p.Name(), maxStdout)
	}
	resp, err := decode(stdout.Bytes())
	if err != nil {
		return reconcile.CheckResult{}, fmt.Errorf("plugin %s: %w%s", p.Name(), err, stderr.suffix())
	}
	if resp.Error != "" {
		return reconcile.CheckResult{}, fmt.Errorf("plugin %s could not probe the device: %s", p.Name(), resp.Error)
	}
	return toResult(resp, elapsed), nil
}

// decode parses and checks a plugin's stdout.
func decode(out []byte) (Response, error) {
	var resp Response
	trimmed := bytes.TrimSpace(out)
	if len(trimmed) == 0 {
		return resp, errors.New("answered nothing on stdout (want one JSON object, protocol " + Protocol + ")")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&resp); err != nil {
		return resp, fmt.Errorf("answered invalid JSON (%v); stdout began %q", err, head(trimmed, 80))
	}
	if dec.More() || dec.InputOffset() != int64(len(trimmed)) {
		return resp, fmt.Errorf("answered extra output after the JSON object (stdout must hold exactly one object); stdout began %q", head(trimmed, 80))
	}
	if resp.Protocol != Protocol {
		return resp, fmt.Errorf("answered protocol %q; this avatar-sync speaks %q", resp.Protocol, Protocol)
	}
	if resp.Error == "" && len(resp.Findings) == 0 {
		return resp, errors.New("answered no findings and no error")
	}
	return resp, nil
}

// toResult folds findings into one result: OK only if all are; the detail lists the failing
// messages (or all messages when everything passed).
func toResult(resp Response, elapsed time.Duration) reconcile.CheckResult {
	var good, bad []string
	for _, f := range resp.Findings {
		msg := strings.TrimSpace(strings.ReplaceAll(f.Message, "\n", " "))
		if msg == "" {
			msg = "(no message)"
		}
		if f.OK {
			good = append(good, msg)
		} else {
			bad = append(bad, msg)
		}
	}
	res := reconcile.CheckResult{OK: len(bad) == 0, Facts: resp.Facts, Latency: elapsed}
	if resp.LatencyMs > 0 {
		res.Latency = time.Duration(resp.LatencyMs * float64(time.Millisecond))
	}
	if res.OK {
		res.Detail = strings.Join(good, "; ")
	} else {
		res.Detail = strings.Join(bad, "; ")
	}
	return res
}

// cappedBuffer keeps at most limit bytes and remembers that more arrived; it never errors, so a
// chatty plugin is not killed by SIGPIPE before we can say what was wrong. (It must not embed
// bytes.Buffer: io.Copy would use the promoted ReadFrom and bypass the cap.)
type cappedBuffer struct {
	buf      bytes.Buffer
	limit    int
	overflow bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.buf.Len(); room < len(p) {
		b.overflow = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *cappedBuffer) Bytes() []byte { return b.buf.Bytes() }

// tailBuffer keeps the last limit bytes written, for quoting stderr in errors.
type tailBuffer struct {
	buf   []byte
	limit int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.limit; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// suffix renders the stderr tail as "; stderr: ..." on one line, or "" when the plugin was quiet.
func (b *tailBuffer) suffix() string {
	s := strings.TrimSpace(string(b.buf))
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return "; stderr: " + strings.Join(lines, " | ")
}

func head(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

func round(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(10 * time.Millisecond)
}
