package clusters

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestCallBoundedByContext: call and goCall, one code path (issue 20), answer what fn answers; once
// ctx has ended fn is not started; a wait ends with ctx (sarama's blocked call is abandoned, not
// waited for); two goCalls are in flight at once.
func TestCallBoundedByContext(t *testing.T) {
	ctx := testCtx(t)
	if v, err := call(ctx, func() (int, error) { return 7, nil }); v != 7 || err != nil {
		t.Errorf("call: %d, %v; want 7", v, err)
	}

	done, cancel := context.WithCancel(ctx)
	cancel()
	var started atomic.Bool
	if _, err := call(done, func() (int, error) { started.Store(true); return 1, nil }); !errors.Is(err, context.Canceled) || started.Load() {
		t.Errorf("call on an ended context: %v, started %t; want context.Canceled and fn not started", err, started.Load())
	}

	blocked, cancelBlocked := context.WithCancel(ctx)
	release := make(chan struct{})
	defer close(release)
	wait := goCall(blocked, func() (int, error) { <-release; return 1, nil })
	time.AfterFunc(20*time.Millisecond, cancelBlocked)
	if _, err := wait(); !errors.Is(err, context.Canceled) {
		t.Errorf("a blocked call whose context ends: %v, want context.Canceled", err)
	}

	// Each answers only once the other has started: in sequence, neither would.
	a, b := make(chan struct{}), make(chan struct{})
	both, stop := context.WithTimeout(ctx, 5*time.Second)
	defer stop()
	waitA := goCall(both, func() (int, error) { close(a); <-b; return 1, nil })
	waitB := goCall(both, func() (int, error) { close(b); <-a; return 2, nil })
	if va, err := waitA(); va != 1 || err != nil {
		t.Errorf("first of two at once: %d, %v", va, err)
	}
	if vb, err := waitB(); vb != 2 || err != nil {
		t.Errorf("second of two at once: %d, %v", vb, err)
	}
}
