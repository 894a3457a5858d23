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
// API server and the objects the render produced for the target. It turns kube's own plan into
// KindObject changes of the one reconcile.Plan, so plan, apply and watch cover both planes
// (issue 11).
type Plane struct {
	Client  *Client
	Desired Desired
	// Interval is how often waits poll status (0 = DefaultWaitInterval).
	Interval time.Duration

	// last is the plan PlanObjects returned last, with the objects to apply (Secret values
	// included): ApplyObjects executes it, and nothing of it leaves the plane (issue 20: no
	// untyped handle through reconcile).
	mu   sync.Mutex
	last *Plan
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
	kp, err := pl.Client.Plan(ctx, want, Options{Prune: opts.Prune, AllowDelete: opts.AllowDelete, Salt: salt})
	if err != nil {
		return reconcile.ObjectPlan{}, err
	}
	out := reconcile.ObjectPlan{Fingerprint: "kube:" + kp.Fingerprint(), Desired: snap}
	pl.mu.Lock()
	pl.last = &kp
	pl.mu.Unlock()
	for _, ch := range kp.Changes {
		if ch.Action == NoOp && ch.Reason == "" {
			continue
		}
		out.Changes = append(out.Changes, planChange(ch))
	}
	return out, nil
}

// planChange converts one object change into the typed change of the reconcile plan (reconcile
// grades its risk).
func planChange(ch ObjectChange) reconcile.Change {
	c := reconcile.Change{Kind: reconcile.KindObject, Name: ch.Object.String(), Reason: ch.Reason, Action: ch.Action,
		Object: &reconcile.ObjectPayload{
			Object:    reconcile.ObjectRef(ch.Object),
			Broker:    ch.Broker,
			Sensitive: ch.Object.Kind == "Secret",
			Live:      ch.Live,
		}}
	for _, f := range ch.Fields {
		c.Object.Fields = append(c.Object.Fields, reconcile.ObjectField(f))
	}
	for _, cf := range ch.Conflicts {
		c.Object.Conflicts = append(c.Object.Conflicts, reconcile.ObjectConflict(cf))
	}
	return c
}

// appliedMessages are the progress messages of Apply that mean the object now has its new form.
var appliedMessages = map[string]bool{"created": true, "updated": true, "replaced": true, "deleted": true}

// ApplyObjects executes the kube plan PlanObjects returned last, with reconcile's opt-ins.
func (pl *Plane) ApplyObjects(ctx context.Context, p reconcile.ObjectPlan, opts reconcile.ObjectApplyOptions, progress func(reconcile.ObjectEvent)) error {
	pl.mu.Lock()
	last := pl.last
	pl.mu.Unlock()
	if last == nil || "kube:"+last.Fingerprint() != p.Fingerprint {
		return errors.New("the Kubernetes side of the plan is not the one this plane computed last; plan again")
	}
	kp := *last
	ao := ApplyOptions{
		Options: Options{Prune: opts.Prune, AllowDelete: opts.AllowDelete, ForceConflicts: opts.ForceConflicts, Replace: opts.AllowReplace},
		NoWait:  opts.NoWait, WaitTimeout: opts.WaitTimeout, Interval: pl.Interval, SafeToRestart: opts.SafeToRestart,
		Progress: func(pr Progress) {
			ev := reconcile.ObjectEvent{Name: pr.Object.String(), Done: appliedMessages[pr.Message]}
			if !ev.Done {
				ev.Message = pr.Message
				if pr.Broker >= 0 {
					ev.Message = fmt.Sprintf("(broker %d) %s", pr.Broker, pr.Message)
				}
			}
			progress(ev)
		},
	}
	return pl.Client.Apply(ctx, kp, ao)
}
