package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/avatar-project/avatar-sync/spec"
)

// readSpec loads the file named by -f, turning a missing file into a diagnostic that names the flag.
func readSpec(g *globalOptions) (*spec.Spec, spec.Diagnostics) {
	if _, err := os.Stat(g.file); errors.Is(err, fs.ErrNotExist) {
		return nil, spec.Diagnostics{{
			Pos:      spec.Pos{File: g.file},
			Severity: spec.SeverityError,
			Message:  "no such file (point -f/--file at your avatar.yaml)",
		}}
	}
	return spec.LoadFile(g.file)
}

// loadSpec loads and validates the spec every command works from: warnings go to stderr, and an
// invalid spec becomes one error listing every problem as file:line:col: message.
func loadSpec(g *globalOptions, s *streams) (*spec.Spec, error) {
	sp, diags := readSpec(g)
	for _, w := range diags.Warnings() {
		fmt.Fprintln(s.err, w)
	}
	if errs := diags.Errors(); len(errs) > 0 {
		return nil, &specError{file: g.file, errs: errs}
	}
	return sp, nil
}

// specError is an invalid spec: every error diagnostic, one per line so editors can jump to each.
type specError struct {
	file string
	errs spec.Diagnostics
}

func (e *specError) Error() string {
	var b strings.Builder
	if len(e.errs) == 1 {
		fmt.Fprintf(&b, "%s is invalid:", e.file)
	} else {
		fmt.Fprintf(&b, "%s is invalid (%d errors):", e.file, len(e.errs))
	}
	for _, d := range e.errs {
		b.WriteString("\n")
		b.WriteString(d.String())
	}
	return b.String()
}

// Is makes errors.Is(err, spec.ErrInvalid) hold, as for spec.Diagnostics.Err.
func (e *specError) Is(target error) bool { return target == spec.ErrInvalid }
