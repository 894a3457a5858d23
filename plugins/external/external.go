// Package external runs device plugins that live outside the avatar-sync binary: an executable
// named avatar-sync-plugin-<kind> on PATH (or the device's plugin: path) that reads one JSON
// request on stdin and answers JSON on stdout (protocol avatar-sync.device/v1, documented in
// docs/devices.md). Two operations exist: "check" probes the device and answers findings;
// "validate" judges the device's spec entry without probing and answers diagnostics, so a mistyped
// parameter fails validate/plan/apply with its file:line:col like a built-in kind's would. The
// executable runs in its own process group under a hard timeout, so a plugin that hangs, crashes
// or prints garbage becomes a clear error (or warning), never a hang (issue 6).
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
	"slices"
	"strings"
	"sync"
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

// ValidateTimeout is the hard budget of one "validate" exchange. validate, plan, apply and check
// all run it for every external device, so it must stay cheap: parsing the params, no network.
// Two seconds leave room for a slow interpreter's start-up on a loaded CI runner.
const ValidateTimeout = 2 * time.Second

// maxDiagnostics bounds how many diagnostics one plugin answer may contribute, so a broken plugin
// cannot bury the rest of the report.
const maxDiagnostics = 50

// Operations of protocol v1. "validate" was added within v1: it is additive, and a plugin that
// does not know it answers "unsupported" (or an unknown-op error), which means "no validation".
const (
	OpCheck    = "check"
	OpValidate = "validate"
)

// Request is what avatar-sync writes to the plugin's stdin.
type Request struct {
	Protocol string `json:"protocol"`
	// Op is OpCheck or OpValidate; plugins answer {"unsupported": true} (or an error) for ops they
	// do not know.
	Op string `json:"op"`
	// TimeoutMs is the plugin's whole budget for this op; its process group is killed when it runs
	// out (the device's timeout for check, ValidateTimeout for validate).
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
	// Diagnostics answer op "validate": every problem in the device's entry, [] when it is valid.
	Diagnostics []Diagnostic `json:"diagnostics,omitempty"`
	// Unsupported says the plugin does not implement the requested op.
	Unsupported bool `json:"unsupported,omitempty"`
}

// Diagnostic is one problem a plugin found in a device's spec entry (op "validate").
type Diagnostic struct {
	// Param is the parameter the problem is about; avatar-sync reports it at that key's position,
	// or at the device's when Param is empty or not a key of the entry.
	Param string `json:"param,omitempty"`
	// Severity is "error" (the default: the spec is invalid) or "warning"; any other value is read
	// as a warning, so a severity added later never makes an older avatar-sync reject a spec.
	Severity string `json:"severity,omitempty"`
	// Message is one sentence naming the parameter and the fix, e.g.
	// `unknown parameter "minFre" (did you mean "minFree"?)`.
	Message string `json:"message"`
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
	// Validations, when set, remembers validate answers across the Plugin values a Registry hands
	// out, so one command validating a device several times (check validates, then Preflight
	// validates again before probing) runs the plugin once.
	Validations *ValidationCache
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

// Validate asks the plugin (op "validate") to judge d's entry and returns its diagnostics at the
// positions of the params they name, so validate/plan/apply catch a mistyped parameter of an
// external kind as they do a built-in's (issue 6). It never fails the spec for the plugin's own
// sake, only for the errors the plugin reports:
//   - a plugin that is not installed is a warning: the spec may be validated on a CI machine that
//     never talks to devices;
//   - a plugin that does not implement validate (older plugins) contributes nothing;
//   - a plugin that hangs, crashes or answers garbage is one warning at the device, saying its
//     parameters were not checked; `check` then reports the same plugin as an ERROR row.
//
// Checker.Validate takes no context, so the exchange is bounded by ValidateTimeout alone.
func (p *Plugin) Validate(d spec.Device) spec.Diagnostics {
	if p.Missing != nil {
		return spec.Diagnostics{{
			Pos:      d.Pos,
			Severity: spec.SeverityWarning,
			Message:  fmt.Sprintf("device %q: %v; `avatar-sync check` will report this device as an error until it is installed", d.Name, p.Missing),
		}}
	}
	return p.diagnostics(d, p.validation(d))
}

// validation is what one validate exchange established, before positions are attached.
type validation struct {
	// diags is the plugin's answer; nil when it did not validate.
	diags []Diagnostic
	// failure says why the plugin could not validate ("" when it answered or opted out).
	failure string
}

// ValidationCache remembers validate outcomes by plugin executable and device entry, and which
// executables hung: a plugin that ignored validate's 2s budget once is not given another 2s for
// each further device of its kind, so a fleet of drones behind one broken plugin costs plan 2s,
// not 2s a drone. It is safe for concurrent use (Preflight validates devices in parallel). Keep
// one per command run, since it never notices a plugin being reinstalled.
type ValidationCache struct {
	mu   sync.Mutex
	m    map[string]validation
	hung map[string]string // executable → the device it hung on
}

// NewValidationCache returns an empty cache.
func NewValidationCache() *ValidationCache {
	return &ValidationCache{m: map[string]validation{}, hung: map[string]string{}}
}

// validation runs (or recalls) the validate exchange for d.
//
//  1. Encode the request; its key without the timeout (which Preflight caps per run) finds a
//     cached outcome.
//  2. Run the plugin under ValidateTimeout with the same process-group kill as check.
//  3. Interpret the answer (interpretValidate) and remember it.
func (p *Plugin) validation(d spec.Device) validation {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = reconcile.DefaultDeviceTimeout
	}
	dev := requestDevice(d, timeout)
	req := Request{Protocol: Protocol, Op: OpValidate, TimeoutMs: ValidateTimeout.Milliseconds(), Device: dev}
	dev.Timeout = ""
	keyJSON, err := json.Marshal(dev)
	if err != nil {
		return validation{failure: fmt.Sprintf("encode request for plugin %s: %v", p.Name(), err)}
	}
	key := p.Path + "\x00" + string(keyJSON)
	if c := p.Validations; c != nil {
		c.mu.Lock()
		v, ok := c.m[key]
		hungOn, hung := c.hung[p.Path]
		c.mu.Unlock()
		if ok {
			return v
		}
		if hung {
			return validation{failure: fmt.Sprintf("plugin %s did not answer within %s when validating device %q, so it was not run again",
				p.Name(), round(ValidateTimeout), hungOn)}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), ValidateTimeout)
	defer cancel()
	out, stderr, _, runErr := p.exchange(ctx, req, ValidateTimeout)
	v := interpretValidate(p.Name(), out, stderr, runErr)
	if c := p.Validations; c != nil {
		c.mu.Lock()
		c.m[key] = v
		if runErr != nil && ctx.Err() != nil {
			if _, seen := c.hung[p.Path]; !seen {
				c.hung[p.Path] = d.Name
			}
		}
		c.mu.Unlock()
	}
	return v
}

// interpretValidate decides what a validate exchange means. It is pure, so every plugin
// behaviour is a table row in the tests.
func interpretValidate(plugin string, out []byte, stderr string, runErr error) validation {
	resp, decodeErr := decodeEnvelope(out)
	if decodeErr == nil && opUnsupported(resp) {
		// Also honoured after a non-zero exit: older plugins may exit 1 on an op they do not know.
		return validation{}
	}
	switch {
	case runErr != nil:
		return validation{failure: runErr.Error()}
	case decodeErr != nil:
		return validation{failure: fmt.Sprintf("plugin %s: %v%s", plugin, decodeErr, stderr)}
	case resp.Diagnostics != nil:
		return validation{diags: resp.Diagnostics}
	case resp.Error != "":
		return validation{failure: fmt.Sprintf("plugin %s could not validate the device: %s", plugin, oneLine(resp.Error))}
	case len(resp.Findings) > 0:
		// A plugin written before validate existed that ignores op: it probed instead. Its answer
		// says nothing about the spec, so there is nothing to report.
		return validation{}
	}
	return validation{failure: fmt.Sprintf(`plugin %s answered op "validate" with neither diagnostics nor an error (want "diagnostics": [] when the entry is valid)`, plugin)}
}

// opUnsupported reports whether an answer means "this plugin does not implement the op": the
// documented {"unsupported": true}, or an error in the words plugins use for an unknown op (the
// v1 documentation asked for "an error" there without fixing its text).
func opUnsupported(resp Response) bool {
	if resp.Unsupported {
		return true
	}
	if resp.Error == "" || resp.Diagnostics != nil {
		return false
	}
	msg := strings.ToLower(resp.Error)
	for _, w := range []string{"unknown op", "unsupported", "not supported", "not implemented", "unknown operation", "invalid op", `op "validate"`, "op validate", "op: validate"} {
		if strings.Contains(msg, w) {
			return true
		}
	}
	return false
}

// diagnostics turns a validation into spec diagnostics anchored in the spec file.
func (p *Plugin) diagnostics(d spec.Device, v validation) spec.Diagnostics {
	label := fmt.Sprintf("device %q (plugin %s)", d.Name, p.Name())
	if v.failure != "" {
		return spec.Diagnostics{{
			Pos:      d.Pos,
			Severity: spec.SeverityWarning,
			Message: fmt.Sprintf("%s: parameters not checked: %s (op \"validate\" must answer within %s without touching the network; see docs/devices.md)",
				label, v.failure, ValidateTimeout),
		}}
	}
	var diags spec.Diagnostics
	for i, pd := range v.diags {
		if i == maxDiagnostics {
			diags = append(diags, spec.Diagnostic{Pos: d.Pos, Severity: spec.SeverityWarning,
				Message: fmt.Sprintf("%s: %d more diagnostics not shown", label, len(v.diags)-maxDiagnostics)})
			break
		}
		pos := d.Pos
		if at, ok := d.ParamsPos[pd.Param]; ok && pd.Param != "" {
			pos = at
		}
		sev := spec.SeverityError
		if s := strings.ToLower(strings.TrimSpace(pd.Severity)); s != "" && s != "error" {
			sev = spec.SeverityWarning
		}
		msg := oneLine(pd.Message)
		if msg == "" {
			msg = "(the plugin gave no message)"
		}
		if pd.Param != "" && !strings.Contains(msg, pd.Param) {
			msg = pd.Param + ": " + msg
		}
		diags = append(diags, spec.Diagnostic{Pos: pos, Severity: sev, Message: label + ": " + msg})
	}
	// File order, as built-in kinds report (the plugin's order breaks ties).
	slices.SortStableFunc(diags, func(a, b spec.Diagnostic) int {
		if c := a.Pos.Line - b.Pos.Line; c != 0 {
			return c
		}
		return a.Pos.Col - b.Pos.Col
	})
	return diags
}

// Check runs the plugin once for d (op "check").
//
//  1. The budget is the device's timeout, or ctx's deadline when that is clearly shorter.
//  2. exchange runs the plugin, killing its process group when ctx ends.
//  3. A hang, crash, non-zero exit, oversized output, invalid JSON, a protocol mismatch or an
//     answer without findings is an error quoting the tail of the plugin's stderr; a well-formed
//     answer becomes the result.
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
	out, stderr, elapsed, err := p.exchange(ctx, Request{
		Protocol: Protocol, Op: OpCheck, TimeoutMs: timeout.Milliseconds(), Device: requestDevice(d, timeout),
	}, timeout)
	if err != nil {
		return reconcile.CheckResult{}, err
	}
	resp, err := decodeEnvelope(out)
	if err == nil && resp.Error == "" && len(resp.Findings) == 0 {
		err = errors.New("answered no findings and no error")
	}
	if err != nil {
		return reconcile.CheckResult{}, fmt.Errorf("plugin %s: %w%s", p.Name(), err, stderr)
	}
	if resp.Error != "" {
		return reconcile.CheckResult{}, fmt.Errorf("plugin %s could not probe the device: %s", p.Name(), resp.Error)
	}
	return toResult(resp, elapsed), nil
}

// requestDevice is d as the plugin sees it, with timeout as its budget.
func requestDevice(d spec.Device, timeout time.Duration) RequestDevice {
	params := d.Params
	if params == nil {
		params = map[string]string{}
	}
	return RequestDevice{
		Name: d.Name, Kind: d.Kind, Address: d.Address, Required: d.Required,
		Timeout: timeout.String(), Params: params,
	}
}

// exchange runs the plugin once with req on stdin and returns its stdout and the tail of its
// stderr (as "; stderr: ...", or ""). ctx bounds the run; timeout is only for messages.
//
//  1. Start the executable in a new process group with the request on stdin.
//  2. When ctx ends first, kill the whole group (SIGKILL) and report the hang.
//  3. A crash, non-zero exit or oversized output is an error quoting the stderr tail; out still
//     holds what the plugin printed, so a caller may make sense of it.
func (p *Plugin) exchange(ctx context.Context, req Request, timeout time.Duration) (out []byte, errTail string, elapsed time.Duration, err error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, "", 0, fmt.Errorf("encode request for plugin %s: %w", p.Name(), err)
	}
	cmd := exec.CommandContext(ctx, p.Path)
	ownProcessGroup(cmd)
	cmd.Cancel = func() error { return killProcessGroup(cmd) }
	cmd.WaitDelay = waitDelay
	cmd.Stdin = bytes.NewReader(body)
	stdout := &cappedBuffer{limit: maxStdout}
	stderr := &tailBuffer{limit: stderrTail}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = append(os.Environ(), "AVATAR_SYNC_PLUGIN_PROTOCOL="+Protocol)

	start := time.Now()
	runErr := cmd.Run()
	elapsed = time.Since(start)
	out, errTail = stdout.Bytes(), stderr.suffix()
	if runErr != nil && ctx.Err() != nil {
		return out, errTail, elapsed, fmt.Errorf("plugin %s did not answer within %s; killed its process group%s",
			p.Name(), round(timeout), errTail)
	}
	if runErr != nil {
		var exitErr *exec.ExitError
		if errors.As(runErr, &exitErr) {
			if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return out, errTail, elapsed, fmt.Errorf("plugin %s crashed (%s)%s", p.Name(), ws.Signal(), errTail)
			}
			return out, errTail, elapsed, fmt.Errorf("plugin %s exited with status %d (a plugin reports failed devices as findings and exits 0)%s",
				p.Name(), exitErr.ExitCode(), errTail)
		}
		if errors.Is(runErr, exec.ErrWaitDelay) {
			return out, errTail, elapsed, fmt.Errorf("plugin %s exited but left a process holding its output open%s", p.Name(), errTail)
		}
		return out, errTail, elapsed, fmt.Errorf("run plugin %s: %w", p.Name(), runErr)
	}
	if stdout.overflow {
		return out, errTail, elapsed, fmt.Errorf("plugin %s printed more than %d bytes on stdout; an answer is one small JSON object", p.Name(), maxStdout)
	}
	return out, errTail, elapsed, nil
}

// decodeEnvelope parses a plugin's stdout as exactly one JSON object of our protocol version;
// what the object must contain depends on the op and is checked by the caller.
func decodeEnvelope(out []byte) (Response, error) {
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

// oneLine folds a plugin's message onto one line, so each diagnostic stays one line of output.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
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
