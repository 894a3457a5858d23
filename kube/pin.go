package kube

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
)

// A plan pins the objects it applies (issue 20): its snapshot holds the exact manifests the render
// produced, so `apply --plan` applies those and never re-renders today's file. Secret values are
// the one exception: a plan is printed, saved and attached to pull requests, so each value is
// replaced by its salted fingerprint (reconcile.SecretFingerprint) and re-supplied at apply from
// the spec's source, which must give the planned value.

// secretFields are the fields of a Secret that hold values.
var secretFields = []string{"data", "stringData"}

// minSalt is the shortest salt a pinned snapshot may carry.
const minSalt = 16

// Seal is the snapshot of want a plan records: every object as rendered, each Secret value
// replaced by its fingerprint under salt.
func Seal(want Desired, salt []byte) (plans.DesiredObjects, error) {
	out := plans.DesiredObjects{Inventory: want.Inventory, Salt: base64.StdEncoding.EncodeToString(salt),
		Manifests: make([]json.RawMessage, 0, len(want.Objects))}
	for _, o := range want.Objects {
		if o.GetKind() == "Secret" {
			o = o.DeepCopy()
			sealed, err := secretPrints(o, salt)
			if err != nil {
				return plans.DesiredObjects{}, err
			}
			for _, f := range secretFields {
				if m, ok := sealed[f]; ok {
					o.Object[f] = m
				}
			}
		}
		b, err := json.Marshal(o.Object)
		if err != nil {
			return plans.DesiredObjects{}, fmt.Errorf("%s: %w", refOf(o), err)
		}
		out.Manifests = append(out.Manifests, b)
	}
	return out, nil
}

// secretPrints fingerprints every value of a Secret, by field and key.
func secretPrints(u *unstructured.Unstructured, salt []byte) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	ref := refOf(u).String()
	for _, f := range secretFields {
		raw, ok := u.Object[f]
		if !ok || raw == nil {
			continue
		}
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: %s is not a map", ref, f)
		}
		prints := make(map[string]any, len(m))
		for k, v := range m {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("%s: %s.%s is not a string", ref, f, k)
			}
			prints[k] = reconcile.SecretFingerprint(salt, ref, f, k, s)
		}
		out[f] = prints
	}
	return out, nil
}

// Unseal turns a plan's snapshot back into the objects to apply: the pinned manifests, each
// Secret's values taken from supplied (today's render, which reads the spec's password sources)
// and refused unless they have the planned fingerprints. Every Secret that does not match is
// named; nothing of supplied but the Secrets' values is used.
func Unseal(snap plans.DesiredObjects, supplied Desired) (Desired, []byte, error) {
	salt, err := base64.StdEncoding.DecodeString(snap.Salt)
	if err != nil || len(salt) < minSalt {
		return Desired{}, nil, fmt.Errorf("%w, nothing was changed: the plan's Kubernetes salt is missing or malformed; run plan again", plans.ErrTampered)
	}
	today := map[string]*unstructured.Unstructured{}
	for _, o := range supplied.Objects {
		if o.GetKind() == "Secret" {
			today[refKey(refOf(o))] = o
		}
	}
	out := Desired{Inventory: snap.Inventory, Objects: make([]*unstructured.Unstructured, 0, len(snap.Manifests))}
	var errs []error
	for i, raw := range snap.Manifests {
		var obj map[string]any
		if err := json.Unmarshal(raw, &obj); err != nil {
			return Desired{}, nil, fmt.Errorf("%w: manifest %d: %w", plans.ErrTampered, i+1, err)
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.GetKind() != "Secret" {
			out.Objects = append(out.Objects, u)
			continue
		}
		ref := refOf(u)
		now, ok := today[refKey(ref)]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: the plan needs its values re-supplied at apply, but the spec gives no such Secret now", ref))
			continue
		}
		got, err := secretPrints(now, salt)
		if err != nil {
			return Desired{}, nil, err
		}
		if bad := mismatched(u, got); len(bad) > 0 {
			errs = append(errs, fmt.Errorf("%s: the value supplied now for %s is not the one the plan was made with (its salted fingerprint differs); supply the planned password (the same environment variable or file as when planning), or run plan again to plan the new one", ref, strings.Join(bad, ", ")))
			continue
		}
		for _, f := range secretFields {
			if v, ok := now.Object[f]; ok {
				u.Object[f] = v
			} else {
				delete(u.Object, f)
			}
		}
		out.Objects = append(out.Objects, u)
	}
	if len(errs) > 0 {
		return Desired{}, nil, fmt.Errorf("%w, nothing was changed: a Secret's value at apply is not the planned one:\n%w", reconcile.ErrRefused, errors.Join(errs...))
	}
	return out, salt, nil
}

// mismatched lists the keys ("data.password") whose planned fingerprint the supplied values lack,
// and the supplied keys the plan does not have.
func mismatched(sealed *unstructured.Unstructured, got map[string]map[string]any) []string {
	var bad []string
	for _, f := range secretFields {
		want, _ := sealed.Object[f].(map[string]any)
		have := got[f]
		keys := slices.Sorted(maps.Keys(want))
		for k := range have {
			if _, ok := want[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			if want[k] != have[k] {
				bad = append(bad, f+"."+k)
			}
		}
	}
	return bad
}
