package spec

import "testing"

// TestPatternsCompiled: every pattern a field declares is precompiled (str would panic otherwise).
func TestPatternsCompiled(t *testing.T) {
	seen := map[*object]bool{}
	var walk func(o *object)
	walk = func(o *object) {
		if seen[o] {
			return
		}
		seen[o] = true
		for _, f := range o.fields {
			if f.pattern != "" && patterns[f.pattern] == nil {
				t.Errorf("%s.%s: pattern %q is not in patterns", o.name, f.key, f.pattern)
			}
			if f.pattern != "" && patternHint(f.pattern) == "does not match "+f.pattern {
				t.Errorf("%s.%s: pattern %q has no hint in words", o.name, f.key, f.pattern)
			}
			if f.doc == "" {
				t.Errorf("%s.%s has no doc", o.name, f.key)
			}
			if (f.kind == vObject || f.kind == vList || f.kind == vMap) != (f.elem != nil) {
				t.Errorf("%s.%s: elem must be set exactly for objects, lists and maps", o.name, f.key)
			}
			if f.elem != nil {
				walk(f.elem)
			}
		}
	}
	walk(specObj)
}
