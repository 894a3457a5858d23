package reconcile

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// chanSource is a Source fed by the test: Loop's contract is about timing and coalescing, which a
// file system would only make slower and flakier to observe.
type chanSource chan Trigger

func (c chanSource) Triggers(context.Context) (<-chan Trigger, error) { return c, nil }

func TestLoopCoalescesTriggersDuringAPass(t *testing.T) {
	src := make(chanSource, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	release := make(chan struct{})
	var got []string
	done := make(chan error, 1)
	go func() {
		done <- Loop(ctx, src, LoopOptions{}, func(ctx context.Context, tr Trigger) error {
			got = append(got, tr.Reason)
			if tr.Reason == "start" {
				<-release // hold the first pass while triggers queue up
			}
			if len(got) == 2 {
				cancel()
			}
			return nil
		}, nil)
	}()
	src <- Trigger{Reason: "one"}
	src <- Trigger{Reason: "two"}
	src <- Trigger{Reason: "three"}
	close(release)
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Loop = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Loop did not stop")
	}
	if len(got) != 2 || got[1] != "three" {
		t.Fatalf("passes %q, want [start three]: queued triggers must collapse into the newest", got)
	}
}

func TestLoopRetriesFailedPassWithBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var reasons []string
	var reported []error
	failures := 2
	err := Loop(ctx, make(chanSource), LoopOptions{RetryMin: time.Millisecond, RetryMax: 4 * time.Millisecond},
		func(ctx context.Context, tr Trigger) error {
			reasons = append(reasons, tr.Reason)
			if failures > 0 {
				failures--
				return errors.New("cluster unreachable")
			}
			cancel()
			return nil
		}, func(_ Trigger, err error) { reported = append(reported, err) })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Loop = %v", err)
	}
	want := []string{"start", "retry after error", "retry after error"}
	if len(reasons) != len(want) {
		t.Fatalf("passes %q, want %q", reasons, want)
	}
	for i := range want {
		if reasons[i] != want[i] {
			t.Fatalf("passes %q, want %q", reasons, want)
		}
	}
	if len(reported) != 3 || reported[0] == nil || reported[2] != nil {
		t.Fatalf("reported %v, want two errors then nil", reported)
	}
}

func TestLoopStopsWhenSourceFailsToStart(t *testing.T) {
	err := Loop(context.Background(), failingSource{}, LoopOptions{}, func(context.Context, Trigger) error {
		t.Fatal("pass ran although the source failed")
		return nil
	}, nil)
	if err == nil || err.Error() != "no inotify" {
		t.Fatalf("Loop = %v", err)
	}
}

type failingSource struct{}

func (failingSource) Triggers(context.Context) (<-chan Trigger, error) {
	return nil, errors.New("no inotify")
}

// TestLoopSourceClosedWithoutInterval: with no interval to fall back on, a source that stops ends
// the loop with an error, never with nil (which let watch exit 0 as if asked to stop).
func TestLoopSourceClosedWithoutInterval(t *testing.T) {
	src := make(chanSource)
	close(src)
	passes := 0
	err := Loop(context.Background(), src, LoopOptions{}, func(context.Context, Trigger) error {
		passes++
		return nil
	}, nil)
	if !errors.Is(err, ErrSourceClosed) || passes != 1 {
		t.Fatalf("Loop = %v after %d pass(es), want ErrSourceClosed after 1", err, passes)
	}
}

// TestLoopCountsSourceFailureAsFailedPass: a trigger with Err (a git fetch that failed) runs the
// pass, which records it, and is a failed pass even when pass returns nil: the loop reports the
// error and backs off, and consecutive failures back off longer whatever their source (issue 20).
func TestLoopCountsSourceFailureAsFailedPass(t *testing.T) {
	src := make(chanSource, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fetchErr := errors.New("fetch branch main of lab.git: unreachable")
	var reasons []string
	var reported []error
	var at []time.Time
	err := Loop(ctx, src, LoopOptions{RetryMin: 50 * time.Millisecond, RetryMax: time.Second},
		func(ctx context.Context, tr Trigger) error {
			reasons = append(reasons, tr.Reason)
			at = append(at, time.Now())
			switch len(reasons) {
			case 1:
				src <- Trigger{Reason: "fetch failed", Err: fetchErr}
				return nil
			case 2:
				return nil // the pass recorded tr.Err and returns nothing of its own
			case 3:
				return errors.New("cluster unreachable")
			default:
				cancel()
				return nil
			}
		}, func(_ Trigger, err error) { reported = append(reported, err) })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Loop = %v", err)
	}
	if want := "start,fetch failed,retry after error,retry after error"; strings.Join(reasons, ",") != want {
		t.Fatalf("passes %q, want %s", reasons, want)
	}
	if len(reported) != 4 || reported[0] != nil || !errors.Is(reported[1], fetchErr) || reported[2] == nil || reported[3] != nil {
		t.Fatalf("reported %v, want nil, the fetch error, the pass error, nil", reported)
	}
	if first, second := at[2].Sub(at[1]), at[3].Sub(at[2]); first < 50*time.Millisecond || second < 100*time.Millisecond {
		t.Errorf("retries %s then %s after the failures: want the back-off, 50ms then 100ms", first, second)
	}
}
