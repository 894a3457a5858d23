package session

import (
	"fmt"
	"strings"

	"github.com/avatar-project/avatar-sync/spec"
)

// PinAdvice is the note that tells the user the line pinning an unpinned bootstrap: target to the
// cluster plan or apply just read (issue 21), or "" when there is nothing to say. Without a
// clusterId, whatever cluster answers at those addresses is planned against: a restarted `dev up`
// with fresh state, or another cluster on the same ports, is a different, empty cluster, and the
// plan silently starts over. The embedded target (no bootstrap:) and a target already pinned get
// nothing; so does a plan that read no id (the brokers did not answer).
func PinAdvice(sp *spec.Spec, target, clusterID string) string {
	c, ok := sp.FindCluster(target)
	if !ok || c.Embedded() || c.ClusterID != "" || clusterID == "" {
		return ""
	}
	file := sp.File
	if file == "" {
		file = "the spec"
	}
	return fmt.Sprintf("note: target %q is not pinned: plan and apply act on whatever cluster answers at %s. "+
		"To refuse any other cluster there, add this line to clusters.%s in %s:\n    clusterId: %s\n",
		target, strings.Join(c.Bootstrap, ","), target, file, clusterID)
}
