package plans

import (
	"github.com/avatar-project/avatar-sync/topics"
)

// Live is the state of a cluster as read in one batched Describe.
type Live struct {
	ClusterID  string                     `json:"clusterId"`
	Controller int32                      `json:"controller"`
	Brokers    []topics.Broker            `json:"brokers"`
	Topics     map[string]topics.Observed `json:"topics"`
	// Inventory names the topics avatar-sync manages (created or adopted), as recorded in the
	// cluster itself; `deletion: prune` deletes only these (issue 9). It may name topics that no
	// longer exist.
	Inventory []string `json:"inventory,omitempty"`
	// Access is the cluster's ACLs, SCRAM credentials and quotas (issue 14).
	Access LiveAccess `json:"access"`
}
