package reconcile

// The access part of `avatar-sync import` (issue 15, after issue 14): SCRAM users without secrets,
// raw ACL entries and quotas, written so that the imported spec plans no access change against
// the cluster it came from.

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
)

// importAccess adds the live users, ACLs and quotas to s, with their comments, and returns what it
// left out and why. topicNames are the topics the spec declares (a literal topic ACL must name one
// to validate); admin is the user avatar-sync connects as: the target's SASL user, else its client
// certificate's subject ("" with neither), and adminFrom says which.
func importAccess(acc plans.LiveAccess, topicNames map[string]bool, admin, adminFrom string, s *spec.Spec, doc spec.Document) (leftOut []string) {
	if acc.Unreadable != "" {
		// Writing part of it would make the spec manage access (and adopt principals) from an
		// incomplete picture; the plan would refuse it anyway while the state is unreadable.
		return []string{"users, acls and quotas: the cluster did not let avatar-sync read them (" + acc.Unreadable +
			"); import with a user that is a super user or has Describe and DescribeConfigs on the cluster"}
	}
	adminPrincipal := ""
	if admin != "" {
		adminPrincipal = "User:" + admin
	}
	var skippedAdmin []string

	// Users: one entry per user, the stronger mechanism when a user has both (avatar.yaml declares
	// one per user). No passwordEnv/passwordFile: Kafka never returns a password, and a reference
	// invented here would make the first apply set a password nobody chose.
	creds := slices.Clone(acc.Credentials)
	slices.SortFunc(creds, func(a, b plans.LiveCredential) int {
		return cmp.Or(strings.Compare(a.User, b.User), strings.Compare(b.Mechanism, a.Mechanism))
	})
	scram := map[string]bool{}
	for _, c := range creds {
		switch {
		case c.User == admin:
			skippedAdmin = append(skippedAdmin, "its "+c.Mechanism+" credential")
		case scram[c.User]:
			leftOut = append(leftOut, fmt.Sprintf("user %s's %s credential: avatar.yaml declares one mechanism per user, so the %s one is declared; this one stays as it is (avatar-sync never deletes a credential it did not set)",
				c.User, c.Mechanism, s.Users[len(s.Users)-1].Mechanism))
		default:
			scram[c.User] = true
			s.Users = append(s.Users, spec.User{Name: c.User, Mechanism: c.Mechanism, Iterations: c.Iterations})
		}
	}

	// Quotas come before the ACLs here because one may need a users entry (an mTLS subject).
	quotaLeftOut := importQuotas(acc.Quotas, admin, scram, s, doc, &skippedAdmin)
	aclLeftOut := importACLs(acc, topicNames, adminPrincipal, s, doc, &skippedAdmin)
	leftOut = append(leftOut, quotaLeftOut...)
	leftOut = append(leftOut, aclLeftOut...)

	if len(s.Users) > 0 {
		doc.Comments["users"] = []string{
			"SCRAM users as the cluster has them, WITHOUT passwords: Kafka never returns one.",
			"A user without passwordEnv/passwordFile is managed only in that it exists with this",
			"mechanism and iterations; avatar-sync never sets or rotates its password (and refuses",
			"to create it if it is missing). To hand a password to avatar-sync, add passwordEnv (or",
			"passwordFile): the next apply sets the credential to it once and records its salted",
			"fingerprint, and from then on a change of the reference rotates it (docs/access.md).",
		}
	}
	if len(s.ACLs) > 0 {
		doc.Comments["acls"] = []string{
			"The cluster's ACL bindings, one entry per principal, resource and permission.",
			"Their principals are adopted into avatar-sync's inventory by the first apply: from then",
			"on every ACL and quota of theirs is managed (deleted only with deletion: prune and",
			"--allow-delete once it leaves this file).",
		}
	}
	if len(s.Quotas) > 0 {
		doc.Comments["quotas"] = []string{"Client quotas of users and client ids, as set on the cluster (defaults <default> are not declared)."}
	}
	if acc.NoAuthorizer {
		leftOut = append(leftOut, "acls: the cluster has no authorizer (authorizer.class.name is unset), so it holds no ACLs; declaring some would make plan refuse them until one is enabled (docs/access.md)")
	}
	if len(skippedAdmin) > 0 {
		leftOut = append(leftOut, fmt.Sprintf("%s, the user avatar-sync connects as (%s): %s. Declared, its ACLs and quotas would become managed, and one edit of this file could lock avatar-sync out; they stay as they are, listed as unmanaged",
			admin, adminFrom, strings.Join(slices.Compact(skippedAdmin), ", ")))
	}
	return leftOut
}

// importQuotas writes the quotas avatar.yaml can express exactly; an entity with anything else
// (another key, a fraction) is left out whole, since declaring part of it would plan removing
// the rest.
func importQuotas(quotas []plans.LiveQuota, admin string, scram map[string]bool, s *spec.Spec, doc spec.Document, skippedAdmin *[]string) (leftOut []string) {
	mtls := map[string]bool{}
	for _, lq := range quotas {
		if lq.User != "" && lq.User == admin {
			*skippedAdmin = append(*skippedAdmin, "its quota "+lq.Entity())
			continue
		}
		q := spec.Quota{User: lq.User, ClientID: lq.ClientID}
		var bad []string
		for _, key := range slices.Sorted(maps.Keys(lq.Values)) {
			v := lq.Values[key]
			whole := v >= 1 && v == math.Trunc(v) && v <= math.MaxInt32
			switch {
			case key == plans.QuotaProducerByteRate && whole:
				q.ProducerByteRate = int64(v)
			case key == plans.QuotaConsumerByteRate && whole:
				q.ConsumerByteRate = int64(v)
			case key == plans.QuotaRequestPercentage && whole:
				q.RequestPercentage = int(v)
			case key == plans.QuotaProducerByteRate || key == plans.QuotaConsumerByteRate || key == plans.QuotaRequestPercentage:
				bad = append(bad, fmt.Sprintf("%s=%g is not a whole number of at least 1", key, v))
			default:
				bad = append(bad, key+" is not a quota avatar.yaml declares")
			}
		}
		switch {
		case len(bad) > 0:
			leftOut = append(leftOut, fmt.Sprintf("quota %s: %s; the whole entity stays as it is", lq.Entity(), strings.Join(bad, "; ")))
			continue
		case q.User != "" && !scram[q.User] && strings.Contains(q.User, "="):
			// A certificate subject: the quota's user is an mTLS principal, declared as such.
			if !mtls[q.User] {
				mtls[q.User] = true
				doc.Comments[fmt.Sprintf("users[%d]", len(s.Users))] = []string{"not a SCRAM user: a client certificate's subject that has a quota (an mTLS principal, no password)"}
				s.Users = append(s.Users, spec.User{Name: q.User, Mechanism: spec.MechanismMTLS})
			}
		case q.User != "" && !scram[q.User]:
			leftOut = append(leftOut, fmt.Sprintf("quota %s: %s has no SCRAM credential and is no certificate subject, and avatar.yaml's quotas name declared users; add the user (or its quota) by hand", lq.Entity(), q.User))
			continue
		}
		s.Quotas = append(s.Quotas, q)
	}
	return leftOut
}

// importACLs groups the live bindings into raw acls: entries. A literal topic binding is written
// only when its topic is declared (validate requires it): bindings of topics --topics left out,
// internal topics or topics that do not exist are listed instead.
func importACLs(acc plans.LiveAccess, topicNames map[string]bool, adminPrincipal string, s *spec.Spec, doc spec.Document, skippedAdmin *[]string) (leftOut []string) {
	denied := map[spec.ACLRule]bool{}
	for _, r := range acc.ACLs {
		if r.Permission == spec.PermissionDeny {
			r.Permission = ""
			denied[r] = true
		}
	}
	type entryKey struct{ principal, resource, name, pattern, permission, host string }
	entries := map[entryKey][]string{}
	var order []entryKey
	var undeclaredTopics []string
	var kept []spec.ACLRule
	adminACLs := 0
	for _, r := range acc.ACLs {
		grant := r
		grant.Permission = ""
		switch {
		case r.Principal == adminPrincipal && adminPrincipal != "":
			adminACLs++
			continue
		case !strings.HasPrefix(r.Principal, "User:") || r.Principal == "User:":
			leftOut = append(leftOut, fmt.Sprintf("ACL %s: avatar.yaml names User:<name> principals only", r))
			continue
		case r.Operation == "" || r.Resource == "" || r.Pattern == "" || r.Permission == "":
			leftOut = append(leftOut, fmt.Sprintf("ACL of %s on %q: its operation, resource type or pattern is not one avatar.yaml declares (docs/access.md)", r.Principal, r.Name))
			continue
		case r.Resource == spec.ResourceTopic && r.Pattern == spec.PatternLiteral && r.Name != "*" && !topicNames[r.Name]:
			undeclaredTopics = append(undeclaredTopics, r.String())
			continue
		case r.Permission == spec.PermissionAllow && denied[grant]:
			leftOut = append(leftOut, fmt.Sprintf("ACL %s: a deny of the same grant wins over it, and avatar.yaml refuses both at once; the deny is declared", r))
			continue
		}
		kept = append(kept, r)
	}
	var rest []spec.ACLRule
	s.Services, rest = recogniseServices(kept, s.Users, topicNames)
	for i, svc := range s.Services {
		doc.Comments[fmt.Sprintf("services[%d]", i)] = []string{fmt.Sprintf("User:%s's bindings are exactly this role's minimal ACL set (docs/access.md), so the role is declared instead of raw acls", svc.User)}
	}
	for _, r := range rest {
		k := entryKey{r.Principal, r.Resource, r.Name, r.Pattern, r.Permission, r.Host}
		if r.Resource == spec.ResourceCluster && r.Name == spec.ClusterResourceName {
			k.name = ""
		}
		if k.pattern == spec.PatternLiteral {
			k.pattern = ""
		}
		if k.permission == spec.PermissionAllow {
			k.permission = ""
		}
		if k.host == "*" {
			k.host = ""
		}
		if _, seen := entries[k]; !seen {
			order = append(order, k)
		}
		if !slices.Contains(entries[k], r.Operation) {
			entries[k] = append(entries[k], r.Operation)
		}
	}
	slices.SortFunc(order, func(a, b entryKey) int {
		return cmp.Or(strings.Compare(a.principal, b.principal), strings.Compare(a.resource, b.resource), strings.Compare(a.name, b.name),
			strings.Compare(a.pattern, b.pattern), strings.Compare(a.permission, b.permission), strings.Compare(a.host, b.host))
	})
	for _, k := range order {
		ops := entries[k]
		slices.SortFunc(ops, func(a, b string) int {
			return slices.Index(spec.ACLOperations, a) - slices.Index(spec.ACLOperations, b)
		})
		s.ACLs = append(s.ACLs, spec.ACL{Principal: k.principal, Resource: k.resource, Name: k.name, Pattern: k.pattern,
			Operations: ops, Permission: k.permission, Host: k.host})
	}
	if adminACLs > 0 {
		*skippedAdmin = append(*skippedAdmin, fmt.Sprintf("its ACLs (%d)", adminACLs))
	}
	if len(undeclaredTopics) > 0 {
		leftOut = append(leftOut, fmt.Sprintf("ACLs on topics this file does not declare (left out by --topics, internal, or not created yet), since an ACL must name a declared topic: %s. "+
			"If their principal is declared above, the first apply makes it managed: before turning on deletion: prune, declare these too, or a pruning apply with --allow-delete deletes them",
			strings.Join(undeclaredTopics, "; ")))
	}
	return leftOut
}

var serviceNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// recogniseServices finds users whose allow bindings (literal, any host) are exactly the minimal
// ACL set of a service role — spec.ExpandACLs of it, nothing more, nothing less — and returns those
// roles as services (named after the user) and every other binding as it was. A user's deny and
// other bindings stay raw entries beside its service. Only a declared user whose name is a valid
// service name (a DNS label) qualifies, and every topic must be declared.
func recogniseServices(rules []spec.ACLRule, users []spec.User, topicNames map[string]bool) (services []spec.Service, rest []spec.ACLRule) {
	declared := map[string]bool{}
	for _, u := range users {
		declared[u.Principal()] = true
	}
	roleShaped := func(r spec.ACLRule) bool {
		return declared[r.Principal] && r.Permission == spec.PermissionAllow && r.Host == "*" && r.Pattern == spec.PatternLiteral &&
			(r.Resource == spec.ResourceTopic || r.Resource == spec.ResourceGroup || r.Resource == spec.ResourceCluster)
	}
	byPrincipal := map[string][]spec.ACLRule{}
	for _, r := range rules {
		if roleShaped(r) {
			byPrincipal[r.Principal] = append(byPrincipal[r.Principal], r)
		}
	}
	converted := map[string]bool{}
	for _, principal := range slices.Sorted(maps.Keys(byPrincipal)) {
		name := strings.TrimPrefix(principal, "User:")
		if !serviceNameRE.MatchString(name) {
			continue
		}
		svc := spec.Service{Name: name, User: name}
		ops := map[string]map[string]bool{} // topic → operations
		for _, r := range byPrincipal[principal] {
			switch {
			case r.Resource == spec.ResourceTopic:
				if ops[r.Name] == nil {
					ops[r.Name] = map[string]bool{}
				}
				ops[r.Name][r.Operation] = true
			case r.Resource == spec.ResourceGroup && r.Operation == "Read":
				svc.Groups = append(svc.Groups, r.Name)
			case r.Resource == spec.ResourceCluster && r.Operation == "IdempotentWrite":
				svc.IdempotentWrite = true
			}
		}
		for _, t := range slices.Sorted(maps.Keys(ops)) {
			if ops[t]["Write"] {
				svc.Produces = append(svc.Produces, t)
			}
			if ops[t]["Read"] {
				svc.Consumes = append(svc.Consumes, t)
			}
		}
		slices.Sort(svc.Groups)
		allDeclared := !slices.ContainsFunc(append(slices.Clone(svc.Produces), svc.Consumes...), func(t string) bool { return !topicNames[t] })
		if !allDeclared || (len(svc.Consumes) > 0 && len(svc.Groups) == 0) || len(svc.Produces)+len(svc.Consumes)+len(svc.Groups) == 0 {
			continue // not a role validate would accept
		}
		// The role's expansion must be exactly the bindings: a Describe without Read or Write, an
		// extra operation, a missing Describe all keep the raw entries.
		var want, got []string
		for _, r := range spec.ExpandACLs(&spec.Spec{Users: users, Services: []spec.Service{svc}}) {
			want = append(want, r.String())
		}
		for _, r := range byPrincipal[principal] {
			got = append(got, r.String())
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, slices.Compact(got)) {
			continue
		}
		services = append(services, svc)
		converted[principal] = true
	}
	for _, r := range rules {
		if !(converted[r.Principal] && roleShaped(r)) {
			rest = append(rest, r)
		}
	}
	return services, rest
}
