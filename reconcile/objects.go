package reconcile

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
)

// The Kubernetes plane (issue 11): for a target with `kubernetes:`, the objects `render --build`
// produces are changes of the same Plan as the topics, of kind KindObject. reconcile only declares
// what it needs (ObjectPayload, Objects); the kube package implements it and is the only one that
// speaks to an API server.

// SecretFingerprint is the salted fingerprint of one Secret value, the only form a plan holds it
// in: "hmac-sha256:" and the hex HMAC-SHA256, keyed by the plan's salt, of where the value lives
// (object, field, key) and the value.
func SecretFingerprint(salt []byte, object, field, key, value string) string {
	m := hmac.New(sha256.New, salt)
	for _, s := range []string{object, field, key, value} {
		fmt.Fprintf(m, "%d:%s", len(s), s)
	}
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
}

// ObjectPlanOptions are the opt-ins that change what the object plan contains.
type ObjectPlanOptions struct {
	// Prune is the desired state's `deletion: prune`; AllowDelete is --allow-delete. An object
	// that left the render is planned for deletion only with both, as topics are.
	Prune, AllowDelete bool
	// Salt keys the fingerprints of a new plan (random per plan); ignored with Pinned.
	Salt []byte
	// Pinned is the snapshot of a plan being verified or applied: the adapter plans exactly these
	// manifests (their Secret values re-supplied and checked) under their salt, not its render.
	Pinned *plans.DesiredObjects
}

// ObjectPlan is the Kubernetes side as an adapter computed it.
type ObjectPlan struct {
	// Fingerprint identifies the live objects the plan examined, in sync ones included.
	Fingerprint string
	// Changes are the KindObject changes: pending ones and orphans left alone, in apply order
	// (namespace, secrets and config, services, workloads by broker id). Objects already in sync
	// are covered by Fingerprint, not listed.
	Changes []plans.Change
	// Desired is the snapshot planned from: the plan records it, and apply pins it.
	Desired *plans.DesiredObjects
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
	// ApplyObjects executes the plan PlanObjects last returned (identified by its Fingerprint;
	// the adapter keeps the objects, Secret values included, which never leave it): namespace,
	// secrets and config, then workloads, broker StatefulSets one at a time. It refuses, changing
	// nothing, what the opt-ins do not cover or an object that changed since the plan.
	ApplyObjects(ctx context.Context, p ObjectPlan, opts ObjectApplyOptions, progress func(ObjectEvent)) error
}

// RestartGate is implemented by a Cluster that can tell whether a broker may restart now (no
// partition it hosts under-replicated or falling below min.insync.replicas).
type RestartGate interface {
	SafeToRestart(ctx context.Context, broker int32) error
}

// splitObjects returns the plan's object changes and the rest.
func splitObjects(cs []plans.Change) (objects, others []plans.Change) {
	for _, c := range cs {
		if c.Kind == plans.KindObject {
			objects = append(objects, c)
		} else {
			others = append(others, c)
		}
	}
	return objects, others
}

// topicPart is the plan without its object changes: what the Kafka plane verifies and applies.
func topicPart(p plans.Plan) plans.Plan {
	_, p.Changes = splitObjects(p.Changes)
	return p
}

// checkObjectsAllowed lists the object changes the opt-ins do not cover: conflicts (naming the
// other manager) without ForceConflicts, replaces without AllowReplace. Deletions and unsupported
// changes are refused by CheckAllowed like topics'.
func checkObjectsAllowed(c plans.Change, opts ApplyOptions) []error {
	if c.Kind != plans.KindObject || c.Object == nil || !c.Pending() || c.Action == plans.Unsupported {
		return nil
	}
	var errs []error
	if len(c.Object.Conflicts) > 0 && !opts.ForceConflicts {
		var cs []string
		for _, cf := range c.Object.Conflicts {
			cs = append(cs, fmt.Sprintf("%s is owned by field manager %q", cf.Field, cf.Manager))
		}
		errs = append(errs, fmt.Errorf("%s: %s; taking them needs --force-conflicts", plans.Headline(c), strings.Join(cs, ", ")))
	}
	if c.Action == plans.Replace && !opts.AllowReplace {
		var fs []string
		for _, f := range c.Object.Fields {
			fs = append(fs, f.Path+": "+f.Before+" → "+f.After)
		}
		errs = append(errs, fmt.Errorf("%s (%s): Kubernetes cannot change this in place; it needs --allow-replace (orphan-delete and recreate: pods and volumes survive)", plans.Headline(c), strings.Join(fs, ", ")))
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
		c.Risk = plans.ObjectRiskOf(*c)
		if c.Kind != plans.KindObject {
			return op, fmt.Errorf("target %s: the Kubernetes plane returned a %s change", pl.Target, c.Kind)
		}
		if err := c.PayloadErr(); err != nil {
			return op, err
		}
	}
	if op.Fingerprint == "" || op.Desired == nil {
		return op, fmt.Errorf("target %s: the Kubernetes plane returned no fingerprint or no manifests", pl.Target)
	}
	return op, nil
}

// verifyObjects refuses a plan whose object side is not what planning now gives: ErrStalePlan when
// the live objects changed (fingerprint), ErrTampered when they did not but the changes differ (the
// plan file was edited, or the spec changed since it was saved).
func verifyObjects(p plans.Plan, fresh ObjectPlan) error {
	saved, _ := splitObjects(p.Changes)
	if p.ObjectsFingerprint != fresh.Fingerprint {
		return fmt.Errorf("%w: the Kubernetes objects changed since the plan was computed (plan %s, live %s); run plan again and review the new plan", ErrStalePlan, plans.ShortDigest(p.ObjectsFingerprint), plans.ShortDigest(fresh.Fingerprint))
	}
	if errs := compareChanges(saved, fresh.Changes); len(errs) > 0 {
		return fmt.Errorf("%w, nothing was changed: its Kubernetes changes are not what its own manifests give against the live API server (was the plan file edited?); run plan again:\n%w", plans.ErrTampered, errors.Join(errs...))
	}
	return nil
}

// Apply executes a plan of both planes (issue 11); commands call it rather than the package's
// Apply, which knows the Kafka plane only:
//
//  1. check the opt-ins for every change of both planes (CheckAllowed, the only time), before
//     anything else;
//  2. unless the topics were deferred: check the Kafka cluster's identity and verify the topic
//     side against it, so a stale or foreign plan is refused before any object changes — against
//     the live state the planner read for the plan, not a second read (the fingerprint is checked
//     against a fresh read under the lease); then ask opts.Confirm, when set;
//  3. whenever the brokers answer, take the apply lock (held and renewed through both phases, as
//     Apply does) before the objects phase: two applies — CI and watch — must never roll two
//     brokers' StatefulSets at once, nor change objects and topics at once. A plan that deferred
//     its topics is no exception once the brokers answer (issue 20): its identity is checked and
//     the lock taken before any object changes;
//  4. the objects phase: re-plan the Kubernetes side from the plan's own manifests (never today's
//     render; Secret values re-supplied and checked against their fingerprints), refuse it unless
//     it is exactly the plan's (fingerprint and changes), then apply namespace, secrets and
//     config, and workloads, broker StatefulSets one at a time, each gated by the Kafka plane's
//     SafeToRestart and waited for;
//  5. the topics phase: Apply's steps under the same lease (staleness, payloads, convergence) —
//     after the rollout, as topic changes need the brokers. A deferred Kafka plane is planned
//     here under the lease when the brokers answer, and reported in Result.Continued, not
//     applied: it was never reviewed.
//
// A failing objects phase, or a lost lease, stops the apply before any topic changes. With
// deferred topics and brokers that do not answer there is no Kafka to hold a lock in (a fresh
// deploy), so the objects phase runs unlocked; and the result is not Verified: the topics were
// never looked at.
func (pl *Planner) Apply(ctx context.Context, p plans.Plan, opts ApplyOptions, progress Progress) (plans.Result, error) {
	opts.defaults()
	if progress == nil {
		progress = func(plans.Event) {}
	}
	objs, _ := splitObjects(p.Changes)
	var res plans.Result
	for _, c := range objs {
		if c.Pending() {
			res.Changes = append(res.Changes, plans.ChangeResult{Change: c})
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
	if opts.Confirm != nil {
		if err := opts.Confirm(ctx); err != nil {
			return res, err
		}
	}
	// The read the plan was verified against is not trusted from here on: the apply reads the
	// cluster again under the lease, and what it read before is stale once anything changes. Nor
	// is it held while the apply runs (at 10,000 topics it is the largest structure in memory).
	pl.observed = nil
	// 3.
	deferred := p.TopicsDeferred()
	answering := deferred && pl.Cluster != nil
	if answering {
		live, err := pl.Cluster.Describe(ctx)
		if err != nil {
			return res, fmt.Errorf("read cluster %q: %w", pl.Target, err)
		}
		if err := CheckClusterID(pl.PinnedClusterID, p, live.ClusterID); err != nil {
			return res, err
		}
	}
	var held *heldLease
	if answering || (!deferred && len(res.Changes) > 0) {
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
			if res.Changes[i].Status != plans.Applied {
				res.Changes[i].Status = plans.NotAttempted
			}
		}
		if lost := held.stoppedBefore(notAttemptedFrom(res)); lost != nil {
			return res, lost
		}
		return res, err
	}
	objectResidual := res.Residual
	if deferred {
		if answering {
			if err := pl.continueDeferred(p, held, &res); err != nil {
				return res, err
			}
		}
		return res, notConverged(objectResidual)
	}
	// 5.
	topics := topicPart(p)
	if lost := held.lost(); lost != nil {
		for _, c := range topics.Changes {
			if c.Pending() {
				res.Changes = append(res.Changes, plans.ChangeResult{Change: c})
			}
		}
		return res, held.stoppedBefore(notAttemptedFrom(res))
	}
	topicRes, err := applyTopics(ctx, topics, pl.Cluster, opts, progress, held, true)
	res.ClusterID = topicRes.ClusterID
	res.Changes = append(res.Changes, topicRes.Changes...)
	res.Verified = topicRes.Verified
	res.Residual = append(objectResidual, topicRes.Residual...)
	if err == nil {
		err = notConverged(objectResidual)
	}
	return res, err
}

// continueDeferred plans the Kafka plane a plan deferred, from the plan's own snapshot, under the
// held lease (Apply's step 5 for a deferred plan): Result.Continued, reported and never applied.
func (pl *Planner) continueDeferred(p plans.Plan, held *heldLease, res *plans.Result) error {
	if lost := held.stoppedBefore("planning the deferred topics"); lost != nil {
		return lost
	}
	live, err := pl.Cluster.Describe(held.ctx)
	if err != nil {
		return fmt.Errorf("read cluster %q to plan the deferred topics: %w", pl.Target, err)
	}
	d := p.Desired
	if d.Access != nil {
		a := *d.Access
		if err := FingerprintCredentials(&a, live.Inventory, pl.secrets(), pl.random()); err != nil {
			return fmt.Errorf("plan the users of %q: %w", pl.Target, err)
		}
		d.Access = &a
	}
	topics := Diff(d, live, DiffOptions{Cluster: p.Cluster, AllowDelete: p.AllowDelete})
	res.ClusterID = live.ClusterID
	res.Continued = &topics
	return nil
}

// notConverged is the error for object changes a fresh plan still finds after the objects phase.
func notConverged(residual []plans.Change) error {
	if len(residual) == 0 {
		return nil
	}
	var names []string
	for _, c := range residual {
		names = append(names, plans.Headline(c))
	}
	return fmt.Errorf("the Kubernetes objects did not converge: a fresh plan still has %d change(s): %s", len(names), strings.Join(names, "; "))
}

// applyObjects runs the objects phase (Planner.Apply's step 4): re-plan the plan's own manifests,
// verify against the plan, execute, and record each pending object change's outcome in res. The
// fresh plan is what is applied: the saved manifests with the Secret values re-supplied
// (a plan never carries them) and checked against their fingerprints.
func (pl *Planner) applyObjects(ctx context.Context, p plans.Plan, opts ApplyOptions, res *plans.Result, progress Progress) error {
	objs, _ := splitObjects(p.Changes)
	if pl.Objects == nil {
		if len(objs) > 0 || p.ObjectsFingerprint != "" {
			return fmt.Errorf("%w: the plan has Kubernetes changes but target %q has no kubernetes: block", ErrRefused, p.Cluster)
		}
		return nil
	}
	po, err := pinnedOptions(p)
	if err != nil {
		return err
	}
	fresh, err := pl.planObjects(ctx, po)
	if err != nil {
		return err
	}
	if err := verifyObjects(p, fresh); err != nil {
		return err
	}
	if !slices.ContainsFunc(objs, plans.Change.Pending) {
		return nil // verified unchanged; nothing to apply, nothing to re-plan
	}
	index := map[string]int{}
	for i, cr := range res.Changes {
		if cr.Change.Kind == plans.KindObject {
			index[cr.Change.Name] = i
		}
	}
	ao := ObjectApplyOptions{ObjectPlanOptions: po, ForceConflicts: opts.ForceConflicts, AllowReplace: opts.AllowReplace,
		NoWait: opts.NoWait, WaitTimeout: opts.ObjectWaitTimeout, SafeToRestart: pl.restartGate()}
	err = pl.Objects.ApplyObjects(ctx, fresh, ao, func(ev ObjectEvent) {
		i, ok := index[ev.Name]
		switch {
		case ev.Done && ok && res.Changes[i].Status != plans.Applied:
			res.Changes[i].Status = plans.Applied
			progress(plans.Event{Index: i + 1, Total: len(res.Changes), Change: res.Changes[i].Change, Status: plans.Applied})
		case ev.Message != "":
			progress(plans.Event{Status: plans.Running, Message: ev.Name + ": " + ev.Message})
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

// pinnedOptions plans a plan's own Kubernetes snapshot, as verifying and applying it do.
func pinnedOptions(p plans.Plan) (ObjectPlanOptions, error) {
	if p.Desired.Objects == nil {
		return ObjectPlanOptions{}, fmt.Errorf("%w, nothing was changed: the plan has no Kubernetes manifests (desired.objects) to apply; run plan again", plans.ErrTampered)
	}
	return ObjectPlanOptions{Prune: p.Desired.Deletion == spec.DeletionPrune, AllowDelete: p.AllowDelete, Pinned: p.Desired.Objects}, nil
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
