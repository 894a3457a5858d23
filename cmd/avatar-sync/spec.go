package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/avatar-project/avatar-sync/plugins/devices"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// readSpec loads the spec named by -f ("-" reads standard input, a directory merges its *.yaml files,
// issue 15) through spec.ReadSources, which bounds the read and refuses FIFOs and devices (issue 10
// item 6); ctx ends a wait on standard input. The spec is loaded for --cluster: that target's
// overrides are merged in (issue 15).
func readSpec(ctx context.Context, g *globalOptions, s *streams) (*spec.Spec, spec.Diagnostics) {
	return readSpecWith(ctx, g, s, func(name string, srcs []spec.Source) (*spec.Spec, spec.Diagnostics) {
		return spec.ParseSources(name, srcs, g.cluster)
	})
}

// readSpecWith is readSpec with the parser to use (validate wants partial results).
func readSpecWith(ctx context.Context, g *globalOptions, s *streams, parse func(name string, srcs []spec.Source) (*spec.Spec, spec.Diagnostics)) (*spec.Spec, spec.Diagnostics) {
	srcs, diags := spec.ReadSources(ctx, g.file, s.in)
	if diags != nil {
		return nil, diags
	}
	name := g.file
	if name == spec.Stdin {
		name = spec.StdinName
	}
	return parse(name, srcs)
}

// loadSpec loads and validates the spec every command works from: warnings go to stderr, and an
// invalid spec becomes one error listing every problem as file:line:col: message.
func loadSpec(ctx context.Context, g *globalOptions, s *streams) (*spec.Spec, error) {
	if _, err := os.Stat(g.file); g.file != spec.Stdin && errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: no such file (point -f/--file at your avatar.yaml): %w", g.file, fs.ErrNotExist)
	}
	sp, diags := readSpecWith(ctx, g, s, func(name string, srcs []spec.Source) (*spec.Spec, spec.Diagnostics) {
		return spec.ParsePartialSources(name, srcs, g.cluster)
	})
	if sp != nil && len(diags.Errors()) > 0 {
		// An invalid spec is refused with every problem validate reports for it, so plan and
		// validate count the same errors (issue 21): the built-in device checks too, which
		// otherwise only run once the rest is valid. No external plugin runs here.
		reg := devices.NewRegistry()
		reg.NoExternalRun = true
		diags = append(diags, reconcile.ValidateDevices(ctx, spec.DecodedDevices(sp.Devices, diags), reg)...)
		slices.SortStableFunc(diags, func(a, b spec.Diagnostic) int {
			return cmp.Or(a.Pos.Line-b.Pos.Line, a.Pos.Col-b.Pos.Col)
		})
	}
	for _, w := range diags.Warnings() {
		fmt.Fprintln(s.err, w)
	}
	if errs := diags.Errors(); len(errs) > 0 {
		return nil, &specError{file: g.file, errs: errs, warnings: len(diags.Warnings())}
	}
	return sp, nil
}

// specError is an invalid spec: every error diagnostic, one per line so editors can jump to each.
// Its first line is validate's summary ("avatar.yaml is invalid: 2 errors, 1 warning"), counted
// the same way (issue 21).
type specError struct {
	file     string
	errs     spec.Diagnostics
	warnings int
}

func (e *specError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is invalid: %s, %s:", e.file, count(len(e.errs), "error"), count(e.warnings, "warning"))
	for _, d := range e.errs {
		b.WriteString("\n")
		b.WriteString(d.String())
	}
	return b.String()
}

// Is makes errors.Is(err, spec.ErrInvalid) hold, as for spec.Diagnostics.Err.
func (e *specError) Is(target error) bool { return target == spec.ErrInvalid }

// targetCluster returns the target named by --cluster, or an error naming the flag, the targets the
// spec declares and the closest one.
func targetCluster(g *globalOptions, sp *spec.Spec) (spec.Cluster, error) {
	c, err := sp.Target(g.cluster)
	if err != nil {
		return spec.Cluster{}, fmt.Errorf("--cluster %w", err)
	}
	return c, nil
}
