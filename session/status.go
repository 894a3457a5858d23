package session

import (
	"context"
	"fmt"
	"time"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/health"
	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// Sample reads the target once and plans against the spec: the health snapshot and the plan's
// live state from one read (one Metadata, one DescribeConfigs: issue 23), the plan through the
// one Planner, and for a target with kubernetes: the StatefulSets and the objects drifting from
// the plan (issue 24). mode is what the caller does with drift: "report" for status, the watch
// daemon's --mode for its status page.
func Sample(ctx context.Context, t *Target, sp *spec.Spec, cluster, group, mode string) (health.Report, error) {
	managed := make([]string, 0, len(sp.Topics))
	for _, tp := range sp.Topics {
		managed = append(managed, tp.Name)
	}
	var r health.Report
	var pl *reconcile.Planner
	if t.Admin != nil {
		read, err := t.Admin.Status(ctx, managed)
		if err != nil {
			return health.Report{}, err
		}
		r = health.Assess(read.Snapshot, health.Expectation{
			Cluster: cluster, Brokers: health.ExpectedBrokers(sp), Topics: managed, Group: group,
		}, time.Now())
		// The plan reads the live state from the status read (one read for both); the planner
		// stays the target's.
		pl = t.plannerOn(clusters.NewPreRead(t.Admin, read))
	} else {
		// A target with kubernetes: whose brokers do not answer: the Kubernetes plane still shows.
		r = health.Report{Version: health.ReportVersion, Cluster: cluster, Time: time.Now().UTC(),
			Problems: []string{fmt.Sprintf("the brokers do not answer: %v", t.KafkaErr)}, Warnings: []string{},
			Brokers: []health.BrokerReport{}, Topics: []health.TopicReport{}, Groups: []health.GroupReport{}}
	}
	if pl == nil {
		pl = t.Planner()
	}
	p, err := pl.Plan(ctx, sp, reconcile.PlanOptions{})
	r.Spec = specAgreement(p, err)
	r.Kubernetes = kubeStatus(ctx, t, &p, err, mode)
	if k := r.Kubernetes; k != nil && k.Error != "" {
		r.Problems = append(r.Problems, "Kubernetes: "+k.Error)
		r.Healthy = false
	}
	return r, nil
}

// specAgreement is the plan's verdict. A plan that cannot be made (a pinned cluster id that
// differs, a damaged inventory) is reported in the line, not as status's own failure.
func specAgreement(p plans.Plan, err error) *health.SpecAgreement {
	if err != nil {
		return &health.SpecAgreement{Error: err.Error()}
	}
	sum := p.Summary()
	n := sum.Create + sum.Update + sum.Adopt + sum.Replace + sum.Delete + sum.Unsupported
	return &health.SpecAgreement{InSync: n == 0, PendingChanges: n}
}

// kubeStatus reads the Kubernetes plane of a target with kubernetes: for `status` and the status
// page (issue 24): each StatefulSet's rollout, and the objects the plan p would change, field by
// field. mode is what the daemon does with drift ("heal" or "report"); planErr is why the plan
// could not be made (then the drift is unknown; the spec line says why). nil without kubernetes:.
func kubeStatus(ctx context.Context, t *Target, p *plans.Plan, planErr error, mode string) *health.KubeReport {
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
		k.Drift = ObjectDrift(*p)
	}
	return k
}

// ObjectDrift lists, per object change of a plan, the fields it sets (a create or delete names
// the whole object); pure, so it is table-tested.
func ObjectDrift(p plans.Plan) []health.ObjectDrift {
	out := []health.ObjectDrift{}
	for _, c := range p.Part(plans.PlaneKubernetes).Changes {
		if c.Kind != plans.KindObject || c.Object == nil || !c.Pending() {
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

// Status samples every target of the fleet concurrently (status --cluster a,b, issue 20). A target
// that cannot be opened or read is an unhealthy report of its own naming why; the others are
// complete.
func (f *Fleet) Status(ctx context.Context, group, mode string) []health.Report {
	reports := make([]health.Report, len(f.Names))
	each(len(f.Names), func(i int) {
		err := f.Errs[i]
		if t := f.Targets[i]; t != nil {
			if reports[i], err = Sample(ctx, t, f.Specs[i], f.Names[i], group, mode); err == nil {
				return
			}
		}
		reports[i] = health.Report{Version: health.ReportVersion, Cluster: f.Names[i], Time: time.Now().UTC(),
			Problems: []string{fmt.Sprintf("cannot read the cluster: %v", err)}, Warnings: []string{},
			Brokers: []health.BrokerReport{}, Topics: []health.TopicReport{}, Groups: []health.GroupReport{}}
	})
	return reports
}
