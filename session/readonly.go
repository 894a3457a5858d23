package session

import (
	"context"
	"fmt"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/health"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// Import reads the target's Kafka plane once and derives a spec from it (`avatar-sync import`):
// cmd reads no cluster itself (issue 20).
func (t *Target) Import(ctx context.Context, opts reconcile.ImportOptions) (spec.Document, error) {
	if t.Admin == nil {
		return spec.Document{}, fmt.Errorf("cluster %q: the brokers did not answer: %w", t.Name, t.KafkaErr)
	}
	live, err := t.Admin.Describe(ctx)
	if err != nil {
		return spec.Document{}, err
	}
	return reconcile.Import(live, opts), nil
}

// HeldLock reads the target's apply lock and checks that it is held under id (`avatar-sync
// unlock`): the holder is returned for the person to judge before anything is released.
func (t *Target) HeldLock(ctx context.Context, id string) (*clusters.LockHolder, error) {
	cur, err := t.Admin.ApplyLock(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the apply lock of cluster %q: %w", t.Name, err)
	}
	if err := clusters.HeldAs(cur, id, t.Name); err != nil {
		return nil, err
	}
	return cur, nil
}

// Probe writes a probe record to every partition of the named topics and reads each back
// (`avatar-sync verify`): cmd reads no cluster itself (issue 20).
func (t *Target) Probe(ctx context.Context, names []string, opts clusters.ProbeOptions) (health.ProbeReport, error) {
	if t.Admin == nil {
		return health.ProbeReport{}, fmt.Errorf("cluster %q: the brokers did not answer: %w", t.Name, t.KafkaErr)
	}
	return t.Admin.Probe(ctx, names, opts)
}

// Unlock releases the target's apply lock held under id, with the reason its holder is told (`avatar-sync
// unlock`, after HeldLock showed the holder).
func (t *Target) Unlock(ctx context.Context, id, reason string) error {
	return t.Admin.Unlock(ctx, id, reason)
}
