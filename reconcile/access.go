package reconcile

// Access control as kinds of change (issue 14): ACLs, SCRAM users and client quotas join the one
// typed plan with the topics' semantics — create and update freely, delete only what avatar-sync
// manages and only with `deletion: prune` and --allow-delete, list the rest.
//
// Ownership. A principal is managed once it is recorded in avatar-sync's inventory (the same
// cluster-side record as managed topics: an entry "User:gui5", which can never be a topic name, as
// ':' is not legal in one). Only ACLs and quotas of managed principals are ever deleted.
//
// Passwords. Kafka never returns a SCRAM password, and a plan must never hold one. avatar-sync
// keeps, per credential it set, a salted fingerprint (PBKDF2-SHA-256 over the password with a
// random salt) in the inventory. The planner recomputes the fingerprint of the spec's password
// with the recorded salt: equal means unchanged. The plan carries only the fingerprint; apply
// reads the password again from its reference and refuses to send one whose fingerprint is not
// the planned one.

import (
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
)

// credentialKey names a user's credential in plans: "gui5 (SCRAM-SHA-512)".
func credentialKey(user, mechanism string) string { return user + " (" + mechanism + ")" }

func parseScramRecord(entry string) (user, mechanism, fp string, ok bool) {
	rest, ok := strings.CutPrefix(entry, plans.ScramRecordPrefix)
	if !ok {
		return "", "", "", false
	}
	parts := strings.SplitN(rest, ":", 3)
	if len(parts) != 3 {
		return "", "", "", false
	}
	return parts[2], parts[0], parts[1], true
}

// scramRecords maps credentialKey → the fingerprint records the inventory holds for it.
func scramRecords(inventory []string) map[string][]string {
	out := map[string][]string{}
	for _, e := range inventory {
		if user, mech, _, ok := parseScramRecord(e); ok {
			out[credentialKey(user, mech)] = append(out[credentialKey(user, mech)], e)
		}
	}
	return out
}

// FingerprintIterations is the PBKDF2 cost of a password fingerprint: what someone who reads the
// inventory (or a plan file) must pay per guess (docs/access.md, "Limits").
const FingerprintIterations = 4096

// PasswordFingerprint is the salted fingerprint of a password: "pbkdf2-sha256$4096$<salt>$<hash>".
func PasswordFingerprint(password string, salt []byte) string {
	key, err := pbkdf2.Key(sha256.New, password, salt, FingerprintIterations, 32)
	if err != nil {
		// Only FIPS-mode length limits fail here, and 32 bytes of SHA-256 is within them.
		panic(fmt.Sprintf("pbkdf2: %v", err))
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", FingerprintIterations, enc.EncodeToString(salt), enc.EncodeToString(key))
}

// fingerprintMatches reports whether password is the one fp was computed from.
func fingerprintMatches(fp, password string) bool {
	parts := strings.Split(fp, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" || parts[1] != strconv.Itoa(FingerprintIterations) {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	return PasswordFingerprint(password, salt) == fp
}

// SecretReader reads a password from its reference (passwordEnv, passwordFile).
type SecretReader func(env, file string) (string, error)

// ProcessSecrets reads passwords from the process's environment and files.
func ProcessSecrets(env, file string) (string, error) {
	v, _, err := spec.ResolvePassword(env, file, os.Getenv, os.ReadFile)
	return v, err
}

// FingerprintCredentials reads each desired SCRAM user's password and records its fingerprint in
// the snapshot: the recorded one when the password is unchanged (so the plan is empty), a fresh
// salted one otherwise. The password itself goes nowhere.
func FingerprintCredentials(d *plans.DesiredAccess, inventory []string, read SecretReader, random io.Reader) error {
	if d == nil {
		return nil
	}
	records := scramRecords(inventory)
	var errs []error
	for i := range d.Users {
		u := &d.Users[i]
		if !u.SetsPassword() {
			u.Fingerprint = ""
			continue
		}
		pw, err := read(u.PasswordEnv, u.PasswordFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("password of user %s: %w", u.Name, err))
			continue
		}
		u.Fingerprint = ""
		for _, rec := range records[credentialKey(u.Name, u.Mechanism)] {
			if _, _, fp, _ := parseScramRecord(rec); fingerprintMatches(fp, pw) {
				u.Fingerprint = fp
			}
		}
		if u.Fingerprint == "" {
			salt := make([]byte, 16)
			if _, err := io.ReadFull(random, salt); err != nil {
				return fmt.Errorf("salt for user %s: %w", u.Name, err)
			}
			u.Fingerprint = PasswordFingerprint(pw, salt)
		}
	}
	return errors.Join(errs...)
}

// accessChanges diffs the access part of the snapshot against the live state. It is pure.
func accessChanges(want *plans.DesiredAccess, have plans.Live, deletion string, allowDelete bool) []plans.Change {
	inventory := map[string]bool{}
	for _, e := range have.Inventory {
		inventory[e] = true
	}
	prune := deletion == spec.DeletionPrune
	removal := func(c plans.Change, managed bool, what string) plans.Change {
		switch {
		case !managed:
			c.Reason = "unmanaged: " + what + " is not avatar-sync's (its principal is not in the inventory); never deleted"
		case prune && allowDelete:
			c.Action = plans.Delete
			c.Reason = "managed by avatar-sync and no longer in the spec, deletion: prune and --allow-delete: removed (clients relying on it lose access)"
		case prune:
			c.Reason = "managed by avatar-sync and no longer in the spec; deleting also needs --allow-delete"
		default:
			c.Reason = "managed by avatar-sync and no longer in the spec; kept (deleting needs deletion: prune in the spec and --allow-delete)"
		}
		return c
	}
	var out []plans.Change
	if have.Access.Unreadable != "" {
		return []plans.Change{{Kind: plans.KindACL, Name: "access control", Action: plans.Unsupported, Risk: plans.RiskUnsupported, ACL: &plans.ACLPayload{},
			Reason: "cannot read the cluster's ACLs, credentials and quotas (" + have.Access.Unreadable + "); the target's user must be a super user or have Describe and DescribeConfigs on the cluster"}}
	}
	for _, p := range want.Principals {
		if !inventory[p] {
			out = append(out, plans.Change{Kind: plans.KindInventory, Name: p, Action: plans.Update, Adopt: &plans.AdoptPayload{},
				Reason: "principal named in the spec: recorded in avatar-sync's inventory, so its ACLs and quotas are managed (and may be pruned once they leave the spec)"})
		}
	}

	// Users before the ACLs that name them: phase orders them, this only lists.
	records := scramRecords(have.Inventory)
	live := map[string]plans.LiveCredential{}
	for _, c := range have.Access.Credentials {
		live[credentialKey(c.User, c.Mechanism)] = c
	}
	wantCreds := map[string]bool{}
	for _, u := range want.Users {
		key := credentialKey(u.Name, u.Mechanism)
		wantCreds[key] = true
		var stale []string
		recorded := false
		for _, rec := range records[key] {
			if _, _, fp, _ := parseScramRecord(rec); fp == u.Fingerprint {
				recorded = true
			} else {
				stale = append(stale, rec)
			}
		}
		payload := &plans.UserPayload{User: u.Name, Mechanism: u.Mechanism, Iterations: u.Iterations, Fingerprint: u.Fingerprint,
			PasswordEnv: u.PasswordEnv, PasswordFile: u.PasswordFile, Replaces: stale}
		lc, exists := live[key]
		c := plans.Change{Kind: plans.KindUser, Name: key, User: payload}
		switch {
		case !u.SetsPassword() && !exists:
			// Planner.Plan reports this with the user's position before Diff runs; the pure
			// Diff still refuses, for callers that diff a snapshot themselves.
			c.Action, c.Risk = plans.Unsupported, plans.RiskUnsupported
			c.Reason = "the user does not exist on the cluster and the spec gives no password to create it with: add passwordEnv or passwordFile"
			out = append(out, c)
		case !u.SetsPassword():
			// Exists, password managed elsewhere (issue 15): nothing to compare but iterations,
			// and recomputing a credential needs the password.
			if lc.Iterations != u.Iterations {
				c.Action, c.Risk = plans.Unsupported, plans.RiskUnsupported
				c.Reason = fmt.Sprintf("iterations %d → %d needs the password, which the spec does not reference: add passwordEnv or passwordFile (apply then sets it), or keep iterations %d", lc.Iterations, u.Iterations, lc.Iterations)
				out = append(out, c)
			}
		case u.Name == want.Admin && want.Admin != "" && exists:
			// Rotating the credential avatar-sync is logged in with would cut the apply off halfway.
			if !recorded || lc.Iterations != u.Iterations {
				c.Action, c.Risk = plans.Unsupported, plans.RiskUnsupported
				c.Reason = "this is the user avatar-sync connects as: it never changes its own credential; rotate it by hand, then update the password reference"
				out = append(out, c)
			}
		case !exists:
			c.Action, c.Reason = plans.Create, "new SCRAM credential; the password is read from its reference at apply and never shown"
			out = append(out, c)
		case !recorded && len(stale) == 0:
			c.Action, c.Reason = plans.Update, "the credential was set outside avatar-sync (no fingerprint recorded), so its password cannot be compared: it is set to the spec's"
			out = append(out, c)
		case !recorded:
			c.Action, c.Reason = plans.Update, "the password in the spec's reference changed: the credential is replaced"
			out = append(out, c)
		case lc.Iterations != u.Iterations:
			c.Action, c.Reason = plans.Update, fmt.Sprintf("iterations %d → %d: the credential is recomputed", lc.Iterations, u.Iterations)
			out = append(out, c)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(live)) {
		if wantCreds[key] {
			continue
		}
		lc := live[key]
		c := plans.Change{Kind: plans.KindUser, Name: key, Action: plans.NoOp, User: &plans.UserPayload{User: lc.User, Mechanism: lc.Mechanism, Iterations: lc.Iterations, Replaces: records[key]}}
		if lc.User == want.Admin && want.Admin != "" {
			c.Reason = "the user avatar-sync connects as; never deleted"
			out = append(out, c)
			continue
		}
		out = append(out, removal(c, len(records[key]) > 0 && inventory["User:"+lc.User], "a credential avatar-sync did not set"))
	}

	wantACL := map[spec.ACLRule]bool{}
	for _, r := range want.ACLs {
		wantACL[r] = true
	}
	liveACL := map[spec.ACLRule]bool{}
	for _, r := range have.Access.ACLs {
		liveACL[r] = true
	}
	for _, r := range want.ACLs {
		if liveACL[r] {
			continue
		}
		c := plans.Change{Kind: plans.KindACL, Name: r.String(), Action: plans.Create, ACL: &plans.ACLPayload{ACLRule: r}}
		if have.Access.NoAuthorizer {
			c.Action, c.Risk = plans.Unsupported, plans.RiskUnsupported
			c.Reason = "the cluster has no authorizer (authorizer.class.name is unset), so it cannot store ACLs: enable one (docs/access.md), or remove services/acls for this target"
		}
		out = append(out, c)
	}
	for _, r := range have.Access.ACLs {
		if wantACL[r] {
			continue
		}
		c := plans.Change{Kind: plans.KindACL, Name: r.String(), Action: plans.NoOp, ACL: &plans.ACLPayload{ACLRule: r}}
		out = append(out, removal(c, inventory[r.Principal], "an ACL of "+r.Principal))
	}

	liveQuota := map[string]plans.LiveQuota{}
	for _, q := range have.Access.Quotas {
		liveQuota[q.Entity()] = q
	}
	wantQuota := map[string]bool{}
	for _, q := range want.Quotas {
		e := plans.QuotaEntity(q.User, q.ClientID)
		wantQuota[e] = true
		lq, exists := liveQuota[e]
		if exists && maps.Equal(lq.Values, q.Values) {
			continue
		}
		c := plans.Change{Kind: plans.KindQuota, Name: e, Action: plans.Update, Reason: "quota values differ from the spec",
			Quota: &plans.QuotaPayload{User: q.User, ClientID: q.ClientID, Before: maps.Clone(lq.Values), After: maps.Clone(q.Values)}}
		if !exists {
			c.Action, c.Reason = plans.Create, "new quota"
		}
		out = append(out, c)
	}
	for _, e := range slices.Sorted(maps.Keys(liveQuota)) {
		if wantQuota[e] {
			continue
		}
		lq := liveQuota[e]
		c := plans.Change{Kind: plans.KindQuota, Name: e, Action: plans.NoOp, Quota: &plans.QuotaPayload{User: lq.User, ClientID: lq.ClientID, Before: maps.Clone(lq.Values)}}
		// A client-id-only quota has no principal to own it: never deleted.
		out = append(out, removal(c, lq.User != "" && inventory["User:"+lq.User], "a quota of "+e))
	}
	return out
}

// verifyAccessDelete is Verify's rule for deleting access: only with deletion: prune and
// --allow-delete, only of managed principals, never the admin's credential.
func verifyAccessDelete(p plans.Plan, c plans.Change, inventory map[string]bool) error {
	principal := ""
	switch {
	case c.ACL != nil:
		principal = c.ACL.Principal
	case c.User != nil:
		principal = "User:" + c.User.User
		if a := p.Desired.Access; a != nil && a.Admin == c.User.User {
			return fmt.Errorf("%s is the user avatar-sync connects as; it is never deleted", c.User.User)
		}
	case c.Quota != nil:
		if c.Quota.User == "" {
			return errors.New("a client-id quota is never deleted")
		}
		principal = "User:" + c.Quota.User
	}
	switch {
	case p.Desired.Deletion != spec.DeletionPrune:
		return fmt.Errorf("the plan's desired state says deletion: %s, so nothing is deleted", p.Desired.Deletion)
	case !p.AllowDelete:
		return errors.New("the plan was computed without --allow-delete")
	case !inventory[principal]:
		return fmt.Errorf("principal %s is not in avatar-sync's inventory; unmanaged access is never deleted", principal)
	}
	return nil
}

// accessFingerprint adds the access state to the live fingerprint; nothing when there is none, so
// plans of clusters without access control keep their fingerprints.
func accessFingerprint(a plans.LiveAccess, field func(string)) {
	if !a.NoAuthorizer && len(a.ACLs)+len(a.Credentials)+len(a.Quotas) == 0 {
		return
	}
	field("access")
	field(strconv.FormatBool(a.NoAuthorizer))
	acls := slices.Clone(a.ACLs)
	sort.Slice(acls, func(i, j int) bool { return acls[i].String() < acls[j].String() })
	for _, r := range acls {
		field(r.String())
	}
	creds := slices.Clone(a.Credentials)
	sort.Slice(creds, func(i, j int) bool {
		return credentialKey(creds[i].User, creds[i].Mechanism) < credentialKey(creds[j].User, creds[j].Mechanism)
	})
	for _, c := range creds {
		field(credentialKey(c.User, c.Mechanism))
		field(strconv.Itoa(c.Iterations))
	}
	qs := slices.Clone(a.Quotas)
	sort.Slice(qs, func(i, j int) bool { return qs[i].Entity() < qs[j].Entity() })
	for _, q := range qs {
		field(q.Entity())
		for _, k := range slices.Sorted(maps.Keys(q.Values)) {
			field(k + "=" + strconv.FormatFloat(q.Values[k], 'g', -1, 64))
		}
	}
}

// ACLChange, CredentialUpsert, CredentialDelete and QuotaChange are the access requests
// AccessCluster executes; Outcome keys are the change names.
type CredentialUpsert struct {
	Key        string // the change's name, for the Outcome
	User       string
	Mechanism  string
	Iterations int
	Password   string
}

// CredentialDelete removes one SCRAM credential.
type CredentialDelete struct {
	Key       string
	User      string
	Mechanism string
}

// QuotaChange sets and removes one entity's quota values.
type QuotaChange struct {
	Key      string
	User     string
	ClientID string
	Set      map[string]float64
	Remove   []string
}

// AccessCluster is what reconcile needs to manage access control. The clusters package implements
// it beside Cluster; Describe fills Live.Access.
type AccessCluster interface {
	// CreateACLs and DeleteACLs key their Outcome by ACLRule.String().
	CreateACLs(ctx context.Context, rules []spec.ACLRule) (Outcome, error)
	DeleteACLs(ctx context.Context, rules []spec.ACLRule) (Outcome, error)
	UpsertCredentials(ctx context.Context, creds []CredentialUpsert) (Outcome, error)
	DeleteCredentials(ctx context.Context, creds []CredentialDelete) (Outcome, error)
	AlterQuotas(ctx context.Context, changes []QuotaChange) (Outcome, error)
}

// accessCluster returns the cluster's access side, or an error for every access change when the
// adapter has none.
func (ex *executor) accessCluster(idx []int) (AccessCluster, bool) {
	ac, ok := ex.cluster.(AccessCluster)
	if !ok {
		ex.start(idx)
		ex.finish(idx, nil, errors.New("this cluster adapter cannot manage access control"))
	}
	return ac, ok
}

// grant runs the access creates and updates: credentials (then their fingerprint records), ACLs,
// quotas.
func (ex *executor) grant(ctx context.Context) bool {
	pending := func(k plans.Kind) func(plans.Change) bool {
		return func(c plans.Change) bool {
			return c.Kind == k && (c.Action == plans.Create || c.Action == plans.Update)
		}
	}
	users, acls, quotas := ex.pick(pending(plans.KindUser)), ex.pick(pending(plans.KindACL)), ex.pick(pending(plans.KindQuota))
	if len(users)+len(acls)+len(quotas) == 0 {
		return true
	}
	ac, ok := ex.accessCluster(slices.Concat(users, acls, quotas))
	if !ok {
		return false
	}
	if len(users) > 0 && !ex.upsertUsers(ctx, ac, users) {
		return false
	}
	if len(acls) > 0 {
		ex.start(acls)
		out, err := ac.CreateACLs(ctx, ex.aclRules(acls))
		if !ex.finish(acls, out, wrap("create ACLs", err)) {
			return false
		}
	}
	if len(quotas) > 0 {
		ex.start(quotas)
		out, err := ac.AlterQuotas(ctx, quotaChanges(ex.res.Changes, quotas, false))
		return ex.finish(quotas, out, wrap("alter quotas", err))
	}
	return true
}

// upsertUsers reads each password again, refuses one that is not the planned one, sets the
// credentials and then records their fingerprints: a crash between the two leaves a credential
// without a record, which the next plan shows as "set outside avatar-sync" and sets again — never
// a record claiming a password the cluster does not have.
func (ex *executor) upsertUsers(ctx context.Context, ac AccessCluster, idx []int) bool {
	read := ex.opts.Secrets
	if read == nil {
		read = ProcessSecrets
	}
	ex.start(idx)
	var creds []CredentialUpsert
	var sendable []int
	out := Outcome{}
	for _, i := range idx {
		c := ex.res.Changes[i].Change
		u := c.User
		pw, err := read(u.PasswordEnv, u.PasswordFile)
		switch {
		case err != nil:
			out[c.Name] = fmt.Errorf("read the password of user %s: %w", u.User, err)
			continue
		case !fingerprintMatches(u.Fingerprint, pw):
			out[c.Name] = fmt.Errorf("the password of user %s is not the one planned (its reference changed since the plan was computed); run plan again", u.User)
			continue
		}
		creds = append(creds, CredentialUpsert{Key: c.Name, User: u.User, Mechanism: u.Mechanism, Iterations: u.Iterations, Password: pw})
		sendable = append(sendable, i)
	}
	if len(creds) > 0 {
		got, err := ac.UpsertCredentials(ctx, creds)
		if err != nil {
			return ex.finish(idx, out, wrap("set SCRAM credentials", err))
		}
		maps.Copy(out, got)
	}
	var add, remove []string
	for _, i := range sendable {
		c := ex.res.Changes[i].Change
		if out[c.Name] == nil {
			add = append(add, plans.ScramRecord(c.User.User, c.User.Mechanism, c.User.Fingerprint))
			remove = append(remove, c.User.Replaces...)
		}
	}
	if len(add) > 0 {
		if err := ex.cluster.RecordInventory(ctx, add, remove); err != nil {
			for _, i := range sendable {
				if name := ex.res.Changes[i].Change.Name; out[name] == nil {
					out[name] = fmt.Errorf("the credential is set, but its fingerprint could not be recorded (the next plan sets it again): %w", err)
				}
			}
		}
	}
	return ex.finish(idx, out, nil)
}

func quotaChanges(crs []plans.ChangeResult, idx []int, remove bool) []QuotaChange {
	var out []QuotaChange
	for _, i := range idx {
		c := crs[i].Change
		q := QuotaChange{Key: c.Name, User: c.Quota.User, ClientID: c.Quota.ClientID, Set: map[string]float64{}}
		if !remove {
			maps.Copy(q.Set, c.Quota.After)
		}
		for k := range c.Quota.Before {
			if _, keep := q.Set[k]; !keep {
				q.Remove = append(q.Remove, k)
			}
		}
		sort.Strings(q.Remove)
		out = append(out, q)
	}
	return out
}

// revoke runs the access deletions (after topic deletions): ACLs, quotas, then credentials and
// their fingerprint records.
func (ex *executor) revoke(ctx context.Context) bool {
	deleting := func(k plans.Kind) func(plans.Change) bool {
		return func(c plans.Change) bool { return c.Kind == k && c.Action == plans.Delete }
	}
	acls, quotas, users := ex.pick(deleting(plans.KindACL)), ex.pick(deleting(plans.KindQuota)), ex.pick(deleting(plans.KindUser))
	if len(users)+len(acls)+len(quotas) == 0 {
		return true
	}
	ac, ok := ex.accessCluster(slices.Concat(acls, quotas, users))
	if !ok {
		return false
	}
	if len(acls) > 0 {
		ex.start(acls)
		out, err := ac.DeleteACLs(ctx, ex.aclRules(acls))
		if !ex.finish(acls, out, wrap("delete ACLs", err)) {
			return false
		}
	}
	if len(quotas) > 0 {
		ex.start(quotas)
		out, err := ac.AlterQuotas(ctx, quotaChanges(ex.res.Changes, quotas, true))
		if !ex.finish(quotas, out, wrap("remove quotas", err)) {
			return false
		}
	}
	if len(users) > 0 {
		var dels []CredentialDelete
		var records []string
		for _, i := range users {
			c := ex.res.Changes[i].Change
			dels = append(dels, CredentialDelete{Key: c.Name, User: c.User.User, Mechanism: c.User.Mechanism})
			records = append(records, c.User.Replaces...)
		}
		ex.start(users)
		out, err := ac.DeleteCredentials(ctx, dels)
		if !ex.finish(users, out, wrap("delete SCRAM credentials", err)) {
			return false
		}
		if err := ex.cluster.RecordInventory(ctx, nil, records); err != nil {
			ex.progress(plans.Event{Status: plans.Failed, Err: err, Message: "could not drop the deleted credentials' fingerprints from the inventory; run apply again"})
		}
	}
	return true
}

// aclRules are the bindings of the ACL changes at the given result indices, in that order.
func (ex *executor) aclRules(indices []int) []spec.ACLRule {
	rules := make([]spec.ACLRule, 0, len(indices))
	for _, i := range indices {
		rules = append(rules, ex.res.Changes[i].Change.ACL.ACLRule)
	}
	return rules
}
