package external

// The wire format of protocol avatar-sync.device/v1: what avatar-sync writes to a plugin's stdin
// and what it accepts on its stdout. docs/devices.md documents the same fields; keep them exact.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Protocol is the version string both sides of the exchange carry; a plugin answering another
// version is refused rather than misread.
const Protocol = "avatar-sync.device/v1"

// Prefix is prepended to a device's kind to find its plugin on PATH.
const Prefix = "avatar-sync-plugin-"

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
	// out (the device's timeout for check; for validate ValidateTimeout, or the device's timeout
	// when that is shorter).
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
