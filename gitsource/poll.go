package gitsource

import (
	"context"
	"time"

	"github.com/avatar-project/avatar-sync/reconcile"
)

// PollReason is the Trigger.Reason of a poll: the pass fetches and goes on only when the branch
// moved (or the last pass failed).
const PollReason = "git poll"

// Poller triggers a pass every Interval so the pass fetches the branch. Fetching happens in the
// pass, not here: a fetch failure is then a failed pass, retried by reconcile.Loop with back-off,
// and the revision in force changes only in a pass (issue 12).
type Poller struct {
	Interval time.Duration
}

var _ reconcile.Source = Poller{}

// Triggers ticks every Interval until ctx ends.
func (p Poller) Triggers(ctx context.Context) (<-chan reconcile.Trigger, error) {
	interval := p.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	out := make(chan reconcile.Trigger, 1)
	go func() {
		defer close(out)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				select {
				case out <- reconcile.Trigger{Reason: PollReason, At: now}:
				default: // a poll is already queued; one pass fetches once
				}
			}
		}
	}()
	return out, nil
}
