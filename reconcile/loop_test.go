package reconcile

import (
	"context"
	"errors"
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
