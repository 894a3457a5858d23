package clusters

import (
	"fmt"
	"strings"
	"time"
)

// HeldAs checks that the apply lock of cluster, as read (cur, nil when free), is held under id:
// what `avatar-sync unlock ID` may release. The error wraps ErrNoSuchLock.
func HeldAs(cur *LockHolder, id, cluster string) error {
	switch {
	case cur == nil:
		return fmt.Errorf("%w %q on cluster %q: the apply lock is free, nothing to unlock", ErrNoSuchLock, id, cluster)
	case cur.ID != id:
		return fmt.Errorf("%w %q on cluster %q: the lock is held under lock ID %s by %s; check the ID", ErrNoSuchLock, id, cluster, cur.ID, cur.Holder)
	}
	return nil
}

// Describe is the holder as `unlock` shows it before asking: ID, holder, times in UTC and what
// this machine can tell of its process (live, from Liveness).
func (h LockHolder) Describe(cluster string, live Liveness) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Apply lock on cluster %q:\n  ID:      %s\n  Holder:  %s\n  Since:   %s\n  Expires: %s\n",
		cluster, h.ID, h.Holder, h.Since.UTC().Format(time.RFC3339), h.Expires.UTC().Format(time.RFC3339))
	switch live {
	case LivenessRunning:
		fmt.Fprintf(&b, "  Process: pid %d is running on this machine\n", h.PID)
	case LivenessDead:
		fmt.Fprintf(&b, "  Process: pid %d is no longer running on this machine\n", h.PID)
	default:
		where := "an unknown machine"
		if h.Host != "" {
			where = fmt.Sprintf("host %s", h.Host)
		}
		fmt.Fprintf(&b, "  Process: on %s; whether it still runs cannot be checked from here\n", where)
	}
	return b.String()
}
