package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// inventoryKey is the ConfigMap key holding the applied objects as JSON.
const inventoryKey = "objects.json"

// InventoryName is the ConfigMap in the target namespace that records what avatar-sync applied for
// an inventory (the spec's metadata.name). Pruning considers only objects listed there, so an object
// avatar-sync did not create is never deleted, whatever its labels (issue 11).
func InventoryName(inventory string) string { return "avatar-sync-inventory-" + inventory }

// inventory is the set of objects recorded by earlier applies.
type inventory map[string]ObjectRef

func (inv inventory) has(r ObjectRef) bool { _, ok := inv[r.key()]; return ok }

func (inv inventory) add(r ObjectRef) { inv[r.key()] = r }

// refs lists the entries in apply order (namespace first), for plans that read the same each time.
func (inv inventory) refs() []ObjectRef {
	objs := make([]*unstructured.Unstructured, 0, len(inv))
	for _, r := range inv {
		objs = append(objs, r.object())
	}
	sortObjects(objs)
	out := make([]ObjectRef, len(objs))
	for i, o := range objs {
		out[i] = refOf(o)
	}
	return out
}

func (c *Client) readInventory(ctx context.Context, ns, name string) (inventory, error) {
	inv := inventory{}
	cm, err := c.get(ctx, ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: ns, Name: InventoryName(name)})
	if err != nil || cm == nil {
		return inv, err
	}
	raw, _, _ := unstructured.NestedString(cm.Object, "data", inventoryKey)
	var refs []ObjectRef
	if err := json.Unmarshal([]byte(raw), &refs); err != nil {
		return nil, fmt.Errorf("target %s: inventory ConfigMap %s/%s is damaged (%v); delete it and re-apply to rebuild it", c.target, ns, InventoryName(name), err)
	}
	for _, r := range refs {
		inv.add(r)
	}
	return inv, nil
}

// writeInventory records inv by server-side apply (the ConfigMap carries the owner labels too).
func (c *Client) writeInventory(ctx context.Context, ns, name string, inv inventory) error {
	refs := make([]ObjectRef, 0, len(inv))
	for _, r := range inv {
		refs = append(refs, r)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].key() < refs[j].key() })
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
	if err := c.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(cm), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
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
