package report

import (
	"fmt"

	"github.com/avatar-project/avatar-sync/health"
)

// ProbeLeftBehind says what an interrupted verify left behind in the cluster: its probe group, or
// nothing.
func ProbeLeftBehind(r health.ProbeReport) string {
	switch {
	case !r.GroupDeleted:
		return fmt.Sprintf("its probe group %s could not be deleted (see above)", r.Group)
	case r.Group != "":
		return fmt.Sprintf("its probe group %s was deleted", r.Group)
	}
	return "nothing was left behind"
}
