package devices

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/avatar-project/avatar-sync/spec"
)

// paramType is how a kind-specific parameter's string value (as the spec loader stored it in
// Device.Params) must be read.
type paramType int

const (
	paramString paramType = iota
	paramBool
	paramInt
	paramPercent  // 0-100, with or without a trailing %
	paramDuration // Go duration: 500ms, 2s
	paramHostPort // host:port for a local listener; an empty host means every interface
)

func (t paramType) String() string {
	switch t {
	case paramBool:
		return "true or false"
	case paramInt:
		return "a whole number"
	case paramPercent:
		return "a percentage from 0 to 100"
	case paramDuration:
		return "a duration such as 500ms or 2s"
	case paramHostPort:
		return "host:port (e.g. :8890)"
	default:
		return "a string"
	}
}

// param describes one kind-specific key a built-in probe accepts.
type param struct {
	name     string
	typ      paramType
	min, max int // for paramInt; both 0 means unbounded
	// check, when set, validates the parsed string further and returns a problem description.
	check func(v string) string
}

// schema is the set of parameters one kind accepts.
type schema []param

func (s schema) names() []string {
	out := make([]string, len(s))
	for i, p := range s {
		out[i] = p.name
	}
	return out
}

func (s schema) lookup(name string) (param, bool) {
	for _, p := range s {
		if p.name == name {
			return p, true
		}
	}
	return param{}, false
}

// validate reports every unknown or malformed parameter of d, each at the key's own position.
func (s schema) validate(d spec.Device) spec.Diagnostics {
	var diags spec.Diagnostics
	keys := make([]string, 0, len(d.Params))
	for k := range d.Params {
		keys = append(keys, k)
	}
	// Sort by position (then name) so diagnostics come out in file order.
	slices.SortFunc(keys, func(a, b string) int {
		pa, pb := paramPos(d, a), paramPos(d, b)
		if c := pa.Line - pb.Line; c != 0 {
			return c
		}
		if c := pa.Col - pb.Col; c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, k := range keys {
		v := d.Params[k]
		p, ok := s.lookup(k)
		if !ok {
			msg := fmt.Sprintf("device %q: unknown parameter %q for kind %s", d.Name, k, d.Kind)
			if sug := suggest(k, s.names()); sug != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", sug)
			}
			if len(s) == 0 {
				msg += "; this kind takes no parameters"
			} else {
				msg += "; known: " + strings.Join(s.names(), ", ")
			}
			diags = append(diags, diagErr(paramPos(d, k), msg))
			continue
		}
		if problem := p.parseProblem(v); problem != "" {
			diags = append(diags, diagErr(paramPos(d, k), fmt.Sprintf("device %q: %s: %s", d.Name, k, problem)))
		}
	}
	return diags
}

// parseProblem returns why v is not a valid value for p, or "".
func (p param) parseProblem(v string) string {
	bad := func() string { return fmt.Sprintf("%q is not %s", v, p.typ) }
	switch p.typ {
	case paramBool:
		if _, err := strconv.ParseBool(v); err != nil {
			return bad()
		}
	case paramInt:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return bad()
		}
		if (p.min != 0 || p.max != 0) && (n < p.min || n > p.max) {
			return fmt.Sprintf("%d is out of range [%d, %d]", n, p.min, p.max)
		}
	case paramPercent:
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), "%"))
		if err != nil || n < 0 || n > 100 {
			return bad()
		}
	case paramDuration:
		dur, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || dur <= 0 {
			return bad()
		}
	case paramHostPort:
		_, port, err := net.SplitHostPort(v)
		if err != nil {
			return bad()
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return fmt.Sprintf("port %q in %q is not a number from 0 to 65535", port, v)
		}
	}
	if p.check != nil {
		return p.check(v)
	}
	return ""
}

func paramPos(d spec.Device, key string) spec.Pos { return d.PosOf(key) }

func diagErr(pos spec.Pos, msg string) spec.Diagnostic {
	return spec.Diagnostic{Pos: pos, Severity: spec.SeverityError, Message: msg}
}

// Typed getters, used only after validate accepted the values: a malformed value falls back to
// the default rather than panicking, since Preflight never probes an invalid entry anyway.

func paramStr(d spec.Device, key, def string) string {
	if v, ok := d.Params[key]; ok {
		return v
	}
	return def
}

func paramBoolean(d spec.Device, key string, def bool) bool {
	if b, err := strconv.ParseBool(d.Params[key]); err == nil {
		return b
	}
	return def
}

func paramNumber(d spec.Device, key string, def int) int {
	v, ok := d.Params[key]
	if !ok {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), "%"))
	if err != nil {
		return def
	}
	return n
}

func paramDur(d spec.Device, key string, def time.Duration) time.Duration {
	if dur, err := time.ParseDuration(strings.TrimSpace(d.Params[key])); err == nil && dur > 0 {
		return dur
	}
	return def
}

// suggest is spec.Suggest, the one "did you mean" (issue 9).
func suggest(word string, candidates []string) string { return spec.Suggest(word, candidates) }
