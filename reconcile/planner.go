package reconcile

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
	"github.com/avatar-project/avatar-sync/topics"
)

// CertAdvisor lists the TLS material of a spec that needs work, judged at now. cmd wires it to
// the certs package, which reconcile may not import (certs stays pure, docs/architecture.md).
type CertAdvisor func(s *spec.Spec, now time.Time) ([]plans.Advisory, error)

// Planner is the one producer of plans (issue 9): plan, apply, watch and `apply --plan` all get
// their Plan from it and differ only in what they do with it. It drives a target's planes through
// the Plane interface (issue 20) and knows none of them.
type Planner struct {
	// Target is the target planned: its name, pinned identity and planes in order.
	Target Target
	// Certs computes the certificate advisories; nil = none.
	Certs CertAdvisor
	// Now is the clock certificates are judged by; nil = time.Now.
	Now func() time.Time
	// Secrets reads SCRAM users' passwords to fingerprint them (nil = ProcessSecrets); Rand is
	// the salt source (nil = crypto/rand). Issue 14.
	Secrets SecretReader
	Rand    io.Reader

	// observed holds, per plane, the observation the planner made last: verifying a plan against
	// the state it was planned from needs no second read (issue 20: apply read the cluster four
	// times). Anything that changed since is caught under the lease, where each plane checks its
	// fingerprint against a fresh read.
	observed []Observation
	// lock is the apply lock Lock took before the planner read the target (nil = none): the
	// plan's reads are then the reads under it, and Apply reads nothing again (issue 23).
	lock *plannerLock
	// planned is the plan Plan made, or CheckSaved verified, from reads made under lock; the
	// reads are then dropped (issue 23: at 10,000 topics the Kafka read is the largest structure
	// in memory), since that plan needs no second verification while the lock is held, and any
	// other is read for afresh. plannedUnder is the lock they were read under.
	planned      *plans.Plan
	plannedUnder *heldLease
}

// keep records p as the plan made or verified from reads under the lock the planner holds, and
// drops the reads.
func (pl *Planner) keep(p plans.Plan) {
	if pl.lock == nil {
		return
	}
	pl.planned, pl.plannedUnder, pl.observed = &p, pl.lock.held, nil
}

// madeUnderLock reports whether p is the plan this planner made (or verified) from its reads
// under the lock it still holds — the same parts (each the same changes, not copies, fingerprint
// and deferral), the same desired snapshot (not a copy) and opt-ins —: nobody else can have changed the target since,
// and the plan is its derivation from those reads, so verifying it again would only repeat the
// diff. Any other plan, an empty one included, is read for afresh and verified.
func (pl *Planner) madeUnderLock(p plans.Plan) bool {
	k := pl.planned
	return k != nil && pl.lock != nil && pl.plannedUnder == pl.lock.held &&
		slices.EqualFunc(k.Parts, p.Parts, sameParts) && sameBacking(k.Desired.Topics, p.Desired.Topics) &&
		k.Desired.Deletion == p.Desired.Deletion && k.Desired.Access == p.Desired.Access &&
		k.Desired.Objects == p.Desired.Objects && k.AllowDelete == p.AllowDelete &&
		k.ManagedTopics == p.ManagedTopics && k.ClusterID == p.ClusterID
}

// sameParts reports whether a and b are the same part: plane, fingerprint, deferral and the same
// changes (sameBacking).
func sameParts(a, b plans.Part) bool {
	return a.Plane == b.Plane && a.Fingerprint == b.Fingerprint && sameBacking(a.Changes, b.Changes) &&
		(a.Deferral == nil) == (b.Deferral == nil) && (a.Deferral == nil || *a.Deferral == *b.Deferral)
}

// sameBacking reports whether a and b are the same slice: equal lengths over one array (two empty
// slices count as the same).
func sameBacking[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// PlanOptions are the planning opt-ins.
type PlanOptions struct {
	// AllowDelete is --allow-delete: plan deleting managed topics that left the spec (with
	// deletion: prune).
	AllowDelete bool
}

// query is the Query of this planner's target for the spec s (nil: checking saved).
func (pl *Planner) query(s *spec.Spec, saved *plans.Plan, allowDelete bool) Query {
	t := pl.Target
	t.Planes = nil
	return Query{Target: t, Spec: s, Saved: saved, AllowDelete: allowDelete, Secrets: pl.secrets(), Rand: pl.random()}
}

// remember records plane i's observation.
func (pl *Planner) remember(i int, o Observation) {
	if len(pl.observed) != len(pl.Target.Planes) {
		pl.observed = make([]Observation, len(pl.Target.Planes))
	}
	pl.observed[i] = o
}

// observeSaved returns plane i's observation for checking the saved plan p: the one the planner
// made last when its fingerprint is the one p records for the plane, a fresh read otherwise.
func (pl *Planner) observeSaved(ctx context.Context, i int, p *plans.Plan) (Observation, error) {
	plane := pl.Target.Planes[i]
	if i < len(pl.observed) {
		if o := pl.observed[i]; o != nil && o.Fingerprint() != "" && o.Fingerprint() == p.Part(plane.Kind()).Fingerprint {
			return o, nil
		}
	}
	o, err := plane.Observe(ctx, pl.query(nil, p, p.AllowDelete))
	if err != nil {
		return nil, err
	}
	pl.remember(i, o)
	return o, nil
}

// Plan computes the plan for the spec:
//
//  1. observe every plane of the target, in order; each refuses a live state that is not the
//     pinned target's (the Kafka plane: a cluster whose id is not the pinned one, issue #3). A
//     plane that cannot be read yet (a fresh cluster's brokers) is deferred when another plane
//     can be planned: its part holds a typed deferral and no changes, and an advisory says when
//     it is planned (under the apply lock, never around it);
//  2. diff the spec's snapshot against each observation (pure), in the planes' order, each plane
//     filling its part (fingerprint and changes): the Kubernetes objects first (issue 11), under
//     a new random salt, their manifests pinned in the snapshot (Secret values only as salted
//     fingerprints, issue 20); then the topics and access. The plan has one part per plane, in
//     the target's plane order;
//  3. add the certificate advisories (never changes: apply does not issue certificates).
func (pl *Planner) Plan(ctx context.Context, s *spec.Spec, opts PlanOptions) (plans.Plan, error) {
	d := plans.DesiredOf(s)
	if d.Access != nil {
		if c, err := s.Target(pl.Target.Name); err == nil && c.SASL != nil {
			d.Access.Admin = c.SASL.Username
		}
	}
	q := pl.query(s, nil, opts.AllowDelete)
	observed := make([]Observation, len(pl.Target.Planes))
	deferred := make([]*DeferredError, len(pl.Target.Planes))
	n := 0
	for i, plane := range pl.Target.Planes {
		o, err := plane.Observe(ctx, q)
		switch {
		case errors.As(err, &deferred[i]):
			n++
		case err != nil:
			return plans.Plan{}, err
		}
		observed[i] = o
	}
	if n == len(pl.Target.Planes) {
		if n == 0 {
			return plans.Plan{}, fmt.Errorf("target %q has no plane to plan", pl.Target.Name)
		}
		return plans.Plan{}, deferred[0].Err
	}
	p := plans.Plan{Cluster: pl.Target.Name, AllowDelete: opts.AllowDelete, Desired: d, Parts: make([]plans.Part, 0, len(pl.Target.Planes))}
	for i, o := range observed {
		k := pl.Target.Planes[i].Kind()
		if de := deferred[i]; de != nil {
			d := de.Deferral
			p.SetPart(plans.Part{Plane: k, Deferral: &d})
			continue
		}
		if err := o.Diff(&p); err != nil {
			return plans.Plan{}, err
		}
		if pt := p.Part(k); pt.Fingerprint == "" || len(p.Parts) != i+1 || p.Parts[i].Plane != k {
			return plans.Plan{}, fmt.Errorf("target %q: the %s plane recorded no part of its own (fingerprint and changes) in the plan", pl.Target.Name, k)
		}
	}
	pl.observed, pl.planned = observed, nil
	var err error
	if p.Advisories, err = pl.advisories(s); err != nil {
		return plans.Plan{}, err
	}
	p.Advisories = append(pl.deferredAdvisories(p), p.Advisories...)
	if a, ok := UnenforcedAccess(s, pl.Target.Name); ok {
		p.Advisories = append(p.Advisories, a)
	}
	pl.keep(p)
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

// deferredAdvisories say, for each deferred plane, why a plan lacks it and when it comes: the
// plane's own words, which tell whether it answers now.
func (pl *Planner) deferredAdvisories(p plans.Plan) []plans.Advisory {
	var out []plans.Advisory
	for _, pt := range p.Deferrals() {
		if i := pl.planeIndex(pt.Plane); i >= 0 {
			out = append(out, pl.Target.Planes[i].Deferred(*pt.Deferral))
		}
	}
	return out
}

// planeIndex is the index of the target's plane of kind k, -1 when it has none.
func (pl *Planner) planeIndex(k plans.PlaneID) int {
	for i, plane := range pl.Target.Planes {
		if plane.Kind() == k {
			return i
		}
	}
	return -1
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
	if err := pl.verifySaved(ctx, p); err != nil {
		return p, err
	}
	var err error
	if p.Advisories, err = pl.advisories(s); err != nil {
		return p, err
	}
	p.Advisories = append(pl.deferredAdvisories(p), p.Advisories...)
	return p, nil
}

// verifySaved checks a plan part by part against each plane's live state (the observation the
// plan was made or last checked from when the planner has it), in the planes' order. A deferred
// part must hold no changes; a plan whose parts are not the target's planes is refused.
func (pl *Planner) verifySaved(ctx context.Context, p plans.Plan) error {
	if pl.madeUnderLock(p) {
		return nil
	}
	pl.planned = nil
	if err := pl.checkPlanes(p); err != nil {
		return err
	}
	for i := range pl.Target.Planes {
		pt := p.Parts[i]
		if pt.Deferral != nil {
			if n := len(pt.Changes); n > 0 {
				return fmt.Errorf("%w, nothing was changed: the plan says its %s plane was not planned (deferred), yet it holds %d change(s) of it (was the plan file edited?); run plan again", plans.ErrTampered, pt.Plane, n)
			}
			continue
		}
		o, err := pl.observeSaved(ctx, i, &p)
		if err != nil {
			return err
		}
		if err := o.Verify(p); err != nil {
			return err
		}
	}
	pl.keep(p) // verified under the lock: not again, and the reads are not held
	return nil
}

// checkPlanes refuses a plan whose parts are not one per plane of the target in the target's
// order: a part for a plane the target does not have, none for one it has, or a plane's part twice
// (Part finds the first: the second's changes would be counted and checked but never verified or
// executed).
func (pl *Planner) checkPlanes(p plans.Plan) error {
	for _, pt := range p.Parts {
		if pl.planeIndex(pt.Plane) < 0 {
			return fmt.Errorf("%w: the plan has a %s part but target %q has no %s plane", ErrRefused, pt.Plane, p.Cluster, pt.Plane)
		}
	}
	if len(p.Parts) > len(pl.Target.Planes) {
		return fmt.Errorf("%w: the plan has %d parts (%s) for target %q's %d planes; run plan again", ErrRefused, len(p.Parts), partNames(p), p.Cluster, len(pl.Target.Planes))
	}
	for i, plane := range pl.Target.Planes {
		if k := plane.Kind(); i >= len(p.Parts) || p.Parts[i].Plane != k {
			return fmt.Errorf("%w: the plan has no %s part in the place of target %q's %s plane (its parts: %s); run plan again", ErrRefused, k, p.Cluster, k, partNames(p))
		}
	}
	return nil
}

// partNames lists a plan's parts by plane, in order.
func partNames(p plans.Plan) string {
	names := make([]string, len(p.Parts))
	for i, pt := range p.Parts {
		names[i] = pt.Plane.String()
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// Verify re-derives a plan from its own snapshot and the live state and refuses it unless it is
// exactly what it claims to be (issue 10): the live state is the one it was computed against, no
// change touches an internal topic, a deletion is of a managed topic that is not in the snapshot
// and the snapshot says deletion: prune, every risk is the one the typed change has against the
// live state, and the changes are those Diff gives — nothing added, dropped or altered.
func Verify(p plans.Plan, live plans.Live) error { return verifyPlan(p, live, "") }

// verifyPlan is Verify; fp, when not empty, is live's fingerprint, computed already.
func verifyPlan(p plans.Plan, live plans.Live, fp string) error {
	p = partOf(p, plans.PlaneKafka) // the object side is verified against the API server (verifyObjects)
	if fp == "" {
		fp = Fingerprint(live, p.Desired)
	}
	if err := checkFresh(plans.PlaneKafka, "the cluster", p, fp); err != nil {
		return err
	}
	inventory := map[string]bool{}
	for _, n := range live.Inventory {
		inventory[n] = true
	}
	var errs []error
	for i, c := range p.Part(plans.PlaneKafka).Changes {
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
			case c.Kind.Removes() != plans.RemovesRecords:
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
		errs = compareChanges(p.Part(plans.PlaneKafka).Changes, derived.Part(plans.PlaneKafka).Changes)
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
		// A deferred plane is not known to be in sync: the next pass plans it.
		return p, plans.Result{ClusterID: p.ClusterID, Verified: len(p.Deferrals()) == 0}, nil
	}
	opts.AllowMassDelete = false
	opts.ExpectClusterID = pl.Target.ClusterID
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
