package main

import (
	"context"
	"fmt"

	"github.com/avatar-project/avatar-sync/session"
	"github.com/avatar-project/avatar-sync/spec"
)

// readSpecWith reads the spec named by -f with the parser to use (validate wants partial results).
func readSpecWith(ctx context.Context, g *globalOptions, s *streams, parse func(name string, srcs []spec.Source) (*spec.Spec, spec.Diagnostics)) (*spec.Spec, spec.Diagnostics) {
	return session.ReadSpecWith(ctx, g.file, s.in, parse)
}

// loadSpec loads and validates the spec every command works from (session.LoadSpec): warnings go
// to stderr, and an invalid spec becomes one error listing every problem as file:line:col: message.
func loadSpec(ctx context.Context, g *globalOptions, s *streams) (*spec.Spec, error) {
	sp, warnings, err := session.LoadSpec(ctx, g.file, s.in, g.cluster)
	for _, w := range warnings {
		fmt.Fprintln(s.err, w)
	}
	return sp, err
}

// targetCluster returns the target named by --cluster, or an error naming the flag, the targets the
// spec declares and the closest one.
func targetCluster(g *globalOptions, sp *spec.Spec) (spec.Cluster, error) {
	c, err := sp.Target(g.cluster)
	if err != nil {
		return spec.Cluster{}, fmt.Errorf("--cluster %w", err)
	}
	return c, nil
}
