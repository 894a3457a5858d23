package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

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
	sp, diags := readSpec(ctx, g, s)
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

// targetCluster returns the target named by --cluster, or an error naming the flag, the targets the
// spec declares and the closest one.
func targetCluster(g *globalOptions, sp *spec.Spec) (spec.Cluster, error) {
	c, err := sp.Target(g.cluster)
	if err != nil {
		return spec.Cluster{}, fmt.Errorf("--cluster %w", err)
	}
	return c, nil
}
