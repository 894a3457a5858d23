package spec

// Access control as code (issue 14): who may connect (users), what the Avatar services may do
// (services, expanded into the minimal ACL set by ExpandACLs), anything else (acls) and how much
// they may send and fetch (quotas).

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// User mechanisms. SCRAM users get a credential on the cluster; an mTLS user is only a principal
// (the subject of a client certificate, as Kafka's default principal builder names it).
const (
	MechanismSCRAM256 = "SCRAM-SHA-256"
	MechanismSCRAM512 = "SCRAM-SHA-512"
	MechanismMTLS     = "mtls"
)

// User is one principal the cluster knows.
type User struct {
	// Name is the SCRAM user name, or for mtls the certificate subject ("CN=drone-controller").
	Name      string `yaml:"name"`
	Mechanism string `yaml:"mechanism"`
	// PasswordEnv / PasswordFile reference a SCRAM user's password; it is never written inline.
	PasswordEnv  string `yaml:"passwordEnv"`
	PasswordFile string `yaml:"passwordFile"`
	// Iterations is the SCRAM iteration count (default DefaultSCRAMIterations).
	Iterations int `yaml:"iterations"`
	Pos        Pos `yaml:"-"`
}

// DefaultSCRAMIterations is Kafka's own default and minimum (kafka-configs --add-config SCRAM-SHA-256=[password=...]).
const DefaultSCRAMIterations = 4096

// Principal is the user's Kafka principal, "User:<name>", as ACLs and quotas name it.
func (u User) Principal() string { return "User:" + u.Name }

// SCRAM reports whether the user has a password credential on the cluster.
func (u User) SCRAM() bool {
	return u.Mechanism == MechanismSCRAM256 || u.Mechanism == MechanismSCRAM512
}

// Service is one Avatar component by role. Its roles expand into the minimal ACL set (ExpandACLs).
type Service struct {
	Name string `yaml:"name"`
	// User names the users entry the service authenticates as.
	User     string   `yaml:"user"`
	Produces []string `yaml:"produces"`
	Consumes []string `yaml:"consumes"`
	// Groups are the consumer groups the service consumes in.
	Groups []string `yaml:"groups"`
	// IdempotentWrite grants IdempotentWrite on the cluster. Kafka 3.0+ (KIP-679) lets a producer with
	// Write on any topic initialise an idempotent producer without it; brokers before 3.0 need it.
	IdempotentWrite bool `yaml:"idempotentWrite"`
	Pos             Pos  `yaml:"-"`
}

// ACL resource types, pattern types and permissions as avatar.yaml writes them.
const (
	ResourceTopic           = "topic"
	ResourceGroup           = "group"
	ResourceCluster         = "cluster"
	ResourceTransactionalID = "transactionalId"

	PatternLiteral  = "literal"
	PatternPrefixed = "prefixed"

	PermissionAllow = "allow"
	PermissionDeny  = "deny"

	// ClusterResourceName is the only name of Kafka's cluster resource.
	ClusterResourceName = "kafka-cluster"
)

// ACLOperations are the operations an ACL may name, as Kafka spells them.
var ACLOperations = []string{"All", "Read", "Write", "Create", "Delete", "Alter", "Describe", "ClusterAction",
	"DescribeConfigs", "AlterConfigs", "IdempotentWrite"}

// ACL is one raw `acls:` entry: one principal, one resource pattern, one or more operations.
type ACL struct {
	Principal  string   `yaml:"principal"`
	Resource   string   `yaml:"resource"`
	Name       string   `yaml:"name"`
	Pattern    string   `yaml:"pattern"`
	Operations []string `yaml:"operations"`
	Permission string   `yaml:"permission"`
	Host       string   `yaml:"host"`
	Pos        Pos      `yaml:"-"`
}

// Quota limits one user, one client id, or one client id of one user.
type Quota struct {
	User     string `yaml:"user"`
	ClientID string `yaml:"clientId"`
	// ProducerByteRate and ConsumerByteRate are bytes per second (0 = no limit).
	ProducerByteRate int64 `yaml:"producerByteRate"`
	ConsumerByteRate int64 `yaml:"consumerByteRate"`
	// RequestPercentage is the share of one request-handler thread, in percent (0 = no limit).
	RequestPercentage int `yaml:"requestPercentage"`
	Pos               Pos `yaml:"-"`
}

// Entity names the quota's Kafka entity: "user=gui5", "client-id=eeg", "user=gui5,client-id=eeg".
func (q Quota) Entity() string {
	var parts []string
	if q.User != "" {
		parts = append(parts, "user="+q.User)
	}
	if q.ClientID != "" {
		parts = append(parts, "client-id="+q.ClientID)
	}
	return strings.Join(parts, ",")
}

// ACLRule is one expanded ACL binding: exactly what Kafka stores.
type ACLRule struct {
	Principal  string `json:"principal"`
	Host       string `json:"host"`
	Resource   string `json:"resource"`
	Name       string `json:"name"`
	Pattern    string `json:"pattern"`
	Operation  string `json:"operation"`
	Permission string `json:"permission"`
}

// String is the rule in one line, which is also its identity in plans:
// "User:gui5 allow Write on topic eeg-brainwave-data".
func (r ACLRule) String() string {
	s := fmt.Sprintf("%s %s %s on %s %s", r.Principal, r.Permission, r.Operation, r.Resource, r.Name)
	if r.Pattern == PatternPrefixed {
		s += "*"
	}
	if r.Host != "*" {
		s += " from " + r.Host
	}
	return s
}

// grant is what a rule grants, without its permission: an allow and a deny of one grant contradict.
func (r ACLRule) grant() ACLRule { r.Permission = ""; return r }

// SourcedRule is an expanded rule with the spec path it came from, for messages.
type SourcedRule struct {
	ACLRule
	From string // "services[0]" or "acls[2]"
}

// ExpandACLs turns services' roles and the raw acls into ACL rules, sorted and without duplicates.
// It is pure and exactly the minimal set (issue 14):
//
//   - a producer gets Write and Describe on each topic it produces;
//   - a consumer gets Read and Describe on each topic it consumes and Read on each of its groups;
//   - idempotentWrite adds IdempotentWrite on the cluster;
//   - each raw acl gives one rule per operation.
//
// Rules keep the first origin that asked for them; duplicates are Validate's to report.
func ExpandACLs(s *Spec) []SourcedRule {
	principals := map[string]string{}
	for _, u := range s.Users {
		principals[u.Name] = u.Principal()
	}
	var out []SourcedRule
	add := func(from, principal, resource, name, pattern, op, perm, host string) {
		out = append(out, SourcedRule{ACLRule: ACLRule{Principal: principal, Host: host, Resource: resource, Name: name,
			Pattern: pattern, Operation: op, Permission: perm}, From: from})
	}
	for i, svc := range s.Services {
		from := fmt.Sprintf("services[%d]", i)
		p, ok := principals[svc.User]
		if !ok {
			p = "User:" + svc.User
		}
		for _, t := range svc.Produces {
			add(from, p, ResourceTopic, t, PatternLiteral, "Write", PermissionAllow, "*")
			add(from, p, ResourceTopic, t, PatternLiteral, "Describe", PermissionAllow, "*")
		}
		for _, t := range svc.Consumes {
			add(from, p, ResourceTopic, t, PatternLiteral, "Read", PermissionAllow, "*")
			add(from, p, ResourceTopic, t, PatternLiteral, "Describe", PermissionAllow, "*")
		}
		for _, g := range svc.Groups {
			add(from, p, ResourceGroup, g, PatternLiteral, "Read", PermissionAllow, "*")
		}
		if svc.IdempotentWrite {
			add(from, p, ResourceCluster, ClusterResourceName, PatternLiteral, "IdempotentWrite", PermissionAllow, "*")
		}
	}
	for i, a := range s.ACLs {
		from := fmt.Sprintf("acls[%d]", i)
		for _, op := range a.Operations {
			add(from, a.Principal, a.Resource, a.aclName(), a.patternOrDefault(), op, a.permissionOrDefault(), a.hostOrDefault())
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return ruleLess(out[i].ACLRule, out[j].ACLRule) })
	return slices.CompactFunc(out, func(a, b SourcedRule) bool { return a.ACLRule == b.ACLRule })
}

func ruleLess(a, b ACLRule) bool {
	ka := []string{a.Principal, a.Resource, a.Name, a.Pattern, a.Operation, a.Permission, a.Host}
	kb := []string{b.Principal, b.Resource, b.Name, b.Pattern, b.Operation, b.Permission, b.Host}
	return slices.Compare(ka, kb) < 0
}

func (a ACL) aclName() string {
	if a.Resource == ResourceCluster && a.Name == "" {
		return ClusterResourceName
	}
	return a.Name
}

func (a ACL) patternOrDefault() string {
	if a.Pattern == "" {
		return PatternLiteral
	}
	return a.Pattern
}

func (a ACL) permissionOrDefault() string {
	if a.Permission == "" {
		return PermissionAllow
	}
	return a.Permission
}

func (a ACL) hostOrDefault() string {
	if a.Host == "" {
		return "*"
	}
	return a.Host
}

// SCRAMUser returns the declared SCRAM user named name.
func (s *Spec) SCRAMUser(name string) (User, bool) {
	for _, u := range s.Users {
		if u.Name == name && u.SCRAM() {
			return u, true
		}
	}
	return User{}, false
}

var userObj = &object{
	name: "user",
	doc:  "One principal of the cluster: a SCRAM user whose password avatar-sync sets (referenced, never inline; without a reference the user must exist and its password is managed elsewhere), or an mTLS principal (a client certificate's subject).",
	fields: []field{
		{key: "name", kind: vString, required: true,
			doc: "SCRAM user name, or for mtls the certificate subject as Kafka names it (CN=drone-controller)"},
		{key: "mechanism", kind: vString, required: true, enum: []string{MechanismSCRAM256, MechanismSCRAM512, MechanismMTLS},
			doc: "how the user authenticates"},
		{key: "passwordEnv", kind: vString, doc: "environment variable holding a SCRAM user's password (without passwordEnv/passwordFile avatar-sync never sets the password, and the user must already exist)"},
		{key: "passwordFile", kind: vString, doc: "file holding a SCRAM user's password"},
		{key: "iterations", kind: vInt, min: intBound(4096), def: "4096", doc: "SCRAM iterations (4096 or more)"},
	},
}

var serviceObj = &object{
	name: "service",
	doc:  "One Avatar component by role; its roles expand into the minimal ACL set (docs/access.md).",
	fields: []field{
		{key: "name", kind: vString, required: true, pattern: dnsLabelPattern, doc: "unique name (a DNS label)"},
		{key: "user", kind: vString, required: true, doc: "the users entry the service authenticates as"},
		{key: "produces", kind: vStringList, doc: "topics it writes: Write and Describe on each"},
		{key: "consumes", kind: vStringList, doc: "topics it reads: Read and Describe on each (needs groups)"},
		{key: "groups", kind: vStringList, doc: "consumer groups it reads in: Read on each"},
		{key: "idempotentWrite", kind: vBool, def: "false",
			doc: "grant IdempotentWrite on the cluster (only brokers before Kafka 3.0 need it for idempotent producers)"},
	},
}

var aclObj = &object{
	name: "acl",
	doc:  "One raw ACL entry, for anything the service roles do not cover.",
	fields: []field{
		{key: "principal", kind: vString, required: true, doc: "User:<name> (a users entry, or any principal)"},
		{key: "resource", kind: vString, required: true,
			enum: []string{ResourceTopic, ResourceGroup, ResourceCluster, ResourceTransactionalID}, doc: "resource type"},
		{key: "name", kind: vString, doc: "resource name (the prefix with pattern: prefixed; kafka-cluster for the cluster)"},
		{key: "pattern", kind: vString, def: PatternLiteral, enum: []string{PatternLiteral, PatternPrefixed}, doc: "how name matches"},
		{key: "operations", kind: vStringList, required: true, doc: "operations: " + strings.Join(ACLOperations, ", ")},
		{key: "permission", kind: vString, def: PermissionAllow, enum: []string{PermissionAllow, PermissionDeny}, doc: "allow or deny"},
		{key: "host", kind: vString, def: "*", doc: "client host the entry applies to"},
	},
}

var quotaObj = &object{
	name: "quota",
	doc:  "Client quotas of one user, one client id, or one client id of one user.",
	fields: []field{
		{key: "user", kind: vString, doc: "a users entry's name"},
		{key: "clientId", kind: vString, doc: "client.id the quota applies to"},
		{key: "producerByteRate", kind: vSize, doc: "produce bytes per second, e.g. 1MiB"},
		{key: "consumerByteRate", kind: vSize, doc: "fetch bytes per second, e.g. 5MiB"},
		{key: "requestPercentage", kind: vInt, min: intBound(1), doc: "share of one request-handler thread, in percent"},
	},
}

// access decodes users, services, acls and quotas.
func (d *decoder) access(top *mapping, s *Spec) {
	items, paths := top.list("users")
	for i, item := range items {
		m := d.mapping(item, userObj, paths[i])
		u := User{Pos: d.nodePos(m.node)}
		m.str("name", &u.Name)
		m.str("mechanism", &u.Mechanism)
		m.str("passwordEnv", &u.PasswordEnv)
		m.str("passwordFile", &u.PasswordFile)
		m.int("iterations", &u.Iterations)
		if u.SCRAM() && u.Iterations == 0 {
			u.Iterations = DefaultSCRAMIterations
		}
		s.Users = append(s.Users, u)
	}
	items, paths = top.list("services")
	for i, item := range items {
		m := d.mapping(item, serviceObj, paths[i])
		svc := Service{Pos: d.nodePos(m.node)}
		m.str("name", &svc.Name)
		m.str("user", &svc.User)
		m.strings("produces", &svc.Produces)
		m.strings("consumes", &svc.Consumes)
		m.strings("groups", &svc.Groups)
		m.boolean("idempotentWrite", &svc.IdempotentWrite)
		s.Services = append(s.Services, svc)
	}
	items, paths = top.list("acls")
	for i, item := range items {
		m := d.mapping(item, aclObj, paths[i])
		a := ACL{Pos: d.nodePos(m.node)}
		m.str("principal", &a.Principal)
		m.str("resource", &a.Resource)
		m.str("name", &a.Name)
		m.str("pattern", &a.Pattern)
		m.strings("operations", &a.Operations)
		m.str("permission", &a.Permission)
		m.str("host", &a.Host)
		s.ACLs = append(s.ACLs, a)
	}
	items, paths = top.list("quotas")
	for i, item := range items {
		m := d.mapping(item, quotaObj, paths[i])
		q := Quota{Pos: d.nodePos(m.node)}
		m.str("user", &q.User)
		m.str("clientId", &q.ClientID)
		m.rate("producerByteRate", &q.ProducerByteRate)
		m.rate("consumerByteRate", &q.ConsumerByteRate)
		m.int("requestPercentage", &q.RequestPercentage)
		s.Quotas = append(s.Quotas, q)
	}
}

// access checks users, services, acls and quotas against each other and the topics: every
// reference resolves, nothing is declared twice, no allow contradicts a deny (issue 14).
func (v *validator) access() {
	users := map[string]User{}
	for i, u := range v.s.Users {
		path := fmt.Sprintf("users[%d]", i)
		if _, dup := users[u.Name]; dup && u.Name != "" {
			v.errorf(path+".name", "%s.name %q is declared twice", path, u.Name)
		}
		users[u.Name] = u
		switch {
		case u.SCRAM():
			// A SCRAM user without a reference is valid: avatar-sync then manages that the user
			// exists with this mechanism and leaves its password to whoever set it (issue 15:
			// `import` cannot read passwords back). The planner refuses to create such a user.
			v.passwordRef(path, u.PasswordEnv, u.PasswordFile, false, "the SCRAM credential")
			if u.Iterations != 0 && u.Iterations < 4096 {
				v.errorf(path+".iterations", "%s.iterations %d is below 4096, the least SCRAM allows", path, u.Iterations)
			}
		case u.Mechanism == MechanismMTLS:
			if u.PasswordEnv != "" || u.PasswordFile != "" {
				v.errorf(path, "%s is an mtls principal: it has no password (drop passwordEnv/passwordFile)", path)
			}
			if !strings.Contains(u.Name, "=") {
				v.warnf(path+".name", "%s.name %q does not look like a certificate subject (CN=...); Kafka names an mTLS client by its certificate's subject", path, u.Name)
			}
			if cn, ok := strings.CutPrefix(u.Name, "CN="); ok && slices.Contains(v.s.TLS.Clients, cn) {
				// certs generate issues client certificates with O=avatar-sync; Kafka's principal is
				// the whole subject, so "CN=gui5" would match no client (issue 14).
				v.warnf(path+".name", "%s.name %q: the certificate `certs generate` issues to client %q has the subject %q, which is the principal Kafka sees", path, u.Name, cn, "CN="+cn+",O=avatar-sync")
			}
		}
	}
	topicNames := map[string]bool{}
	for _, t := range v.s.Topics {
		topicNames[t.Name] = true
	}
	topicRef := func(path, name string) {
		if !topicNames[name] {
			v.errorf(path, "%s names topic %q, which is not in topics%s", path, name, didYouMean(name, mapKeys(topicNames)))
		}
	}
	services := map[string]bool{}
	for i, svc := range v.s.Services {
		path := fmt.Sprintf("services[%d]", i)
		if services[svc.Name] {
			v.errorf(path+".name", "%s.name %q is declared twice", path, svc.Name)
		}
		services[svc.Name] = true
		if _, ok := users[svc.User]; !ok && svc.User != "" {
			v.errorf(path+".user", "%s.user %q is not in users%s", path, svc.User, didYouMean(svc.User, mapKeys(users)))
		}
		for j, t := range svc.Produces {
			topicRef(fmt.Sprintf("%s.produces[%d]", path, j), t)
		}
		for j, t := range svc.Consumes {
			topicRef(fmt.Sprintf("%s.consumes[%d]", path, j), t)
		}
		if len(svc.Consumes) > 0 && len(svc.Groups) == 0 {
			v.errorf(path, "%s consumes topics but names no groups; add the consumer group(s) it reads in", path)
		}
		if len(svc.Produces)+len(svc.Consumes)+len(svc.Groups) == 0 && !svc.IdempotentWrite {
			v.errorf(path, "%s has no role: give it produces, consumes or groups", path)
		}
	}
	for i, a := range v.s.ACLs {
		path := fmt.Sprintf("acls[%d]", i)
		if !strings.HasPrefix(a.Principal, "User:") || len(a.Principal) == len("User:") {
			v.errorf(path+".principal", "%s.principal %q must be User:<name>", path, a.Principal)
		}
		if a.Resource != ResourceCluster && a.Name == "" {
			v.errorf(path, "%s needs a name for a %s resource", path, a.Resource)
		}
		if a.Resource == ResourceCluster && a.Name != "" && a.Name != ClusterResourceName {
			v.errorf(path+".name", "%s.name %q: the cluster resource is always %s", path, a.Name, ClusterResourceName)
		}
		if a.Resource == ResourceTopic && a.patternOrDefault() == PatternLiteral && a.Name != "*" && a.Name != "" {
			topicRef(path+".name", a.Name)
		}
		for j, op := range a.Operations {
			if !slices.Contains(ACLOperations, op) {
				v.errorf(fmt.Sprintf("%s.operations[%d]", path, j), "%s.operations[%d] %q is not an ACL operation (%s)%s", path, j, op,
					strings.Join(ACLOperations, ", "), didYouMean(op, ACLOperations))
			}
		}
	}
	v.aclConflicts()
	declared := len(v.s.Users)+len(v.s.Services)+len(v.s.ACLs)+len(v.s.Quotas) > 0
	saslAdmin := v.s.Kafka.SASL != nil || slices.ContainsFunc(v.s.Clusters, func(c Cluster) bool { return c.SASL != nil })
	if declared && v.s.TLS.Enabled && v.s.TLS.Internal && len(v.s.Kafka.SuperUsers) == 0 && !saslAdmin {
		v.warnf("tls.internal", "rendered brokers will enforce the ACLs (tls.internal), but no principal of avatar-sync's is a super user: add its client certificate's subject to kafka.superUsers (User:CN=<client>,O=avatar-sync), or apply will be denied")
	}
	for i, p := range v.s.Kafka.SuperUsers {
		if !strings.HasPrefix(p, "User:") || len(p) == len("User:") {
			path := fmt.Sprintf("kafka.superUsers[%d]", i)
			v.errorf(path, "%s %q must be User:<name>", path, p)
		}
	}
	quotas := map[string]string{}
	for i, q := range v.s.Quotas {
		path := fmt.Sprintf("quotas[%d]", i)
		if q.User == "" && q.ClientID == "" {
			v.errorf(path, "%s needs user, clientId or both", path)
			continue
		}
		if _, ok := users[q.User]; q.User != "" && !ok {
			v.errorf(path+".user", "%s.user %q is not in users%s", path, q.User, didYouMean(q.User, mapKeys(users)))
		}
		if first, dup := quotas[q.Entity()]; dup {
			v.errorf(path, "%s limits %s, as %s already does; merge them", path, q.Entity(), first)
		}
		quotas[q.Entity()] = path
		if q.ProducerByteRate == 0 && q.ConsumerByteRate == 0 && q.RequestPercentage == 0 {
			v.errorf(path, "%s sets no limit: give producerByteRate, consumerByteRate or requestPercentage", path)
		}
	}
}

// aclConflicts reports a rule asked for twice (by two entries, or by an entry and a service role)
// and an allow and a deny of the same grant.
func (v *validator) aclConflicts() {
	seen := map[ACLRule]string{}
	grants := map[ACLRule]SourcedRule{}
	var all []SourcedRule
	for i, svc := range v.s.Services {
		one := &Spec{Users: v.s.Users, Services: []Service{svc}}
		for _, r := range ExpandACLs(one) {
			r.From = fmt.Sprintf("services[%d]", i)
			all = append(all, r)
		}
	}
	for i, a := range v.s.ACLs {
		one := &Spec{ACLs: []ACL{a}}
		for _, r := range ExpandACLs(one) {
			r.From = fmt.Sprintf("acls[%d]", i)
			all = append(all, r)
		}
	}
	for _, r := range all {
		if first, dup := seen[r.ACLRule]; dup && first != r.From {
			v.errorf(r.From, "%s asks for %q, which %s already gives; remove the duplicate", r.From, r.String(), first)
			continue
		}
		seen[r.ACLRule] = r.From
		if other, ok := grants[r.grant()]; ok && other.Permission != r.Permission {
			v.errorf(r.From, "%s and %s contradict: one allows, the other denies %s %s on %s %s; keep one", other.From, r.From,
				r.Principal, r.Operation, r.Resource, r.Name)
			continue
		}
		grants[r.grant()] = r
	}
}

func mapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// access writes users, services, acls and quotas (Encode), each only when declared.
func (e *encoder) access(top *node, s *Spec) {
	list := func(key string, n int, item func(m *node, i int)) {
		if n == 0 {
			return
		}
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for i := range n {
			m := e.mapping(fmt.Sprintf("%s[%d]", key, i))
			item(m, i)
			e.itemComment(m)
			seq.Content = append(seq.Content, m.n)
		}
		top.add(key, seq)
	}
	list("users", len(s.Users), func(m *node, i int) {
		u := s.Users[i]
		m.str("name", u.Name)
		m.str("mechanism", u.Mechanism)
		m.str("passwordEnv", u.PasswordEnv)
		m.str("passwordFile", u.PasswordFile)
		if u.Iterations != DefaultSCRAMIterations {
			m.integer("iterations", int64(u.Iterations))
		}
	})
	list("services", len(s.Services), func(m *node, i int) {
		svc := s.Services[i]
		m.str("name", svc.Name)
		m.str("user", svc.User)
		m.strings("produces", svc.Produces)
		m.strings("consumes", svc.Consumes)
		m.strings("groups", svc.Groups)
		m.boolean("idempotentWrite", svc.IdempotentWrite)
	})
	list("acls", len(s.ACLs), func(m *node, i int) {
		a := s.ACLs[i]
		m.str("principal", a.Principal)
		m.str("resource", a.Resource)
		m.str("name", a.Name)
		m.str("pattern", a.Pattern)
		m.strings("operations", a.Operations)
		m.str("permission", a.Permission)
		m.str("host", a.Host)
	})
	list("quotas", len(s.Quotas), func(m *node, i int) {
		q := s.Quotas[i]
		m.str("user", q.User)
		m.str("clientId", q.ClientID)
		m.byteRate("producerByteRate", q.ProducerByteRate)
		m.byteRate("consumerByteRate", q.ConsumerByteRate)
		m.integer("requestPercentage", int64(q.RequestPercentage))
	})
}

// byteRate writes a quota's bytes per second in the largest exact unit (1MiB), as a person writes
// it and Parse reads it back; a count no unit divides stays a plain integer (issue 15: import
// writes live quotas in human units).
func (m *node) byteRate(key string, v int64) {
	if v == 0 {
		return
	}
	if h := FormatBytes(v); h != strconv.FormatInt(v, 10) && v > 0 {
		m.str(key, h)
		return
	}
	m.integer(key, v)
}
