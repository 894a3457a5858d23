package kube

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
)

// The actions kube plans: reconcile's closed set (issue 20: kube declares no plan model of its
// own). Replace is a change Kubernetes cannot make in place (a StatefulSet's volumeClaimTemplates):
// executed only with AllowReplace, as orphan-delete and recreate so pods and volumes survive;
// Unsupported is one the API server refuses.
const (
	noOp        = plans.NoOp
	create      = plans.Create
	update      = plans.Update
	remove      = plans.Delete
	replace     = plans.Replace
	unsupported = plans.Unsupported
)

// Sensitive replaces a Secret's values in every diff: plans are printed and saved.
const Sensitive = "(sensitive)"

// absent is how a diff shows a field that does not exist on one side.
const absent = "(none)"

// Desired is what the render produced for one target.
type Desired struct {
	// Inventory names the set of objects avatar-sync owns in Namespace (the spec's metadata.name).
	Inventory string
	Objects   []*unstructured.Unstructured
}

// planOptions are the opt-ins that change what a plan contains.
type planOptions struct {
	// prune is the spec's `deletion: prune`; allowDelete is --allow-delete. Objects that left the
	// render are deleted only with both, as topics are.
	prune, allowDelete bool
	// salt keys the live digests (HMAC-SHA256), so no plan holds a plain hash of a Secret's
	// content (issue 20).
	salt []byte
}

// execution is what the adapter keeps of a plan to execute it, beside reconcile's changes: the
// prepared objects (Secret values included, so it never leaves the plane) and every object the
// plan examined, in sync ones included (the fingerprint covers them, and a broker in sync must be
// Ready too before another restarts). It is no plan model: the changes are reconcile's.
type execution struct {
	namespace, inventory string
	salt                 []byte
	// objects are the desired objects by refKey, owner labels added.
	objects map[string]*unstructured.Unstructured
	// examined is every object the plan looked at, in apply order.
	examined []examined
	// fingerprint is reconcile.ObjectPlan.Fingerprint of the plan.
	fingerprint string
	// stored is the inventory as the plan read it (entries within the target), ignored how many
	// entries it ignored: apply writes the inventory only when that changes it.
	stored  inventory
	ignored int
}

// examined is one object a plan looked at and what it decided.
type examined struct {
	ref    plans.ObjectRef
	broker int32
	action plans.Action
	// live is the salted digest of the live object, "" when absent.
	live string
}

// newChange is the reconcile change of one object, before the plan decides about it.
func newChange(ref plans.ObjectRef, broker int32) plans.Change {
	return plans.Change{Kind: plans.KindObject, Name: ref.String(),
		Object: &plans.ObjectPayload{Object: ref, Broker: broker, Sensitive: ref.Kind == "Secret"}}
}

// plan diffs desired against the live cluster, read once (observe): an object in sync is
// recognised locally (inSync); any other is diffed by a server-side apply dry run (field manager
// avatar-sync), as `kubectl diff` and Flux do, so server defaults never show as changes. It writes
// nothing. Every object is diffed even after one fails; the errors are joined. The plan's changes
// are the pending ones and the orphans left alone; objects in sync are only in the fingerprint.
func (c *Client) plan(ctx context.Context, want Desired, opts planOptions) (reconcile.ObjectPlan, *execution, error) {
	objs, ns, err := c.prepare(want)
	if err != nil {
		return reconcile.ObjectPlan{}, nil, err
	}
	if len(opts.salt) < minSalt {
		return reconcile.ObjectPlan{}, nil, fmt.Errorf("target %s: a plan of the Kubernetes side needs a salt of %d bytes or more", c.target, minSalt)
	}
	ex := &execution{namespace: ns, inventory: want.Inventory, salt: opts.salt, objects: map[string]*unstructured.Unstructured{}}
	invRef := inventoryRef(ns, want.Inventory)
	refs := []plans.ObjectRef{invRef}
	for _, obj := range objs {
		ex.objects[refKey(refOf(obj))] = obj
		refs = append(refs, refOf(obj))
	}
	snap, err := c.observe(ctx, ns, refs)
	if err != nil {
		return reconcile.ObjectPlan{}, nil, err
	}
	invCM, err := snap.get(invRef)
	if err != nil {
		return reconcile.ObjectPlan{}, nil, fmt.Errorf("target %s: %w", c.target, err)
	}
	inv, ignored, err := c.parseInventory(ns, want.Inventory, invCM)
	if err != nil {
		return reconcile.ObjectPlan{}, nil, err
	}
	ex.stored, ex.ignored = inv, len(ignored)
	var all []plans.Change
	var errs []string
	for _, obj := range objs {
		ch, err := c.planObject(ctx, obj, snap, inv, opts.salt)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %s", refOf(obj), oneLine(err)))
			continue
		}
		all = append(all, ch)
	}
	var orphans []plans.ObjectRef
	for _, ref := range inv.refs() {
		if _, ok := ex.objects[refKey(ref)]; !ok {
			orphans = append(orphans, ref)
		}
	}
	if err := snap.read(ctx, c, orphans); err != nil {
		return reconcile.ObjectPlan{}, nil, err
	}
	for _, ref := range orphans {
		ch, err := c.planOrphan(ref, snap, want.Inventory, ns, opts)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %s", ref, oneLine(err)))
			continue
		}
		if ch != nil {
			all = append(all, *ch)
		}
	}
	all = append(all, c.inventoryIgnored(ns, want.Inventory, ignored)...)
	var op reconcile.ObjectPlan
	for _, ch := range all {
		p := ch.Object
		ex.examined = append(ex.examined, examined{ref: p.Object, broker: p.Broker, action: ch.Action, live: p.Live})
		if ch.Action != noOp || ch.Reason != "" {
			op.Changes = append(op.Changes, ch)
		}
	}
	ex.fingerprint = fingerprint(ex.examined)
	op.Fingerprint = ex.fingerprint
	if len(errs) > 0 {
		return op, ex, fmt.Errorf("target %s: plan Kubernetes objects: %s", c.target, strings.Join(errs, "; "))
	}
	return op, ex, nil
}

// prepare checks the render (one namespace, every namespaced object in it), adds the owner labels
// and sorts the objects into apply order.
func (c *Client) prepare(want Desired) ([]*unstructured.Unstructured, string, error) {
	if want.Inventory == "" {
		return nil, "", fmt.Errorf("target %s: the inventory needs a name (the spec's metadata.name)", c.target)
	}
	var ns string
	objs := make([]*unstructured.Unstructured, 0, len(want.Objects))
	for _, o := range want.Objects {
		o = o.DeepCopy()
		namespaced, err := c.isNamespaced(o)
		if err != nil {
			return nil, "", fmt.Errorf("target %s: %s: the API server does not know this kind: %s", c.target, refOf(o), oneLine(err))
		}
		if namespaced {
			if o.GetNamespace() == "" {
				return nil, "", fmt.Errorf("target %s: %s has no namespace; set clusters.%s.kubernetes.namespace", c.target, refOf(o), c.target)
			}
			if ns != "" && o.GetNamespace() != ns {
				return nil, "", fmt.Errorf("target %s: the render spans namespaces %s and %s; avatar-sync manages one namespace per target", c.target, ns, o.GetNamespace())
			}
			ns = o.GetNamespace()
		}
		objs = append(objs, o)
	}
	if ns == "" {
		return nil, "", fmt.Errorf("target %s: the render has no namespaced objects; set clusters.%s.kubernetes.namespace", c.target, c.target)
	}
	c.setOwnerLabels(objs, want.Inventory, ns)
	sortObjects(objs)
	return objs, ns, nil
}

// planObject diffs one desired object against its live version: locally when it is in sync
// (inSync), else by asking the server.
func (c *Client) planObject(ctx context.Context, obj *unstructured.Unstructured, snap *snapshot, inv inventory, salt []byte) (plans.Change, error) {
	ref := refOf(obj)
	ch := newChange(ref, brokerID(obj))
	p := ch.Object
	live, err := snap.get(ref)
	if err != nil {
		return ch, err
	}
	if live == nil {
		ch.Action = create
		// Ask the server now whether it would accept the object, so the plan shows a refusal
		// instead of the apply failing half way. Not possible before its namespace exists; and a
		// dry run does not catch everything (NodePort allocation happens only on a real create).
		_, err := c.serverApply(ctx, obj, applyMode{force: true, dryRun: true})
		switch {
		case err == nil, apierrors.IsNotFound(err):
		case apierrors.IsInvalid(err), apierrors.IsBadRequest(err), apierrors.IsForbidden(err):
			ch.Action = unsupported
			ch.Reason = "the API server refuses the object: " + oneLine(err)
		default:
			return ch, fmt.Errorf("dry-run apply: %w", err)
		}
		return ch, nil
	}
	p.Live = digest(live, salt)
	// An object avatar-sync did not create (not in its inventory, no owner labels) is never taken
	// over silently: it is a conflict with whoever manages it.
	foreign := !inv.has(ref) && !hasLabels(live, obj.GetLabels(), ownerGroup)
	if foreign {
		for _, m := range managers(live) {
			p.Conflicts = append(p.Conflicts, plans.ObjectConflict{Field: "(whole object)", Manager: m})
		}
		if len(p.Conflicts) == 0 {
			p.Conflicts = []plans.ObjectConflict{{Field: "(whole object)", Manager: "unknown (no managedFields)"}}
		}
		ch.Reason = "exists and was not created by avatar-sync"
	}
	if fields := immutableChanges(obj, live); len(fields) > 0 {
		ch.Action = replace
		p.Fields = fields
		ch.Reason = joinReason(ch.Reason, "Kubernetes cannot change a StatefulSet's volumeClaimTemplates in place; applying needs --allow-replace (orphan-delete and recreate: pods and volumes survive, existing volumes keep their size)")
		return ch, nil
	}
	ch.Action = noOp
	if foreign {
		ch.Action = update
	}
	if inSync(obj, live) {
		return ch, nil
	}
	answer, err := c.dryRun(ctx, obj, live)
	if err != nil {
		if apierrors.IsInvalid(err) || strings.Contains(err.Error(), "Forbidden") {
			ch.Action = unsupported
			ch.Reason = joinReason(ch.Reason, "the API server refuses the change: "+oneLine(err))
			return ch, nil
		}
		return ch, fmt.Errorf("dry-run apply: %w", err)
	}
	if len(answer.fields) == 0 {
		return ch, nil
	}
	ch.Action = update
	p.Fields = answer.fields
	if !foreign {
		p.Conflicts = answer.conflicts
	}
	return ch, nil
}

// dryRunAnswer is what the server said about applying one desired object to one live version.
type dryRunAnswer struct {
	// liveVersion and desired (the desired object as JSON, kept in memory only, as the object
	// itself is) say what was asked.
	liveVersion, desired string
	fields               []plans.ObjectField
	conflicts            []plans.ObjectConflict
}

// dryRun asks the server what server-side applying obj would change on live (DryRun=All): first
// without force, so a 409 names each field another manager owns, then, only then, forced, for the
// result. The answer is remembered per object: a plan that asks again about the same live version
// (its resourceVersion) and the same desired object (apply re-plans what plan just planned) gets
// it without a request.
func (c *Client) dryRun(ctx context.Context, obj, live *unstructured.Unstructured) (dryRunAnswer, error) {
	key := refKey(refOf(obj))
	b, err := json.Marshal(obj.Object)
	if err != nil {
		return dryRunAnswer{}, err
	}
	asked := dryRunAnswer{liveVersion: live.GetResourceVersion(), desired: string(b)}
	c.mu.Lock()
	prev, ok := c.dryRuns[key]
	c.mu.Unlock()
	if ok && asked.liveVersion != "" && prev.liveVersion == asked.liveVersion && prev.desired == asked.desired {
		return prev, nil
	}
	after, err := c.serverApply(ctx, obj, applyMode{dryRun: true})
	if apierrors.IsConflict(err) {
		asked.conflicts = conflictsOf(err)
		after, err = c.serverApply(ctx, obj, applyMode{force: true, dryRun: true})
	}
	if err != nil {
		return dryRunAnswer{}, err
	}
	asked.fields = fieldDiffs(live, after)
	c.mu.Lock()
	c.dryRuns[key] = asked
	c.mu.Unlock()
	return asked, nil
}

// planOrphan decides about an inventory object that left the render.
func (c *Client) planOrphan(ref plans.ObjectRef, snap *snapshot, inventory, ns string, opts planOptions) (*plans.Change, error) {
	live, err := snap.get(ref)
	if err != nil || live == nil {
		return nil, err
	}
	ch := newChange(ref, brokerID(live))
	ch.Object.Live = digest(live, opts.salt)
	switch {
	case !hasLabels(live, c.ownerLabels(inventory, ns), ""):
		ch.Reason = "left the render, but the live object lacks avatar-sync's owner labels (someone recreated it): left alone"
	case opts.prune && opts.allowDelete:
		ch.Action = remove
		ch.Reason = "left the render, and the spec says deletion: prune and --allow-delete was given"
	case opts.prune:
		ch.Reason = "left the render; the spec says deletion: prune, but deleting also needs --allow-delete"
	default:
		ch.Reason = "left the render; kept (deleting needs deletion: prune in the spec and --allow-delete)"
	}
	return &ch, nil
}

// conflictManager pulls the manager out of the API server's conflict message:
// `conflict with "kubectl-set" using apps/v1`.
var conflictManager = regexp.MustCompile(`conflict with "([^"]+)"`)

// conflictsOf reads the fields an unforced apply would take from other managers out of the API
// server's 409 answer: one cause per contested field.
func conflictsOf(err error) []plans.ObjectConflict {
	var out []plans.ObjectConflict
	if st, ok := err.(apierrors.APIStatus); ok && st.Status().Details != nil {
		for _, cause := range st.Status().Details.Causes {
			if cause.Type != metav1.CauseTypeFieldManagerConflict {
				continue
			}
			m := cause.Message
			if sub := conflictManager.FindStringSubmatch(m); sub != nil {
				m = sub[1]
			}
			out = append(out, plans.ObjectConflict{Field: strings.TrimPrefix(cause.Field, "."), Manager: m})
		}
	}
	if len(out) == 0 {
		out = []plans.ObjectConflict{{Field: "(unknown)", Manager: oneLine(err)}}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// get returns the live object, or nil when it does not exist.
func (c *Client) get(ctx context.Context, ref plans.ObjectRef) (*unstructured.Unstructured, error) {
	live, err := c.getObject(ctx, schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind), ref.Namespace, ref.Name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ref, err)
	}
	return live, nil
}

// managers lists the field managers of a live object, sorted.
func managers(u *unstructured.Unstructured) []string {
	set := map[string]bool{}
	for _, mf := range u.GetManagedFields() {
		if mf.Manager != FieldManager && mf.Subresource == "" {
			set[mf.Manager] = true
		}
	}
	out := make([]string, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// hasLabels reports whether live carries every label of want (only those under prefix, if set).
func hasLabels(live *unstructured.Unstructured, want map[string]string, prefix string) bool {
	have := live.GetLabels()
	n := 0
	for k, v := range want {
		if prefix != "" && !strings.HasPrefix(k, prefix+"/") {
			continue
		}
		n++
		if have[k] != v {
			return false
		}
	}
	return n > 0
}

// digest fingerprints what a plan decided from: the object without status and server bookkeeping
// (a kubelet's status writes do not make a plan stale; an edit does), as an HMAC-SHA256 keyed by
// the plan's salt: a Secret's digest is never a plain hash of its content, which an offline guess
// of the password could match (issue 20).
func digest(u *unstructured.Unstructured, salt []byte) string {
	cp := u.DeepCopy()
	unstructured.RemoveNestedField(cp.Object, "status")
	for _, f := range []string{"managedFields", "resourceVersion", "generation", "creationTimestamp", "uid"} {
		unstructured.RemoveNestedField(cp.Object, "metadata", f)
	}
	b, _ := json.Marshal(cp.Object)
	m := hmac.New(sha256.New, salt)
	m.Write(b)
	return "hmac:" + hex.EncodeToString(m.Sum(nil)[:16])
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// fingerprint identifies the live state a plan was computed against: every object it examined and
// the digest of its live version ("" when absent). Two plans with the same fingerprint saw the same
// cluster.
func fingerprint(objs []examined) string {
	h := sha256.New()
	for _, e := range objs {
		fmt.Fprintf(h, "%s\x00%s\x00", refKey(e.ref), e.live)
	}
	return "kube:" + hex.EncodeToString(h.Sum(nil)[:16])
}
