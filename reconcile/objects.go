package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/avatar-project/avatar-sync/spec"
)

// The Kubernetes plane (issue 11): for a target with `kubernetes:`, the objects `render --build`
// produces are changes of the same Plan as the topics, of kind KindObject. reconcile only declares
// what it needs (ObjectPayload, Objects); the kube package implements it and is the only one that
// speaks to an API server.

// ObjectRef names one Kubernetes object.
type ObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// String is "Kind namespace/name" ("Kind name" for cluster-scoped objects), as plans print it.
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// ObjectField is one field a change sets: its path as kubectl prints it
// (spec.template.spec.containers[0].image) and the live and desired values, compact. A Secret's
// values are "(sensitive)" on both sides: plans are printed and saved.
type ObjectField struct {
	Path   string `json:"path"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// ObjectConflict is a field another field manager owns; applying takes it over, which only
// ApplyOptions.ForceConflicts allows.
type ObjectConflict struct {
	Field   string `json:"field"`
	Manager string `json:"manager"`
}

// ObjectPayload is a Kubernetes object change. The change's Action says create, update, delete,
// unsupported or no-op (an orphan left alone); Replace marks an update Kubernetes cannot make in
// place (a StatefulSet's volumeClaimTemplates), executed only with ApplyOptions.AllowReplace as
// orphan-delete and recreate; the change's Reason says why.
type ObjectPayload struct {
	Object ObjectRef `json:"object"`
	// Replace is set on an Update that needs the object deleted (orphaning pods and volumes) and
	// recreated.
	Replace bool `json:"replace,omitempty"`
	// Broker is the node id when Object is a broker StatefulSet (rolled one at a time, gated by
	// the Kafka plane's SafeToRestart), -1 otherwise.
	Broker int32 `json:"broker"`
	// Sensitive marks a Secret: its values never appear in a plan, only "(sensitive)".
	Sensitive bool             `json:"sensitive,omitempty"`
	Fields    []ObjectField    `json:"fields,omitempty"`
	Conflicts []ObjectConflict `json:"conflicts,omitempty"`
	// Live is a digest of the live object (without status and server bookkeeping) when planned,
	// "" when absent: apply refuses an object that changed since.
	Live string `json:"live,omitempty"`
}

// ObjectPlanOptions are the opt-ins that change what the object plan contains.
type ObjectPlanOptions struct {
	// Prune is the desired state's `deletion: prune`; AllowDelete is --allow-delete. An object
	// that left the render is planned for deletion only with both, as topics are.
	Prune, AllowDelete bool
}

// ObjectPlan is the Kubernetes side as an adapter computed it.
type ObjectPlan struct {
	// Fingerprint identifies the live objects the plan examined, in sync ones included.
	Fingerprint string
	// Changes are the KindObject changes: pending ones and orphans left alone, in apply order
	// (namespace, secrets and config, services, workloads by broker id). Objects already in sync
	// are covered by Fingerprint, not listed.
	Changes []Change
	// Handle is the adapter's own plan (the objects to apply, Secret values included); it never
	// leaves the process and is never saved.
	Handle any
}

// ObjectApplyOptions are the opt-ins and waits of the objects phase.
type ObjectApplyOptions struct {
	ObjectPlanOptions
	ForceConflicts, AllowReplace, NoWait bool
	// WaitTimeout bounds each wait for an object to become Ready (0 = the adapter's default).
	WaitTimeout time.Duration
	// SafeToRestart is asked before a broker's StatefulSet is changed; it returns an error while
	// the broker must not restart.
	SafeToRestart func(ctx context.Context, broker int32) error
}

// ObjectEvent is one step of the objects phase: an object applied (Done) or a wait's progress.
type ObjectEvent struct {
	// Name is the change's Name (ObjectRef.String()).
	Name    string
	Done    bool
	Message string
}

// Objects is the Kubernetes plane as reconcile uses it; kube implements it (issue 11).
type Objects interface {
	// PlanObjects diffs the rendered objects against the live API server. It writes nothing.
	PlanObjects(ctx context.Context, opts ObjectPlanOptions) (ObjectPlan, error)
	// ApplyObjects executes a plan PlanObjects returned in this process (its Handle): namespace,
	// secrets and config, then workloads, broker StatefulSets one at a time. It refuses, changing
	// nothing, what the opt-ins do not cover or an object that changed since the plan.
	ApplyObjects(ctx context.Context, p ObjectPlan, opts ObjectApplyOptions, progress func(ObjectEvent)) error
}

// RestartGate is implemented by a Cluster that can tell whether a broker may restart now (no
// partition it hosts under-replicated or falling below min.insync.replicas).
type RestartGate interface {
	SafeToRestart(ctx context.Context, broker int32) error
}

// objectRisk grades an object change: a replace recreates the StatefulSet (RiskHeavy); nothing in
// the object plane destroys records (deleting a StatefulSet leaves its volumes).
func objectRisk(c Change) Risk {
	switch {
	case c.Action == Unsupported:
		return RiskUnsupported
	case c.Object != nil && c.Object.Replace && c.Action == Update:
		return RiskHeavy
	}
	return RiskNone
}

// splitObjects returns the plan's object changes and the rest.
func splitObjects(cs []Change) (objects, others []Change) {
	for _, c := range cs {
		if c.Kind == KindObject {
			objects = append(objects, c)
		} else {
			others = append(others, c)
		}
	}
	return objects, others
}

// topicPart is the plan without its object changes: what the Kafka plane verifies and applies.
func topicPart(p Plan) Plan {
	_, p.Changes = splitObjects(p.Changes)
	return p
}

// checkObjectsAllowed lists the object changes the opt-ins do not cover: conflicts (naming the
// other manager) without ForceConflicts, replaces without AllowReplace. Deletions and unsupported
// changes are refused by CheckAllowed like topics'.
func checkObjectsAllowed(c Change, opts ApplyOptions) []error {
	if c.Kind != KindObject || c.Object == nil || !c.Pending() || c.Action == Unsupported {
		return nil
	}
	var errs []error
	if len(c.Object.Conflicts) > 0 && !opts.ForceConflicts {
		var cs []string
		for _, cf := range c.Object.Conflicts {
			cs = append(cs, fmt.Sprintf("%s is owned by field manager %q", cf.Field, cf.Manager))
		}
		errs = append(errs, fmt.Errorf("%s: %s; taking them needs --force-conflicts", Headline(c), strings.Join(cs, ", ")))
	}
	if c.Object.Replace && !opts.AllowReplace {
		var fs []string
		for _, f := range c.Object.Fields {
			fs = append(fs, f.Path+": "+f.Before+" → "+f.After)
		}
		errs = append(errs, fmt.Errorf("%s (%s): Kubernetes cannot change this in place; it needs --allow-replace (orphan-delete and recreate: pods and volumes survive)", Headline(c), strings.Join(fs, ", ")))
	}
	return errs
}

// planObjects asks the adapter for the object side and checks what it returned.
func (pl *Planner) planObjects(ctx context.Context, opts ObjectPlanOptions) (ObjectPlan, error) {
	op, err := pl.Objects.PlanObjects(ctx, opts)
	if err != nil {
		return op, err
	}
	for i := range op.Changes {
		c := &op.Changes[i]
		c.Risk = objectRisk(*c)
		if c.Kind != KindObject {
			return op, fmt.Errorf("target %s: the Kubernetes plane returned a %s change", pl.Target, c.Kind)
		}
		if err := c.payloadErr(); err != nil {
			return op, err
		}
	}
	if op.Fingerprint == "" {
		return op, fmt.Errorf("target %s: the Kubernetes plane returned no fingerprint", pl.Target)
	}
	return op, nil
}

// verifyObjects refuses a plan whose object side is not what planning now gives: ErrStalePlan when
// the live objects changed (fingerprint), ErrTampered when they did not but the changes differ (the
// plan file was edited, or the spec changed since it was saved).
func verifyObjects(p Plan, fresh ObjectPlan) error {
	saved, _ := splitObjects(p.Changes)
	if p.ObjectsFingerprint != fresh.Fingerprint {
		return fmt.Errorf("%w: the Kubernetes objects changed since the plan was computed (plan %s, live %s); run plan again and review the new plan", ErrStalePlan, short(p.ObjectsFingerprint), short(fresh.Fingerprint))
	}
	if errs := compareChanges(saved, fresh.Changes); len(errs) > 0 {
		return fmt.Errorf("%w, nothing was changed: its Kubernetes changes are not what the spec gives against the live API server (was the plan file or the spec edited?); run plan again:\n%w", ErrTampered, errors.Join(errs...))
	}
	return nil
}

// Apply executes a plan of both planes (issue 11); commands call it rather than the package's
// Apply, which knows the Kafka plane only:
//
//  1. check the opt-ins for every change of both planes (CheckAllowed), before anything else;
//  2. unless the topics were deferred: check the Kafka cluster's identity and verify the topic
//     side against it, so a stale or foreign plan is refused before any object changes;
//  3. unless the topics were deferred, take the apply lock (held and renewed through both phases,
//     as Apply does) before the objects phase when it has changes: two applies — CI and watch —
//     must never roll two brokers' StatefulSets at once, nor change objects and topics at once;
//  4. the objects phase: re-plan the Kubernetes side, refuse it unless it is exactly the plan's
//     (fingerprint and changes), then apply namespace, secrets and config, and workloads, broker
//     StatefulSets one at a time, each gated by the Kafka plane's SafeToRestart and waited for;
//  5. the topics phase: Apply's steps under the same lease (staleness, payloads, convergence) —
//     after the rollout, as topic changes need the brokers.
//
// A failing objects phase, or a lost lease, stops the apply before any topic changes. With
// deferred topics there is no Kafka to hold a lock in (a fresh deploy), so the objects phase runs
// unlocked; and the result is not Verified: the topics were never looked at.
func (pl *Planner) Apply(ctx context.Context, p Plan, opts ApplyOptions, progress Progress) (Result, error) {
	opts.defaults()
	if progress == nil {
		progress = func(Event) {}
	}
	objs, _ := splitObjects(p.Changes)
	var res Result
	for _, c := range objs {
		if c.Pending() {
			res.Changes = append(res.Changes, ChangeResult{Change: c})
		}
	}
	// 1.
	if err := CheckAllowed(p, opts); err != nil {
		return res, err
	}
	// 2.
	if err := pl.verifyKafka(ctx, p); err != nil {
		return res, err
	}
	// 3.
	var held *heldLease
	if !p.TopicsDeferred && len(res.Changes) > 0 {
		var err error
		if held, err = takeLease(ctx, pl.Cluster, opts, progress); err != nil {
			return res, err
		}
		defer held.release(ctx, opts, progress)
	}
	octx := ctx
	if held != nil {
		octx = held.ctx
	}
	// 4.
	if err := pl.applyObjects(octx, p, opts, &res, progress); err != nil {
		for i := range res.Changes {
			if res.Changes[i].Status != Applied {
				res.Changes[i].Status = NotAttempted
			}
		}
		if lost := held.stoppedBefore(notAttemptedFrom(res)); lost != nil {
			return res, lost
		}
		return res, err
	}
	objectResidual := res.Residual
	if p.TopicsDeferred {
		return res, notConverged(objectResidual)
	}
	// 5.
	topics := topicPart(p)
	if lost := held.lost(); lost != nil {
		for _, c := range topics.Changes {
			if c.Pending() {
				res.Changes = append(res.Changes, ChangeResult{Change: c})
			}
		}
		return res, held.stoppedBefore(notAttemptedFrom(res))
	}
	topicRes, err := applyTopics(ctx, topics, pl.Cluster, opts, progress, held)
	res.ClusterID = topicRes.ClusterID
	res.Changes = append(res.Changes, topicRes.Changes...)
	res.Verified = topicRes.Verified
	res.Residual = append(objectResidual, topicRes.Residual...)
	if err == nil {
		err = notConverged(objectResidual)
	}
	return res, err
}

// notConverged is the error for object changes a fresh plan still finds after the objects phase.
func notConverged(residual []Change) error {
	if len(residual) == 0 {
		return nil
	}
	var names []string
	for _, c := range residual {
		names = append(names, Headline(c))
	}
	return fmt.Errorf("the Kubernetes objects did not converge: a fresh plan still has %d change(s): %s", len(names), strings.Join(names, "; "))
}

// applyObjects runs the objects phase (Planner.Apply's step 4): re-plan, verify against the plan, execute,
// and record each pending object change's outcome in res. The fresh plan's Handle is what is
// applied: a saved plan never carries Secret values.
func (pl *Planner) applyObjects(ctx context.Context, p Plan, opts ApplyOptions, res *Result, progress Progress) error {
	objs, _ := splitObjects(p.Changes)
	if pl.Objects == nil {
		if len(objs) > 0 || p.ObjectsFingerprint != "" {
			return fmt.Errorf("%w: the plan has Kubernetes changes but target %q has no kubernetes: block", ErrRefused, p.Cluster)
		}
		return nil
	}
	po := ObjectPlanOptions{Prune: p.Desired.Deletion == spec.DeletionPrune, AllowDelete: p.AllowDelete}
	fresh, err := pl.planObjects(ctx, po)
	if err != nil {
		return err
	}
	if err := verifyObjects(p, fresh); err != nil {
		return err
	}
	if !slices.ContainsFunc(objs, Change.Pending) {
		return nil // verified unchanged; nothing to apply, nothing to re-plan
	}
	index := map[string]int{}
	for i, cr := range res.Changes {
		if cr.Change.Kind == KindObject {
			index[cr.Change.Name] = i
		}
	}
	ao := ObjectApplyOptions{ObjectPlanOptions: po, ForceConflicts: opts.ForceConflicts, AllowReplace: opts.AllowReplace,
		NoWait: opts.NoWait, WaitTimeout: opts.ObjectWaitTimeout, SafeToRestart: pl.restartGate()}
	err = pl.Objects.ApplyObjects(ctx, fresh, ao, func(ev ObjectEvent) {
		i, ok := index[ev.Name]
		switch {
		case ev.Done && ok && res.Changes[i].Status != Applied:
			res.Changes[i].Status = Applied
			progress(Event{Index: i + 1, Total: len(res.Changes), Change: res.Changes[i].Change, Status: Applied})
		case ev.Message != "":
			progress(Event{Status: Running, Message: ev.Name + ": " + ev.Message})
		}
	})
	if err != nil {
		return err
	}
	// Prove convergence of this plane too: a fresh object plan has nothing pending.
	after, err := pl.planObjects(ctx, po)
	if err != nil {
		return fmt.Errorf("re-plan the Kubernetes objects to verify: %w", err)
	}
	for _, c := range after.Changes {
		if c.Pending() {
			res.Residual = append(res.Residual, c)
		}
	}
	return nil
}

// restartGate is the Kafka plane's answer to "may broker N restart now". Without brokers that
// answer, nobody can tell, so a broker is never restarted blind.
func (pl *Planner) restartGate() func(context.Context, int32) error {
	if g, ok := pl.Cluster.(RestartGate); ok {
		return g.SafeToRestart
	}
	why := "the brokers do not answer"
	if pl.ClusterErr != nil {
		why += " (" + pl.ClusterErr.Error() + ")"
	}
	return func(context.Context, int32) error {
		return fmt.Errorf("%s, so avatar-sync cannot tell whether every partition stays in sync while it restarts", why)
	}
}
