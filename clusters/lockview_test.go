package clusters

import (
	"errors"
	"testing"
	"time"
)

func TestLockHolderDescribe(t *testing.T) {
	h := LockHolder{ID: "3f9c", Holder: "ana@lab pid 42", Host: "lab", PID: 42,
		Since:   time.Date(2026, 12, 7, 1, 0, 0, 0, time.FixedZone("CET", 3600)),
		Expires: time.Date(2026, 12, 7, 0, 5, 0, 0, time.UTC)}
	head := "Apply lock on cluster \"dev\":\n  ID:      3f9c\n  Holder:  ana@lab pid 42\n  Since:   2026-12-07T00:00:00Z\n  Expires: 2026-12-07T00:05:00Z\n"
	for _, tc := range []struct {
		live Liveness
		host string
		want string
	}{
		{LivenessRunning, "lab", "  Process: pid 42 is running on this machine\n"},
		{LivenessDead, "lab", "  Process: pid 42 is no longer running on this machine\n"},
		{LivenessUnknown, "lab", "  Process: on host lab; whether it still runs cannot be checked from here\n"},
		{LivenessUnknown, "", "  Process: on an unknown machine; whether it still runs cannot be checked from here\n"},
	} {
		h.Host = tc.host
		if got := h.Describe("dev", tc.live); got != head+tc.want {
			t.Errorf("%v %q:\n%s\nwant:\n%s", tc.live, tc.host, got, head+tc.want)
		}
	}
}

func TestHeldAs(t *testing.T) {
	h := &LockHolder{ID: "3f9c", Holder: "ana@lab pid 42"}
	if err := HeldAs(h, "3f9c", "dev"); err != nil {
		t.Errorf("the right ID: %v", err)
	}
	for _, tc := range []struct {
		cur  *LockHolder
		want string
	}{
		{nil, `: "3f9c" on cluster "dev": the apply lock is free, nothing to unlock`},
		{&LockHolder{ID: "aaaa", Holder: "bo@ci pid 7"}, `: "3f9c" on cluster "dev": the lock is held under lock ID aaaa by bo@ci pid 7; check the ID`},
	} {
		err := HeldAs(tc.cur, "3f9c", "dev")
		if !errors.Is(err, ErrNoSuchLock) || err.Error() != ErrNoSuchLock.Error()+" "+tc.want[2:] {
			t.Errorf("got %v, want %v%s", err, ErrNoSuchLock, tc.want)
		}
	}
}
