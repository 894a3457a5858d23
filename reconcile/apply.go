package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/avatar-project/avatar-sync/plans"
)

// ErrRefused is matched by every error Apply returns for a plan it will not execute (unsupported
// changes, missing opt-ins, consumer groups on a topic to delete); nothing was changed.
var ErrRefused = errors.New("apply refused")

// ErrClusterMismatch is matched when the live cluster is not the one the spec or plan names.
var ErrClusterMismatch = errors.New("wrong cluster")

// ApplyOptions are the opt-ins and limits of one Apply.
type ApplyOptions struct {
	// ExpectClusterID is the target's pinned clusterId from the spec ("" = not pinned).
	ExpectClusterID string
	// AllowDataLoss permits RiskDataLoss changes (--allow-data-loss).
	AllowDataLoss bool
	// AllowDelete permits topic deletions (--allow-delete).
	AllowDelete bool
	// Force deletes topics even while consumer groups hold offsets on them (--force).
	Force bool
	// ThrottleBytesPerSec limits replication during reassignments (0 = no throttle).
	ThrottleBytesPerSec int64
	// Holder names this apply in the lease; default "user@host pid N".
	Holder string
	// LeaseTTL bounds how long a crashed apply keeps the lock; a running apply renews it every
	// LeaseTTL/3 and stops when it cannot. Default DefaultLeaseTTL.
	LeaseTTL time.Duration
	// LockWait is how long to wait for another apply's lease before giving up (0 = fail at once).
	LockWait time.Duration
	// ReassignTimeout bounds the wait for reassignments to finish; default 10m.
	ReassignTimeout time.Duration
	// AllowMassDelete permits a plan that deletes every managed topic, or more than half of them
	// (and more than one): --allow-mass-delete (issue 10). watch never sets it.
	AllowMassDelete bool
	// PollInterval is how often lock and reassignment waits re-check; default 1s.
	PollInterval time.Duration
	// CleanupTimeout bounds each step that must run even after ctx ended or a request timed out:
	// re-reading the live state to settle what landed, releasing the lock; default 30s.
	CleanupTimeout time.Duration
	// The Kubernetes plane's opt-ins (issue 11): ForceConflicts takes fields another field
	// manager owns (--force-conflicts); AllowReplace recreates objects Kubernetes cannot change in
	// place (--allow-replace); NoWait skips waiting for workloads to become Ready (--no-wait);
	// ObjectWaitTimeout bounds each such wait (0 = the plane's default).
	ForceConflicts, AllowReplace, NoWait bool
	ObjectWaitTimeout                    time.Duration
	// Secrets reads SCRAM users' passwords at apply (nil = ProcessSecrets: the environment and
	// files); a password whose fingerprint is not the planned one is refused (issue 14).
	Secrets SecretReader
	// Confirm, when set, is asked by Planner.Apply once the plan has been checked (opt-ins,
	// identity, verification) and before anything changes; an error stops the apply, nothing
	// changed (apply's prompt: a "yes" is never wasted on a plan that would be refused).
	Confirm func(ctx context.Context) error
	// Allowed is Allow's answer for the plan Planner.Apply is given, when the caller checked the
	// opt-ins itself before anything changed (a fleet checks every target's plan before the first
	// target changes): Planner.Apply then checks them no second time. A token for another plan
	// or other opt-ins is ignored, and the plan is checked (issue 20: CheckAllowed once).
	Allowed *Allowed
}

// Allowed is a plan CheckAllowed let through under a set of opt-ins (Allow's token): the same
// plan — the same changes, not a copy — under the same opt-ins needs no second check.
type Allowed struct {
	parts   []plans.Part
	managed int
	optIns  optIns
	spared  atomic.Int64
}

// optIns are the ApplyOptions CheckAllowed reads.
type optIns struct{ dataLoss, del, massDelete, forceConflicts, replace bool }

func optInsOf(o ApplyOptions) optIns {
	return optIns{o.AllowDataLoss, o.AllowDelete, o.AllowMassDelete, o.ForceConflicts, o.AllowReplace}
}

// Allow is CheckAllowed returning, when the plan is allowed, the token that spares Planner.Apply
// a second check of it (ApplyOptions.Allowed).
func Allow(p plans.Plan, opts ApplyOptions) (*Allowed, error) {
	if err := checkAllowed(p, opts); err != nil {
		return nil, err
	}
	return &Allowed{parts: p.Parts, managed: p.ManagedTopics, optIns: optInsOf(opts)}, nil
}

// Spared is how many applies this token spared a second check of its plan (Planner.Apply given
// it as ApplyOptions.Allowed): what a caller's test reads to see that the token reached the apply.
func (a *Allowed) Spared() int { return int(a.spared.Load()) }

// covers reports whether a is the token of p under opts' opt-ins.
func (a *Allowed) covers(p plans.Plan, opts ApplyOptions) bool {
	return a != nil && slices.EqualFunc(a.parts, p.Parts, sameParts) && a.managed == p.ManagedTopics && a.optIns == optInsOf(opts)
}

// checkAllowed is CheckAllowed; a variable so that a test counts the checks an apply makes.
var checkAllowed = CheckAllowed

// DefaultLeaseTTL is the apply lock's TTL unless ApplyOptions.LeaseTTL says otherwise. A running
// apply renews its lease, so the TTL need not cover the slowest apply: it is what a crashed holder
// on another machine costs everyone else.
const DefaultLeaseTTL = 2 * time.Minute

func (o *ApplyOptions) defaults() {
	if o.ReassignTimeout <= 0 {
		o.ReassignTimeout = 10 * time.Minute
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.CleanupTimeout <= 0 {
		o.CleanupTimeout = 30 * time.Second
	}
	if o.Holder == "" {
		o.Holder = DefaultHolder()
	}
}

// DefaultHolder identifies this process in the apply lock: "user@host pid N".
func DefaultHolder() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s@%s pid %d", name, host, os.Getpid())
}

// Progress receives events; it is called synchronously from Apply and must not block for long.
type Progress func(plans.Event)

// checkLevel is how much of applyTopics' steps 1 to 5 Planner.Apply has done already.
type checkLevel int

const (
	// checkedBeforeLease: steps 1 to 3, against a read made before the lease (the plan's own);
	// only the fingerprint is checked, against a fresh read under the lease.
	checkedBeforeLease checkLevel = iota
	// checkedUnderLease: steps 1 to 3 against a read made under the held lease, which has not
	// changed since (Planner.Lock, issue 23): step 5 needs no read.
	checkedUnderLease
)

// applyTopics executes the Kafka part of a plan against a cluster; Planner.Apply (the one entry
// point that changes a target) does steps 1 to 4 and runs the rest through the Kafka plane's
// Execute. The whole apply of the Kafka part goes in this order:
//
//  1. Read the live state and check the cluster's identity: refuse when the spec pins a clusterId
//     or the plan was computed against a cluster and the live id differs. Nothing else happens
//     before this check (a dev spec must never land on the lab cluster, issue #3).
//  2. Verify the plan against the live state (Verify): the fingerprint still matches, and the
//     changes are exactly what the plan's own snapshot gives — a hand-edited plan is refused
//     (issue 10).
//  3. Check the plan against the opt-ins (CheckAllowed). Every problem is reported, not just the first.
//  4. Take the cluster-wide lease, so two applies never interleave (waiting up to LockWait), and
//     renew it every LeaseTTL/3 while the apply runs. When it is lost (released by `avatar-sync
//     unlock`, or not renewed before it expired), the steps still running are cancelled, no
//     further step starts, and the error matches ErrLeaseLost.
//  5. Read the live state again under the lease and refuse the plan as stale when its fingerprint
//     changed: the plan was reviewed against a state that no longer exists.
//  6. Refuse deleting topics that consumer groups still hold offsets on, naming the groups,
//     unless Force.
//  7. Execute the typed payloads by phase, one batched request per phase: record adopted and
//     to-be-created topics in the inventory, create topics, add partitions, alter configs, reassign
//     replicas (throttled, waiting up to ReassignTimeout), delete topics and drop them from the
//     inventory. A failing phase stops the apply. When a request timed out or ctx ended, the live
//     state is re-read with a fresh bounded context and each change of that phase is reported as
//     what is now true: applied, failed (not applied) or unknown (issue 10).
//  8. Read the live state once more and diff it against the plan's own snapshot: the Result's
//     Residual is what did not converge. Today's spec file plays no part (issue 9).
//
// The lease's keeper is stopped, and the lease released with its own fresh bounded context, even
// when ctx was cancelled. The returned error is nil only when every change was applied and the
// cluster converged.
//
// Planner.Apply has done steps 1 to 4 (checked says against which read) and holds the apply lock
// (held) across the target's planes; applyTopics does the rest.
func applyTopics(ctx context.Context, plan plans.Plan, cluster Cluster, opts ApplyOptions, progress Progress, held *heldLease, checked checkLevel) (plans.Result, error) {
	res := plans.Result{Changes: make([]plans.ChangeResult, 0, len(plan.Part(plans.PlaneKafka).Changes))}
	for _, c := range plan.Part(plans.PlaneKafka).Changes {
		if c.Pending() {
			res.Changes = append(res.Changes, plans.ChangeResult{Change: c})
		}
	}
	if slices.ContainsFunc(plan.Parts, func(pt plans.Part) bool { return pt.Plane != plans.PlaneKafka }) || plan.TopicsDeferred() {
		// Only Planner.Apply knows the Kubernetes plane; executing the topics alone would skip it.
		return res, fmt.Errorf("%w: the plan has a Kubernetes side; apply it with Planner.Apply", ErrRefused)
	}

	var live plans.Live
	var err error
	switch {
	case len(res.Changes) == 0 && checked == checkedUnderLease:
		// Nothing to do, and the read under the lease showed it: nothing has changed since.
		res.ClusterID, res.Verified = plan.ClusterID, true
		return res, held.stoppedBefore("verifying (nothing to change)")
	case len(res.Changes) == 0:
		// Checked, nothing to do: the one read is the convergence proof.
		if live, err = cluster.Describe(ctx); err != nil {
			return res, fmt.Errorf("read live state: %w", err)
		}
		res.ClusterID = live.ClusterID
		return verify(res, plan, plan.Desired, live, nil)
	}

	// 4. The lease, taken by Planner.Apply across the target's planes and renewed until the apply
	// ends: nothing changes without it.
	if held == nil {
		return res, fmt.Errorf("%w: the Kafka changes of target %q reached execution without the apply lock", ErrRefused, plan.Cluster)
	}
	wctx := held.ctx

	// 5. Staleness, under the lease (a lease already lost has cancelled wctx: Describe fails fast).
	// A plan verified against a read under this lease is not stale: nothing changed since.
	if checked == checkedUnderLease {
		if lost := held.stoppedBefore(notAttemptedFrom(res)); lost != nil {
			return res, lost
		}
		res.ClusterID = plan.ClusterID
	} else {
		live, err = cluster.Describe(wctx)
		if lost := held.stoppedBefore("checking whether the plan is stale"); lost != nil {
			return res, lost
		}
		if err != nil {
			return res, fmt.Errorf("read live state: %w", err)
		}
		res.ClusterID = live.ClusterID
		if err := CheckClusterID(opts.ExpectClusterID, plan, live.ClusterID); err != nil {
			return res, err
		}
		if err := checkFresh(plans.PlaneKafka, "the cluster", plan, Fingerprint(live, plan.Desired)); err != nil {
			return res, err
		}
		live = plans.Live{} // not needed from here on; at 10,000 topics the largest structure in memory
	}

	// 6. Consumer groups on topics to delete.
	err = checkGroups(wctx, cluster, res.Changes, opts.Force)
	if lost := held.stoppedBefore(notAttemptedFrom(res)); lost != nil {
		return res, lost
	}
	if err != nil {
		return res, err
	}

	// 7. Execute; a lost lease cancels wctx, which ends the phase in flight and starts no other.
	ex := &executor{cluster: cluster, opts: opts, progress: progress, res: &res}
	for _, ph := range []func(context.Context) bool{ex.inventory, ex.create, ex.partitions, ex.configs, ex.reassign, ex.grant, ex.delete, ex.revoke, ex.forget} {
		if wctx.Err() != nil || !ph(wctx) {
			break
		}
	}
	// A timed-out or interrupted request may have landed anyway: say what is true now.
	after, want, rerr := ex.settle(ctx, plan)
	var failed error
	if lost := held.stoppedBefore(notAttemptedFrom(res)); lost != nil {
		failed = lost
	}
	if n, u := res.Count(plans.Failed), res.Count(plans.Unknown); n+u > 0 {
		failed = errors.Join(failed, fmt.Errorf("apply stopped: %d applied, %d failed, %d unknown, %d not attempted; fix the cause and run apply again to finish", res.Count(plans.Applied), n, u, res.Count(plans.NotAttempted)))
	}
	if ctx.Err() != nil {
		failed = errors.Join(failed, fmt.Errorf("apply interrupted: %w", ctx.Err()))
	}

	// 8. Convergence.
	if rerr != nil {
		return res, errors.Join(failed, fmt.Errorf("re-read live state to verify: %w", rerr))
	}
	return verify(res, plan, want, after, failed)
}

// CheckClusterID refuses a live cluster whose id differs from the spec's pinned id or from the id
// the plan was computed against. plan and apply call it before anything else.
func CheckClusterID(pinned string, plan plans.Plan, liveID string) error {
	if pinned != "" && liveID != pinned {
		return fmt.Errorf("%w: the spec pins clusterId %q for target %q but the live cluster id is %q; check --cluster and the bootstrap addresses", ErrClusterMismatch, pinned, plan.Cluster, liveID)
	}
	if plan.ClusterID != "" && liveID != plan.ClusterID {
		return fmt.Errorf("%w: the plan was computed against cluster id %q but the live cluster id is %q; run plan against this cluster", ErrClusterMismatch, plan.ClusterID, liveID)
	}
	return nil
}

// verify diffs want (the plan's desired state, or the part of it a scoped settle read) against
// live: what is still pending is the Result's Residual.
func verify(res plans.Result, plan plans.Plan, want plans.Desired, live plans.Live, failed error) (plans.Result, error) {
	res.Verified = true
	for _, c := range diff(want, live, DiffOptions{Cluster: plan.Cluster, AllowDelete: plan.AllowDelete}).Part(plans.PlaneKafka).Changes {
		if c.Pending() {
			res.Residual = append(res.Residual, c)
		}
	}
	if len(res.Residual) > 0 && failed == nil {
		var names []string
		for _, c := range res.Residual {
			names = append(names, plans.Headline(c))
		}
		return res, fmt.Errorf("the cluster did not converge: a fresh plan of the same desired state still has %d change(s): %s", len(names), strings.Join(names, "; "))
	}
	return res, failed
}

// MassDeleteShare is the share of managed topics a plan may delete without AllowMassDelete: more
// than half of them (when more than one), or all of them, needs the flag (issue 10).
const MassDeleteShare = 0.5

// IsMassDelete reports whether a plan deletes every managed topic, or more than MassDeleteShare of
// them and more than one.
func IsMassDelete(p plans.Plan) bool {
	n := topicDeletes(p)
	if n == 0 {
		return false
	}
	return n >= p.ManagedTopics || (n > 1 && float64(n) > MassDeleteShare*float64(p.ManagedTopics))
}

// topicDeletes counts the topics a plan deletes (Kubernetes objects are not topics).
func topicDeletes(p plans.Plan) int { return p.Deletes(plans.RemovesRecords) }

// CheckAllowed returns the ErrRefused error Apply would give the plan under opts' opt-ins
// (unsupported changes, data loss without AllowDataLoss, topic deletions without AllowDelete — a
// deletion needs only that opt-in — and a mass delete without AllowMassDelete), listing every
// offending change; nil when the opt-ins cover the plan. It is pure, so apply can refuse before
// asking for confirmation.
func CheckAllowed(plan plans.Plan, opts ApplyOptions) error {
	var errs []error
	for c := range plan.EachChange() {
		switch {
		case !c.Pending():
		case c.Action == plans.Unsupported:
			// Headline already starts with "unsupported"; the reason says what to do instead.
			errs = append(errs, fmt.Errorf("%s: %s", plans.Headline(c), c.Reason))
		case c.Action == plans.Delete:
			// A deletion has its own opt-in (and the spec's deletion: prune); asking for
			// --allow-data-loss on top would only teach people to pass every flag.
			if !opts.AllowDelete {
				errs = append(errs, fmt.Errorf("%s needs --allow-delete", plans.Headline(c)))
			}
		case c.Risk == plans.RiskDataLoss && !opts.AllowDataLoss:
			errs = append(errs, fmt.Errorf("%s can lose data (%s): it needs --allow-data-loss", plans.Headline(c), c.Reason))
		}
		errs = append(errs, checkObjectsAllowed(c, opts)...)
	}
	if IsMassDelete(plan) && !opts.AllowMassDelete {
		// An empty or truncated desired state must not wipe the cluster (issue 10, Argo CD's
		// allow-empty guard).
		errs = append(errs, fmt.Errorf("the plan deletes %d of the %d topics avatar-sync manages (all of them, or more than %d%%): a spec that lost its topics would wipe the cluster; check the spec, and pass --allow-mass-delete if this is intended (watch never does it)",
			topicDeletes(plan), plan.ManagedTopics, int(MassDeleteShare*100)))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w, nothing was changed:\n%w", ErrRefused, errors.Join(errs...))
}

// acquire takes the lease, waiting up to opts.LockWait for another holder; it returns when the
// successful claim was sent, which the keeper counts the TTL from.
func acquire(ctx context.Context, cluster Locker, opts ApplyOptions, progress Progress) (Lease, time.Time, error) {
	deadline := time.Now().Add(opts.LockWait)
	// The holder last reported: one progress line per claim, not per poll, nor per renewal of it.
	var told LeaseHeldError
	for {
		sent := time.Now()
		lease, err := cluster.AcquireLease(ctx, opts.Holder, opts.LeaseTTL)
		if err == nil {
			return lease, sent, nil
		}
		var held *LeaseHeldError
		if !errors.As(err, &held) || time.Now().After(deadline) {
			return nil, sent, fmt.Errorf("take the apply lock: %w", err)
		}
		if held.Holder != told.Holder || held.ID != told.ID {
			told = *held
			progress(plans.Event{Status: plans.Running, Message: fmt.Sprintf("waiting up to %s for the apply lock held by %s (expires %s)",
				opts.LockWait, held.Holder, held.Expires.UTC().Format(time.RFC3339))})
		}
		if err := sleep(ctx, opts.PollInterval); err != nil {
			return nil, sent, fmt.Errorf("wait for the apply lock held by %s: %w", held.Holder, err)
		}
	}
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func checkGroups(ctx context.Context, cluster Cluster, pending []plans.ChangeResult, force bool) error {
	var deletes []string
	for _, cr := range pending {
		if c := cr.Change; c.Action == plans.Delete && c.Kind.Removes() == plans.RemovesRecords {
			deletes = append(deletes, c.Name)
		}
	}
	if len(deletes) == 0 || force {
		return nil
	}
	groups, err := cluster.GroupsWithOffsets(ctx, deletes)
	if err != nil {
		return fmt.Errorf("check consumer groups on topics to delete: %w", err)
	}
	var errs []error
	for _, t := range deletes {
		if gs := groups[t]; len(gs) > 0 {
			gs = slices.Clone(gs)
			sort.Strings(gs)
			errs = append(errs, fmt.Errorf("topic %s still has committed offsets from consumer group(s) %s; stop them and delete their offsets, or pass --force", t, strings.Join(gs, ", ")))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w, nothing was changed:\n%w", ErrRefused, errors.Join(errs...))
}
