package clusters

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/reconcile"
)

func TestReplayLock(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)
	claim := func(id, holder string, at time.Duration, ttl time.Duration) lockEntry {
		return lockEntry{at: t0.Add(at), rec: lockRecord{Op: "claim", ID: id, Holder: holder, TTLms: ttl.Milliseconds()}}
	}
	release := func(id string, at time.Duration) lockEntry {
		return lockEntry{at: t0.Add(at), rec: lockRecord{Op: "release", ID: id}}
	}
	tests := map[string]struct {
		log    []lockEntry
		holder string // "" = free
	}{
		"empty log is free":           {nil, ""},
		"first claim wins":            {[]lockEntry{claim("a", "alice", 0, time.Minute), claim("b", "bob", time.Second, time.Minute)}, "alice"},
		"release frees":               {[]lockEntry{claim("a", "alice", 0, time.Minute), release("a", time.Second)}, ""},
		"claim after release wins":    {[]lockEntry{claim("a", "alice", 0, time.Minute), release("a", time.Second), claim("b", "bob", 2*time.Second, time.Minute)}, "bob"},
		"claim after expiry steals":   {[]lockEntry{claim("a", "alice", 0, time.Minute), claim("b", "bob", time.Minute, time.Minute)}, "bob"},
		"claim just before expiry":    {[]lockEntry{claim("a", "alice", 0, time.Minute), claim("b", "bob", time.Minute-time.Millisecond, time.Minute)}, "alice"},
		"rejected claim's release":    {[]lockEntry{claim("a", "alice", 0, time.Minute), claim("b", "bob", time.Second, time.Minute), release("b", 2*time.Second)}, "alice"},
		"stale release after a steal": {[]lockEntry{claim("a", "alice", 0, time.Second), claim("b", "bob", 2*time.Second, time.Minute), release("a", 3*time.Second)}, "bob"},
		// Issue 10 item 10: a century-long claim lasts MaxLeaseTTL from when it was written.
		"100-year claim capped":         {[]lockEntry{claim("a", "mallory", 0, 100*365*24*time.Hour), claim("b", "bob", MaxLeaseTTL, time.Minute)}, "bob"},
		"capped claim still holds":      {[]lockEntry{claim("a", "mallory", 0, 100*365*24*time.Hour), claim("b", "bob", MaxLeaseTTL-time.Second, time.Minute)}, "mallory"},
		"negative TTL holds nothing":    {[]lockEntry{claim("a", "mallory", 0, -time.Hour), claim("b", "bob", time.Millisecond, time.Minute)}, "bob"},
		"claim from the future ignored": {[]lockEntry{claim("a", "mallory", 10*365*24*time.Hour, time.Hour), claim("b", "bob", time.Second, time.Minute)}, "bob"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			last := t0
			for _, e := range tc.log {
				if e.at.After(last) && e.at.Sub(t0) < 24*time.Hour {
					last = e.at
				}
			}
			st := replayLock(tc.log, last)
			if st.Holder != tc.holder || st.held != (tc.holder != "") {
				t.Errorf("holder = %q (held %v), want %q", st.Holder, st.held, tc.holder)
			}
		})
	}
}

func TestReplayLockExpiredIsFree(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)
	log := []lockEntry{{at: t0, rec: lockRecord{Op: "claim", ID: "a", Holder: "mallory", TTLms: (100 * 365 * 24 * time.Hour).Milliseconds()}}}
	if st := replayLock(log, t0.Add(MaxLeaseTTL-time.Second)); !st.held || !st.Expires.Equal(t0.Add(MaxLeaseTTL)) {
		t.Errorf("just before the cap: held %v until %v, want held until %v", st.held, st.Expires, t0.Add(MaxLeaseTTL))
	}
	if st := replayLock(log, t0.Add(MaxLeaseTTL)); st.held {
		t.Errorf("at the cap: still held by %q until %v", st.Holder, st.Expires)
	}
}

func TestLeaseExcludesSecondHolder(t *testing.T) {
	_, a := startTest(t)
	ctx := testCtx(t)
	l, err := a.AcquireLease(ctx, "alice@lab pid 1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.AcquireLease(ctx, "bob@ci pid 2", time.Hour)
	var held *reconcile.LeaseHeldError
	if !errors.As(err, &held) || !errors.Is(err, reconcile.ErrLeaseHeld) {
		t.Fatalf("second acquire: got %v, want *LeaseHeldError", err)
	}
	if held.Holder != "alice@lab pid 1" || time.Until(held.Expires) < 59*time.Minute {
		t.Errorf("held by %q until %v, want alice for about an hour", held.Holder, held.Expires)
	}
	if !strings.Contains(err.Error(), "alice@lab pid 1") {
		t.Errorf("message does not name the holder: %v", err)
	}
	// The error carries the lock ID a user copies into `avatar-sync unlock`.
	if id := l.(*lease).id; held.ID != id || !strings.Contains(err.Error(), "avatar-sync unlock "+id) {
		t.Errorf("error names lock ID %q (%v), want %q and the unlock command", held.ID, err, id)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	l2, err := a.AcquireLease(ctx, "bob@ci pid 2", time.Hour)
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	if err := l2.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLeaseExpires(t *testing.T) {
	_, a := startTest(t)
	ctx := testCtx(t)
	// alice "crashes" without releasing; her short TTL lets bob in once it has passed. The TTL
	// is long enough that bob's first try surely falls inside it: the test must see the lease
	// held first, or it would pass with a lease that was never held (issue 9).
	const ttl = 2 * time.Second
	if _, err := a.AcquireLease(ctx, "alice", ttl); err != nil {
		t.Fatal(err)
	}
	var held *reconcile.LeaseHeldError
	_, err := a.AcquireLease(ctx, "bob", time.Minute)
	if !errors.As(err, &held) || held.Holder != "alice" {
		t.Fatalf("acquire while alice holds the lease: got %v, want *LeaseHeldError naming alice", err)
	}
	time.Sleep(time.Until(held.Expires) + 10*time.Millisecond)
	if _, err = a.AcquireLease(ctx, "bob", time.Minute); err != nil {
		t.Fatalf("acquire after expiry: %v", err)
	}
}

// TestLeaseRace: many applies racing for the lock, each through its own connection; exactly one
// wins and every loser names the winner.
func TestLeaseRace(t *testing.T) {
	e, _ := startTest(t)
	ctx := testCtx(t)
	const n = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
		holders = map[string]bool{}
	)
	for i := range n {
		a, err := e.Connect(ctx, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			me := fmt.Sprintf("apply-%d", i)
			_, err := a.AcquireLease(ctx, me, time.Hour)
			mu.Lock()
			defer mu.Unlock()
			var held *reconcile.LeaseHeldError
			switch {
			case err == nil:
				winners = append(winners, me)
			case errors.As(err, &held):
				holders[held.Holder] = true
			default:
				t.Errorf("%s: %v", me, err)
			}
		}()
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("winners = %v, want exactly one", winners)
	}
	for h := range holders {
		if h != winners[0] {
			t.Errorf("a loser was told %q holds the lock, but %q won", h, winners[0])
		}
	}
}
