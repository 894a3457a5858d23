package reconcile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
	"github.com/avatar-project/avatar-sync/topics"
)

// acl is one live binding, host * unless given.
func acl(principal, perm, op, resource, name, pattern string, host ...string) spec.ACLRule {
	h := "*"
	if len(host) > 0 {
		h = host[0]
	}
	return spec.ACLRule{Principal: principal, Host: h, Resource: resource, Name: name, Pattern: pattern, Operation: op, Permission: perm}
}

// importAccessLive is a cluster whose access control someone else set up: the Avatar services'
// bindings, a prefixed deny from one host, a cluster permission, an allow shadowed by a deny, the
// admin's own user, ACL and quota, a binding on a topic --topics leaves out, a non-User principal,
// a user with both mechanisms, and quotas avatar.yaml can and cannot express.
func importAccessLive() plans.Live {
	l := live(obs("eeg-brainwave-data", 3, 3, nil), obs("prediction-results", 3, 3, nil), obs("drone-commands", 3, 3, nil), obs("legacy", 1, 3, nil))
	l.Inventory = nil
	l.ClusterID = "MkU3OEVBNTcwNTJENDM2Qk"
	l.Brokers = importBrokers
	lit, pre := spec.PatternLiteral, spec.PatternPrefixed
	l.Access = plans.LiveAccess{
		ACLs: []spec.ACLRule{
			acl("User:gui5", "allow", "Write", "topic", "eeg-brainwave-data", lit),
			acl("User:gui5", "allow", "Describe", "topic", "eeg-brainwave-data", lit),
			acl("User:prediction-service", "allow", "Read", "topic", "eeg-brainwave-data", lit),
			acl("User:prediction-service", "allow", "Describe", "topic", "eeg-brainwave-data", lit),
			acl("User:prediction-service", "allow", "Read", "group", "prediction", lit),
			acl("User:prediction-service", "allow", "Write", "topic", "prediction-results", lit),
			acl("User:prediction-service", "allow", "Describe", "topic", "prediction-results", lit),
			acl("User:prediction-service", "allow", "IdempotentWrite", "cluster", spec.ClusterResourceName, lit),
			acl("User:ops", "deny", "Write", "topic", "drone-", pre, "10.0.0.7"),
			acl("User:ops", "deny", "Delete", "topic", "drone-", pre, "10.0.0.7"),
			acl("User:ops", "allow", "Describe", "topic", "*", lit),
			acl("User:ops", "allow", "Read", "topic", "legacy", lit),          // --topics leaves legacy out
			acl("User:gui5", "allow", "Read", "topic", "drone-commands", lit), // shadowed by the deny below
			acl("User:gui5", "deny", "Read", "topic", "drone-commands", lit),
			acl("User:CN=drone-controller,O=avatar-sync", "allow", "Read", "transactionalId", "drone-", pre),
			acl("User:admin", "allow", "All", "cluster", spec.ClusterResourceName, lit),
			acl("Group:ops", "allow", "Read", "topic", "eeg-brainwave-data", lit),
		},
		Credentials: []plans.LiveCredential{
			{User: "admin", Mechanism: spec.MechanismSCRAM256, Iterations: 4096},
			{User: "drone-legacy", Mechanism: spec.MechanismSCRAM256, Iterations: 4096},
			{User: "drone-legacy", Mechanism: spec.MechanismSCRAM512, Iterations: 4096},
			{User: "gui5", Mechanism: spec.MechanismSCRAM512, Iterations: 4096},
			{User: "prediction-service", Mechanism: spec.MechanismSCRAM512, Iterations: 8192},
		},
		Quotas: []plans.LiveQuota{
			{User: "gui5", Values: map[string]float64{plans.QuotaProducerByteRate: 1 << 20}},
			{User: "gui5", ClientID: "gui5-producer", Values: map[string]float64{plans.QuotaConsumerByteRate: 1000001, plans.QuotaRequestPercentage: 25}},
			{ClientID: "eeg-dashboard", Values: map[string]float64{plans.QuotaConsumerByteRate: 5 << 20}},
			{User: "CN=drone-controller,O=avatar-sync", Values: map[string]float64{plans.QuotaProducerByteRate: 64 << 10}},
			{User: "admin", Values: map[string]float64{plans.QuotaRequestPercentage: 100}},
			{User: "nobody", Values: map[string]float64{plans.QuotaProducerByteRate: 1024}},
			{ClientID: "bursty", Values: map[string]float64{plans.QuotaRequestPercentage: 12.5}},
			{ClientID: "churny", Values: map[string]float64{"controller_mutation_rate": 10, plans.QuotaProducerByteRate: 1024}},
		},
	}
	return l
}

// importBrokers are three brokers with their own addresses, so the imported spec validates.
var importBrokers = []topics.Broker{{ID: 1, Host: "kafka-1", Port: 9092}, {ID: 2, Host: "kafka-2", Port: 9093}, {ID: 3, Host: "kafka-3", Port: 9094}}

func importAccessOptions() ImportOptions {
	return ImportOptions{Name: "lab", Source: "target lab of old.yaml", Topics: regexp.MustCompile(`^(eeg|prediction|drone)-`),
		Target: spec.Cluster{Name: "lab", Bootstrap: []string{"kafka-1:9092"}, Security: spec.SecuritySASLPlaintext,
			SASL: &spec.SASL{Mechanism: spec.MechanismSCRAM256, Username: "admin", PasswordEnv: "LAB_ADMIN_PASSWORD"}}}
}

// TestImportAccessGolden pins the users, acls and quotas import writes, comments included
// (rewrite with -update), and checks the file loads and, diffed against the Live it came from,
// plans no access change: only adoptions, and no password is ever read.
func TestImportAccessGolden(t *testing.T) {
	l := importAccessLive()
	got := spec.Encode(Import(l, importAccessOptions()))
	golden := filepath.Join("testdata", "import-access.golden.yaml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./reconcile -run TestImportAccessGolden -update)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-golden +got):\n%s", golden, d)
	}
	s, diags := spec.Parse("avatar.yaml", got)
	if s == nil || len(diags.Errors()) > 0 {
		t.Fatalf("imported spec is invalid: %v\n%s", diags, got)
	}
	for _, u := range s.Users {
		if u.PasswordEnv != "" || u.PasswordFile != "" {
			t.Errorf("user %s got a password reference", u.Name)
		}
		if u.Name == "admin" {
			t.Error("the admin user was imported")
		}
	}
	d := plans.DesiredOf(s)
	d.Access.Admin = "admin"
	noSecrets := func(env, file string) (string, error) { return "", errors.New("no password may be read") }
	if err := FingerprintCredentials(d.Access, l.Inventory, noSecrets, zeroSalt()); err != nil {
		t.Fatal(err)
	}
	if err := uncreatableUsers(s, l, "lab"); err != nil {
		t.Errorf("uncreatableUsers: %v", err)
	}
	p := Diff(d, l, DiffOptions{})
	for _, c := range p.AllChanges() {
		if c.Pending() && c.Kind != plans.KindInventory {
			t.Errorf("the imported spec plans %s (%s)", plans.Headline(c), c.Reason)
		}
	}
}

// TestImportAccessCases: the Live→spec rules one at a time.
func TestImportAccessCases(t *testing.T) {
	opts := importAccessOptions()
	opts.Topics = nil
	tests := map[string]struct {
		access     plans.LiveAccess
		opts       ImportOptions
		users      []string // name/mechanism/iterations
		acls       int
		quotas     []string // entities
		inFile     []string
		notInFile  []string
		noSections bool
	}{
		"no authorizer: acls left out, said so": {
			access:    plans.LiveAccess{NoAuthorizer: true, Credentials: []plans.LiveCredential{{User: "gui5", Mechanism: spec.MechanismSCRAM512, Iterations: 4096}}},
			users:     []string{"gui5/SCRAM-SHA-512/4096"},
			inFile:    []string{"the cluster has no authorizer"},
			notInFile: []string{"\nacls:"},
		},
		"unreadable: nothing of access, said why": {
			access:     plans.LiveAccess{Unreadable: "ACLs: CLUSTER_AUTHORIZATION_FAILED", Credentials: []plans.LiveCredential{{User: "gui5", Mechanism: spec.MechanismSCRAM512, Iterations: 4096}}},
			inFile:     []string{"did not let avatar-sync read them (ACLs: CLUSTER_AUTHORIZATION_FAILED)"},
			noSections: true,
		},
		"nothing on the cluster: no access sections, no note": {
			noSections: true, notInFile: []string{"without any password"},
		},
		"the admin is never imported, whatever it has": {
			access: plans.LiveAccess{Credentials: []plans.LiveCredential{{User: "admin", Mechanism: spec.MechanismSCRAM256, Iterations: 4096}},
				ACLs:   []spec.ACLRule{acl("User:admin", "allow", "Describe", "cluster", spec.ClusterResourceName, spec.PatternLiteral)},
				Quotas: []plans.LiveQuota{{User: "admin", Values: map[string]float64{plans.QuotaRequestPercentage: 50}}}},
			noSections: true,
			inFile:     []string{"admin, the user avatar-sync connects as (the target's sasl.username): its SCRAM-SHA-256 credential, its quota user=admin, its ACLs (1)"},
		},
		"an mTLS target: its certificate's subject is the admin, never imported": {
			access: plans.LiveAccess{
				ACLs: []spec.ACLRule{acl("User:CN=avatar-sync,O=avatar-sync", "allow", "Alter", "cluster", spec.ClusterResourceName, spec.PatternLiteral),
					acl("User:CN=gui5,O=avatar-sync", "allow", "Describe", "topic", "eeg", spec.PatternLiteral)},
				Quotas: []plans.LiveQuota{{User: "CN=avatar-sync,O=avatar-sync", Values: map[string]float64{plans.QuotaRequestPercentage: 50}}}},
			opts: ImportOptions{Name: "lab", CertSubject: "CN=avatar-sync,O=avatar-sync", Target: spec.Cluster{Name: "lab",
				Bootstrap: []string{"b:9192"}, Security: spec.SecuritySSL, CertFile: "client.crt", KeyFile: "client.key"}},
			acls:      1,
			inFile:    []string{"CN=avatar-sync,O=avatar-sync, the user avatar-sync connects as (the subject of the target's certFile)", "its quota user=CN=avatar-sync,O=avatar-sync, its ACLs (1)", "principal: User:CN=gui5,O=avatar-sync"},
			notInFile: []string{"principal: User:CN=avatar-sync"},
		},
		"without a SASL target the admin is unknown, so admin is a user like any": {
			access: plans.LiveAccess{Credentials: []plans.LiveCredential{{User: "admin", Mechanism: spec.MechanismSCRAM256, Iterations: 4096}}},
			opts:   ImportOptions{Name: "lab", Target: spec.Cluster{Name: "lab", Bootstrap: []string{"b:9092"}}},
			users:  []string{"admin/SCRAM-SHA-256/4096"},
		},
		"iterations kept as they are": {
			access: plans.LiveAccess{Credentials: []plans.LiveCredential{{User: "etl", Mechanism: spec.MechanismSCRAM256, Iterations: 10000}}},
			users:  []string{"etl/SCRAM-SHA-256/10000"},
			inFile: []string{"iterations: 10000"},
		},
		"a literal ACL on an undeclared topic is listed, not declared": {
			access:    plans.LiveAccess{ACLs: []spec.ACLRule{acl("User:ops", "allow", "Read", "topic", "gone", spec.PatternLiteral)}},
			inFile:    []string{"User:ops allow Read on topic gone", "before turning on deletion: prune"},
			notInFile: []string{"\nacls:"},
		},
		"quota byte rates in human units": {
			access: plans.LiveAccess{Quotas: []plans.LiveQuota{{ClientID: "eeg", Values: map[string]float64{plans.QuotaProducerByteRate: 2 << 20, plans.QuotaConsumerByteRate: 1e6}}}},
			quotas: []string{"client-id=eeg"},
			inFile: []string{"producerByteRate: 2MiB", "consumerByteRate: 1MB"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l := live(obs("eeg", 1, 3, nil))
			l.Brokers = importBrokers
			l.Access = tc.access
			o := opts
			if tc.opts.Name != "" {
				o = tc.opts
			}
			doc := Import(l, o)
			var users, quotas []string
			for _, u := range doc.Spec.Users {
				users = append(users, u.Name+"/"+u.Mechanism+"/"+strconv.Itoa(u.Iterations))
			}
			for _, q := range doc.Spec.Quotas {
				quotas = append(quotas, q.Entity())
			}
			if diff := cmp.Diff(tc.users, users); diff != "" {
				t.Errorf("users (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.quotas, quotas); diff != "" {
				t.Errorf("quotas (-want +got):\n%s", diff)
			}
			if len(doc.Spec.ACLs) != tc.acls {
				t.Errorf("%d acls entries, want %d", len(doc.Spec.ACLs), tc.acls)
			}
			text := string(spec.Encode(doc))
			for _, w := range tc.inFile {
				if !strings.Contains(text, w) {
					t.Errorf("the file lacks %q:\n%s", w, text)
				}
			}
			for _, w := range tc.notInFile {
				if strings.Contains(text, w) {
					t.Errorf("the file has %q:\n%s", w, text)
				}
			}
			if tc.noSections && len(doc.Spec.Users)+len(doc.Spec.ACLs)+len(doc.Spec.Quotas) > 0 {
				t.Errorf("access imported: %+v %+v %+v", doc.Spec.Users, doc.Spec.ACLs, doc.Spec.Quotas)
			}
			if s, diags := spec.Parse("avatar.yaml", []byte(text)); s == nil || len(diags.Errors()) > 0 {
				t.Errorf("invalid: %v\n%s", diags, text)
			}
		})
	}
}

// TestRecogniseServices: a user's allow bindings become a services: entry only when they are
// exactly a role's minimal ACL set; anything more, less or different stays raw acls.
func TestRecogniseServices(t *testing.T) {
	lit := spec.PatternLiteral
	users := []spec.User{{Name: "gui5", Mechanism: spec.MechanismSCRAM512}, {Name: "Drone", Mechanism: spec.MechanismSCRAM512}}
	topicNames := map[string]bool{"eeg": true, "cmds": true}
	producer := []spec.ACLRule{acl("User:gui5", "allow", "Write", "topic", "eeg", lit), acl("User:gui5", "allow", "Describe", "topic", "eeg", lit)}
	tests := map[string]struct {
		rules    []spec.ACLRule
		services []string // name: produces / consumes / groups / idempotent
		rest     int
	}{
		"exact producer": {rules: producer, services: []string{"gui5: [eeg] [] [] false"}},
		"producer and consumer with a group, idempotent": {rules: append(slices.Clone(producer),
			acl("User:gui5", "allow", "Read", "topic", "cmds", lit), acl("User:gui5", "allow", "Describe", "topic", "cmds", lit),
			acl("User:gui5", "allow", "Read", "group", "g", lit), acl("User:gui5", "allow", "IdempotentWrite", "cluster", spec.ClusterResourceName, lit)),
			services: []string{"gui5: [eeg] [cmds] [g] true"}},
		"a deny beside the role stays raw, the role is recognised": {rules: append(slices.Clone(producer), acl("User:gui5", "deny", "Write", "topic", "cmds", lit)),
			services: []string{"gui5: [eeg] [] [] false"}, rest: 1},
		"Write without Describe": {rules: producer[:1], rest: 1},
		"Describe alone":         {rules: producer[1:], rest: 1},
		"an extra operation":     {rules: append(slices.Clone(producer), acl("User:gui5", "allow", "Alter", "topic", "eeg", lit)), rest: 3},
		"a consumer without a group": {rules: []spec.ACLRule{acl("User:gui5", "allow", "Read", "topic", "eeg", lit), acl("User:gui5", "allow", "Describe", "topic", "eeg", lit)},
			rest: 2},
		"from one host only":                      {rules: []spec.ACLRule{acl("User:gui5", "allow", "Write", "topic", "eeg", lit, "10.0.0.1"), acl("User:gui5", "allow", "Describe", "topic", "eeg", lit, "10.0.0.1")}, rest: 2},
		"a user name that is no DNS label":        {rules: []spec.ACLRule{acl("User:Drone", "allow", "Write", "topic", "eeg", lit), acl("User:Drone", "allow", "Describe", "topic", "eeg", lit)}, rest: 2},
		"a principal that is not a declared user": {rules: []spec.ACLRule{acl("User:ops", "allow", "Write", "topic", "eeg", lit), acl("User:ops", "allow", "Describe", "topic", "eeg", lit)}, rest: 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			svcs, rest := recogniseServices(tc.rules, users, topicNames)
			var got []string
			for _, s := range svcs {
				got = append(got, fmt.Sprintf("%s: %v %v %v %v", s.Name, s.Produces, s.Consumes, s.Groups, s.IdempotentWrite))
			}
			if diff := cmp.Diff(tc.services, got); diff != "" {
				t.Errorf("services (-want +got):\n%s", diff)
			}
			if len(rest) != tc.rest {
				t.Errorf("%d raw bindings left, want %d: %v", len(rest), tc.rest, rest)
			}
		})
	}
}
