package reconcile

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"time"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
	"github.com/avatar-project/avatar-sync/topics"
)

// CertAdvisor lists the TLS material of a spec that needs work, judged at now. cmd wires it to
// the certs package, which reconcile may not import (certs stays pure, docs/architecture.md).
type CertAdvisor func(s *spec.Spec, now time.Time) ([]plans.Advisory, error)

// Planner is the one producer of plans (issue 9): plan, apply, watch and `apply --plan` all get
// their Plan from it and differ only in what they do with it.
type Planner struct {
	// Cluster is the connected target; Target its name in the spec. Cluster is nil when the
	// brokers did not answer (ClusterErr says why): only a target with Objects plans without them,
	// its Kubernetes side alone (a fresh cluster, issue 11).
	Cluster    Cluster
	ClusterErr error
	Target     string
	// Objects is the target's Kubernetes plane (nil = the target has no kubernetes: block).
	Objects Objects
	// PinnedClusterID is the target's clusterId in the spec ("" = not pinned).
	PinnedClusterID string
	// Certs computes the certificate advisories; nil = none.
	Certs CertAdvisor
	// Now is the clock certificates are judged by; nil = time.Now.
	Now func() time.Time
	// Secrets reads SCRAM users' passwords to fingerprint them (nil = ProcessSecrets); Rand is
	// the salt source (nil = crypto/rand). Issue 14.
	Secrets SecretReader
	Rand    io.Reader

	// observed is the live state the planner read last, with its fingerprint: verifying a plan
	// against the state it was planned from needs no second read (issue 20: apply read the
	// cluster four times). Anything that changed since is caught under the lease, where the
	// fingerprint is checked against a fresh read.
	observed *observation
}

type observation struct {
	live        plans.Live
	fingerprint string
}

// observe returns the live state whose fingerprint is want when the planner read it last, and
// reads the cluster otherwise.
func (pl *Planner) observe(ctx context.Context, want string) (plans.Live, error) {
	if o := pl.observed; o != nil && want != "" && o.fingerprint == want {
		return o.live, nil
	}
	live, err := pl.Cluster.Describe(ctx)
	if err != nil {
		return plans.Live{}, fmt.Errorf("read cluster %q: %w", pl.Target, err)
	}
	// The fingerprint is filled in by Plan, whose Diff computes it anyway (10,000 topics: no
	// second hash); a read for verification alone is not reused.
	pl.observed = &observation{live: live}
	return live, nil
}

// PlanOptions are the planning opt-ins.
type PlanOptions struct {
	// AllowDelete is --allow-delete: plan deleting managed topics that left the spec (with
	// deletion: prune).
	AllowDelete bool
}

// Plan computes the plan for the spec:
//
//  1. read the live state;
//  2. refuse a cluster whose id is not the pinned one, before anything else (issue #3);
//  3. diff the spec's snapshot against the live state (pure);
//  4. plan the Kubernetes objects, when the target has them, ahead of the topics (issue 11),
//     under a new random salt, and pin their manifests in the snapshot (Secret values only as
//     salted fingerprints, issue 20); without brokers that answer, the plan holds the objects only,
//     a typed deferral of the Kafka plane, and an advisory saying the topics are planned once
//     they answer;
//  5. add the certificate advisories (never changes: apply does not issue certificates).
func (pl *Planner) Plan(ctx context.Context, s *spec.Spec, opts PlanOptions) (plans.Plan, error) {
	d := plans.DesiredOf(s)
	if d.Access != nil {
		if c, err := s.Target(pl.Target); err == nil && c.SASL != nil {
			d.Access.Admin = c.SASL.Username
		}
	}
	var p plans.Plan
	switch {
	case pl.Cluster != nil:
		live, err := pl.observe(ctx, "")
		if err != nil {
			return plans.Plan{}, err
		}
		if err := CheckClusterID(pl.PinnedClusterID, plans.Plan{Cluster: pl.Target}, live.ClusterID); err != nil {
			return plans.Plan{}, err
		}
		if d.Access != nil {
			if err := FingerprintCredentials(d.Access, live.Inventory, pl.secrets(), pl.random()); err != nil {
				return plans.Plan{}, fmt.Errorf("plan the users of %q: %w", pl.Target, err)
			}
			if err := uncreatableUsers(s, live, pl.Target); err != nil {
				return plans.Plan{}, err
			}
		}
		p = Diff(d, live, DiffOptions{Cluster: pl.Target, AllowDelete: opts.AllowDelete})
		pl.observed.fingerprint = p.Fingerprint
	case pl.Objects != nil:
		p = plans.Plan{Cluster: pl.Target, AllowDelete: opts.AllowDelete, Desired: d,
			Deferred: []plans.Deferral{{Plane: plans.PlaneKafka, Reason: deferredReason(pl.ClusterErr)}}}
	default:
		return plans.Plan{}, fmt.Errorf("read cluster %q: %w", pl.Target, pl.ClusterErr)
	}
	var err error
	if pl.Objects != nil {
		// A salt per plan keys every fingerprint of its Kubernetes side (issue 20).
		salt := make([]byte, 16)
		if _, err := io.ReadFull(pl.random(), salt); err != nil {
			return plans.Plan{}, fmt.Errorf("salt for the Kubernetes side of %q: %w", pl.Target, err)
		}
		op, err := pl.planObjects(ctx, ObjectPlanOptions{Prune: d.Deletion == spec.DeletionPrune, AllowDelete: opts.AllowDelete, Salt: salt})
		if err != nil {
			return plans.Plan{}, err
		}
		p.Changes = append(op.Changes, p.Changes...)
		p.ObjectsFingerprint = op.Fingerprint
		p.Desired.Objects = op.Desired
	}
	if p.Advisories, err = pl.advisories(s); err != nil {
		return plans.Plan{}, err
	}
	p.Advisories = append(deferredAdvisories(p), p.Advisories...)
	if a, ok := UnenforcedAccess(s, pl.Target); ok {
		p.Advisories = append(p.Advisories, a)
	}
	return p, nil
}

func (pl *Planner) secrets() SecretReader {
	if pl.Secrets == nil {
		return ProcessSecrets
	}
	return pl.Secrets
}

func (pl *Planner) random() io.Reader {
	if pl.Rand == nil {
		return rand.Reader
	}
	return pl.Rand
}

// UnenforcedAccess warns when the spec declares access control and the target is an embedded
// cluster without SASL: kfake then stores the users and ACLs apply creates but authenticates
// nobody and enforces nothing, and a plan full of ACLs would suggest otherwise (issue 14).
func UnenforcedAccess(s *spec.Spec, target string) (plans.Advisory, bool) {
	c, err := s.Target(target)
	if err != nil || !c.Embedded() || c.Security == spec.SecuritySASLPlaintext {
		return plans.Advisory{}, false
	}
	if len(s.Users)+len(s.Services)+len(s.ACLs) == 0 {
		return plans.Advisory{}, false
	}
	return plans.Advisory{Subject: "access", Status: "not enforced",
		Reason: fmt.Sprintf("target %q is the embedded cluster without SASL: it stores the users and ACLs apply creates but authenticates no one and enforces nothing; to try them, give the target security: sasl_plaintext and a SCRAM sasl: user (docs/access.md)", target)}, true
}

// deferredReason says why the Kafka plane was deferred.
func deferredReason(why error) string {
	reason := "the brokers do not answer yet"
	if why != nil {
		reason += " (" + why.Error() + ")"
	}
	return reason
}

// deferredAdvisories say, for each deferred plane, why a plan lacks it and when it comes.
func deferredAdvisories(p plans.Plan) []plans.Advisory {
	var out []plans.Advisory
	for _, d := range p.Deferred {
		out = append(out, plans.Advisory{Subject: "topics", Status: "deferred",
			Reason: d.Reason + ": the topics will be planned once the brokers answer; apply creates the brokers, waits for them and then plans the topics under the apply lock"})
	}
	return out
}

func (pl *Planner) advisories(s *spec.Spec) ([]plans.Advisory, error) {
	if pl.Certs == nil {
		return nil, nil
	}
	now := time.Now
	if pl.Now != nil {
		now = pl.Now
	}
	adv, err := pl.Certs(s, now())
	if err != nil {
		return nil, fmt.Errorf("check TLS material: %w", err)
	}
	return adv, nil
}

// CheckSaved refuses a saved plan for another cluster, one the cluster has moved on from, or one
// that does not verify against the live state, before it is shown and confirmed. Apply checks all
// of it again under the lock. The spec is read only for the advisories shown with the plan.
func (pl *Planner) CheckSaved(ctx context.Context, p plans.Plan, s *spec.Spec) (plans.Plan, error) {
	if err := pl.verifyKafka(ctx, p); err != nil {
		return p, err
	}
	if err := pl.verifySavedObjects(ctx, p); err != nil {
		return p, err
	}
	var err error
	if p.Advisories, err = pl.advisories(s); err != nil {
		return p, err
	}
	deferred := deferredAdvisories(p)
	if pl.Cluster != nil {
		// The brokers answer now: say so rather than repeat what was true when planning.
		for i := range deferred {
			deferred[i].Reason = "when the plan was made, " + p.Deferred[i].Reason + "; the brokers answer now: apply takes the apply lock before any object changes and plans the topics under it, but changes none of them (they are not part of this plan): run plan again for them"
		}
	}
	p.Advisories = append(deferred, p.Advisories...)
	return p, nil
}

// verifyKafka checks the Kafka side of a plan against the live cluster: its id and Verify. A plan
// whose topics were deferred has no Kafka side, and must not have grown one.
func (pl *Planner) verifyKafka(ctx context.Context, p plans.Plan) error {
	if p.TopicsDeferred() {
		if _, topics := splitObjects(p.Changes); len(topics) > 0 {
			return fmt.Errorf("%w, nothing was changed: the plan says its topics were not planned, yet it holds %d topic change(s) (was the plan file edited?); run plan again", plans.ErrTampered, len(topics))
		}
		return nil
	}
	if pl.Cluster == nil {
		return fmt.Errorf("read cluster %q: %w", pl.Target, pl.ClusterErr)
	}
	// A live state this planner read and hashed to the plan's fingerprint needs no second hash.
	var known string
	if o := pl.observed; o != nil && o.fingerprint == p.Fingerprint {
		known = o.fingerprint
	}
	live, err := pl.observe(ctx, p.Fingerprint)
	if err != nil {
		return err
	}
	if err := CheckClusterID(pl.PinnedClusterID, p, live.ClusterID); err != nil {
		return err
	}
	if err := verifyPlan(p, live, known); err != nil {
		return err
	}
	// Verified, so the live state has the plan's fingerprint: the next check of this plan (apply
	// after CheckSaved) needs no second read.
	pl.observed.fingerprint = p.Fingerprint
	return nil
}

// verifySavedObjects re-plans the Kubernetes side and refuses a plan that no longer matches it.
func (pl *Planner) verifySavedObjects(ctx context.Context, p plans.Plan) error {
	objs, _ := splitObjects(p.Changes)
	if pl.Objects == nil {
		if len(objs) > 0 || p.ObjectsFingerprint != "" {
			return fmt.Errorf("%w: the plan has a Kubernetes side but target %q has no kubernetes: block", ErrRefused, p.Cluster)
		}
		return nil
	}
	po, err := pinnedOptions(p)
	if err != nil {
		return err
	}
	fresh, err := pl.planObjects(ctx, po)
	if err != nil {
		return err
	}
	return verifyObjects(p, fresh)
}

// Verify re-derives a plan from its own snapshot and the live state and refuses it unless it is
// exactly what it claims to be (issue 10): the live state is the one it was computed against, no
// change touches an internal topic, a deletion is of a managed topic that is not in the snapshot
// and the snapshot says deletion: prune, every risk is the one the typed change has against the
// live state, and the changes are those Diff gives — nothing added, dropped or altered.
func Verify(p plans.Plan, live plans.Live) error { return verifyPlan(p, live, "") }

// verifyPlan is Verify; fp, when not empty, is live's fingerprint, computed already.
func verifyPlan(p plans.Plan, live plans.Live, fp string) error {
	p = topicPart(p) // the object side is verified against the API server (verifyObjects)
	if fp == "" {
		fp = Fingerprint(live)
	}
	if fp != p.Fingerprint {
		return fmt.Errorf("%w: the cluster changed since the plan was computed (plan %s, live %s); run plan again and review the new plan", ErrStalePlan, plans.ShortDigest(p.Fingerprint), plans.ShortDigest(fp))
	}
	inventory := map[string]bool{}
	for _, n := range live.Inventory {
		inventory[n] = true
	}
	var errs []error
	for i, c := range p.Changes {
		if err := c.PayloadErr(); err != nil {
			errs = append(errs, fmt.Errorf("change %d: %w", i+1, err))
			continue
		}
		if topics.IsInternal(c.Name, live.Topics[c.Name]) && c.Action != plans.Unsupported {
			errs = append(errs, fmt.Errorf("change %d (%s): %s is an internal topic; avatar-sync never changes it", i+1, plans.Headline(c), c.Name))
			continue
		}
		if c.Action == plans.Delete && plans.IsAccess(c.Kind) {
			if err := verifyAccessDelete(p, c, inventory); err != nil {
				errs = append(errs, fmt.Errorf("change %d (%s): %w", i+1, plans.Headline(c), err))
			}
		} else if c.Action == plans.Delete {
			switch {
			case c.Kind != plans.KindTopic:
				errs = append(errs, fmt.Errorf("change %d (%s): only whole topics are deleted", i+1, plans.Headline(c)))
			case p.Desired.Has(c.Name):
				errs = append(errs, fmt.Errorf("change %d (%s): topic %s is in the plan's desired state; a plan never deletes a topic it wants", i+1, plans.Headline(c), c.Name))
			case p.Desired.Deletion != spec.DeletionPrune:
				errs = append(errs, fmt.Errorf("change %d (%s): the plan's desired state says deletion: %s, so nothing is deleted", i+1, plans.Headline(c), p.Desired.Deletion))
			case !p.AllowDelete:
				errs = append(errs, fmt.Errorf("change %d (%s): the plan was computed without --allow-delete", i+1, plans.Headline(c)))
			case !inventory[c.Name]:
				errs = append(errs, fmt.Errorf("change %d (%s): topic %s is not in avatar-sync's inventory; unmanaged topics are never deleted", i+1, plans.Headline(c), c.Name))
			}
		}
		if r, why := plans.DeriveRisk(c, live); r != c.Risk {
			errs = append(errs, fmt.Errorf("change %d (%s): the plan says risk %q, but against the live cluster it is %q (%s)", i+1, plans.Headline(c), c.Risk, r, why))
		}
	}
	if len(errs) == 0 {
		derived := diff(p.Desired, live, DiffOptions{Cluster: p.Cluster, AllowDelete: p.AllowDelete}) // hashed above
		errs = compareChanges(p.Changes, derived.Changes)
		if derived.ManagedTopics != p.ManagedTopics {
			// The mass-delete guard counts on it.
			errs = append(errs, fmt.Errorf("the plan says %d managed topics, the live inventory has %d", p.ManagedTopics, derived.ManagedTopics))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w, nothing was changed: it is not what its own desired state gives against the live cluster (was the plan file edited?); run plan again:\n%w", plans.ErrTampered, errors.Join(errs...))
}

// compareChanges reports every difference between the plan's changes and the derived ones.
func compareChanges(got, derived []plans.Change) []error {
	key := func(c plans.Change) string { return c.Kind.String() + "\x00" + c.Name + "\x00" + c.Action.String() }
	want := map[string]plans.Change{}
	for _, c := range derived {
		want[key(c)] = c
	}
	var errs []error
	seen := map[string]bool{}
	for i, c := range got {
		k := key(c)
		d, ok := want[k]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("change %d (%s) is not called for", i+1, plans.Headline(c)))
		case seen[k]:
			errs = append(errs, fmt.Errorf("change %d (%s) appears twice", i+1, plans.Headline(c)))
		case !sameChange(c, d):
			errs = append(errs, fmt.Errorf("change %d (%s) differs: plan %s, derived %s", i+1, plans.Headline(c), canonical(c), canonical(d)))
		}
		seen[k] = true
	}
	for _, d := range derived {
		if !seen[key(d)] {
			errs = append(errs, fmt.Errorf("the plan lacks %s", plans.Headline(d)))
		}
	}
	return errs
}

// sameChange reports whether two changes have the same canonical form. A config change or a topic
// creation (10,000 of them in a plan that changes or creates every topic) is compared field by
// field, without encoding it twice; anything else, or one that differs, by its canonical JSON.
func sameChange(a, b plans.Change) bool {
	others := func(c plans.Change) bool {
		return c.Partitions == nil && c.Replication == nil && c.Adopt == nil &&
			c.Object == nil && c.ACL == nil && c.User == nil && c.Quota == nil
	}
	onlyConfig := func(c plans.Change) bool {
		return c.Kind == plans.KindConfig && c.Config != nil && c.Config.Keys != nil && c.Topic == nil && others(c)
	}
	onlyTopic := func(c plans.Change) bool {
		return c.Kind == plans.KindTopic && c.Topic != nil && c.Config == nil && others(c)
	}
	if a.Name != b.Name || a.Action != b.Action || a.Risk != b.Risk || a.Reason != b.Reason || !maps.Equal(a.Notes, b.Notes) {
		return canonical(a) == canonical(b)
	}
	switch {
	case onlyConfig(a) && onlyConfig(b) && maps.Equal(a.Config.Keys, b.Config.Keys):
		return true
	case onlyTopic(a) && onlyTopic(b) && a.Topic.Partitions == b.Topic.Partitions &&
		a.Topic.ReplicationFactor == b.Topic.ReplicationFactor && maps.Equal(a.Topic.Configs, b.Topic.Configs):
		return true
	}
	return canonical(a) == canonical(b)
}

// canonical is a change's JSON, with empty maps and nil maps alike (a round trip through a file
// turns one into the other).
func canonical(c plans.Change) string {
	if len(c.Notes) == 0 {
		c.Notes = nil
	}
	if c.Topic != nil && len(c.Topic.Configs) == 0 {
		t := *c.Topic
		t.Configs = nil
		c.Topic = &t
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// Reconcile is one unattended pass, as watch runs it: plan, refuse what the opt-ins do not cover,
// apply, and prove convergence against the plan's snapshot. planned sees the plan before anything
// is applied (nil = nobody). A mass delete is always refused here, whatever opts says: a daemon
// never empties a cluster on its own (issue 10); a person does it with apply --allow-mass-delete.
// The spec's reassignment throttle applies unless opts sets one.
func (pl *Planner) Reconcile(ctx context.Context, s *spec.Spec, opts ApplyOptions, planned func(plans.Plan), progress Progress) (plans.Plan, plans.Result, error) {
	p, err := pl.Plan(ctx, s, PlanOptions{AllowDelete: opts.AllowDelete})
	if err != nil {
		return p, plans.Result{}, err
	}
	if planned != nil {
		planned(p)
	}
	if !p.HasChanges() {
		// Deferred topics are not known to be in sync: the next pass plans them.
		return p, plans.Result{ClusterID: p.ClusterID, Verified: !p.TopicsDeferred()}, nil
	}
	opts.AllowMassDelete = false
	opts.ExpectClusterID = pl.PinnedClusterID
	if opts.ThrottleBytesPerSec == 0 {
		opts.ThrottleBytesPerSec = s.Reassignment.ThrottleBytesPerSec
	}
	res, err := pl.Apply(ctx, p, opts, progress)
	return p, res, err
}

// uncreatableUsers refuses SCRAM users that the spec declares without a password reference and
// that do not exist on the cluster (issue 15): avatar-sync manages only their existence, so it has
// no password to create them with. The error points at each entry in the file. A cluster whose
// credentials cannot be read is left to the diff, which reports that instead.
func uncreatableUsers(s *spec.Spec, live plans.Live, target string) error {
	if live.Access.Unreadable != "" {
		return nil
	}
	exists := map[string]bool{}
	for _, c := range live.Access.Credentials {
		exists[credentialKey(c.User, c.Mechanism)] = true
	}
	var errs []error
	for i, u := range s.Users {
		if !u.SCRAM() || u.PasswordEnv != "" || u.PasswordFile != "" || exists[credentialKey(u.Name, u.Mechanism)] {
			continue
		}
		where := u.Pos.String()
		if where != "" {
			where += ": "
		}
		errs = append(errs, fmt.Errorf("%susers[%d] %s (%s) does not exist on cluster %q, and without passwordEnv or passwordFile avatar-sync has no password to create it with: add one (apply reads the password from it and never shows it)",
			where, i, u.Name, u.Mechanism, target))
	}
	return errors.Join(errs...)
}
