package gitsource

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/internal/gittest"
	"github.com/avatar-project/avatar-sync/reconcile"
)

// The Source's tests run the real reconcile.Loop over a real repository (a bare remote in
// t.TempDir, commits pushed between polls): what they assert is how many fetches and passes
// happen, and when.

// fetchLog records every fetch the Source makes (its Fetched hook).
type fetchLog struct {
	mu   sync.Mutex
	at   []time.Time
	revs []Revision
	errs []error
}

func newFetchLog() *fetchLog { return &fetchLog{} }

func (l *fetchLog) fetched(rev Revision, err error) {
	l.mu.Lock()
	l.at, l.revs, l.errs = append(l.at, time.Now()), append(l.revs, rev), append(l.errs, err)
	l.mu.Unlock()
}

func (l *fetchLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.at)
}

// failures returns the times of the failed fetches.
func (l *fetchLog) failures() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Time
	for i, err := range l.errs {
		if err != nil {
			out = append(out, l.at[i])
		}
	}
	return out
}

func (l *fetchLog) saw(hash string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.revs {
		if r.Hash == hash {
			return true
		}
	}
	return false
}

// passLog records the loop's passes: the trigger and the revision the pass reconciled (or its
// error).
type passLog struct {
	mu     sync.Mutex
	passes []passRecord
}

type passRecord struct {
	reason string
	rev    Revision
	err    error
}

func (p *passLog) add(r passRecord) {
	p.mu.Lock()
	p.passes = append(p.passes, r)
	p.mu.Unlock()
}

func (p *passLog) all() []passRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]passRecord(nil), p.passes...)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runLoop runs reconcile.Loop over src with a pass that checks out src.Current (as the daemon's
// does: a trigger's Err is the pass's error), calling hold after when set. It returns the passes
// and a stop function.
func runLoop(t *testing.T, src *Source, opts reconcile.LoopOptions, hold func(n int)) (*passLog, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	passes := &passLog{}
	done := make(chan error, 1)
	n := 0
	go func() {
		done <- reconcile.Loop(ctx, src, opts, func(ctx context.Context, tr reconcile.Trigger) error {
			n++
			if tr.Err != nil {
				passes.add(passRecord{reason: tr.Reason, err: tr.Err})
				return tr.Err
			}
			rev, err := src.Current(ctx)
			if err == nil {
				// As the daemon's pass: the checkout runs while the Source polls (and fetches).
				var tree string
				if tree, err = src.Repo.Checkout(ctx, rev); err == nil {
					_, err = os.Stat(filepath.Join(tree, "avatar.yaml"))
				}
			}
			passes.add(passRecord{reason: tr.Reason, rev: rev, err: err})
			if hold != nil {
				hold(n)
			}
			return err
		}, nil)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Loop = %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Loop did not stop")
		}
		src.Wait() // no poll runs after stop: the counts below are final
	}
	t.Cleanup(stop)
	return passes, stop
}

func newSource(t *testing.T, remote *gittest.Remote, client string, fetches *fetchLog) *Source {
	repo := &Repo{URL: remote.URL, Branch: "main", Dir: filepath.Join(t.TempDir(), "clone"), Git: client}
	return &Source{Repo: repo, Interval: 20 * time.Millisecond, Fetched: fetches.fetched}
}

// TestSourceTriggersOnlyWhenBranchMoves: the Source fetches every Interval, but the loop runs a
// pass only at start and when the branch moved, naming the new revision in the trigger, and that
// pass reconciles the fetched head without fetching again — with the git CLI and the built-in
// client.
func TestSourceTriggersOnlyWhenBranchMoves(t *testing.T) {
	for name, client := range map[string]string{"git": "", "built-in": Builtin} {
		t.Run(name, func(t *testing.T) {
			remote := gittest.New(t)
			first := remote.Commit("add the spec", map[string]string{"avatar.yaml": "one\n"})
			fetches := newFetchLog()
			passes, stop := runLoop(t, newSource(t, remote, client, fetches), reconcile.LoopOptions{}, nil)

			eventually(t, "the first pass", func() bool { return len(passes.all()) == 1 })
			eventually(t, "four polls", func() bool { return fetches.count() >= 5 })
			if got := passes.all(); len(got) != 1 || got[0].reason != "start" || got[0].rev.Hash != first {
				t.Fatalf("passes %+v, want only the start at %s: a branch that stands still runs no pass", got, first)
			}

			second := remote.Commit("add a topic", map[string]string{"avatar.yaml": "two\n"})
			eventually(t, "the pass on the new revision", func() bool { return len(passes.all()) == 2 })
			before := fetches.count()
			got := passes.all()[1]
			if got.rev.Hash != second || got.reason != "new revision "+second[:12] {
				t.Errorf("second pass %+v, want revision %s named in its trigger", got, second)
			}
			eventually(t, "four more polls", func() bool { return fetches.count() >= before+4 })
			stop()
			if n := len(passes.all()); n != 2 {
				t.Errorf("%d passes for one move of the branch, want 2 (start and the move)", n)
			}
			if failed := fetches.failures(); len(failed) > 0 {
				t.Errorf("%d fetches failed", len(failed))
			}
		})
	}
}

// TestSourceCoalescesMovesDuringAPass: two pushes while a pass runs make one follow-up pass, on
// the newest revision.
func TestSourceCoalescesMovesDuringAPass(t *testing.T) {
	remote := gittest.New(t)
	remote.Commit("one", map[string]string{"avatar.yaml": "one\n"})
	fetches := newFetchLog()
	entered, release := make(chan struct{}), make(chan struct{})
	passes, stop := runLoop(t, newSource(t, remote, "", fetches), reconcile.LoopOptions{}, func(n int) {
		if n == 2 {
			close(entered)
			<-release
		}
	})
	eventually(t, "the first pass", func() bool { return len(passes.all()) == 1 })
	second := remote.Commit("two", map[string]string{"avatar.yaml": "two\n"})
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("no pass on the second revision")
	}
	remote.Commit("three", map[string]string{"avatar.yaml": "three\n"})
	fourth := remote.Commit("four", map[string]string{"avatar.yaml": "four\n"})
	eventually(t, "the poll that fetches the fourth revision", func() bool { return fetches.saw(fourth) })
	close(release)
	eventually(t, "the follow-up pass", func() bool { return len(passes.all()) == 3 })
	before := fetches.count()
	eventually(t, "four more polls", func() bool { return fetches.count() >= before+4 })
	stop()
	got := passes.all()
	if len(got) != 3 || got[1].rev.Hash != second || got[2].rev.Hash != fourth || !strings.Contains(got[2].reason, fourth[:12]) {
		t.Errorf("passes %+v, want start, %s, then one pass on %s", got, second[:12], fourth[:12])
	}
}

// TestSourceFetchFailureBacksOff: a fetch that fails once the branch was followed is one failed
// pass; the Source then stops polling and the loop's retries fetch, each after a longer back-off
// (never every Interval); when the remote is back the retry's fetch succeeds, its pass runs and
// the polls resume without passes.
func TestSourceFetchFailureBacksOff(t *testing.T) {
	remote := gittest.New(t)
	first := remote.Commit("one", map[string]string{"avatar.yaml": "one\n"})
	fetches := newFetchLog()
	passes, stop := runLoop(t, newSource(t, remote, "", fetches),
		reconcile.LoopOptions{RetryMin: 200 * time.Millisecond, RetryMax: 5 * time.Second}, nil)
	eventually(t, "the first pass", func() bool { return len(passes.all()) == 1 })

	moved := remote.URL + ".away"
	if err := os.Rename(remote.URL, moved); err != nil {
		t.Fatal(err)
	}
	failedPasses := func() int {
		n := 0
		for _, p := range passes.all() {
			if p.err != nil {
				n++
			}
		}
		return n
	}
	eventually(t, "three failed passes", func() bool { return failedPasses() == 3 })
	failed := fetches.failures()
	if len(failed) != 3 {
		t.Fatalf("%d failed fetches for 3 failed passes: the Source polled while the loop backed off", len(failed))
	}
	got := passes.all()
	if got[1].reason != "fetch failed" || !strings.Contains(got[1].err.Error(), "remote.git") || got[2].reason != "retry after error" {
		t.Errorf("passes %+v: want the poll's failure, then the loop's retries", got)
	}
	first2second, second2third := failed[1].Sub(failed[0]), failed[2].Sub(failed[1])
	if first2second < 150*time.Millisecond || second2third < 350*time.Millisecond || second2third <= first2second {
		t.Errorf("failed fetches %s then %s apart: want the back-off, 200ms then 400ms (the poll is 20ms)", first2second, second2third)
	}

	if err := os.Rename(moved, remote.URL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the pass after the remote came back", func() bool {
		all := passes.all()
		return all[len(all)-1].err == nil && len(all) > 4
	})
	all := passes.all()
	if last := all[len(all)-1]; last.rev.Hash != first || last.reason != "retry after error" {
		t.Errorf("recovery pass %+v, want the loop's retry at %s", last, first)
	}
	before, n := fetches.count(), len(all)
	eventually(t, "polls after the recovery", func() bool { return fetches.count() >= before+4 })
	stop()
	if len(passes.all()) != n {
		t.Errorf("passes after the recovery although the branch stood still: %+v", passes.all()[n:])
	}
}

// TestSourceReportsAQueuedFailureOnce: a failed poll still queued when a pass asks for the head
// (a resync pass that won the race with the failure trigger) is that pass's error, reported once:
// the queue is emptied and no second fetch is made for it; the next Current fetches again.
func TestSourceReportsAQueuedFailureOnce(t *testing.T) {
	ctx := testCtx(t)
	remote := gittest.New(t)
	remote.Commit("one", map[string]string{"avatar.yaml": "one\n"})
	fetches := newFetchLog()
	src := newSource(t, remote, "", fetches)
	src.Interval = time.Hour // the test polls by hand
	triggers, err := src.Triggers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Current(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(remote.URL, remote.URL+".away"); err != nil {
		t.Fatal(err)
	}
	src.poll(ctx)
	if fetches.count() != 2 || len(triggers) != 1 {
		t.Fatalf("after a failed poll: %d fetches, %d queued triggers; want 2 and the failure", fetches.count(), len(triggers))
	}
	if _, err := src.Current(ctx); err == nil || fetches.count() != 2 || len(triggers) != 0 {
		t.Fatalf("Current = %v after %d fetches, %d queued: want the poll's failure, no new fetch, the queue empty", err, fetches.count(), len(triggers))
	}
	src.poll(ctx) // paused: the loop's retries fetch
	if fetches.count() != 2 {
		t.Fatalf("a poll fetched while the last fetch had failed")
	}
	if _, err := src.Current(ctx); err == nil || fetches.count() != 3 {
		t.Fatalf("the retry's Current = %v after %d fetches, want a new failed fetch (3)", err, fetches.count())
	}
	if err := os.Rename(remote.URL+".away", remote.URL); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Current(ctx); err != nil || fetches.count() != 4 {
		t.Fatalf("Current after the remote came back = %v (%d fetches)", err, fetches.count())
	}
	src.poll(ctx)
	if fetches.count() != 5 || len(triggers) != 0 {
		t.Fatalf("after recovery a poll of the unmoved branch: %d fetches, %d triggers; want 5 and none", fetches.count(), len(triggers))
	}
}
