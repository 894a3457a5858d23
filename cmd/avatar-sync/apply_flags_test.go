package main

import (
	"strings"
	"testing"
)

// TestApplyAndWatchShareTheirOptIns: the opt-ins apply and watch both have are bound by one piece
// of code, so their help says the same, and watch's --allow-delete no longer claims to delete
// unmanaged topics, the opposite of the invariant (issue 20).
func TestApplyAndWatchShareTheirOptIns(t *testing.T) {
	usage := func(cmd, flag string) string {
		t.Helper()
		code, out, errOut := runCLI(t, cmd, "--help")
		if code != exitOK {
			t.Fatalf("%s --help: exit %d: %s", cmd, code, errOut)
		}
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == "--"+flag {
				return strings.Join(f[1:], " ")
			}
		}
		t.Fatalf("%s --help has no --%s:\n%s", cmd, flag, out)
		return ""
	}
	for _, flag := range []string{"allow-data-loss", "allow-delete", "force", "lock-timeout", "force-conflicts", "allow-replace", "wait-timeout"} {
		if a, w := usage("apply", flag), usage("watch", flag); a != w {
			t.Errorf("--%s: apply says %q, watch says %q", flag, a, w)
		}
	}
	del := usage("watch", "allow-delete")
	if strings.Contains(del, "deleting unmanaged") || !strings.Contains(del, "unmanaged ones are never deleted") {
		t.Errorf("watch --allow-delete: %q", del)
	}
}
