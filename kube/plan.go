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

	"github.com/fluxcd/pkg/ssa"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/avatar-project/avatar-sync/reconcile"
)

// The actions kube plans: reconcile's closed set (issue 20: kube declares no plan model of its
// own). Replace is a change Kubernetes cannot make in place (a StatefulSet's volumeClaimTemplates):
// executed only with AllowReplace, as orphan-delete and recreate so pods and volumes survive;
// Unsupported is one the API server refuses.
const (
	noOp        = reconcile.NoOp
	create      = reconcile.Create
	update      = reconcile.Update
	remove      = reconcile.Delete
	replace     = reconcile.Replace
	unsupported = reconcile.Unsupported
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
}

// examined is one object a plan looked at and what it decided.
type examined struct {
	ref    reconcile.ObjectRef
	broker int32
	action reconcile.Action
	// live is the salted digest of the live object, "" when absent.
	live string
}

// newChange is the reconcile change of one object, before the plan decides about it.
func newChange(ref reconcile.ObjectRef, broker int32) reconcile.Change {
	return reconcile.Change{Kind: reconcile.KindObject, Name: ref.String(),
		Object: &reconcile.ObjectPayload{Object: ref, Broker: broker, Sensitive: ref.Kind == "Secret"}}
}

// plan diffs desired against the live cluster by server-side apply dry runs (field manager
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
	inv, ignored, err := c.readInventoryReport(ctx, ns, want.Inventory)
	if err != nil {
		return reconcile.ObjectPlan{}, nil, err
	}
	var all []reconcile.Change
	var errs []string
	for _, obj := range objs {
		ex.objects[refKey(refOf(obj))] = obj
		ch, err := c.planObject(ctx, obj, inv, opts.salt)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %s", refOf(obj), oneLine(err)))
			continue
		}
		all = append(all, ch)
	}
	for _, ref := range inv.refs() {
		if _, ok := ex.objects[refKey(ref)]; ok {
			continue
		}
		ch, err := c.planOrphan(ctx, ref, want.Inventory, ns, opts)
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
		namespaced, err := c.client.IsObjectNamespaced(o)
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
	c.rm.SetOwnerLabels(objs, want.Inventory, ns)
	sortObjects(objs)
	return objs, ns, nil
}

func (c *Client) ownerLabels(inventory, ns string) map[string]string {
	return c.rm.GetOwnerLabels(inventory, ns)
}

// planObject diffs one desired object against its live version.
func (c *Client) planObject(ctx context.Context, obj *unstructured.Unstructured, inv inventory, salt []byte) (reconcile.Change, error) {
	ref := refOf(obj)
	ch := newChange(ref, brokerID(obj))
	p := ch.Object
	live, err := c.get(ctx, ref)
	if err != nil {
		return ch, err
	}
	if live == nil {
		ch.Action = create
		// Ask the server now whether it would accept the object, so the plan shows a refusal
		// instead of the apply failing half way. Not possible before its namespace exists; and a
		// dry run does not catch everything (NodePort allocation happens only on a real create).
		err := c.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj.DeepCopy()), client.FieldOwner(FieldManager), client.ForceOwnership, client.DryRunAll)
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
	if !inv.has(ref) && !hasLabels(live, obj.GetLabels(), ownerGroup) {
		for _, m := range managers(live) {
			p.Conflicts = append(p.Conflicts, reconcile.ObjectConflict{Field: "(whole object)", Manager: m})
		}
		if len(p.Conflicts) == 0 {
			p.Conflicts = []reconcile.ObjectConflict{{Field: "(whole object)", Manager: "unknown (no managedFields)"}}
		}
		ch.Reason = "exists and was not created by avatar-sync"
	}
	if fields := immutableChanges(obj, live); len(fields) > 0 {
		ch.Action = replace
		p.Fields = fields
		ch.Reason = joinReason(ch.Reason, "Kubernetes cannot change a StatefulSet's volumeClaimTemplates in place; applying needs --allow-replace (orphan-delete and recreate: pods and volumes survive, existing volumes keep their size)")
		return ch, nil
	}
	entry, before, after, err := c.rm.Diff(ctx, obj, ssa.DiffOptions{})
	if err != nil {
		if apierrors.IsInvalid(err) || strings.Contains(err.Error(), "Forbidden") {
			ch.Action = unsupported
			ch.Reason = joinReason(ch.Reason, "the API server refuses the change: "+oneLine(err))
			return ch, nil
		}
		return ch, err
	}
	switch entry.Action {
	case ssa.UnchangedAction, ssa.SkippedAction:
		if len(p.Conflicts) > 0 {
			ch.Action = update
		} else {
			ch.Action = noOp
		}
		return ch, nil
	case ssa.CreatedAction:
		ch.Action = create
		return ch, nil
	}
	ch.Action = update
	p.Fields = fieldDiffs(before, after)
	if len(p.Conflicts) == 0 {
		conflicts, err := c.conflicts(ctx, obj)
		if err != nil {
			return ch, err
		}
		p.Conflicts = conflicts
	}
	return ch, nil
}

// planOrphan decides about an inventory object that left the render.
func (c *Client) planOrphan(ctx context.Context, ref reconcile.ObjectRef, inventory, ns string, opts planOptions) (*reconcile.Change, error) {
	live, err := c.get(ctx, ref)
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

// conflicts asks the API server which fields an unforced apply would take from other managers:
// the same dry run without force ownership answers 409 with one cause per contested field.
func (c *Client) conflicts(ctx context.Context, obj *unstructured.Unstructured) ([]reconcile.ObjectConflict, error) {
	err := c.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj.DeepCopy()), client.FieldOwner(FieldManager), client.DryRunAll)
	if err == nil {
		return nil, nil
	}
	if !apierrors.IsConflict(err) {
		return nil, fmt.Errorf("dry-run apply: %w", err)
	}
	var out []reconcile.ObjectConflict
	if st, ok := err.(apierrors.APIStatus); ok && st.Status().Details != nil {
		for _, cause := range st.Status().Details.Causes {
			if cause.Type != metav1.CauseTypeFieldManagerConflict {
				continue
			}
			m := cause.Message
			if sub := conflictManager.FindStringSubmatch(m); sub != nil {
				m = sub[1]
			}
			out = append(out, reconcile.ObjectConflict{Field: strings.TrimPrefix(cause.Field, "."), Manager: m})
		}
	}
	if len(out) == 0 {
		out = []reconcile.ObjectConflict{{Field: "(unknown)", Manager: oneLine(err)}}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out, nil
}

// get returns the live object, or nil when it does not exist.
func (c *Client) get(ctx context.Context, ref reconcile.ObjectRef) (*unstructured.Unstructured, error) {
	live := objectFor(ref)
	err := c.client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, live)
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
