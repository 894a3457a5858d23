package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
)

// objectsPlane is the Kubernetes plane of a target over Objects (kube implements it: only kube
// speaks to an API server). Its diff is the API server's server-side-apply dry run, so observing
// it plans it: the observation is the object plan.
type objectsPlane struct {
	objects Objects
}

// ObjectsPlane is the Kubernetes plane over o.
func ObjectsPlane(o Objects) Plane { return &objectsPlane{objects: o} }

func (o *objectsPlane) Kind() plans.PlaneID { return plans.PlaneKubernetes }

// Observe plans the objects against the API server: for a new plan the adapter's render under a
// new random salt (a salt per plan keys every fingerprint of the Kubernetes side, issue 20), for a
// saved plan exactly its own manifests, Secret values re-supplied and checked.
func (o *objectsPlane) Observe(ctx context.Context, q Query) (Observation, error) {
	var po ObjectPlanOptions
	if q.Saved != nil {
		if err := checkNamespace(q.Target, *q.Saved); err != nil {
			return nil, err
		}
		var err error
		if po, err = pinnedOptions(*q.Saved); err != nil {
			return nil, err
		}
	} else {
		salt := make([]byte, 16)
		if _, err := io.ReadFull(q.Rand, salt); err != nil {
			return nil, fmt.Errorf("salt for the Kubernetes side of %q: %w", q.Target.Name, err)
		}
		po = ObjectPlanOptions{Prune: q.Spec.Deletion == spec.DeletionPrune, AllowDelete: q.AllowDelete, Salt: salt}
	}
	op, err := o.plan(ctx, q.Target.Name, po)
	if err != nil {
		return nil, err
	}
	return objectsObservation{op}, nil
}

// plan asks the adapter for the object side and checks what it returned.
func (o *objectsPlane) plan(ctx context.Context, target string, opts ObjectPlanOptions) (ObjectPlan, error) {
	op, err := o.objects.PlanObjects(ctx, opts)
	if err != nil {
		return op, err
	}
	for i := range op.Changes {
		c := &op.Changes[i]
		c.Risk = plans.ObjectRiskOf(*c)
		if c.Kind != plans.KindObject {
			return op, fmt.Errorf("target %s: the Kubernetes plane returned a %s change", target, c.Kind)
		}
		if err := c.PayloadErr(); err != nil {
			return op, err
		}
	}
	if op.Fingerprint == "" || op.Desired == nil {
		return op, fmt.Errorf("target %s: the Kubernetes plane returned no fingerprint or no manifests", target)
	}
	return op, nil
}

// Execute is the objects phase: re-plan the part's own manifests (never today's render; Secret
// values re-supplied and checked against their fingerprints), refuse it unless it is exactly the
// part (fingerprint and changes), then apply namespace, secrets and config, and workloads, broker
// StatefulSets one at a time, each gated by x.SafeToRestart and waited for; then re-plan to prove
// convergence. The fresh plan is what is applied: a plan never carries Secret values.
func (o *objectsPlane) Execute(ctx context.Context, part plans.Plan, x Execution) (plans.Result, error) {
	var res plans.Result
	for _, c := range part.Part(plans.PlaneKubernetes).Changes {
		if c.Pending() {
			res.Changes = append(res.Changes, plans.ChangeResult{Change: c})
		}
	}
	err := o.execute(ctx, part, x, &res)
	if err != nil && !isNotConverged(err) {
		for i := range res.Changes {
			if res.Changes[i].Status != plans.Applied {
				res.Changes[i].Status = plans.NotAttempted
			}
		}
		if lost := x.held.stoppedBefore(notAttemptedFrom(res)); lost != nil {
			return res, lost
		}
	}
	return res, err
}

func (o *objectsPlane) execute(ctx context.Context, part plans.Plan, x Execution, res *plans.Result) error {
	po, err := pinnedOptions(part)
	if err != nil {
		return err
	}
	fresh, err := o.plan(ctx, part.Cluster, po)
	if err != nil {
		return err
	}
	if err := verifyObjects(part, fresh); err != nil {
		return err
	}
	if !slices.ContainsFunc(part.Part(plans.PlaneKubernetes).Changes, plans.Change.Pending) {
		res.Verified = true
		return nil // verified unchanged; nothing to apply, nothing to re-plan
	}
	index := map[string]int{}
	for i, cr := range res.Changes {
		index[cr.Change.Name] = i
	}
	opts := x.Options
	ao := ObjectApplyOptions{ObjectPlanOptions: po, ForceConflicts: opts.ForceConflicts, AllowReplace: opts.AllowReplace,
		NoWait: opts.NoWait, WaitTimeout: opts.ObjectWaitTimeout, SafeToRestart: x.SafeToRestart}
	err = o.objects.ApplyObjects(ctx, fresh, ao, func(ev ObjectEvent) {
		i, ok := index[ev.Name]
		switch {
		case ev.Done && ok && res.Changes[i].Status != plans.Applied:
			res.Changes[i].Status = plans.Applied
			x.Progress(plans.Event{Index: i + 1, Total: len(res.Changes), Change: res.Changes[i].Change, Status: plans.Applied})
		case ev.Message != "":
			x.Progress(plans.Event{Status: plans.Running, Message: ev.Name + ": " + ev.Message})
		}
	})
	if err != nil {
		return err
	}
	// Prove convergence of this plane too: a fresh object plan has nothing pending.
	after, err := o.plan(ctx, part.Cluster, po)
	if err != nil {
		return fmt.Errorf("re-plan the Kubernetes objects to verify: %w", err)
	}
	res.Verified = true
	for _, c := range after.Changes {
		if c.Pending() {
			res.Residual = append(res.Residual, c)
		}
	}
	return notConverged(res.Residual)
}

// Deferred is the advisory of a plan that deferred the objects; no target defers them today (an
// API server that does not answer fails the plan), so it only names the deferral.
func (o *objectsPlane) Deferred(d plans.Deferral) plans.Advisory {
	return plans.Advisory{Subject: "kubernetes", Status: "deferred", Reason: d.Reason}
}

// objectsObservation is the object plan the adapter computed: the API server's dry run of the
// manifests against the live objects.
type objectsObservation struct{ plan ObjectPlan }

func (o objectsObservation) Fingerprint() string { return o.plan.Fingerprint }

// Diff records the object changes (in the plane's order), their fingerprint and the manifests
// they were planned from.
func (o objectsObservation) Diff(p *plans.Plan) error {
	p.SetPart(plans.Part{Plane: plans.PlaneKubernetes, Fingerprint: o.plan.Fingerprint, Changes: o.plan.Changes})
	p.Desired.Objects = o.plan.Desired
	return nil
}

// Verify is verifyObjects.
func (o objectsObservation) Verify(p plans.Plan) error { return verifyObjects(p, o.plan) }

// notConverged is the error for object changes a fresh plan still finds after the objects phase.
func notConverged(residual []plans.Change) error {
	if len(residual) == 0 {
		return nil
	}
	var names []string
	for _, c := range residual {
		names = append(names, plans.Headline(c))
	}
	return &NotConvergedError{Err: fmt.Errorf("the Kubernetes objects did not converge: a fresh plan still has %d change(s): %s", len(names), strings.Join(names, "; "))}
}

// checkNamespace refuses a saved plan whose objects (changes or manifests) live in another
// namespace than the target's: the Kubernetes half of the target's pinned identity, checked before
// the API server is asked anything.
func checkNamespace(t Target, p plans.Plan) error {
	if t.Namespace == "" {
		return nil
	}
	other := map[string]bool{}
	for _, c := range p.Part(plans.PlaneKubernetes).Changes {
		if c.Object != nil && c.Object.Object.Namespace != "" && c.Object.Object.Namespace != t.Namespace {
			other[c.Object.Object.Namespace] = true
		}
	}
	if p.Desired.Objects != nil {
		for _, m := range p.Desired.Objects.Manifests {
			var o struct {
				Metadata struct {
					Namespace string `json:"namespace"`
				} `json:"metadata"`
			}
			if json.Unmarshal(m, &o) == nil && o.Metadata.Namespace != "" && o.Metadata.Namespace != t.Namespace {
				other[o.Metadata.Namespace] = true
			}
		}
	}
	if len(other) == 0 {
		return nil
	}
	return fmt.Errorf("%w: the plan's Kubernetes objects are in namespace %s, but target %q's is %q; run plan against this target", ErrClusterMismatch, strings.Join(slices.Sorted(maps.Keys(other)), ", "), t.Name, t.Namespace)
}

// pinnedOptions plans a plan's own Kubernetes snapshot, as verifying and applying it do.
func pinnedOptions(p plans.Plan) (ObjectPlanOptions, error) {
	if p.Desired.Objects == nil {
		return ObjectPlanOptions{}, fmt.Errorf("%w, nothing was changed: the plan has no Kubernetes manifests (desired.objects) to apply; run plan again", plans.ErrTampered)
	}
	return ObjectPlanOptions{Prune: p.Desired.Deletion == spec.DeletionPrune, AllowDelete: p.AllowDelete, Pinned: p.Desired.Objects}, nil
}

// verifyObjects refuses a plan whose object side is not what planning now gives: ErrStalePlan when
// the live objects changed (fingerprint), ErrTampered when they did not but the changes differ (the
// plan file was edited, or the spec changed since it was saved).
func verifyObjects(p plans.Plan, fresh ObjectPlan) error {
	saved := p.Part(plans.PlaneKubernetes).Changes
	if err := checkFresh(plans.PlaneKubernetes, "the Kubernetes objects", p, fresh.Fingerprint); err != nil {
		return err
	}
	if errs := compareChanges(saved, fresh.Changes); len(errs) > 0 {
		return fmt.Errorf("%w, nothing was changed: its Kubernetes changes are not what its own manifests give against the live API server (was the plan file edited?); run plan again:\n%w", plans.ErrTampered, errors.Join(errs...))
	}
	return nil
}
