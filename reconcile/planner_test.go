package reconcile

import (
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

// TestUnenforcedAccess: a plan against an embedded target without SASL says that the users and
// ACLs it creates are not enforced there (issue 14); targets that enforce, or specs without access
// control, get no such advisory.
func TestUnenforcedAccess(t *testing.T) {
	services := []spec.Service{{Name: "gui5", User: "gui5", Produces: []string{"eeg"}}}
	saslAdmin := &spec.SASL{Mechanism: "SCRAM-SHA-256", Username: "admin", PasswordEnv: "ADMIN_PW"}
	tests := map[string]struct {
		spec   spec.Spec
		target string
		want   bool
	}{
		"embedded without SASL, services":   {spec.Spec{Services: services}, spec.EmbeddedCluster, true},
		"embedded without SASL, acls only":  {spec.Spec{ACLs: []spec.ACL{{Principal: "User:ops"}}}, spec.EmbeddedCluster, true},
		"embedded without SASL, users only": {spec.Spec{Users: []spec.User{{Name: "gui5", Mechanism: "SCRAM-SHA-512"}}}, spec.EmbeddedCluster, true},
		"embedded without access control":   {spec.Spec{}, spec.EmbeddedCluster, false},
		"embedded with SASL": {spec.Spec{Services: services, Clusters: []spec.Cluster{
			{Name: "laptop", Security: spec.SecuritySASLPlaintext, SASL: saslAdmin}}}, "laptop", false},
		"a cluster elsewhere": {spec.Spec{Services: services, Clusters: []spec.Cluster{
			{Name: "lab", Bootstrap: []string{"kafka-1:9092"}}}}, "lab", false},
		"unknown target": {spec.Spec{Services: services}, "nowhere", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, got := UnenforcedAccess(&tc.spec, tc.target)
			if got != tc.want {
				t.Fatalf("advisory %v (%+v), want %v", got, a, tc.want)
			}
			if got && (a.Subject != "access" || a.Status != "not enforced") {
				t.Errorf("advisory %+v", a)
			}
		})
	}
}
