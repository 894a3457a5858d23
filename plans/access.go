package plans

import (
	"maps"
	"slices"
	"sort"

	"github.com/avatar-project/avatar-sync/spec"
)

// ACLPayload is one ACL binding to create, or to delete (or, NoOp, an unmanaged one left alone).
type ACLPayload struct {
	spec.ACLRule
}

// Sensitive is how every view shows a password: never the value, never its length.
const Sensitive = "(sensitive)"

// UserPayload is one SCRAM credential. It holds no password: Fingerprint is the salted hash of the
// planned one, and PasswordEnv/PasswordFile say where apply reads it again.
type UserPayload struct {
	User       string `json:"user"`
	Mechanism  string `json:"mechanism"`
	Iterations int    `json:"iterations,omitempty"`
	// Fingerprint is "pbkdf2-sha256$<iterations>$<salt>$<hash>" of the planned password (creates
	// and updates only).
	Fingerprint  string `json:"fingerprint,omitempty"`
	PasswordEnv  string `json:"passwordEnv,omitempty"`
	PasswordFile string `json:"passwordFile,omitempty"`
	// Replaces are the fingerprint records this credential supersedes (removed when it is set).
	Replaces []string `json:"replaces,omitempty"`
}

// Quota keys, as Kafka names them.
const (
	QuotaProducerByteRate  = "producer_byte_rate"
	QuotaConsumerByteRate  = "consumer_byte_rate"
	QuotaRequestPercentage = "request_percentage"
)

// QuotaPayload is one quota entity's values before and after (a key only in Before is removed).
type QuotaPayload struct {
	User     string             `json:"user,omitempty"`
	ClientID string             `json:"clientId,omitempty"`
	Before   map[string]float64 `json:"before,omitempty"`
	After    map[string]float64 `json:"after,omitempty"`
}

// DesiredUser is one SCRAM credential of the snapshot: where its password comes from and, once
// the planner has read it, its fingerprint.
type DesiredUser struct {
	Name         string `json:"name"`
	Mechanism    string `json:"mechanism"`
	Iterations   int    `json:"iterations"`
	PasswordEnv  string `json:"passwordEnv,omitempty"`
	PasswordFile string `json:"passwordFile,omitempty"`
	Fingerprint  string `json:"fingerprint,omitempty"`
}

// SetsPassword reports whether the spec references the user's password. A SCRAM user without a
// reference (what `avatar-sync import` writes, issue 15: Kafka never returns a password) is managed
// only in that it exists with its mechanism and iterations; avatar-sync never sets, compares or
// fingerprints its password, and cannot create it.
func (u DesiredUser) SetsPassword() bool { return u.PasswordEnv != "" || u.PasswordFile != "" }

// DesiredQuota is one quota entity of the snapshot.
type DesiredQuota struct {
	User     string             `json:"user,omitempty"`
	ClientID string             `json:"clientId,omitempty"`
	Values   map[string]float64 `json:"values"`
}

// DesiredAccess is the access part of the snapshot a plan is computed from.
type DesiredAccess struct {
	// Principals are every principal the spec names; each is recorded as managed.
	Principals []string       `json:"principals"`
	ACLs       []spec.ACLRule `json:"acls,omitempty"`
	Users      []DesiredUser  `json:"users,omitempty"`
	Quotas     []DesiredQuota `json:"quotas,omitempty"`
	// Admin is the user avatar-sync connects as: its credential is never deleted or replaced by a
	// plan, whatever the spec says, so an apply cannot lock avatar-sync out.
	Admin string `json:"admin,omitempty"`
}

// DesiredAccessOf snapshots the access part of a validated spec; nil when it declares none.
// Fingerprints are filled by the planner (reconcile's Planner.fingerprint), which reads the passwords.
func DesiredAccessOf(s *spec.Spec, admin string) *DesiredAccess {
	if len(s.Users)+len(s.Services)+len(s.ACLs)+len(s.Quotas) == 0 {
		return nil
	}
	d := &DesiredAccess{Admin: admin}
	principals := map[string]bool{}
	for _, u := range s.Users {
		principals[u.Principal()] = true
		if u.SCRAM() {
			d.Users = append(d.Users, DesiredUser{Name: u.Name, Mechanism: u.Mechanism, Iterations: u.Iterations,
				PasswordEnv: u.PasswordEnv, PasswordFile: u.PasswordFile})
		}
	}
	for _, r := range spec.ExpandACLs(s) {
		d.ACLs = append(d.ACLs, r.ACLRule)
		principals[r.Principal] = true
	}
	for _, q := range s.Quotas {
		v := map[string]float64{}
		if q.ProducerByteRate > 0 {
			v[QuotaProducerByteRate] = float64(q.ProducerByteRate)
		}
		if q.ConsumerByteRate > 0 {
			v[QuotaConsumerByteRate] = float64(q.ConsumerByteRate)
		}
		if q.RequestPercentage > 0 {
			v[QuotaRequestPercentage] = float64(q.RequestPercentage)
		}
		d.Quotas = append(d.Quotas, DesiredQuota{User: q.User, ClientID: q.ClientID, Values: v})
	}
	d.Principals = slices.Sorted(maps.Keys(principals))
	sort.Slice(d.Users, func(i, j int) bool { return d.Users[i].Name < d.Users[j].Name })
	sort.Slice(d.Quotas, func(i, j int) bool {
		return QuotaEntity(d.Quotas[i].User, d.Quotas[i].ClientID) < QuotaEntity(d.Quotas[j].User, d.Quotas[j].ClientID)
	})
	return d
}

// QuotaEntity names a quota by its user and client id, as plans and the cluster name it.
func QuotaEntity(user, clientID string) string {
	return spec.Quota{User: user, ClientID: clientID}.Entity()
}

// Fingerprint records in the inventory: "scram:<mechanism>:<fingerprint>:<user>". Neither the
// mechanism nor the fingerprint holds ':', so the user name (which may) is everything after.
// ScramRecordPrefix starts every such record.
const ScramRecordPrefix = "scram:"

// ScramRecord is the inventory record of a user's credential fingerprint.
func ScramRecord(user, mechanism, fp string) string {
	return ScramRecordPrefix + mechanism + ":" + fp + ":" + user
}

// aclLanded reports whether the live state shows an ACL change (for settle): the binding is there,
// or gone for a delete.
func aclLanded(c Change, live Live) bool {
	return slices.Contains(live.Access.ACLs, c.ACL.ACLRule) == (c.Action != Delete)
}

// userLanded reports whether the live state shows a credential change: gone for a delete, else
// present with the planned fingerprint's record in the inventory.
func userLanded(c Change, live Live) bool {
	found := slices.ContainsFunc(live.Access.Credentials, func(lc LiveCredential) bool {
		return lc.User == c.User.User && lc.Mechanism == c.User.Mechanism
	})
	if c.Action == Delete {
		return !found
	}
	return found && slices.Contains(live.Inventory, ScramRecord(c.User.User, c.User.Mechanism, c.User.Fingerprint))
}

// quotaLanded reports whether the live state shows a quota change: gone for a delete, else the
// entity's values are the planned ones.
func quotaLanded(c Change, live Live) bool {
	i := slices.IndexFunc(live.Access.Quotas, func(q LiveQuota) bool { return q.User == c.Quota.User && q.ClientID == c.Quota.ClientID })
	if c.Action == Delete {
		return i < 0
	}
	return i >= 0 && maps.Equal(live.Access.Quotas[i].Values, c.Quota.After)
}
