package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// The daemon's log discipline (issue 21): a --cluster typo stops the daemon at start, a pass that
// keeps failing the same way is said once and then periodically with a count, and a reconnect is
// logged only when the connection's settings changed.

// failureRepeat is how often a failure that repeats unchanged is logged again at ERROR, with the
// number of failed passes since it was first logged.
const failureRepeat = 5 * time.Minute

// failureLog decides which failed passes are logged at ERROR. It is a small state machine over
// (error text, time), so its rules are table-tested apart from the daemon.
type failureLog struct {
	last     string    // the error of the last failed pass; "" after a success
	count    int       // failed passes with that error since it was first logged
	loggedAt time.Time // when it was last logged at ERROR
}

// next records a pass's error at now and reports whether it is logged at ERROR and how many
// passes have failed with it so far (1 for a new error).
func (f *failureLog) next(err error, now time.Time) (loud bool, count int) {
	if err == nil {
		f.last, f.count = "", 0
		return false, 0
	}
	msg := err.Error()
	if msg != f.last {
		f.last, f.count, f.loggedAt = msg, 1, now
		return true, 1
	}
	f.count++
	if now.Sub(f.loggedAt) >= failureRepeat {
		f.loggedAt = now
		return true, f.count
	}
	return false, f.count
}

// logFailure logs a failed pass: at ERROR when it is new or failureRepeat has passed (with
// repeated=N then), else at DEBUG (seen with -v), so a pass refused the same way every few
// seconds (a conflict, a refused change) no longer floods the log.
func (w *watcher) logFailure(log *slog.Logger, tr reconcile.Trigger, err error) {
	loud, count := w.failures.next(err, time.Now())
	if err == nil {
		return
	}
	args := []any{"trigger", tr.Reason, "err", err}
	if count > 1 {
		args = append(args, "repeated", count)
	}
	if loud {
		log.Error("pass failed; will retry", args...)
		return
	}
	log.Debug("pass failed; will retry", args...)
}

// stopOnUnknownTarget wraps the loop's pass: while no spec has been read yet, a --cluster that the
// spec does not declare is a typo on the command line, which no retry can fix, so the daemon stops
// with the did-you-mean error (issue 21) instead of retrying forever. Once a spec was read, a
// commit that drops the target is an ordinary failed pass, and the last good state stays.
func (w *watcher) stopOnUnknownTarget(pass func(context.Context, reconcile.Trigger) error, stop context.CancelFunc) func(context.Context, reconcile.Trigger) error {
	return func(ctx context.Context, tr reconcile.Trigger) error {
		err := pass(ctx, tr)
		var unknown *spec.UnknownTargetError
		if !w.specRead && errors.As(err, &unknown) {
			w.fatal = err
			stop()
		}
		return err
	}
}

// connectionSettings are the parts of a target that the open connection was made with: its
// positions in the file, its overrides (topics, brokers to render) and preflight are not, so a
// commit that only edits topics does not reconnect (issue 21).
func connectionSettings(c spec.Cluster) spec.Cluster {
	c.Pos, c.Overrides, c.Preflight = spec.Pos{}, nil, false
	if c.Kubernetes != nil {
		k := *c.Kubernetes
		if k.Watch != nil {
			kw := *k.Watch
			kw.Pos = spec.Pos{}
			k.Watch = &kw
		}
		c.Kubernetes = &k
	}
	return c
}

// logEvent logs one event of an apply: failures at ERROR, progress (waiting for the lock, a
// reassignment, a StatefulSet) at INFO with the text under "detail" — under "msg" it was a second
// msg key on the line (issue 21), which log collectors keep only one of.
func (w *watcher) logEvent(ev reconcile.Event) {
	if ev.Status == reconcile.Applied {
		w.appliedC = append(w.appliedC, reconcile.Headline(ev.Change))
	}
	switch {
	case ev.Status == reconcile.Failed || ev.Status == reconcile.Unknown:
		w.log.Error("change failed", "change", reconcile.Headline(ev.Change), "status", ev.Status.String(), "err", ev.Err)
	case ev.Message != "":
		w.log.Info("progress", "detail", ev.Message)
	}
}
