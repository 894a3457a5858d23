package plans

import (
	"github.com/avatar-project/avatar-sync/spec"
	"github.com/avatar-project/avatar-sync/topics"
)

// Live is the state of a cluster as read in one batched Describe (reconcile's Cluster returns it):
// what a plan is computed against. It is plan data: the kind table's risk and landed columns read it.
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

// LiveCredential is a SCRAM credential as Kafka describes it: no password, no salt.
type LiveCredential struct {
	User       string `json:"user"`
	Mechanism  string `json:"mechanism"`
	Iterations int    `json:"iterations"`
}

// LiveQuota is one quota entity as read live.
type LiveQuota struct {
	User     string             `json:"user,omitempty"`
	ClientID string             `json:"clientId,omitempty"`
	Values   map[string]float64 `json:"values"`
}

// Entity names the quota's entity the way spec.Quota does.
func (q LiveQuota) Entity() string {
	return spec.Quota{User: q.User, ClientID: q.ClientID}.Entity()
}

// LiveAccess is the access control state read in Describe.
type LiveAccess struct {
	// NoAuthorizer is set when the cluster answers ACL requests with "security disabled": it has
	// no authorizer, so ACLs cannot be stored, let alone enforced.
	NoAuthorizer bool `json:"noAuthorizer,omitempty"`
	// Unreadable says why the access state could not be read (avatar-sync's user lacks Describe
	// on the cluster); "" when it was read. Plans that manage access refuse to guess.
	Unreadable  string           `json:"unreadable,omitempty"`
	ACLs        []spec.ACLRule   `json:"acls,omitempty"`
	Credentials []LiveCredential `json:"credentials,omitempty"`
	Quotas      []LiveQuota      `json:"quotas,omitempty"`
}
