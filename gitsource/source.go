package gitsource

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/avatar-project/avatar-sync/reconcile"
)

// Source is the watch loop's reconcile.Source for a followed branch (issue 20), as filewatch.Source
// is for a file: it fetches Repo every Interval and triggers a pass only when the branch's head
// moved, so a branch that stands still costs a fetch per poll and no pass.
//
// A failed fetch is sent once, as a Trigger with Err: the loop records it as a failed pass
// (metrics, /readyz, webhooks) and backs off. Then the Source stops polling: while the last fetch
// failed, and before the first, the passes fetch through Current, at start and on each of the
// loop's retries, so an unreachable remote is asked as seldom as the loop's back-off allows, never
// every Interval. A fetch that succeeds resumes polling.
type Source struct {
	Repo *Repo
	// Interval is the poll (--git-interval).
	Interval time.Duration
	// Fetched, when set, is told about every fetch, polled or Current's (the daemon counts them).
	// It runs while the Source is locked: it must not block or call the Source.
	Fetched func(Revision, error)

	fetchMu sync.Mutex // one fetch at a time: a poll and a pass's Current never fetch together
	mu      sync.Mutex // guards what follows and sends to out
	head    Revision   // the newest fetched head; a pass covers it (Current) or a trigger names it
	failed  bool       // the last fetch failed (a trigger or Current reported it): polls pause
	out     chan reconcile.Trigger
	polling sync.WaitGroup
}

var _ reconcile.Source = (*Source)(nil)

// Triggers starts polling; the channel closes when ctx ends. It holds at most one trigger: a newer
// one replaces it (a pass reads the newest head anyway), so moves during a pass collapse into one.
func (s *Source) Triggers(ctx context.Context) (<-chan reconcile.Trigger, error) {
	if s.Interval <= 0 {
		return nil, fmt.Errorf("poll %s: --git-interval %s: want a positive duration", Redact(s.Repo.URL), s.Interval)
	}
	if err := s.Repo.absDir(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.out = make(chan reconcile.Trigger, 1)
	out := s.out
	s.mu.Unlock()
	s.polling.Add(1)
	go func() {
		defer s.polling.Done()
		defer close(out)
		timer := time.NewTimer(s.Interval)
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
				s.poll(ctx)
				timer.Reset(s.Interval)
			}
		}
	}()
	return out, nil
}

// Wait returns when the polling Triggers started has ended (its ctx ended): no git of the Source
// runs after it, so the clone can be removed.
func (s *Source) Wait() { s.polling.Wait() }

// poll fetches once, when the Source has a good head to compare with, and sends a trigger when
// the head moved or the fetch failed.
func (s *Source) poll(ctx context.Context) {
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	s.mu.Lock()
	paused := s.failed || s.head.IsZero()
	s.mu.Unlock()
	if paused {
		return // Current fetches: at start, and on the loop's retries after a failure
	}
	rev, err := s.Repo.Fetch(ctx)
	if ctx.Err() != nil {
		return // shutting down: the loop is gone, and so is the failure
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observe(rev, err)
	switch {
	case err != nil:
		s.failed = true
		s.send(reconcile.Trigger{Reason: "fetch failed", At: time.Now(), Err: err})
	case rev != s.head:
		s.head = rev
		s.send(reconcile.Trigger{Reason: "new revision " + rev.Short(), At: time.Now()})
	}
}

// Current is the revision a pass reconciles: the newest head fetched, without a fetch while the
// Source has one. Before the first fetch and after a failed one it fetches now (the start, the
// loop's retries); a failed fetch no pass has reported yet is returned as this pass's error rather
// than fetched again. A trigger still queued is taken: this pass covers it. Only the loop's pass
// calls it (the loop reads no trigger while a pass runs).
func (s *Source) Current(ctx context.Context) (Revision, error) {
	s.mu.Lock()
	tr, queued := s.take()
	good := !s.failed && !s.head.IsZero()
	head := s.head
	s.mu.Unlock()
	if queued && tr.Err != nil {
		return Revision{}, tr.Err
	}
	if good {
		return head, nil
	}

	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	rev, err := s.Repo.Fetch(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observe(rev, err)
	if err != nil {
		s.failed = true
		return Revision{}, err
	}
	s.head, s.failed = rev, false
	return rev, nil
}

func (s *Source) observe(rev Revision, err error) {
	if s.Fetched != nil {
		s.Fetched(rev, err)
	}
}

// send queues tr, replacing a trigger not yet taken. Callers hold mu.
func (s *Source) send(tr reconcile.Trigger) {
	if s.out == nil {
		return
	}
	s.take()
	s.out <- tr // cannot block: the buffer is empty and only the Source sends
}

// take removes the queued trigger, if any. Callers hold mu.
func (s *Source) take() (reconcile.Trigger, bool) {
	if s.out == nil {
		return reconcile.Trigger{}, false
	}
	select {
	case tr := <-s.out:
		return tr, true
	default:
		return reconcile.Trigger{}, false
	}
}
