package daemon

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/avatar-project/avatar-sync/notify"
	"github.com/avatar-project/avatar-sync/reconcile"
)

// The daemon's log discipline (issue 21): a --cluster typo stops the daemon at start, a pass that
// keeps failing the same way is said once and then periodically with a count, a reconnect is
// logged only when the connection's settings changed, and no line shows a URL's user information.

// NewLogger is the daemon's log on w: text for people, JSON lines for a log collector; debug lines
// with verbose. Any URL's user information is hidden from every line (redactingHandler).
func NewLogger(w io.Writer, json, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if json {
		return slog.New(redactingHandler{slog.NewJSONHandler(w, opts)})
	}
	return slog.New(redactingHandler{slog.NewTextHandler(w, opts)})
}

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
func (f *follower) logFailure(log *slog.Logger, tr reconcile.Trigger, err error) {
	loud, count := f.failures.next(err, time.Now())
	if err == nil {
		return
	}
	log = f.logger(log)
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

// redactingHandler hides the user information of every URL in the daemon's log lines (issue 21):
// https://<token>@host/… (GitHub's token-as-user form) and https://user:password@host/… become
// https://***@host/…, whichever message or attribute quotes them (a git error, a spec error, a
// webhook failure). It is the last line of defence; the code that knows a URL redacts it first.
type redactingHandler struct{ next slog.Handler }

func (h redactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, notify.RedactUserinfo(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = redactAttr(a)
	}
	return redactingHandler{h.next.WithAttrs(clean)}
}

func (h redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{h.next.WithGroup(name)}
}

// redactAttr redacts a string, an error, and each attribute of a group.
func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, notify.RedactUserinfo(v.String()))
	case slog.KindGroup:
		group := v.Group()
		clean := make([]any, len(group))
		for i, g := range group {
			clean[i] = redactAttr(g)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, notify.RedactUserinfo(err.Error()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
