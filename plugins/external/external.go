// Package external runs device plugins that live outside the avatar-sync binary: an executable
// named avatar-sync-plugin-<kind> on PATH (or the device's plugin: path) that reads one JSON
// request on stdin and answers JSON on stdout (protocol avatar-sync.device/v1, documented in
// docs/devices.md). Two operations exist: "check" probes the device and answers findings;
// "validate" judges the device's spec entry without probing and answers diagnostics, so a mistyped
// parameter fails validate/plan/apply with its file:line:col like a built-in kind's would. The
// executable runs in its own process group under a hard timeout, so a plugin that hangs, crashes
// or prints garbage becomes a clear error (or warning), never a hang (issue 6).
//
// A plugin is code from outside avatar-sync, often arriving in a pull request, so it gets as
// little as it needs (issue 10): an absolute path (never a PATH lookup for a path the spec
// names), a minimal environment (no keystore or SASL passwords), and no run at all during a plain
// `validate`.
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

	"github.com/avatar-project/avatar-sync/internal/printable"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

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
	// Env names the variables the plugin receives beyond the allow-list (the device's env:).
	Env []string
	// SecretEnv are the spec's password variables: never passed, even when Env names them
	// (issue 21; validate refuses such an env: entry first).
	SecretEnv []string
	// Validations, when set, remembers validate answers across the Plugin values a Registry hands
	// out, so one command validating a device several times (check validates, then Preflight
	// validates again before probing) runs the plugin once.
	Validations *ValidationCache
	// NoRun never starts the executable: Validate reports only a missing plugin, Check refuses
	// with ErrNotRun. `validate` and `plan` without --plugins judge pull requests, whose plugins
	// are code chosen by their author and must not run (issue 10 item 7).
	NoRun bool
}

var _ reconcile.Checker = (*Plugin)(nil)

// ErrNotRun is Check's error for a plugin with NoRun set.
var ErrNotRun = errors.New("not run: external plugins run only with --plugins (use it only on a spec you trust)")

// Find resolves the plugin for d: its explicit plugin: path, else avatar-sync-plugin-<kind> via
// lookPath (nil means exec.LookPath, i.e. $PATH). A plugin that cannot be found is still returned,
// with Missing set, so validation can warn and check can report it per device.
//
// Path is always absolute. plugin: is a file, never a command name: relative to the spec file's
// directory (the working directory for a spec read from stdin), so `plugin: ./probe.sh` and
// `plugin: probe.sh` both mean the probe.sh next to avatar.yaml. Before issue 10, `-f avatar.yaml`
// turned ./probe.sh into the bare name probe.sh, which exec then looked up on $PATH.
func Find(d spec.Device, lookPath func(string) (string, error)) *Plugin {
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	p := &Plugin{Kind: d.Kind, Explicit: d.Plugin, Env: d.Env, SecretEnv: d.SecretEnv}
	if d.Plugin != "" {
		path, err := explicitPath(d)
		if err != nil {
			p.Missing = err
			return p
		}
		st, err := os.Stat(path)
		switch {
		case err != nil:
			p.Missing = fmt.Errorf("plugin %s: %w", path, err)
		case st.IsDir() || st.Mode().Perm()&0o111 == 0:
			p.Missing = fmt.Errorf("plugin %s is not an executable file (chmod +x it)", path)
		default:
			p.Path = path
		}
		return p
	}
	name := Prefix + d.Kind
	path, err := lookPath(name)
	if err == nil && !filepath.IsAbs(path) {
		// A relative PATH entry ("." or "bin") would make the plugin depend on where avatar-sync
		// was started; exec.LookPath refuses those too (exec.ErrDot).
		err = fmt.Errorf("found %s, which is relative to the working directory", path)
	}
	if err != nil {
		p.Missing = fmt.Errorf("no built-in probe for kind %q and no %s on PATH", d.Kind, name)
		return p
	}
	p.Path = path
	return p
}

// explicitPath is the absolute path of d's plugin: key, resolved against the spec file's
// directory (see Find).
func explicitPath(d spec.Device) (string, error) {
	path := d.Plugin
	if !filepath.IsAbs(path) && d.Pos.File != "" && d.Pos.File != "<stdin>" {
		path = filepath.Join(filepath.Dir(d.Pos.File), path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("plugin %s: %w", d.Plugin, err)
	}
	return abs, nil
}

// Name is the executable's file name, as users would look for it.
func (p *Plugin) Name() string {
	switch {
	case p.Path != "":
		return printable.Line(filepath.Base(p.Path))
	case p.Explicit != "":
		return printable.Line(filepath.Base(p.Explicit))
	}
	return printable.Line(Prefix + p.Kind)
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
// The exchange is bounded by ValidateTimeout (or d's timeout, when shorter) and by ctx: Ctrl-C
// kills the plugin's process group at once (issue 9).
func (p *Plugin) Validate(ctx context.Context, d spec.Device) spec.Diagnostics {
	if p.Missing != nil {
		return spec.Diagnostics{{
			Pos:      d.Pos,
			Severity: spec.SeverityWarning,
			Message:  fmt.Sprintf("device %q: %v; `avatar-sync check` will report this device as an error until it is installed", d.Name, p.Missing),
		}}
	}
	if p.NoRun {
		return nil
	}
	return p.diagnostics(d, p.validation(ctx, d))
}

// validation is what one validate exchange established, before positions are attached.
type validation struct {
	// diags is the plugin's answer; nil when it did not validate.
	diags []Diagnostic
	// failure says why the plugin could not validate ("" when it answered or opted out).
	failure string
	// interrupted says the run was ended by ctx (Ctrl-C), not by the plugin's own doing.
	interrupted bool
}

// ValidationCache remembers validate outcomes by plugin executable and device entry, and which
// executables hung: a plugin that ignored validate's 2s budget once is not given another 2s for
// each further device of its kind, so a fleet of drones behind one broken plugin costs plan 2s,
// not 2s a drone; nor is it run again for check, so a hanging plugin costs `check` one budget,
// not two (issue 10). It is safe for concurrent use (Preflight validates devices in parallel). Keep
// one per command run, since it never notices a plugin being reinstalled.
type ValidationCache struct {
	mu   sync.Mutex
	m    map[string]validation
	hung map[string]hang // by executable
}

// hang records the validate exchange a plugin did not finish.
type hang struct {
	device string
	budget time.Duration
}

// NewValidationCache returns an empty cache.
func NewValidationCache() *ValidationCache {
	return &ValidationCache{m: map[string]validation{}, hung: map[string]hang{}}
}

// validateBudget is how long the validate exchange for d may take: ValidateTimeout, or d's own
// timeout when that is shorter, so that in `check` a plugin hanging in validate costs at most the
// device's timeout (issue 10: it used to cost 2s more than that).
func validateBudget(d spec.Device) time.Duration {
	if d.Timeout > 0 && d.Timeout < ValidateTimeout {
		return d.Timeout
	}
	return ValidateTimeout
}

// validation runs (or recalls) the validate exchange for d.
//
//  1. Encode the request; its key without the timeout (which Preflight caps per run) finds a
//     cached outcome.
//  2. Run the plugin under its budget (validateBudget, capped by ctx) with the same
//     process-group kill as check.
//  3. Interpret the answer (interpretValidate) and remember it; an interrupted run is not
//     remembered, since it says nothing about the plugin.
func (p *Plugin) validation(ctx context.Context, d spec.Device) validation {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = reconcile.DefaultDeviceTimeout
	}
	budget := validateBudget(d)
	if dl, ok := ctx.Deadline(); ok {
		budget = max(min(budget, time.Until(dl)), time.Millisecond)
	}
	dev := requestDevice(d, timeout)
	req := Request{Protocol: Protocol, Op: OpValidate, TimeoutMs: budget.Milliseconds(), Device: dev}
	dev.Timeout = ""
	keyJSON, err := json.Marshal(dev)
	if err != nil {
		return validation{failure: fmt.Sprintf("encode request for plugin %s: %v", p.Name(), err)}
	}
	key := p.Path + "\x00" + string(keyJSON)
	if c := p.Validations; c != nil {
		c.mu.Lock()
		v, ok := c.m[key]
		h, hung := c.hung[p.Path]
		c.mu.Unlock()
		if ok {
			return v
		}
		if hung {
			return validation{failure: fmt.Sprintf("plugin %s did not answer within %s when validating device %q, so it was not run again",
				p.Name(), round(h.budget), h.device)}
		}
	}
	vctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	out, stderr, _, runErr := p.exchange(vctx, req, budget)
	v := interpretValidate(p.Name(), out, stderr, runErr)
	if ctx.Err() != nil && runErr != nil {
		v.interrupted = true
		return v
	}
	if c := p.Validations; c != nil {
		c.mu.Lock()
		c.m[key] = v
		if runErr != nil && vctx.Err() != nil {
			if _, seen := c.hung[p.Path]; !seen {
				c.hung[p.Path] = hang{device: d.Name, budget: budget}
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
		return validation{failure: fmt.Sprintf("plugin %s could not validate the device: %s", plugin, printable.Line(resp.Error))}
	case len(resp.Findings) > 0:
		// A plugin written before validate existed that ignores op: it probed instead. Its answer
		// says nothing about the spec, so there is nothing to report.
		return validation{}
	}
	return validation{failure: fmt.Sprintf(`plugin %s answered op "validate" with neither diagnostics nor an error (want "diagnostics": [] when the entry is valid)`, plugin)}
}

// diagnostics turns a validation into spec diagnostics anchored in the spec file.
func (p *Plugin) diagnostics(d spec.Device, v validation) spec.Diagnostics {
	label := fmt.Sprintf("device %q (plugin %s)", d.Name, p.Name())
	if v.interrupted {
		return spec.Diagnostics{{Pos: d.Pos, Severity: spec.SeverityWarning, Message: fmt.Sprintf("%s: parameters not checked: %s", label, v.failure)}}
	}
	if v.failure != "" {
		return spec.Diagnostics{{
			Pos:      d.Pos,
			Severity: spec.SeverityWarning,
			Message: fmt.Sprintf("%s: parameters not checked: %s (op \"validate\" must answer within %s without touching the network; see docs/devices.md)",
				label, v.failure, round(validateBudget(d))),
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
		msg := printable.Line(pd.Message)
		if msg == "" {
			msg = "(the plugin gave no message)"
		}
		if param := printable.Line(pd.Param); param != "" && !strings.Contains(msg, param) {
			msg = param + ": " + msg
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
	if p.NoRun {
		return reconcile.CheckResult{}, fmt.Errorf("plugin %s: %w", p.Name(), ErrNotRun)
	}
	if c := p.Validations; c != nil {
		c.mu.Lock()
		h, hung := c.hung[p.Path]
		c.mu.Unlock()
		if hung {
			return reconcile.CheckResult{}, fmt.Errorf("plugin %s did not answer op \"validate\" within %s (device %q); killed its process group and did not run it again to probe",
				p.Name(), round(h.budget), h.device)
		}
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
		return reconcile.CheckResult{}, fmt.Errorf("plugin %s could not probe the device: %s", p.Name(), printable.Line(resp.Error))
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
	if !filepath.IsAbs(p.Path) {
		// exec looks a name without a slash up on $PATH: never for a plugin (see Find).
		return nil, "", 0, fmt.Errorf("plugin %s: path %q is not absolute; refusing to run it", p.Name(), p.Path)
	}
	cmd := exec.CommandContext(ctx, p.Path)
	ownProcessGroup(cmd)
	cmd.Cancel = func() error { return killProcessGroup(cmd) }
	cmd.WaitDelay = waitDelay
	cmd.Stdin = bytes.NewReader(body)
	stdout := &cappedBuffer{limit: maxStdout}
	stderr := &tailBuffer{limit: stderrTail}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = Environ(os.Environ(), slices.DeleteFunc(slices.Clone(p.Env), func(name string) bool {
		return slices.Contains(p.SecretEnv, name)
	}))

	start := time.Now()
	runErr := cmd.Run()
	elapsed = time.Since(start)
	out, errTail = stdout.Bytes(), stderr.suffix()
	if runErr != nil && errors.Is(ctx.Err(), context.Canceled) {
		return out, errTail, elapsed, fmt.Errorf("plugin %s was interrupted; killed its process group%s", p.Name(), errTail)
	}
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

// toResult folds findings into one result: OK only if all are; the detail lists the failing
// messages (or all messages when everything passed).
func toResult(resp Response, elapsed time.Duration) reconcile.CheckResult {
	var good, bad []string
	for _, f := range resp.Findings {
		msg := printable.Line(f.Message)
		if msg == "" {
			msg = "(no message)"
		}
		if f.OK {
			good = append(good, msg)
		} else {
			bad = append(bad, msg)
		}
	}
	res := reconcile.CheckResult{OK: len(bad) == 0, Latency: elapsed}
	for k, v := range resp.Facts {
		if res.Facts == nil {
			res.Facts = map[string]string{}
		}
		res.Facts[printable.Line(k)] = printable.Line(v)
	}
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
	for i, l := range lines {
		lines[i] = printable.Line(l)
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

// allowedEnv are the variables every plugin receives from avatar-sync's environment (issue 10):
// what a program needs to find its tools, its home, its locale and its temporary directory.
// Anything else — AVATAR_KEYSTORE_PASSWORD, SASL passwords, cloud credentials — reaches a plugin
// only when its device names it under env:. docs/devices.md lists the same names.
var allowedEnv = []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR"}

// Environ is the environment a plugin runs with: from environ (os.Environ()), the allow-listed
// variables, every LC_* locale variable and the ones named in extra, plus
// AVATAR_SYNC_PLUGIN_PROTOCOL.
func Environ(environ []string, extra []string) []string {
	var env []string
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "AVATAR_SYNC_PLUGIN_PROTOCOL" {
			continue
		}
		if slices.Contains(allowedEnv, name) || strings.HasPrefix(name, "LC_") || slices.Contains(extra, name) {
			env = append(env, kv)
		}
	}
	return append(env, "AVATAR_SYNC_PLUGIN_PROTOCOL="+Protocol)
}
