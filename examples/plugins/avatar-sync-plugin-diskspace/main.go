//go:build unix

// Command avatar-sync-plugin-diskspace is a worked example of an external avatar-sync device
// plugin (protocol avatar-sync.device/v1, see docs/devices.md). It serves devices of kind
// "diskspace": the address is the directory where EEG sessions are recorded, and the check fails
// when that directory is missing, not writable, or has less free space than minFree.
//
//	devices:
//	  - { name: recordings, kind: diskspace, address: /data/eeg, minFree: 20GB, required: true }
//
// Install it on PATH (go install ./examples/plugins/avatar-sync-plugin-diskspace) or point the
// device's plugin: key at the built binary. The whole protocol is: read one JSON request from
// stdin, print one JSON answer to stdout, exit 0. Two ops exist:
//   - "validate" (run by validate, plan, apply and check, every time): judge the entry's params
//     and address as written, answering diagnostics; no disk or network access, it must be cheap;
//   - "check": probe the device, answering findings. A failing device is a finding, not an exit code.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const protocol = "avatar-sync.device/v1"

// request is the part of avatar-sync's request this plugin uses.
type request struct {
	Protocol  string `json:"protocol"`
	Op        string `json:"op"`
	TimeoutMs int64  `json:"timeoutMs"`
	Device    struct {
		Name    string            `json:"name"`
		Address string            `json:"address"`
		Params  map[string]string `json:"params"`
	} `json:"device"`
}

type finding struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

// diagnostic is one problem in the device's entry; param anchors it at that key in avatar.yaml.
type diagnostic struct {
	Param    string `json:"param,omitempty"`
	Severity string `json:"severity,omitempty"` // "error" (default) or "warning"
	Message  string `json:"message"`
}

type response struct {
	Protocol    string            `json:"protocol"`
	Findings    []finding         `json:"findings,omitempty"`
	Facts       map[string]string `json:"facts,omitempty"`
	LatencyMs   float64           `json:"latencyMs,omitempty"`
	Error       string            `json:"error,omitempty"`
	Diagnostics *[]diagnostic     `json:"diagnostics,omitempty"` // a pointer, so a valid entry sends []
	Unsupported bool              `json:"unsupported,omitempty"`
}

// params are the keys this kind accepts beside the common ones (name, kind, address, ...).
var params = []string{"minFree"}

func main() {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		// Not even a request: this is a plugin failure, so say it on stderr and exit non-zero.
		fmt.Fprintln(os.Stderr, "avatar-sync-plugin-diskspace: read request:", err)
		os.Exit(1)
	}
	out := json.NewEncoder(os.Stdout)
	switch {
	case req.Protocol != protocol:
		_ = out.Encode(response{Protocol: protocol, Error: fmt.Sprintf("unsupported protocol %q (this plugin speaks %s)", req.Protocol, protocol)})
	case req.Op == "validate":
		diags := validate(req)
		_ = out.Encode(response{Protocol: protocol, Diagnostics: &diags})
	case req.Op == "check":
		_ = out.Encode(check(req))
	default:
		// An op added to v1 after this plugin was written: say so, and avatar-sync carries on.
		_ = out.Encode(response{Protocol: protocol, Unsupported: true, Error: fmt.Sprintf("unsupported op %q", req.Op)})
	}
}

// validate judges the entry as written. It runs before every validate/plan/apply, possibly on a
// CI machine without the recording disk, so it only parses: no stat, no statfs, no network.
func validate(req request) []diagnostic {
	diags := []diagnostic{}
	for _, k := range sortedKeys(req.Device.Params) {
		if !slices.Contains(params, k) {
			msg := fmt.Sprintf("unknown parameter %q for kind diskspace", k)
			if sug := closest(k, params); sug != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", sug)
			}
			diags = append(diags, diagnostic{Param: k, Message: msg + "; known: " + strings.Join(params, ", ")})
		}
	}
	if v, ok := req.Device.Params["minFree"]; ok {
		n, err := parseBytes(v)
		switch {
		case err != nil:
			diags = append(diags, diagnostic{Param: "minFree", Message: "minFree: " + err.Error()})
		case n < 1<<20:
			diags = append(diags, diagnostic{Param: "minFree", Severity: "warning",
				Message: fmt.Sprintf("minFree %s is under 1MiB, so the check passes on an almost full disk; a session needs gigabytes (e.g. 20GB)", v)})
		}
	}
	if dir := req.Device.Address; !filepath.IsAbs(dir) {
		diags = append(diags, diagnostic{Message: fmt.Sprintf("address %q must be the absolute path of the recordings directory, e.g. /data/eeg", dir)})
	}
	return diags
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// closest returns the candidate that differs from word only in case or by one edit, or "".
func closest(word string, candidates []string) string {
	for _, c := range candidates {
		if strings.EqualFold(word, c) || oneEdit(strings.ToLower(word), strings.ToLower(c)) {
			return c
		}
	}
	return ""
}

// oneEdit reports whether a becomes b by inserting, deleting or replacing one byte.
func oneEdit(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	if len(b)-len(a) > 1 {
		return false
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	if len(a) == len(b) {
		return a[i+1:] == b[i+1:]
	}
	return a[i:] == b[i+1:]
}

// check never blocks for long (statfs on a local disk), so it does not need to watch the timeout;
// a plugin talking to a network device would give each wait a deadline inside req.TimeoutMs.
func check(req request) response {
	start := time.Now()
	resp := response{Protocol: protocol, Facts: map[string]string{}}
	minFree, err := parseBytes(paramOr(req.Device.Params, "minFree", "1GiB"))
	if err != nil {
		// A spec mistake means the probe cannot run: that is an error, not a finding.
		resp.Error = fmt.Sprintf("minFree: %v", err)
		return resp
	}
	dir := req.Device.Address
	if dir == "" || !filepath.IsAbs(dir) {
		resp.Error = fmt.Sprintf("address %q must be an absolute directory path", dir)
		return resp
	}
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		resp.Findings = append(resp.Findings, finding{Message: fmt.Sprintf("%s is not a directory — create it or fix address:", dir)})
		return resp
	}
	probe, err := os.CreateTemp(dir, ".avatar-sync-probe-*")
	if err != nil {
		resp.Findings = append(resp.Findings, finding{Message: fmt.Sprintf("%s is not writable: %v", dir, err)})
	} else {
		probe.Close()
		os.Remove(probe.Name())
		resp.Findings = append(resp.Findings, finding{OK: true, Message: dir + " is writable"})
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		resp.Error = fmt.Sprintf("statfs %s: %v", dir, err)
		return resp
	}
	free := uint64(fs.Bavail) * uint64(fs.Bsize)
	resp.Facts["freeBytes"] = strconv.FormatUint(free, 10)
	resp.Facts["free"] = human(free)
	if free < minFree {
		resp.Findings = append(resp.Findings, finding{Message: fmt.Sprintf("only %s free, want at least %s — archive old sessions", human(free), human(minFree))})
	} else {
		resp.Findings = append(resp.Findings, finding{OK: true, Message: human(free) + " free"})
	}
	resp.LatencyMs = float64(time.Since(start).Microseconds()) / 1000
	return resp
}

func paramOr(p map[string]string, key, def string) string {
	if v, ok := p[key]; ok {
		return v
	}
	return def
}

// parseBytes reads sizes such as 500MB, 20GB, 1GiB or a plain byte count.
func parseBytes(s string) (uint64, error) {
	units := []struct {
		suffix string
		mult   uint64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	s = strings.TrimSpace(s)
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("%q is not a size such as 500MB or 20GB", s)
			}
			return uint64(n * float64(u.mult)), nil
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size such as 500MB or 20GB", s)
	}
	return n, nil
}

func human(b uint64) string {
	switch {
	case b >= 1<<40:
		return fmt.Sprintf("%.1f TiB", float64(b)/(1<<40))
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	default:
		return fmt.Sprintf("%d B", b)
	}
}
