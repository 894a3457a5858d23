package main

import (
	"context"
	"log/slog"

	"github.com/avatar-project/avatar-sync/notify"
)

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
