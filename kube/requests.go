package kube

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

// The requests the plane sends, on client-go's dynamic client and kube's own REST mapper
// (mapper.go) (issue 23: they replaced controller-runtime's client and fluxcd/pkg/ssa, whose package
// init cost every avatar-sync command, Kubernetes or not, ~10 ms before main ran; the mapper
// replaced client-go's discovery and restmapper, which link client-go's typed scheme).

// mapping resolves a kind to its resource through the discovery the mapper keeps (no request once
// the document listing the kind's group-version is read; one read when it is new).
func (c *Client) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	return c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
}

// resourceFor is the dynamic client's endpoint for objects of kind gvk in namespace ns (ignored for
// cluster-scoped kinds).
func resourceFor(d dynamic.Interface, m *meta.RESTMapping, ns string) dynamic.ResourceInterface {
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return d.Resource(m.Resource).Namespace(ns)
	}
	return d.Resource(m.Resource)
}

func (c *Client) resource(gvk schema.GroupVersionKind, ns string) (dynamic.ResourceInterface, error) {
	m, err := c.mapping(gvk)
	if err != nil {
		return nil, err
	}
	return resourceFor(c.dyn, m, ns), nil
}

// isNamespaced reports whether the API server keeps obj's kind in namespaces.
func (c *Client) isNamespaced(obj *unstructured.Unstructured) (bool, error) {
	m, err := c.mapping(obj.GroupVersionKind())
	if err != nil {
		return false, err
	}
	return m.Scope.Name() == meta.RESTScopeNameNamespace, nil
}

// applyMode says how a server-side apply treats conflicts and whether it only asks.
type applyMode struct {
	force  bool // take fields another manager owns
	dryRun bool // the server answers without storing
}

// serverApply server-side applies obj as FieldManager and returns the object as the server stored
// it (or would, on a dry run).
func (c *Client) serverApply(ctx context.Context, obj *unstructured.Unstructured, mode applyMode) (*unstructured.Unstructured, error) {
	r, err := c.resource(obj.GroupVersionKind(), obj.GetNamespace())
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", refOf(obj), err)
	}
	opts := metav1.PatchOptions{FieldManager: FieldManager}
	if mode.force {
		force := true
		opts.Force = &force
	}
	if mode.dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return r.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, opts)
}

// list reads every object of kind apiVersion/kind in ns.
func (c *Client) list(ctx context.Context, ns, apiVersion, kind string) (*unstructured.UnstructuredList, error) {
	r, err := c.resource(schema.FromAPIVersionAndKind(apiVersion, kind), ns)
	if err != nil {
		return nil, err
	}
	return r.List(ctx, metav1.ListOptions{})
}

// watch follows the objects of kind apiVersion/kind in ns from resourceVersion on, without the
// request time-out (the caller's context bounds it).
func (c *Client) watch(ctx context.Context, ns, apiVersion, kind, resourceVersion string) (watch.Interface, error) {
	m, err := c.mapping(schema.FromAPIVersionAndKind(apiVersion, kind))
	if err != nil {
		return nil, err
	}
	return resourceFor(c.watcher, m, ns).Watch(ctx, metav1.ListOptions{ResourceVersion: resourceVersion})
}

// getObject reads one object; the error is the API server's (IsNotFound when it does not exist).
func (c *Client) getObject(ctx context.Context, gvk schema.GroupVersionKind, ns, name string) (*unstructured.Unstructured, error) {
	r, err := c.resource(gvk, ns)
	if err != nil {
		return nil, err
	}
	return r.Get(ctx, name, metav1.GetOptions{})
}

// deleteObject deletes one object with the given propagation.
func (c *Client) deleteObject(ctx context.Context, gvk schema.GroupVersionKind, ns, name string, propagation metav1.DeletionPropagation) error {
	r, err := c.resource(gvk, ns)
	if err != nil {
		return err
	}
	return r.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &propagation})
}

// ownerLabels are the labels that make an object avatar-sync's: the inventory's name and namespace.
func (c *Client) ownerLabels(inventory, ns string) map[string]string {
	return map[string]string{ownerGroup + "/name": inventory, ownerGroup + "/namespace": ns}
}

// setOwnerLabels puts the owner labels on every object.
func (c *Client) setOwnerLabels(objs []*unstructured.Unstructured, inventory, ns string) {
	for _, o := range objs {
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		for k, v := range c.ownerLabels(inventory, ns) {
			labels[k] = v
		}
		o.SetLabels(labels)
	}
}

// carriesLabels reports whether every one of want is on u with the same value.
func carriesLabels(u *unstructured.Unstructured, want map[string]string) bool {
	have := u.GetLabels()
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// deleteIfOwned deletes obj only when the live object still carries the owner labels: deleted
// reports false when it did not (it is left alone). An object already gone counts as deleted.
func (c *Client) deleteIfOwned(ctx context.Context, obj *unstructured.Unstructured, owner map[string]string, propagation metav1.DeletionPropagation) (deleted bool, err error) {
	gvk := obj.GroupVersionKind()
	live, err := c.getObject(ctx, gvk, obj.GetNamespace(), obj.GetName())
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("read: %w", err)
	}
	if !carriesLabels(live, owner) {
		return false, nil
	}
	if err := c.deleteObject(ctx, gvk, obj.GetNamespace(), obj.GetName(), propagation); err != nil {
		return false, fmt.Errorf("delete: %w", err)
	}
	return true, nil
}
