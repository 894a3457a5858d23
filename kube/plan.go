package kube

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
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

// Action is what applying a change does to one object: the core's closed set (issue 20: kube kept
// a second enum whose Replace the core lost). Replace is a change Kubernetes cannot make in place
// (a StatefulSet's volumeClaimTemplates): executed only with Options.Replace, as orphan-delete and
// recreate so pods and volumes survive; Unsupported is one the API server refuses.
type Action = reconcile.Action

// The actions kube plans.
const (
	NoOp        = reconcile.NoOp
	Create      = reconcile.Create
	Update      = reconcile.Update
	Delete      = reconcile.Delete
	Replace     = reconcile.Replace
	Unsupported = reconcile.Unsupported
)

// symbol is the one-character prefix plans print.
func symbol(a Action) string {
	switch a {
	case Create:
		return "+"
	case Update:
		return "~"
	case Delete:
		return "-"
	case Replace:
		return "!"
	case Unsupported:
		return "x"
	}
	return " "
}

// Sensitive replaces a Secret's values in every diff: plans are printed and saved.
const Sensitive = "(sensitive)"

// absent is how a diff shows a field that does not exist on one side.
const absent = "(none)"

// FieldDiff is one changed field: path as kubectl's JSONPath-like notation, values compact.
type FieldDiff struct {
	Path   string `json:"path"`
	Before string `json:"before"`
	After  string `json:"after"`
}

func (d FieldDiff) String() string { return d.Path + ": " + d.Before + " → " + d.After }

// Conflict is a field another field manager owns: applying it takes the field over, which only
// Options.ForceConflicts allows.
type Conflict struct {
	Field   string `json:"field"`
	Manager string `json:"manager"`
}

func (c Conflict) String() string { return c.Field + " is owned by " + c.Manager }

// ObjectChange is the plan for one object.
type ObjectChange struct {
	Object ObjectRef `json:"object"`
	Action Action    `json:"action"`
	// Broker is the node id of a broker StatefulSet, -1 for every other object.
	Broker    int32       `json:"broker"`
	Reason    string      `json:"reason,omitempty"`
	Fields    []FieldDiff `json:"fields,omitempty"`
	Conflicts []Conflict  `json:"conflicts,omitempty"`
	// Live is a digest of the live object (without status and server bookkeeping) when the plan
	// was made; Apply refuses an object that changed since, so it never acts on a stale decision.
	Live string `json:"live,omitempty"`

	desired *unstructured.Unstructured
}

// Headline is "~ StatefulSet avatar/kafka-broker-2".
func (c ObjectChange) Headline() string { return symbol(c.Action) + " " + c.Object.String() }

// Plan is the Kubernetes side of a target's plan: a plain value; Apply is the only mutator.
type Plan struct {
	Target    string `json:"target"`
	Namespace string `json:"namespace"`
	// Inventory names the inventory: the spec's metadata.name.
	Inventory string         `json:"inventory"`
	Changes   []ObjectChange `json:"changes"`
	// Salt keys every Live digest (issue 20): random per plan unless Options.Salt pins it.
	Salt []byte `json:"salt,omitempty"`
}

// Pending reports whether applying the plan would change anything.
func (p Plan) Pending() bool {
	for _, c := range p.Changes {
		if c.Action != NoOp {
			return true
		}
	}
	return false
}

// Desired is what the render produced for one target.
type Desired struct {
	// Inventory names the set of objects avatar-sync owns in Namespace (the spec's metadata.name).
	Inventory string
	Objects   []*unstructured.Unstructured
}

// Options are the opt-ins of a plan and its apply.
type Options struct {
	// Prune is the spec's `deletion: prune`; AllowDelete is --allow-delete. Objects that left the
	// render are deleted only with both, as topics are.
	Prune, AllowDelete bool
	// ForceConflicts takes fields owned by another field manager (--force-conflicts).
	ForceConflicts bool
	// Replace allows orphan-delete and recreate for changes Kubernetes cannot make in place.
	Replace bool
	// Salt keys the live digests (HMAC-SHA256), so no plan holds a plain hash of a Secret's
	// content (issue 20); empty = a random one. A saved plan's salt is passed back to re-plan it.
	Salt []byte
}

// Plan diffs desired against the live cluster by server-side apply dry runs (field manager
// avatar-sync), as `kubectl diff` and Flux do, so server defaults never show as changes. It writes
// nothing. Every object is diffed even after one fails; the errors are joined.
func (c *Client) Plan(ctx context.Context, want Desired, opts Options) (Plan, error) {
	objs, ns, err := c.prepare(want)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Target: c.target, Namespace: ns, Inventory: want.Inventory, Salt: opts.Salt}
	if len(p.Salt) == 0 {
		p.Salt = make([]byte, 16)
		if _, err := rand.Read(p.Salt); err != nil {
			return Plan{}, fmt.Errorf("target %s: salt: %w", c.target, err)
		}
	}
	inv, ignored, err := c.readInventoryReport(ctx, ns, want.Inventory)
	if err != nil {
		return Plan{}, err
	}
	var errs []string
	wanted := map[string]bool{}
	for _, obj := range objs {
		wanted[refOf(obj).key()] = true
		ch, err := c.planObject(ctx, obj, inv, p.Salt)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %s", refOf(obj), oneLine(err)))
			continue
		}
		p.Changes = append(p.Changes, ch)
	}
	for _, ref := range inv.refs() {
		if wanted[ref.key()] {
			continue
		}
		ch, err := c.planOrphan(ctx, ref, want.Inventory, ns, opts, p.Salt)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %s", ref, oneLine(err)))
			continue
		}
		if ch != nil {
			p.Changes = append(p.Changes, *ch)
		}
	}
	p.Changes = append(p.Changes, c.inventoryIgnored(ns, want.Inventory, ignored)...)
	if len(errs) > 0 {
		return p, fmt.Errorf("target %s: plan Kubernetes objects: %s", c.target, strings.Join(errs, "; "))
	}
	return p, nil
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
func (c *Client) planObject(ctx context.Context, obj *unstructured.Unstructured, inv inventory, salt []byte) (ObjectChange, error) {
	ch := ObjectChange{Object: refOf(obj), Broker: brokerID(obj), desired: obj}
	live, err := c.get(ctx, ch.Object)
	if err != nil {
		return ch, err
	}
	if live == nil {
		ch.Action = Create
		// Ask the server now whether it would accept the object, so the plan shows a refusal
		// instead of the apply failing half way. Not possible before its namespace exists; and a
		// dry run does not catch everything (NodePort allocation happens only on a real create).
		err := c.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj.DeepCopy()), client.FieldOwner(FieldManager), client.ForceOwnership, client.DryRunAll)
		switch {
		case err == nil, apierrors.IsNotFound(err):
		case apierrors.IsInvalid(err), apierrors.IsBadRequest(err), apierrors.IsForbidden(err):
			ch.Action = Unsupported
			ch.Reason = "the API server refuses the object: " + oneLine(err)
		default:
			return ch, fmt.Errorf("dry-run apply: %w", err)
		}
		return ch, nil
	}
	ch.Live = digest(live, salt)
	// An object avatar-sync did not create (not in its inventory, no owner labels) is never taken
	// over silently: it is a conflict with whoever manages it.
	if !inv.has(ch.Object) && !hasLabels(live, obj.GetLabels(), ownerGroup) {
		for _, m := range managers(live) {
			ch.Conflicts = append(ch.Conflicts, Conflict{Field: "(whole object)", Manager: m})
		}
		if len(ch.Conflicts) == 0 {
			ch.Conflicts = []Conflict{{Field: "(whole object)", Manager: "unknown (no managedFields)"}}
		}
		ch.Reason = "exists and was not created by avatar-sync"
	}
	if fields := immutableChanges(obj, live); len(fields) > 0 {
		ch.Action = Replace
		ch.Fields = fields
		ch.Reason = joinReason(ch.Reason, "Kubernetes cannot change a StatefulSet's volumeClaimTemplates in place; applying needs --allow-replace (orphan-delete and recreate: pods and volumes survive, existing volumes keep their size)")
		return ch, nil
	}
	entry, before, after, err := c.rm.Diff(ctx, obj, ssa.DiffOptions{})
	if err != nil {
		if apierrors.IsInvalid(err) || strings.Contains(err.Error(), "Forbidden") {
			ch.Action = Unsupported
			ch.Reason = joinReason(ch.Reason, "the API server refuses the change: "+oneLine(err))
			return ch, nil
		}
		return ch, err
	}
	switch entry.Action {
	case ssa.UnchangedAction, ssa.SkippedAction:
		if len(ch.Conflicts) > 0 {
			ch.Action = Update
		} else {
			ch.Action = NoOp
		}
		return ch, nil
	case ssa.CreatedAction:
		ch.Action = Create
		return ch, nil
	}
	ch.Action = Update
	ch.Fields = fieldDiffs(before, after)
	if len(ch.Conflicts) == 0 {
		conflicts, err := c.conflicts(ctx, obj)
		if err != nil {
			return ch, err
		}
		ch.Conflicts = conflicts
	}
	return ch, nil
}

// planOrphan decides about an inventory object that left the render.
func (c *Client) planOrphan(ctx context.Context, ref ObjectRef, inventory, ns string, opts Options, salt []byte) (*ObjectChange, error) {
	live, err := c.get(ctx, ref)
	if err != nil || live == nil {
		return nil, err
	}
	ch := &ObjectChange{Object: ref, Broker: brokerID(live), Live: digest(live, salt)}
	switch {
	case !hasLabels(live, c.ownerLabels(inventory, ns), ""):
		ch.Reason = "left the render, but the live object lacks avatar-sync's owner labels (someone recreated it): left alone"
	case opts.Prune && opts.AllowDelete:
		ch.Action = Delete
		ch.Reason = "left the render, and the spec says deletion: prune and --allow-delete was given"
	case opts.Prune:
		ch.Reason = "left the render; the spec says deletion: prune, but deleting also needs --allow-delete"
	default:
		ch.Reason = "left the render; kept (deleting needs deletion: prune in the spec and --allow-delete)"
	}
	return ch, nil
}

// conflictManager pulls the manager out of the API server's conflict message:
// `conflict with "kubectl-set" using apps/v1`.
var conflictManager = regexp.MustCompile(`conflict with "([^"]+)"`)

// conflicts asks the API server which fields an unforced apply would take from other managers:
// the same dry run without force ownership answers 409 with one cause per contested field.
func (c *Client) conflicts(ctx context.Context, obj *unstructured.Unstructured) ([]Conflict, error) {
	err := c.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj.DeepCopy()), client.FieldOwner(FieldManager), client.DryRunAll)
	if err == nil {
		return nil, nil
	}
	if !apierrors.IsConflict(err) {
		return nil, fmt.Errorf("dry-run apply: %w", err)
	}
	var out []Conflict
	if st, ok := err.(apierrors.APIStatus); ok && st.Status().Details != nil {
		for _, cause := range st.Status().Details.Causes {
			if cause.Type != metav1.CauseTypeFieldManagerConflict {
				continue
			}
			m := cause.Message
			if sub := conflictManager.FindStringSubmatch(m); sub != nil {
				m = sub[1]
			}
			out = append(out, Conflict{Field: strings.TrimPrefix(cause.Field, "."), Manager: m})
		}
	}
	if len(out) == 0 {
		out = []Conflict{{Field: "(unknown)", Manager: oneLine(err)}}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out, nil
}

// get returns the live object, or nil when it does not exist.
func (c *Client) get(ctx context.Context, ref ObjectRef) (*unstructured.Unstructured, error) {
	live := ref.object()
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

// Lines prints one change as plans show it: the headline, then one indented line per field, per
// conflict and the reason, e.g.
//
//	~ StatefulSet avatar/kafka-broker-2
//	    spec.template.spec.containers[0].image: apache/kafka:3.8.1 → 3.9.0
func (c ObjectChange) Lines() []string {
	out := []string{c.Headline()}
	for _, f := range c.Fields {
		out = append(out, "    "+f.String())
	}
	for _, cf := range c.Conflicts {
		out = append(out, "    conflict: "+cf.String()+" (taking it needs --force-conflicts)")
	}
	if c.Reason != "" {
		out = append(out, "    ("+c.Reason+")")
	}
	return out
}

// Summary counts the pending changes: "Kubernetes: 1 to create, 2 to update, 0 to replace, 0 to
// delete."; unsupported changes and conflicts are counted when present.
func (p Plan) Summary() string {
	n := map[Action]int{}
	conflicts := 0
	for _, c := range p.Changes {
		n[c.Action]++
		if c.Action != NoOp && len(c.Conflicts) > 0 {
			conflicts++
		}
	}
	s := fmt.Sprintf("Kubernetes: %d to create, %d to update, %d to replace, %d to delete", n[Create], n[Update], n[Replace], n[Delete])
	if n[Unsupported] > 0 {
		s += fmt.Sprintf(", %d unsupported", n[Unsupported])
	}
	if conflicts > 0 {
		s += fmt.Sprintf(", %d with conflicts", conflicts)
	}
	return s + "."
}

// Fingerprint identifies the live state a plan was computed against: every object it examined and
// the digest of its live version ("" when absent). Two plans with the same fingerprint saw the same
// cluster.
func (p Plan) Fingerprint() string {
	h := sha256.New()
	for _, c := range p.Changes {
		fmt.Fprintf(h, "%s\x00%s\x00", c.Object.key(), c.Live)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
