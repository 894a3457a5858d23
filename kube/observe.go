package kube

import (
	"context"
	"fmt"
	"maps"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/avatar-project/avatar-sync/plans"
)

// snapshot is the live state a plan or an apply read (issue 23: the API requests a plan makes,
// no more than `kubectl diff`'s): one LIST per kind with two objects or more in the target
// namespace, one GET per other object. Secrets are never listed: avatar-sync reads no Secret it
// does not hold. A kind this user may not list (the watch daemon's Role grants get by name) is
// read object by object.
type snapshot struct {
	ns string
	// objects are the live objects read, by refKey.
	objects map[string]*unstructured.Unstructured
	// listed are the kinds (group/kind) listed in ns: an object of one missing from objects is
	// absent.
	listed map[string]bool
	// got are the objects read by GET (refKey), present or absent, and errs why a read failed.
	got  map[string]bool
	errs map[string]error
}

// observe reads refs.
func (c *Client) observe(ctx context.Context, ns string, refs []plans.ObjectRef) (*snapshot, error) {
	s := &snapshot{ns: ns, objects: map[string]*unstructured.Unstructured{}, listed: map[string]bool{}, got: map[string]bool{}, errs: map[string]error{}}
	return s, s.read(ctx, c, refs)
}

func groupKind(r plans.ObjectRef) string { return groupOf(r.APIVersion) + "/" + r.Kind }

// covered reports whether the snapshot answers for r.
func (s *snapshot) covered(r plans.ObjectRef) bool {
	k := refKey(r)
	return s.got[k] || (r.Namespace == s.ns && s.listed[groupKind(r)])
}

// read adds the objects of refs the snapshot does not cover yet. A failed LIST is an error; a
// failed GET is the object's own (get returns it), so a plan reports every object it could not read.
func (s *snapshot) read(ctx context.Context, c *Client, refs []plans.ObjectRef) error {
	byKind := map[string][]plans.ObjectRef{}
	var singles []plans.ObjectRef
	for _, r := range refs {
		switch {
		case s.covered(r):
		case r.Namespace == s.ns && r.Namespace != "" && r.Kind != "Secret" && !c.cannotList(groupKind(r)):
			byKind[groupKind(r)] = append(byKind[groupKind(r)], r)
		default:
			singles = append(singles, r)
		}
	}
	for _, gk := range slices.Sorted(maps.Keys(byKind)) {
		rs := byKind[gk]
		if len(rs) < 2 {
			singles = append(singles, rs...)
			continue
		}
		list, err := c.list(ctx, s.ns, rs[0].APIVersion, rs[0].Kind)
		if apierrors.IsForbidden(err) {
			c.mu.Lock()
			c.listForbidden[gk] = true
			c.mu.Unlock()
			singles = append(singles, rs...)
			continue
		}
		if err != nil {
			return fmt.Errorf("target %s: list %s in namespace %s: %s", c.target, rs[0].Kind, s.ns, oneLine(err))
		}
		for i := range list.Items {
			it := &list.Items[i]
			if it.GetKind() == "" {
				it.SetAPIVersion(rs[0].APIVersion)
				it.SetKind(rs[0].Kind)
			}
			s.objects[refKey(refOf(it))] = it
		}
		s.listed[gk] = true
	}
	for _, r := range singles {
		k := refKey(r)
		live, err := c.get(ctx, r)
		s.got[k] = true
		switch {
		case err != nil:
			s.errs[k] = err
		case live != nil:
			s.objects[k] = live
		}
	}
	return nil
}

// get is the live object r, nil when absent; r must be covered.
func (s *snapshot) get(r plans.ObjectRef) (*unstructured.Unstructured, error) {
	k := refKey(r)
	if err := s.errs[k]; err != nil {
		return nil, err
	}
	return s.objects[k], nil
}

func (c *Client) cannotList(gk string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.listForbidden[gk]
}
