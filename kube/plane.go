package kube

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/avatar-project/avatar-sync/reconcile"
)

// Plane is one target's Kubernetes plane as reconcile sees it (reconcile.Objects): the connected
// API server and the objects the render produced for the target. Its plans are reconcile's
// (KindObject changes of the one plans.Plan, issue 11); kube declares no plan model of its own
// (issue 20), only the private execution record of the plan it computed last.
type Plane struct {
	Client  *Client
	Desired Desired
	// Interval is how often waits poll status when they cannot watch it (0 = DefaultWaitInterval).
	Interval time.Duration

	// last is what PlanObjects computed last beside the plan it returned: the objects to apply
	// (Secret values included) and every object examined. ApplyObjects executes the plan with it,
	// and nothing of it leaves the plane (issue 20: no untyped handle through reconcile).
	mu   sync.Mutex
	last *execution
}

var _ reconcile.Objects = (*Plane)(nil)

// PlanObjects diffs the rendered objects against the API server. Objects in sync are left out of
// the changes but are part of the fingerprint; orphans left alone stay in as information. With
// opts.Pinned it plans the plan's own manifests instead of the render (issue 20), the Secret
// values taken from the render and refused unless they are the planned ones.
func (pl *Plane) PlanObjects(ctx context.Context, opts reconcile.ObjectPlanOptions) (reconcile.ObjectPlan, error) {
	want, salt, snap := pl.Desired, opts.Salt, opts.Pinned
	if snap != nil {
		var err error
		if want, salt, err = Unseal(*snap, pl.Desired); err != nil {
			return reconcile.ObjectPlan{}, fmt.Errorf("target %s: %w", pl.Client.target, err)
		}
	} else {
		if len(salt) < minSalt {
			return reconcile.ObjectPlan{}, fmt.Errorf("target %s: a plan of the Kubernetes side needs a salt of %d bytes or more", pl.Client.target, minSalt)
		}
		sealed, err := Seal(want, salt)
		if err != nil {
			return reconcile.ObjectPlan{}, fmt.Errorf("target %s: %w", pl.Client.target, err)
		}
		snap = &sealed
	}
	op, ex, err := pl.Client.plan(ctx, want, planOptions{prune: opts.Prune, allowDelete: opts.AllowDelete, salt: salt})
	if err != nil {
		return reconcile.ObjectPlan{}, err
	}
	op.Desired = snap
	pl.mu.Lock()
	pl.last = ex
	pl.mu.Unlock()
	return op, nil
}

// ApplyObjects executes p, which must be the plan PlanObjects returned last (its fingerprint), with
// the objects that plan prepared and reconcile's opt-ins.
func (pl *Plane) ApplyObjects(ctx context.Context, p reconcile.ObjectPlan, opts reconcile.ObjectApplyOptions, progress func(reconcile.ObjectEvent)) error {
	pl.mu.Lock()
	last := pl.last
	pl.mu.Unlock()
	if last == nil || last.fingerprint != p.Fingerprint {
		return errors.New("the Kubernetes side of the plan is not the one this plane computed last; plan again")
	}
	return pl.Client.apply(ctx, p, last, execOptions{ObjectApplyOptions: opts, interval: pl.Interval, progress: progress})
}
