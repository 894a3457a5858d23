package spec

import (
	"errors"
	"fmt"
	"strings"
)

// Severity grades a diagnostic: errors make a spec invalid, warnings only inform (unless --strict).
type Severity int

// Severities.
const (
	SeverityError Severity = iota
	SeverityWarning
)

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
	b.WriteString(d.Message)
	return b.String()
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
