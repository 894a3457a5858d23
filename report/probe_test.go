package report

import (
	"testing"

	"github.com/avatar-project/avatar-sync/health"
)

func TestProbeLeftBehind(t *testing.T) {
	for _, tc := range []struct {
		r    health.ProbeReport
		want string
	}{
		{health.ProbeReport{GroupDeleted: true}, "nothing was left behind"},
		{health.ProbeReport{Group: "avatar-sync-verify-lab-1a2b", GroupDeleted: true}, "its probe group avatar-sync-verify-lab-1a2b was deleted"},
		{health.ProbeReport{Group: "avatar-sync-verify-lab-1a2b"}, "its probe group avatar-sync-verify-lab-1a2b could not be deleted (see above)"},
	} {
		if got := ProbeLeftBehind(tc.r); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.r, got, tc.want)
		}
	}
}
