package kube

import (
	"encoding/json"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// inSync reports whether server-side applying desired (field manager avatar-sync) would leave live
// as it is, decided without asking the server, so a plan makes no dry run for an object in sync
// (issue 23). It holds when both:
//
//   - every field desired declares has the same value live (maps key by key, lists element by
//     element and of the same length): the apply sets nothing new;
//   - every field avatar-sync's apply owns on the live object (its managedFields entry) is still
//     declared: the apply removes nothing.
//
// It answers false whenever it cannot tell (a value the server normalises, metadata beyond labels
// and annotations, an ownership entry it cannot read), and the plan then asks the server by a dry
// run: a wrong answer costs a request, never a change left out of a plan.
func inSync(desired, live *unstructured.Unstructured) bool {
	for k, v := range desired.Object {
		switch k {
		case "apiVersion", "kind":
		case "metadata":
			md, ok := v.(map[string]any)
			if !ok {
				return false
			}
			liveMD, _ := live.Object["metadata"].(map[string]any)
			for mk, mv := range md {
				switch mk {
				case "name", "namespace":
				case "labels", "annotations":
					if !subsetEqual(mv, liveMD[mk]) {
						return false
					}
				default:
					return false
				}
			}
		default:
			if !subsetEqual(v, live.Object[k]) {
				return false
			}
		}
	}
	for _, mf := range live.GetManagedFields() {
		if mf.Manager != FieldManager || mf.Operation != metav1.ManagedFieldsOperationApply || mf.Subresource != "" {
			continue
		}
		if mf.FieldsV1 == nil {
			return false
		}
		var set map[string]any
		if err := json.Unmarshal(mf.FieldsV1.GetRawBytes(), &set); err != nil || !declared(set, desired.Object) {
			return false
		}
	}
	return true
}

// subsetEqual reports whether have holds want: every key of a map (recursively), every element
// of a list (the same number of them), equal scalars (numbers by value).
func subsetEqual(want, have any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			hv, ok := h[k]
			if !ok || !subsetEqual(wv, hv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return false
		}
		for i := range w {
			if !subsetEqual(w[i], h[i]) {
				return false
			}
		}
		return true
	case nil:
		return false // an explicit null asks the server to remove a field: let it say what that does
	}
	return scalarEqual(want, have)
}

// scalarEqual compares strings, booleans and numbers (int64 and float64 alike, as JSON decodes them).
func scalarEqual(a, b any) bool {
	if fa, ok := number(a); ok {
		fb, ok := number(b)
		return ok && fa == fb
	}
	switch a := a.(type) {
	case string:
		b, ok := b.(string)
		return ok && a == b
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	}
	return false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil
	}
	return 0, false
}

// declared reports whether every field of a managedFields set (FieldsV1: "f:name" a map key,
// "k:{...}" the list element with those key fields, "v:..." a set element, "i:N" a list index,
// "." the node itself) is present in obj.
func declared(set map[string]any, obj any) bool {
	for k, sub := range set {
		subset, _ := sub.(map[string]any)
		switch {
		case k == ".":
		case strings.HasPrefix(k, "f:"):
			m, ok := obj.(map[string]any)
			if !ok {
				return false
			}
			v, ok := m[k[2:]]
			if !ok || !declared(subset, v) {
				return false
			}
		case strings.HasPrefix(k, "k:"):
			var key map[string]any
			if err := json.Unmarshal([]byte(k[2:]), &key); err != nil {
				return false
			}
			el := keyed(obj, key)
			if el == nil || !declared(subset, el) {
				return false
			}
		case strings.HasPrefix(k, "v:"):
			var want any
			l, ok := obj.([]any)
			if !ok || json.Unmarshal([]byte(k[2:]), &want) != nil {
				return false
			}
			found := false
			for _, e := range l {
				found = found || scalarEqual(want, e)
			}
			if !found {
				return false
			}
		case strings.HasPrefix(k, "i:"):
			i, err := strconv.Atoi(k[2:])
			l, ok := obj.([]any)
			if err != nil || !ok || i < 0 || i >= len(l) || !declared(subset, l[i]) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// keyed finds the element of list obj with the key fields of key. A key field the element leaves
// out is one the server defaults (a port's protocol: TCP), so it matches; at least one must be
// present and equal.
func keyed(obj any, key map[string]any) any {
	l, ok := obj.([]any)
	if !ok {
		return nil
	}
	for _, e := range l {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		matched, present := true, 0
		for kf, kv := range key {
			ev, ok := m[kf]
			if !ok {
				continue
			}
			present++
			if !scalarEqual(kv, ev) {
				matched = false
			}
		}
		if matched && present > 0 {
			return e
		}
	}
	return nil
}
