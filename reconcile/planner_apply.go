package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/avatar-project/avatar-sync/plans"
)

// Apply executes a plan over the target's planes (issues 11, 20); commands call it rather than
// the package's Apply, which knows the Kafka plane only:
//
//  1. check the opt-ins for every change of every plane (CheckAllowed), before anything else —
//     unless opts.Allowed is Allow's token for this plan and these opt-ins: a fleet checks every
//     target's plan before the first target changes, and the check is made once;
//  2. verify every plane's part against its live state — the one the plan was made from, or
//     CheckSaved checked it against, so no second read (the fingerprints are checked against
//     fresh reads under the lease) — so a stale or foreign plan is refused before anything
//     changes; a deferred plane must hold no changes; then ask opts.Confirm, when set;
//  3. take the apply lock from the target's Locker (the Kafka plane) before the first plane
//     changes anything, whenever a plane has pending changes or the plan deferred one, and
//     hold it, renewed, across every plane: two applies — CI and watch — must never roll two
//     brokers' StatefulSets at once, nor change objects and topics at once. A plan that deferred
//     its topics is no exception once the brokers answer (issue 20). With the Locker deferred and
//     still not answering (a fresh deploy: the lease attempt says so) there is nothing to hold a
//     lock in, and the planes run unlocked;
//  4. observe each deferred plane once, under the lease: one that answers now (a fresh
//     cluster's brokers, up since the plan) has its identity checked before anything changes,
//     and that same observation is what step 5 plans it from;
//  5. execute the planes in order (Plane.Execute): the objects phase, then the topics
//     phase under the same lease, after the rollout, as topic changes need the brokers. A
//     deferred plane that answered is planned in its turn from the plan's own snapshot against
//     its observation of step 4, and reported in Result.Continued, never applied: it was never
//     reviewed.
//
// A failing plane, or a lost lease, stops the apply before the next plane; a plane that did not
// converge does not (its error is returned at the end). A plane's changes join the Result when the
// apply reaches the plane; those of the planes ahead of the lock's are reached at once, so a
// refusal lists them not attempted. With a deferred plane the result is not Verified: it was never
// looked at.
func (pl *Planner) Apply(ctx context.Context, p plans.Plan, opts ApplyOptions, progress Progress) (plans.Result, error) {
	opts.defaults()
	if progress == nil {
		progress = func(plans.Event) {}
	}
	planes := pl.Target.Planes
	lock := slices.IndexFunc(planes, func(plane Plane) bool { _, ok := plane.(Locker); return ok })
	parts := make([][]plans.ChangeResult, len(planes))
	for i, plane := range planes {
		if lock >= 0 && i >= lock {
			break
		}
		parts[i] = NotAttempted(partOf(p, plane.Kind()))
	}
	var res plans.Result
	result := func() plans.Result {
		res.Changes = nil
		for _, cs := range parts {
			res.Changes = append(res.Changes, cs...)
		}
		return res
	}
	// 1.
	if opts.Allowed.covers(p, opts) {
		opts.Allowed.spared.Add(1)
	} else if err := checkAllowed(p, opts); err != nil {
		return result(), err
	}
	// 2. (A plan made or verified under the lock Lock took needs no second verification, and
	// its planes no second read, unless a plane before the Kafka plane changes something first.)
	underLease := pl.madeUnderLock(p)
	if err := pl.verifySaved(ctx, p); err != nil {
		return result(), err
	}
	if opts.Confirm != nil {
		if err := opts.Confirm(ctx); err != nil {
			return result(), err
		}
	}
	// The reads the plan was verified against are not trusted from here on: each plane reads
	// again under the lease, and what it read before is stale once anything changes. Nor are they
	// held while the apply runs (at 10,000 topics the Kafka read is the largest structure in
	// memory).
	pl.observed, pl.planned = nil, nil
	// 3. The lock first, then the deferred planes: each is observed once, under the lease, and
	// that one observation both checks its identity before anything changes and plans it in
	// step 5 (issue 20: it was observed before the lease and again under it). A deferred Locker
	// that could not be reached when the target was opened has no lock to give: its lease attempt
	// returns the deferral without asking the brokers again (the apply that opened the target
	// decides whether to wait for them), and the planes run unlocked.
	var held *heldLease
	if lk := pl.takeLock(); lk != nil {
		held = lk.held
		defer held.release(ctx, opts, progress)
	} else if lock >= 0 && (p.HasChanges() || len(p.Deferrals()) > 0) {
		var err error
		held, err = takeLease(ctx, planes[lock].(Locker), opts, progress)
		var de *DeferredError
		switch {
		case errors.As(err, &de) && p.Deferred(planes[lock].Kind()):
			// Still deferred (a fresh deploy): nothing to hold a lock in; the planes run unlocked.
		case err != nil:
			return result(), err
		default:
			defer held.release(ctx, opts, progress)
		}
	}
	wctx := ctx
	if held != nil {
		wctx = held.ctx
	}
	// 4.
	answered := make([]Observation, len(planes))
	for i, plane := range planes {
		if !p.Deferred(plane.Kind()) || (i == lock && held == nil) {
			continue
		}
		o, err := plane.Observe(wctx, pl.query(nil, &p, p.AllowDelete))
		var de *DeferredError
		if errors.As(err, &de) {
			continue
		}
		if lost := held.stoppedBefore(fmt.Sprintf("planning the deferred %s plane", plane.Kind())); lost != nil {
			return result(), lost
		}
		if err != nil {
			return result(), err
		}
		answered[i] = o
	}
	// 5.
	x := Execution{Options: opts, Progress: progress, SafeToRestart: pl.restartGate(), outer: ctx, held: held, underLease: underLease}
	verified, started := true, false
	var unconverged error
	for i, plane := range planes {
		k := plane.Kind()
		if p.Deferred(k) {
			verified = false
			if answered[i] == nil {
				continue
			}
			if err := pl.continueDeferred(p, k, answered[i], held, &res); err != nil {
				return result(), err
			}
			continue
		}
		part := partOf(p, k)
		if lost := held.lost(); started && lost != nil {
			parts[i] = NotAttempted(part)
			return result(), held.stoppedBefore(notAttemptedFrom(result()))
		}
		started = true
		r, err := plane.Execute(wctx, part, x)
		if part.HasChanges() {
			x.underLease = false // what this plane changed may show in the next plane's read
		}
		parts[i] = r.Changes
		res.Residual = append(res.Residual, r.Residual...)
		if r.ClusterID != "" {
			res.ClusterID = r.ClusterID
		}
		verified = verified && r.Verified
		res.Verified = verified
		switch {
		case isNotConverged(err):
			unconverged = err
		case err != nil:
			return result(), err
		}
	}
	res.Verified = verified
	return result(), unconverged
}

// continueDeferred plans plane k, which the plan deferred, from the plan's own snapshot against
// its one observation under the held lease (Apply's step 5 for a deferred plane that answers):
// Result.Continued, reported and never applied.
func (pl *Planner) continueDeferred(p plans.Plan, k plans.PlaneID, o Observation, held *heldLease, res *plans.Result) error {
	if lost := held.stoppedBefore(fmt.Sprintf("planning the deferred %s plane", k)); lost != nil {
		return lost
	}
	if res.Continued == nil {
		res.Continued = &plans.Plan{Cluster: p.Cluster, AllowDelete: p.AllowDelete, Desired: p.Desired}
	}
	if err := o.Diff(res.Continued); err != nil {
		return fmt.Errorf("plan the deferred %s plane: %w", k, err)
	}
	res.ClusterID = res.Continued.ClusterID
	return nil
}

// restartGate is the target's answer to "may broker N restart now": the plane that can tell (the
// Kafka plane, which refuses while its brokers do not answer).
func (pl *Planner) restartGate() func(context.Context, int32) error {
	for _, plane := range pl.Target.Planes {
		if g, ok := plane.(RestartGate); ok {
			return g.SafeToRestart
		}
	}
	return func(context.Context, int32) error {
		return fmt.Errorf("target %q has no Kafka plane, so avatar-sync cannot tell whether every partition stays in sync while a broker restarts", pl.Target.Name)
	}
}

// NotAttempted lists a plan's pending changes, each NotAttempted (nil when it has none): what an
// apply refused or stopped before them reports (Planner.Apply, a fleet's refused target).
func NotAttempted(p plans.Plan) []plans.ChangeResult {
	var out []plans.ChangeResult
	for c := range p.EachChange() {
		if c.Pending() {
			out = append(out, plans.ChangeResult{Change: c, Status: plans.NotAttempted})
		}
	}
	return out
}
