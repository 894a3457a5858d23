package clusters

// Access control (issue 14): ACLs, SCRAM credentials and client quotas, read in Describe and
// written by the reconcile.AccessCluster methods. One request per operation, as for topics.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/IBM/sarama"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

var _ reconcile.AccessCluster = (*Admin)(nil)

var (
	aclOperations = map[string]sarama.AclOperation{
		"All": sarama.AclOperationAll, "Read": sarama.AclOperationRead, "Write": sarama.AclOperationWrite,
		"Create": sarama.AclOperationCreate, "Delete": sarama.AclOperationDelete, "Alter": sarama.AclOperationAlter,
		"Describe": sarama.AclOperationDescribe, "ClusterAction": sarama.AclOperationClusterAction,
		"DescribeConfigs": sarama.AclOperationDescribeConfigs, "AlterConfigs": sarama.AclOperationAlterConfigs,
		"IdempotentWrite": sarama.AclOperationIdempotentWrite,
	}
	aclResources = map[string]sarama.AclResourceType{
		spec.ResourceTopic: sarama.AclResourceTopic, spec.ResourceGroup: sarama.AclResourceGroup,
		spec.ResourceCluster: sarama.AclResourceCluster, spec.ResourceTransactionalID: sarama.AclResourceTransactionalID,
	}
	aclPatterns = map[string]sarama.AclResourcePatternType{
		spec.PatternLiteral: sarama.AclPatternLiteral, spec.PatternPrefixed: sarama.AclPatternPrefixed,
	}
	aclPermissions = map[string]sarama.AclPermissionType{
		spec.PermissionAllow: sarama.AclPermissionAllow, spec.PermissionDeny: sarama.AclPermissionDeny,
	}
	scramMechanisms = map[string]sarama.ScramMechanismType{
		spec.MechanismSCRAM256: sarama.SCRAM_MECHANISM_SHA_256, spec.MechanismSCRAM512: sarama.SCRAM_MECHANISM_SHA_512,
	}
)

// reverse inverts one of the tables above.
func reverse[K comparable, V comparable](m map[K]V) map[V]K {
	out := make(map[V]K, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

// readAccess reads every ACL, every quota and every SCRAM credential (user, mechanism and
// iterations; Kafka never returns a password or salt). Every credential, not only those of
// managed users: `avatar-sync import` writes them all, and a plan must see a credential of a user
// the spec names before that user is in the inventory (issue 15), or it would plan to create a
// credential that exists. The request names no user, which Kafka answers with every one (the
// embedded kfake is patched to do the same, third_party/kfake/PATCHES.md). A cluster without an
// authorizer is reported as such (NoAuthorizer); a user without the right to read them as
// Unreadable, so that plans of specs without access control still work. The three requests go
// one after another: sarama answers one request of a connection before it sends the next, and
// Describe already runs this read beside the topic configs, on a connection of its own (issue 23).
func (a *Admin) readAccess(ctx context.Context, b *sarama.Broker) (plans.LiveAccess, error) {
	var acc plans.LiveAccess
	denied := func(err error) bool {
		return errors.Is(err, sarama.ErrClusterAuthorizationFailed) || errors.Is(err, sarama.ErrTopicAuthorizationFailed)
	}
	var unreadable []string

	acls, err := call(ctx, func() (*sarama.DescribeAclsResponse, error) {
		return b.DescribeAcls(&sarama.DescribeAclsRequest{Version: 1, AclFilter: sarama.AclFilter{
			ResourceType: sarama.AclResourceAny, ResourcePatternTypeFilter: sarama.AclPatternAny,
			Operation: sarama.AclOperationAny, PermissionType: sarama.AclPermissionAny}})
	})
	switch {
	case err != nil:
		return acc, fmt.Errorf("describe ACLs: %w", err)
	case errors.Is(acls.Err, sarama.ErrSecurityDisabled):
		acc.NoAuthorizer = true
	case denied(acls.Err):
		unreadable = append(unreadable, "ACLs: "+acls.Err.Error())
	case acls.Err != sarama.ErrNoError:
		return acc, fmt.Errorf("describe ACLs: %w", kafkaErr(acls.Err, acls.ErrMsg))
	default:
		acc.ACLs = aclRules(acls.ResourceAcls)
	}

	creds, err := call(ctx, func() (*sarama.DescribeUserScramCredentialsResponse, error) {
		return b.DescribeUserScramCredentials(&sarama.DescribeUserScramCredentialsRequest{})
	})
	switch {
	case err != nil:
		return acc, fmt.Errorf("describe SCRAM credentials: %w", err)
	case denied(creds.ErrorCode):
		unreadable = append(unreadable, "SCRAM credentials: "+creds.ErrorCode.Error())
	case creds.ErrorCode != sarama.ErrNoError:
		return acc, fmt.Errorf("describe SCRAM credentials: %w", kafkaErr(creds.ErrorCode, creds.ErrorMessage))
	default:
		names := reverse(scramMechanisms)
		for _, r := range creds.Results {
			if r.ErrorCode != sarama.ErrNoError {
				continue // ResourceNotFound for a user without credentials
			}
			for _, ci := range r.CredentialInfos {
				if m, ok := names[ci.Mechanism]; ok {
					acc.Credentials = append(acc.Credentials, plans.LiveCredential{User: r.User, Mechanism: m, Iterations: int(ci.Iterations)})
				}
			}
		}
		sort.Slice(acc.Credentials, func(i, j int) bool {
			return acc.Credentials[i].User+acc.Credentials[i].Mechanism < acc.Credentials[j].User+acc.Credentials[j].Mechanism
		})
	}

	quotas, err := call(ctx, func() (*sarama.DescribeClientQuotasResponse, error) {
		return b.DescribeClientQuotas(&sarama.DescribeClientQuotasRequest{Version: 0, Strict: false})
	})
	switch {
	case err != nil:
		return acc, fmt.Errorf("describe client quotas: %w", err)
	case denied(quotas.ErrorCode):
		unreadable = append(unreadable, "quotas: "+quotas.ErrorCode.Error())
	case quotas.ErrorCode != sarama.ErrNoError:
		return acc, fmt.Errorf("describe client quotas: %w", kafkaErr(quotas.ErrorCode, quotas.ErrorMsg))
	default:
		for _, e := range quotas.Entries {
			q := plans.LiveQuota{Values: maps.Clone(e.Values)}
			defaults := false
			for _, c := range e.Entity {
				defaults = defaults || c.MatchType == sarama.QuotaMatchDefault
				switch c.EntityType {
				case sarama.QuotaEntityUser:
					q.User = c.Name
				case sarama.QuotaEntityClientID:
					q.ClientID = c.Name
				}
			}
			if defaults || (q.User == "" && q.ClientID == "") || len(q.Values) == 0 {
				continue // default quotas (<default>) are not declared in avatar.yaml
			}
			acc.Quotas = append(acc.Quotas, q)
		}
		sort.Slice(acc.Quotas, func(i, j int) bool { return acc.Quotas[i].Entity() < acc.Quotas[j].Entity() })
	}
	acc.Unreadable = strings.Join(unreadable, "; ")
	return acc, nil
}

// aclRules converts described ACLs, sorted.
func aclRules(rs []*sarama.ResourceAcls) []spec.ACLRule {
	ops, res, pats, perms := reverse(aclOperations), reverse(aclResources), reverse(aclPatterns), reverse(aclPermissions)
	var out []spec.ACLRule
	for _, r := range rs {
		for _, acl := range r.Acls {
			out = append(out, spec.ACLRule{Principal: acl.Principal, Host: acl.Host, Resource: res[r.ResourceType], Name: r.ResourceName,
				Pattern: pats[r.ResourcePatternType], Operation: ops[acl.Operation], Permission: perms[acl.PermissionType]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// CreateACLs creates ACL bindings in one request.
func (a *Admin) CreateACLs(ctx context.Context, rules []spec.ACLRule) (reconcile.Outcome, error) {
	req := &sarama.CreateAclsRequest{Version: 1}
	for _, r := range rules {
		req.AclCreations = append(req.AclCreations, &sarama.AclCreation{
			Resource: sarama.Resource{ResourceType: aclResources[r.Resource], ResourceName: r.Name, ResourcePatternType: aclPatterns[r.Pattern]},
			Acl:      sarama.Acl{Principal: r.Principal, Host: r.Host, Operation: aclOperations[r.Operation], PermissionType: aclPermissions[r.Permission]},
		})
	}
	b, err := a.anyBroker(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := call(ctx, func() (*sarama.CreateAclsResponse, error) { return b.CreateAcls(req) })
	if err != nil {
		return nil, err
	}
	return outcomeInOrder("create ACLs", "ACLs", ruleKeys(rules), resp.AclCreationResponses,
		func(r *sarama.AclCreationResponse) error { return kafkaErr(r.Err, r.ErrMsg) })
}

// DeleteACLs deletes exactly the given bindings: each filter names every field, so it matches one
// binding and never a wildcard's worth.
func (a *Admin) DeleteACLs(ctx context.Context, rules []spec.ACLRule) (reconcile.Outcome, error) {
	req := &sarama.DeleteAclsRequest{Version: 1}
	for _, r := range rules {
		name, principal, host := r.Name, r.Principal, r.Host
		req.Filters = append(req.Filters, &sarama.AclFilter{Version: 1, ResourceType: aclResources[r.Resource], ResourceName: &name,
			ResourcePatternTypeFilter: aclPatterns[r.Pattern], Principal: &principal, Host: &host,
			Operation: aclOperations[r.Operation], PermissionType: aclPermissions[r.Permission]})
	}
	b, err := a.anyBroker(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := call(ctx, func() (*sarama.DeleteAclsResponse, error) { return b.DeleteAcls(req) })
	if err != nil {
		return nil, err
	}
	return outcomeInOrder("delete ACLs", "ACLs", ruleKeys(rules), resp.FilterResponses,
		func(r *sarama.FilterResponse) error { return kafkaErr(r.Err, r.ErrMsg) })
}

// UpsertCredentials sets SCRAM credentials. sarama salts the password (a random salt per
// credential) and sends only the salted password; the password never leaves this call otherwise.
func (a *Admin) UpsertCredentials(ctx context.Context, creds []reconcile.CredentialUpsert) (reconcile.Outcome, error) {
	req := &sarama.AlterUserScramCredentialsRequest{}
	for _, c := range creds {
		salt, err := randomSalt()
		if err != nil {
			return nil, err
		}
		req.Upsertions = append(req.Upsertions, sarama.AlterUserScramCredentialsUpsert{Name: c.User, Mechanism: scramMechanisms[c.Mechanism],
			Iterations: int32(c.Iterations), Salt: salt, Password: []byte(c.Password)})
	}
	return a.alterCredentials(ctx, req, func(user string, i int) string { return creds[i].Key })
}

// DeleteCredentials removes SCRAM credentials.
func (a *Admin) DeleteCredentials(ctx context.Context, creds []reconcile.CredentialDelete) (reconcile.Outcome, error) {
	req := &sarama.AlterUserScramCredentialsRequest{}
	for _, c := range creds {
		req.Deletions = append(req.Deletions, sarama.AlterUserScramCredentialsDelete{Name: c.User, Mechanism: scramMechanisms[c.Mechanism]})
	}
	return a.alterCredentials(ctx, req, func(user string, i int) string { return creds[i].Key })
}

// alterCredentials sends one AlterUserScramCredentials to the controller. Kafka answers per user,
// so every credential of a user shares that user's result.
func (a *Admin) alterCredentials(ctx context.Context, req *sarama.AlterUserScramCredentialsRequest, key func(user string, i int) string) (reconcile.Outcome, error) {
	b, err := a.controller(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := call(ctx, func() (*sarama.AlterUserScramCredentialsResponse, error) { return b.AlterUserScramCredentials(req) })
	if err != nil {
		return nil, err
	}
	byUser := map[string]error{}
	for _, r := range resp.Results {
		if r.ErrorCode != sarama.ErrNoError {
			byUser[r.User] = kafkaErr(r.ErrorCode, r.ErrorMessage)
		}
	}
	out := reconcile.Outcome{}
	users := make([]string, 0, len(req.Upsertions)+len(req.Deletions))
	for _, u := range req.Upsertions {
		users = append(users, u.Name)
	}
	for _, d := range req.Deletions {
		users = append(users, d.Name)
	}
	for i, u := range users {
		out[key(u, i)] = byUser[u]
	}
	return out, nil
}

// AlterQuotas sets and removes quota values, one entry per entity, in one request.
func (a *Admin) AlterQuotas(ctx context.Context, changes []reconcile.QuotaChange) (reconcile.Outcome, error) {
	req := &sarama.AlterClientQuotasRequest{}
	for _, c := range changes {
		var entity []sarama.QuotaEntityComponent
		if c.User != "" {
			entity = append(entity, sarama.QuotaEntityComponent{EntityType: sarama.QuotaEntityUser, MatchType: sarama.QuotaMatchExact, Name: c.User})
		}
		if c.ClientID != "" {
			entity = append(entity, sarama.QuotaEntityComponent{EntityType: sarama.QuotaEntityClientID, MatchType: sarama.QuotaMatchExact, Name: c.ClientID})
		}
		var ops []sarama.ClientQuotasOp
		for _, k := range slices.Sorted(maps.Keys(c.Set)) {
			ops = append(ops, sarama.ClientQuotasOp{Key: k, Value: c.Set[k]})
		}
		for _, k := range c.Remove {
			ops = append(ops, sarama.ClientQuotasOp{Key: k, Remove: true})
		}
		req.Entries = append(req.Entries, sarama.AlterClientQuotasEntry{Entity: entity, Ops: ops})
	}
	b, err := a.anyBroker(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := call(ctx, func() (*sarama.AlterClientQuotasResponse, error) { return b.AlterClientQuotas(req) })
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(changes))
	for i, c := range changes {
		keys[i] = c.Key
	}
	return outcomeInOrder("alter quotas", "entities", keys, resp.Entries,
		func(e sarama.AlterClientQuotasEntryResponse) error { return kafkaErr(e.ErrorCode, e.ErrorMsg) })
}

// outcomeInOrder is the Outcome of a request Kafka answers with one result per item, in the order
// asked: keys[i] gets errOf(answers[i]), nil for a success. An answer of another length is an
// error naming the request (what) and its items.
func outcomeInOrder[T any](what, items string, keys []string, answers []T, errOf func(T) error) (reconcile.Outcome, error) {
	if len(answers) != len(keys) {
		return nil, fmt.Errorf("%s: %d answers for %d %s", what, len(answers), len(keys), items)
	}
	out := make(reconcile.Outcome, len(keys))
	for i, k := range keys {
		out[k] = errOf(answers[i])
	}
	return out, nil
}

// ruleKeys names each rule in an Outcome.
func ruleKeys(rules []spec.ACLRule) []string {
	keys := make([]string, len(rules))
	for i, r := range rules {
		keys[i] = r.String()
	}
	return keys
}

// randomSalt is a fresh SCRAM salt (RFC 5802 asks for a random one per credential).
func randomSalt() ([]byte, error) {
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("SCRAM salt: %w", err)
	}
	return salt, nil
}
