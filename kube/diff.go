package kube

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/avatar-project/avatar-sync/plans"
)

// fieldDiffs lists the fields that differ between the live object and the server's dry-run result,
// leaf by leaf, e.g. `spec.template.spec.containers[0].image: apache/kafka:3.8.1 → 3.9.0`. What the
// server alone writes (status, managedFields, resourceVersion, ...) is left out, and a Secret's
// values are shown as (sensitive) only.
func fieldDiffs(before, after *unstructured.Unstructured) []plans.ObjectField {
	secret := after.GetKind() == "Secret"
	var out []plans.ObjectField
	walk(comparable(before), comparable(after), "", func(path string, b, a any, hasB, hasA bool) {
		d := plans.ObjectField{Path: path, Before: show(b, hasB), After: show(a, hasA)}
		if secret && (strings.HasPrefix(path, "data.") || strings.HasPrefix(path, "stringData.")) {
			if hasB {
				d.Before = Sensitive
			}
			if hasA {
				d.After = Sensitive
			}
		}
		out = append(out, d)
	})
	return out
}

// comparable keeps what a user declares: labels, annotations and everything outside metadata
// except status.
func comparable(u *unstructured.Unstructured) map[string]any {
	out := map[string]any{}
	for k, v := range u.Object {
		switch k {
		case "status", "apiVersion", "kind":
		case "metadata":
			md := map[string]any{}
			for _, f := range []string{"labels", "annotations"} {
				if v, ok := u.Object["metadata"].(map[string]any)[f]; ok {
					md[f] = v
				}
			}
			if len(md) > 0 {
				out["metadata"] = md
			}
		default:
			out[k] = v
		}
	}
	return out
}

// walk calls visit for every leaf that differs, in path order. Lists are compared by index, as
// kubectl prints them (containers[0]); a map or list present on one side only is one leaf.
func walk(b, a any, path string, visit func(path string, b, a any, hasB, hasA bool)) {
	bm, bIsMap := b.(map[string]any)
	am, aIsMap := a.(map[string]any)
	if bIsMap && aIsMap {
		keys := map[string]bool{}
		for k := range bm {
			keys[k] = true
		}
		for k := range am {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			bv, hb := bm[k]
			av, ha := am[k]
			p := joinPath(path, k)
			switch {
			case hb && ha:
				walk(bv, av, p, visit)
			case !reflect.DeepEqual(bv, av):
				visit(p, bv, av, hb, ha)
			}
		}
		return
	}
	bl, bIsList := b.([]any)
	al, aIsList := a.([]any)
	if bIsList && aIsList {
		for i := 0; i < max(len(bl), len(al)); i++ {
			p := fmt.Sprintf("%s[%d]", path, i)
			switch {
			case i < len(bl) && i < len(al):
				walk(bl[i], al[i], p, visit)
			case i < len(bl):
				visit(p, bl[i], nil, true, false)
			default:
				visit(p, nil, al[i], false, true)
			}
		}
		return
	}
	if !reflect.DeepEqual(b, a) {
		visit(path, b, a, true, true)
	}
}

func joinPath(path, key string) string {
	if strings.ContainsAny(key, ".[]") {
		key = "[" + key + "]"
		return path + key
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// show prints a value compactly: strings bare, structures as JSON.
func show(v any, present bool) string {
	if !present {
		return absent
	}
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// immutableChanges lists the volumeClaimTemplates fields the render sets differently from the live
// StatefulSet. Only the fields the render declares are compared: the server fills in defaults
// (volumeMode, status) that are not changes.
func immutableChanges(desired, live *unstructured.Unstructured) []plans.ObjectField {
	if desired.GetKind() != "StatefulSet" {
		return nil
	}
	want, _, _ := unstructured.NestedSlice(desired.Object, "spec", "volumeClaimTemplates")
	have, _, _ := unstructured.NestedSlice(live.Object, "spec", "volumeClaimTemplates")
	var out []plans.ObjectField
	if len(want) != len(have) {
		return []plans.ObjectField{{Path: "spec.volumeClaimTemplates", Before: fmt.Sprintf("%d templates", len(have)), After: fmt.Sprintf("%d templates", len(want))}}
	}
	for i := range want {
		subset(want[i], have[i], fmt.Sprintf("spec.volumeClaimTemplates[%d]", i), &out)
	}
	return out
}

// subset records every leaf of want whose value in have differs or is missing.
func subset(want, have any, path string, out *[]plans.ObjectField) {
	switch w := want.(type) {
	case map[string]any:
		h, _ := have.(map[string]any)
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			hv, ok := h[k]
			if !ok {
				*out = append(*out, plans.ObjectField{Path: joinPath(path, k), Before: absent, After: show(w[k], true)})
				continue
			}
			subset(w[k], hv, joinPath(path, k), out)
		}
	case []any:
		h, _ := have.([]any)
		if len(h) != len(w) {
			*out = append(*out, plans.ObjectField{Path: path, Before: show(have, have != nil), After: show(want, true)})
			return
		}
		for i := range w {
			subset(w[i], h[i], fmt.Sprintf("%s[%d]", path, i), out)
		}
	default:
		if fmt.Sprint(want) != fmt.Sprint(have) {
			*out = append(*out, plans.ObjectField{Path: path, Before: show(have, true), After: show(want, true)})
		}
	}
}
