package reconcile

import (
	"context"
	"errors"
	"time"
)

// Trigger says why a reconcile pass runs; it carries no state, because every pass re-reads the
// spec and the cluster from scratch (level-triggered, like kustomize-controller's reconcile).
type Trigger struct {
	Reason string
	At     time.Time
	// Err is a failure of the source itself, such as a git fetch that failed (issue 20): the pass
	// still runs, to record the failure where every failed pass is recorded (metrics, /readyz,
	// webhooks), and Loop counts it as a failed pass whatever pass returns, so the back-off
	// applies to consecutive failures whatever their source.
	Err error
}

// Source produces triggers: filewatch on file changes, gitsource when the followed branch moves
// or its fetch fails. fsnotify and git stay behind those packages so reconcile imports neither.
type Source interface {
	// Triggers starts watching; the channel closes when ctx ends or the source fails for good.
	Triggers(ctx context.Context) (<-chan Trigger, error)
}

// LoopOptions tune Loop.
type LoopOptions struct {
	// Interval forces a pass this often even without triggers, so drift made by hand on the cluster
	// is found. Zero means only triggers run passes.
	Interval time.Duration
	// RetryMin and RetryMax bound the back-off after a failed pass (defaults 1s and Interval or 5m).
	RetryMin, RetryMax time.Duration
	// Now stamps each Trigger's At; nil means time.Now. It does not drive the timers: Interval and
	// the back-off wait in real time.
	Now func() time.Time
}

// Loop runs pass once at start, then again on every trigger, every Interval, and after a failure
// with exponential back-off. Passes never overlap: triggers that arrive during a pass collapse into
// one follow-up pass. A trigger with Err is a failed pass even when pass returns nil. report sees
// every pass's outcome. Loop returns ctx.Err() when ctx ends, an
// error when the source cannot start, and ErrSourceClosed when the source stops with no Interval.
func Loop(ctx context.Context, src Source, opts LoopOptions, pass func(context.Context, Trigger) error, report func(Trigger, error)) error {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	retryMin, retryMax := opts.RetryMin, opts.RetryMax
	if retryMin <= 0 {
		retryMin = time.Second
	}
	if retryMax <= 0 {
		retryMax = opts.Interval
		if retryMax <= 0 {
			retryMax = 5 * time.Minute
		}
	}
	triggers, err := src.Triggers(ctx)
	if err != nil {
		return err
	}

	next := Trigger{Reason: "start", At: now()}
	backoff := time.Duration(0)
	for {
		err := pass(ctx, next)
		if err == nil {
			err = next.Err
		}
		if report != nil {
			report(next, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}

		wait := opts.Interval
		reason := "interval"
		if err != nil {
			backoff = min(max(backoff*2, retryMin), retryMax)
			wait, reason = backoff, "retry after error"
		} else {
			backoff = 0
		}
		next = waitForNext(ctx, triggers, wait, reason, now)
		if next.Reason == "" {
			if err := ctx.Err(); err != nil {
				return err
			}
			// A daemon that stops watching must say so: returning nil here ended watch with exit 0.
			return ErrSourceClosed
		}
		if next.Reason == sourceClosed {
			triggers = nil
			next.Reason = reason
		}
	}
}

const sourceClosed = "source closed"

// ErrSourceClosed is returned by Loop when the trigger source stops and no Interval is set, so
// nothing would ever run another pass.
var ErrSourceClosed = errors.New("the trigger source stopped and no interval is set: nothing would run another pass")

// waitForNext blocks until a trigger, the timer (wait > 0) or the end of ctx. A zero Trigger means
// stop: ctx ended, or the source closed with no timer to fall back on.
func waitForNext(ctx context.Context, triggers <-chan Trigger, wait time.Duration, reason string, now func() time.Time) Trigger {
	var timer <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timer = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return Trigger{}
		case <-timer:
			return Trigger{Reason: reason, At: now()}
		case tr, ok := <-triggers:
			if ok {
				return drain(triggers, tr)
			}
			// The source is gone: keep reconciling on the timer alone if there is one.
			if timer == nil {
				return Trigger{}
			}
			triggers = nil
			select {
			case <-ctx.Done():
				return Trigger{}
			case <-timer:
				return Trigger{Reason: sourceClosed, At: now()}
			}
		}
	}
}

// drain collapses triggers that queued up during a pass into the latest one.
func drain(triggers <-chan Trigger, last Trigger) Trigger {
	for {
		select {
		case tr, ok := <-triggers:
			if !ok {
				return last
			}
			last = tr
		default:
			return last
		}
	}
}
