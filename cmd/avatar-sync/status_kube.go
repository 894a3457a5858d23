package main

import (
	"context"

	"github.com/avatar-project/avatar-sync/health"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/session"
)

// kubeStatus reads the Kubernetes plane of a target with kubernetes: for `status` and the status
// page (issue 24): each StatefulSet's rollout, and the objects the plan p would change, field by
// field. mode is what the daemon does with drift ("heal" or "report"); planErr is why the plan
// could not be made (then the drift is unknown; the spec line says why). nil without kubernetes:.
func kubeStatus(ctx context.Context, t *session.Target, p *reconcile.Plan, planErr error, mode string) *health.KubeReport {
	if t == nil || t.Objects == nil {
		return nil
	}
	k := &health.KubeReport{Mode: mode, StatefulSets: []health.StatefulSetState{}, Drift: []health.ObjectDrift{}}
	ws, err := t.Objects.Workloads(ctx)
	for _, w := range ws {
		k.Namespace = w.Namespace
		k.StatefulSets = append(k.StatefulSets, health.StatefulSetState{Name: w.Name, Ready: w.Ready, Desired: w.Desired, Images: w.Images, Updated: w.Updated, Rollout: w.Rollout})
	}
	switch {
	case err != nil:
		k.Error = err.Error()
	case planErr == nil && p != nil: // a plan that failed says so in the spec line
		k.Drift = objectDrift(*p)
	}
	return k
}

// objectDrift lists, per object change of a plan, the fields it sets (a create or delete names
// the whole object); pure, so it is table-tested.
func objectDrift(p reconcile.Plan) []health.ObjectDrift {
	out := []health.ObjectDrift{}
	for _, c := range p.Changes {
		if c.Kind != reconcile.KindObject || c.Object == nil || !c.Pending() {
			continue
		}
		ref := c.Object.Object
		action := c.Action.String()
		if len(c.Object.Fields) == 0 {
			out = append(out, health.ObjectDrift{Kind: ref.Kind, Name: ref.Name, Field: "(whole object)", Action: action})
			continue
		}
		for _, f := range c.Object.Fields {
			out = append(out, health.ObjectDrift{Kind: ref.Kind, Name: ref.Name, Field: f.Path, Live: f.Before, Wanted: f.After, Action: action})
		}
	}
	return out
}
