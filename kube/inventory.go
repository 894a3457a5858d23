package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/avatar-project/avatar-sync/plans"
)

// inventoryKey is the ConfigMap key holding the applied objects as JSON.
const inventoryKey = "objects.json"

// InventoryName is the ConfigMap in the target namespace that records what avatar-sync applied for
// an inventory (the spec's metadata.name). Pruning considers only objects listed there, so an object
// avatar-sync did not create is never deleted, whatever its labels (issue 11).
func InventoryName(inventory string) string { return "avatar-sync-inventory-" + inventory }

// inventory is the set of objects recorded by earlier applies.
type inventory map[string]plans.ObjectRef

func (inv inventory) has(r plans.ObjectRef) bool { _, ok := inv[refKey(r)]; return ok }

func (inv inventory) add(r plans.ObjectRef) { inv[refKey(r)] = r }

// refs lists the entries in apply order (namespace first), for plans that read the same each time.
func (inv inventory) refs() []plans.ObjectRef {
	objs := make([]*unstructured.Unstructured, 0, len(inv))
	for _, r := range inv {
		objs = append(objs, objectFor(r))
	}
	sortObjects(objs)
	out := make([]plans.ObjectRef, len(objs))
	for i, o := range objs {
		out[i] = refOf(o)
	}
	return out
}

// prunableKinds are the kinds render produces inside a target's namespace (group/kind): the only
// namespaced kinds an inventory entry may name.
var prunableKinds = map[string]bool{
	"/ConfigMap": true, "/Secret": true, "/Service": true, "/ServiceAccount": true,
	"apps/StatefulSet": true, "apps/Deployment": true, "policy/PodDisruptionBudget": true,
	"rbac.authorization.k8s.io/Role": true, "rbac.authorization.k8s.io/RoleBinding": true,
}

// outOfScope says why an inventory entry is not avatar-sync's to prune for a target in namespace
// ns ("" when it is). The inventory ConfigMap can be edited by anyone who can edit ConfigMaps there,
// so it is trusted only within the target (issue 21: hand-added entries for an object in another
// namespace and for a cluster-scoped Namespace, with copied owner labels, were deleted): objects of
// the rendered kinds in ns, and the Namespace ns itself.
func outOfScope(r plans.ObjectRef, ns string) string {
	gk := groupOf(r.APIVersion) + "/" + r.Kind
	switch {
	case gk == "/Namespace" && r.Namespace == "" && r.Name == ns:
		return ""
	case gk == "/Namespace":
		return "another namespace than the target's " + ns
	case r.Namespace == "":
		return "a cluster-scoped object"
	case r.Namespace != ns:
		return "an object in namespace " + r.Namespace + ", not the target's " + ns
	case !prunableKinds[gk]:
		return "a kind avatar-sync does not render (" + gk + ")"
	}
	return ""
}

// ignoredEntry is an inventory entry outOfScope refused, for the plan to report.
type ignoredEntry struct {
	ref plans.ObjectRef
	why string
}

// inventoryRef names the inventory ConfigMap.
func inventoryRef(ns, name string) plans.ObjectRef {
	return plans.ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: ns, Name: InventoryName(name)}
}

// inventoryIgnored turns the ignored entries into plan lines: never acted on, said once per plan.
func (c *Client) inventoryIgnored(ns, name string, ignored []ignoredEntry) []plans.Change {
	out := make([]plans.Change, 0, len(ignored))
	for _, e := range ignored {
		ch := newChange(e.ref, -1)
		ch.Reason = fmt.Sprintf("listed in the inventory ConfigMap %s/%s but %s: ignored, never deleted (someone edited the inventory; the next apply that changes an object drops the entry)", ns, InventoryName(name), e.why)
		out = append(out, ch)
	}
	return out
}

// parseInventory reads the inventory ConfigMap cm (nil: none yet) and the entries it ignores
// (outOfScope).
func (c *Client) parseInventory(ns, name string, cm *unstructured.Unstructured) (inventory, []ignoredEntry, error) {
	inv := inventory{}
	if cm == nil {
		return inv, nil, nil
	}
	raw, _, _ := unstructured.NestedString(cm.Object, "data", inventoryKey)
	var refs []plans.ObjectRef
	if err := json.Unmarshal([]byte(raw), &refs); err != nil {
		return nil, nil, fmt.Errorf("target %s: inventory ConfigMap %s/%s is damaged (%v); delete it and re-apply to rebuild it", c.target, ns, InventoryName(name), err)
	}
	var ignored []ignoredEntry
	for _, r := range refs {
		if why := outOfScope(r, ns); why != "" {
			ignored = append(ignored, ignoredEntry{ref: r, why: why})
			continue
		}
		inv.add(r)
	}
	sort.Slice(ignored, func(i, j int) bool { return refKey(ignored[i].ref) < refKey(ignored[j].ref) })
	return inv, ignored, nil
}

// writeInventory records inv by server-side apply (the ConfigMap carries the owner labels too).
func (c *Client) writeInventory(ctx context.Context, ns, name string, inv inventory) error {
	refs := make([]plans.ObjectRef, 0, len(inv))
	for _, r := range inv {
		refs = append(refs, r)
	}
	sort.Slice(refs, func(i, j int) bool { return refKey(refs[i]) < refKey(refs[j]) })
	data, err := json.MarshalIndent(refs, "", "  ")
	if err != nil {
		return err
	}
	cm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata": map[string]any{
			"name":      InventoryName(name),
			"namespace": ns,
			"labels":    toAny(c.ownerLabels(name, ns)),
		},
		"data": map[string]any{inventoryKey: string(data)},
	}}
	if _, err := c.serverApply(ctx, cm, applyMode{force: true}); err != nil {
		return fmt.Errorf("target %s: write inventory %s/%s: %w", c.target, ns, InventoryName(name), err)
	}
	return nil
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// equal reports whether inv and other hold the same entries.
func (inv inventory) equal(other inventory) bool {
	if len(inv) != len(other) {
		return false
	}
	for k := range inv {
		if _, ok := other[k]; !ok {
			return false
		}
	}
	return true
}
