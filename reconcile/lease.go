package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/avatar-project/avatar-sync/plans"
)

// heldLease is the apply lock while an apply holds it. A keeper goroutine renews it every TTL/3;
// when the lease is lost (released by `avatar-sync unlock`, taken over) or no renewal succeeded
// before it would expire, the keeper cancels ctx with the cause, so the apply starts no further
// step: another apply may already be changing the cluster (issue 10's one-apply-at-a-time promise).
type heldLease struct {
	lease Lease
	// ctx is the apply's working context: every step after acquiring runs in it.
	ctx    context.Context
	cancel context.CancelCauseFunc
	stopc  chan struct{}
	done   chan struct{}
}

// takeLease acquires the apply lock (waiting up to opts.LockWait) and starts renewing it.
func takeLease(ctx context.Context, cluster Locker, opts ApplyOptions, progress Progress) (*heldLease, error) {
	lease, sent, err := acquire(ctx, cluster, opts, progress)
	if err != nil {
		return nil, err
	}
	return holdLease(ctx, lease, sent, opts.LeaseTTL), nil
}

// holdLease starts the keeper of a lease acquired by a request sent at sent: the claim was
// stamped after that, so sent + ttl is a conservative expiry by this machine's clock.
func holdLease(ctx context.Context, lease Lease, sent time.Time, ttl time.Duration) *heldLease {
	wctx, cancel := context.WithCancelCause(ctx)
	h := &heldLease{lease: lease, ctx: wctx, cancel: cancel, stopc: make(chan struct{}), done: make(chan struct{})}
	// Renewals outlive ctx's cancellation: an interrupted apply still settles and releases under
	// the lease; stop ends them.
	go h.keep(context.WithoutCancel(ctx), sent, ttl)
	return h
}

// keep renews the lease every ttl/3 after the last successful renewal, retrying a failed one every
// ttl/10 until the lease would expire.
func (h *heldLease) keep(ctx context.Context, sent time.Time, ttl time.Duration) {
	defer close(h.done)
	var lastErr error
	next := sent.Add(ttl / 3)
	for {
		expires := sent.Add(ttl)
		if !h.wait(time.Until(next)) {
			return
		}
		if !time.Now().Before(expires) {
			why := "no renewal was sent in time"
			if lastErr != nil {
				why = "last error: " + lastErr.Error()
			}
			h.cancel(fmt.Errorf("%w: no renewal succeeded before it expired at %s (%s)", ErrLeaseLost, expires.UTC().Format(time.RFC3339), why))
			return
		}
		rctx, cancel := context.WithDeadline(ctx, expires)
		start := time.Now()
		err := h.lease.Renew(rctx)
		cancel()
		switch {
		case err == nil:
			sent, next = start, start.Add(ttl/3)
		case errors.Is(err, ErrLeaseLost):
			h.cancel(err)
			return
		default:
			lastErr = err
			if next = time.Now().Add(ttl / 10); next.After(expires) {
				next = expires
			}
		}
	}
}

// wait sleeps d; false when the keeper was stopped.
func (h *heldLease) wait(d time.Duration) bool {
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-h.stopc:
		return false
	case <-t.C:
		return true
	}
}

// lost returns the cause when the lease was lost, nil otherwise.
func (h *heldLease) lost() error {
	if h == nil {
		return nil
	}
	if cause := context.Cause(h.ctx); errors.Is(cause, ErrLeaseLost) {
		return cause
	}
	return nil
}

// stoppedBefore is the apply's error when the lease was lost before step, nil while it holds.
func (h *heldLease) stoppedBefore(step string) error {
	if err := h.lost(); err != nil {
		return fmt.Errorf("%w; stopped before %s", err, step)
	}
	return nil
}

// release stops the keeper, waits for it (a renewal must not land after the release), and
// releases the lease with its own fresh bounded context, even when ctx was cancelled: a lingering
// lease blocks everyone until its TTL.
func (h *heldLease) release(ctx context.Context, opts ApplyOptions, progress Progress) {
	close(h.stopc)
	<-h.done
	h.cancel(context.Canceled)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.CleanupTimeout)
	defer cancel()
	if err := h.lease.Release(rctx); err != nil {
		progress(plans.Event{Status: plans.Failed, Err: err, Message: fmt.Sprintf("could not release the apply lock; other applies wait until it expires (TTL %s)", opts.LeaseTTL)})
	}
}

// notAttemptedFrom names where an apply that lost its lease stopped: the first change it never
// sent, and how many it did not send.
func notAttemptedFrom(res plans.Result) string {
	n, first := 0, ""
	for _, cr := range res.Changes {
		if cr.Status == plans.NotAttempted {
			if n == 0 {
				first = plans.Headline(cr.Change)
			}
			n++
		}
	}
	switch n {
	case 0:
		return "verifying (every change had been attempted)"
	case 1:
		return first + " (1 change not attempted)"
	}
	return fmt.Sprintf("%s (%d changes not attempted)", first, n)
}

// plannerLock is the apply lock a Planner took before reading the cluster (Planner.Lock), with
// what releasing it needs.
type plannerLock struct {
	held     *heldLease
	opts     ApplyOptions
	progress Progress
}

// Lock takes the apply lock (waiting up to opts.LockWait, renewed every LeaseTTL/3) from the
// target's Locker plane before the planner reads the target, for an apply that nobody confirms
// between its plan and its execution (`apply --auto-approve`; terraform, likewise, locks its state
// before it refreshes): the reads Plan or CheckSaved make next are then the reads under the lock,
// and Apply executes the plan without reading the target again to check its fingerprints (issue
// 23: one full read per apply instead of two). A change made after those reads by another apply
// is impossible while the lock is held. Apply takes the lock over and releases it when it ends;
// Unlock releases it otherwise (nothing to apply, a refused plan). A target whose Locker cannot
// be reached yet (a fresh cluster's brokers) has no lock to take: Lock does nothing, and Apply
// takes the lock itself once they answer.
func (pl *Planner) Lock(ctx context.Context, opts ApplyOptions, progress Progress) error {
	if pl.lock != nil {
		return nil
	}
	i := slices.IndexFunc(pl.Target.Planes, func(plane Plane) bool { _, ok := plane.(Locker); return ok })
	if i < 0 {
		return nil
	}
	opts.defaults()
	if progress == nil {
		progress = func(plans.Event) {}
	}
	held, err := takeLease(ctx, pl.Target.Planes[i].(Locker), opts, progress)
	var de *DeferredError
	switch {
	case errors.As(err, &de):
		return nil
	case err != nil:
		return err
	}
	// A read made before the lock is not the read under it.
	pl.observed, pl.planned = nil, nil
	pl.lock = &plannerLock{held: held, opts: opts, progress: progress}
	return nil
}

// Unlock releases the apply lock Lock took and Apply did not (a no-op otherwise), with its own
// fresh bounded context even when ctx was cancelled.
func (pl *Planner) Unlock(ctx context.Context) {
	if lk := pl.takeLock(); lk != nil {
		lk.held.release(ctx, lk.opts, lk.progress)
	}
}

// takeLock hands the lock Lock took to its caller, who releases it; nil when none is held.
func (pl *Planner) takeLock() *plannerLock {
	lk := pl.lock
	pl.lock = nil
	return lk
}
