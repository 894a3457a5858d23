package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Severity grades a diagnostic: errors make a spec invalid, warnings only inform (unless --strict).
type Severity int

// Severities.
const (
	SeverityError Severity = iota
	SeverityWarning
)

// String is the word used in output: "error" or "warning".
func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// MarshalText lets JSON output carry the severity as a word.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Diagnostic is one problem found in a spec, anchored at its position in the file.
type Diagnostic struct {
	Pos      Pos      `json:"pos"`
	Severity Severity `json:"-"`
	Message  string   `json:"message"`
}

// String renders "file:line:col: message" (warnings: "file:line:col: warning: message").
func (d Diagnostic) String() string {
	var b strings.Builder
	if p := d.Pos.String(); p != "" {
		b.WriteString(p)
		b.WriteString(": ")
	}
	if d.Severity == SeverityWarning {
		b.WriteString("warning: ")
	}
	// One diagnostic is one line, for editors and CI annotations, even when the message quotes a
	// key or value holding a line break or an escape character.
	b.WriteString(lineSafe.Replace(d.Message))
	return b.String()
}

var lineSafe = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`, "\x1b", `\x1b`)

// MarshalJSON flattens the diagnostic for machines (validate -o json, editors, CI annotations):
// {"severity":"error","file":"avatar.yaml","line":14,"col":7,"message":"..."}.
func (d Diagnostic) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Severity Severity `json:"severity"`
		File     string   `json:"file"`
		Line     int      `json:"line"`
		Col      int      `json:"col"`
		Message  string   `json:"message"`
	}{d.Severity, d.Pos.File, d.Pos.Line, d.Pos.Col, d.Message})
}

// Diagnostics is every problem found in one spec, in file order.
type Diagnostics []Diagnostic

// Errors returns only the error-severity diagnostics.
func (ds Diagnostics) Errors() Diagnostics { return ds.filter(SeverityError) }

// Warnings returns only the warning-severity diagnostics.
func (ds Diagnostics) Warnings() Diagnostics { return ds.filter(SeverityWarning) }

func (ds Diagnostics) filter(s Severity) Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == s {
			out = append(out, d)
		}
	}
	return out
}

// Err joins the error diagnostics into one error (nil when there are none), so callers can wrap it.
func (ds Diagnostics) Err() error {
	errs := ds.Errors()
	if len(errs) == 0 {
		return nil
	}
	joined := make([]error, len(errs))
	for i, d := range errs {
		joined[i] = errors.New(d.String())
	}
	return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(joined...))
}

// ErrInvalid is matched by every error returned for an invalid spec.
var ErrInvalid = errors.New("invalid spec")

// maxQuoted is how much of one user value a diagnostic quotes; issue 10 item 17: a 3 MB topic name
// was printed whole.
const maxQuoted = 80

// clipped is a user value in a diagnostic, cut to maxQuoted bytes (on a rune boundary) with its
// length: "aaaa…" (3145728 bytes). It formats like the string it wraps for %s, %q and %v.
type clipped string

func (c clipped) Format(f fmt.State, verb rune) {
	s := string(c)
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	head := s[:cut]
	if verb == 'q' {
		fmt.Fprintf(f, "%q… (%d bytes)", head, len(s))
		return
	}
	fmt.Fprintf(f, "%s… (%d bytes)", head, len(s))
}

// diagnosticf formats a diagnostic message, clipping every long string quoted with %q: quoted
// strings are the user's values (names, keys, addresses); paths, docs and hints are printed with %s.
func diagnosticf(format string, args ...any) string {
	arg := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		for i < len(format) && strings.IndexByte("+-# 0123456789.", format[i]) >= 0 {
			i++
		}
		if i >= len(format) || format[i] == '%' {
			continue
		}
		if s, ok := argAt(args, arg).(string); ok && format[i] == 'q' && len(s) > maxQuoted {
			args[arg] = clipped(s)
		}
		arg++
	}
	return fmt.Sprintf(format, args...)
}

func argAt(args []any, i int) any {
	if i < len(args) {
		return args[i]
	}
	return nil
}

// clip shortens a user value printed without quotes (an unknown key inside a path) like clipped.
func clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	return fmt.Sprintf("%s", clipped(s))
}
