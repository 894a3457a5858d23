package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestExpandACLs pins each role's minimal ACL set (issue 14): a producer gets Write+Describe, a
// consumer Read+Describe and Read on its groups, idempotentWrite the cluster permission, and raw
// entries one rule per operation with their pattern, permission and host.
func TestExpandACLs(t *testing.T) {
	users := []User{{Name: "gui5", Mechanism: MechanismSCRAM512}, {Name: "CN=drone", Mechanism: MechanismMTLS}}
	tests := map[string]struct {
		services []Service
		acls     []ACL
		want     []string
	}{
		"producer": {
			services: []Service{{Name: "gui5", User: "gui5", Produces: []string{"eeg"}}},
			want:     []string{"User:gui5 allow Describe on topic eeg", "User:gui5 allow Write on topic eeg"},
		},
		"consumer with a group": {
			services: []Service{{Name: "drone", User: "CN=drone", Consumes: []string{"predictions"}, Groups: []string{"drone"}}},
			want: []string{"User:CN=drone allow Read on group drone", "User:CN=drone allow Describe on topic predictions",
				"User:CN=drone allow Read on topic predictions"},
		},
		"both roles on one topic share Describe": {
			services: []Service{{Name: "echo", User: "gui5", Produces: []string{"t"}, Consumes: []string{"t"}, Groups: []string{"g"}}},
			want: []string{"User:gui5 allow Read on group g", "User:gui5 allow Describe on topic t", "User:gui5 allow Read on topic t",
				"User:gui5 allow Write on topic t"},
		},
		"idempotent write for old brokers": {
			services: []Service{{Name: "gui5", User: "gui5", Produces: []string{"eeg"}, IdempotentWrite: true}},
			want: []string{"User:gui5 allow IdempotentWrite on cluster kafka-cluster", "User:gui5 allow Describe on topic eeg",
				"User:gui5 allow Write on topic eeg"},
		},
		"raw prefixed deny from one host": {
			acls: []ACL{{Principal: "User:ops", Resource: ResourceTopic, Name: "drone-", Pattern: PatternPrefixed,
				Operations: []string{"Write", "Delete"}, Permission: PermissionDeny, Host: "10.0.0.7"}},
			want: []string{"User:ops deny Delete on topic drone-* from 10.0.0.7", "User:ops deny Write on topic drone-* from 10.0.0.7"},
		},
		"raw cluster entry defaults its name": {
			acls: []ACL{{Principal: "User:ops", Resource: ResourceCluster, Operations: []string{"Describe"}}},
			want: []string{"User:ops allow Describe on cluster kafka-cluster"},
		},
		"nothing declared": {},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, r := range ExpandACLs(&Spec{Users: users, Services: tc.services, ACLs: tc.acls}) {
				got = append(got, r.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ExpandACLs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestExampleServiceACLs is the exact ACL set the example's three Avatar services get (issue 14's
// golden file): nothing more, so each service can do its job and nothing else.
func TestExampleServiceACLs(t *testing.T) {
	s, diags := LoadFile(filepath.Join("..", "examples", "avatar.yaml"))
	if len(diags.Errors()) > 0 {
		t.Fatal(diags)
	}
	var b strings.Builder
	for _, r := range ExpandACLs(s) {
		b.WriteString(r.String() + "\t(" + r.From + ")\n")
	}
	golden := filepath.Join("testdata", "access", "example-acls.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("example ACLs (-golden +got):\n%s", diff)
	}
}

// TestAccessValid accepts a SCRAM spec that refers to everything it names, with a sasl_plaintext
// embedded target, and resolves a user's passwordFile relative to the spec like every other path.
func TestAccessValid(t *testing.T) {
	data := `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: lab }
brokers: [ { id: 1, host: b1, ports: { plaintext: 9092 } } ]
topics: [ { name: eeg, partitions: 1, replicationFactor: 1 } ]
users:
  - { name: gui5, mechanism: SCRAM-SHA-512, passwordFile: secrets/gui5 }
  - { name: admin, mechanism: SCRAM-SHA-256, passwordEnv: ADMIN_PASSWORD }
services: [ { name: gui5, user: gui5, produces: [eeg] } ]
acls: [ { principal: User:ops, resource: topic, name: eeg-, pattern: prefixed, operations: [Describe] } ]
quotas: [ { user: gui5, clientId: gui5-producer, producerByteRate: 1MiB, requestPercentage: 25 } ]
clusters:
  embedded: { security: sasl_plaintext, sasl: { mechanism: SCRAM-SHA-256, username: admin, passwordEnv: ADMIN_PASSWORD } }
`
	s, diags := Parse(filepath.Join("lab", "avatar.yaml"), []byte(data))
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if got, want := s.Users[0].PasswordFile, filepath.Join("lab", "secrets", "gui5"); got != want {
		t.Errorf("passwordFile = %q, want %q", got, want)
	}
	if s.Users[0].Iterations != DefaultSCRAMIterations {
		t.Errorf("iterations = %d, want the default %d", s.Users[0].Iterations, DefaultSCRAMIterations)
	}
	q := s.Quotas[0]
	if q.Entity() != "user=gui5,client-id=gui5-producer" || q.ProducerByteRate != 1<<20 || q.RequestPercentage != 25 {
		t.Errorf("quota = %+v (%s)", q, q.Entity())
	}
}

// TestAccessRenderedWithoutSuperUser: tls.internal makes rendered brokers enforce the ACLs; a spec
// that gives avatar-sync no super user there is warned before apply would be denied.
func TestAccessRenderedWithoutSuperUser(t *testing.T) {
	s := &Spec{
		Brokers: []Broker{{ID: 1, Host: "b1", Ports: BrokerPorts{SSL: 9192}}},
		TLS:     TLS{Enabled: true, Internal: true, KeystoreType: KeystorePEM},
		Topics:  []Topic{{Name: "eeg", Partitions: 1, ReplicationFactor: 1}},
		Users:   []User{{Name: "CN=gui5,O=avatar-sync", Mechanism: MechanismMTLS}},
	}
	warned := func() bool {
		for _, d := range Validate(s) {
			if strings.Contains(d.Message, "no principal of avatar-sync's is a super user") {
				return true
			}
		}
		return false
	}
	if !warned() {
		t.Error("no warning without a super user")
	}
	s.Kafka.SuperUsers = []string{"User:CN=avatar-sync,O=avatar-sync"}
	if warned() {
		t.Error("warned although kafka.superUsers names avatar-sync")
	}
}

// TestSCRAMUserWithoutReference: a SCRAM user without passwordEnv/passwordFile is valid — its
// password is managed elsewhere and avatar-sync only checks that it exists (issue 15, what import
// writes) — while both references at once, or a reference on an mtls principal, stay errors.
func TestSCRAMUserWithoutReference(t *testing.T) {
	base := func(u User) *Spec {
		return &Spec{APIVersion: APIVersion, Kind: Kind, Metadata: Metadata{Name: "lab"},
			Brokers: []Broker{{ID: 1, Host: "b1", Ports: BrokerPorts{Plaintext: 9092}}}, Users: []User{u}}
	}
	tests := map[string]struct {
		user User
		want string // "" = valid
	}{
		"scram without reference": {user: User{Name: "legacy", Mechanism: MechanismSCRAM512, Iterations: 8192}},
		"scram with env":          {user: User{Name: "gui5", Mechanism: MechanismSCRAM256, PasswordEnv: "GUI5", Iterations: 4096}},
		"both references":         {user: User{Name: "x", Mechanism: MechanismSCRAM256, PasswordEnv: "X", PasswordFile: "x", Iterations: 4096}, want: "both set"},
		"mtls with a password":    {user: User{Name: "CN=x", Mechanism: MechanismMTLS, PasswordEnv: "X"}, want: "has no password"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, d := range Validate(base(tc.user)).Errors() {
				got = append(got, d.Message)
			}
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("errors %v, want none", got)
			case tc.want != "" && !strings.Contains(strings.Join(got, "\n"), tc.want):
				t.Errorf("errors %v, want one with %q", got, tc.want)
			}
		})
	}
}
