package spec

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the loader: it must never panic, every error must carry a
// position in the file, a spec comes back exactly when there are no errors, and a spec that loads
// is canonical (its config values normalise to themselves) and passes Validate unchanged. The seed
// corpus is every file under testdata plus the committed testdata/fuzz/FuzzParse entries; run
// `make fuzz` to explore further.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"../examples/*.yaml", "testdata/valid/*.yaml", "testdata/invalid/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, diags := Parse("fuzz.yaml", data)
		for _, d := range diags {
			if d.Pos.File != "fuzz.yaml" || d.Pos.Line < 1 || d.Pos.Col < 1 {
				t.Fatalf("diagnostic without a position: %#v", d)
			}
			if d.Message == "" {
				t.Fatalf("diagnostic without a message at %v", d.Pos)
			}
		}
		if (s == nil) != (len(diags.Errors()) > 0) {
			t.Fatalf("spec returned = %v with %d errors", s != nil, len(diags.Errors()))
		}
		if s == nil {
			return
		}
		for _, topic := range s.Topics {
			for k, v := range topic.Config {
				if norm, err := NormalizeTopicConfig(k, v); err != nil || norm != v {
					t.Fatalf("topic %q config %s=%q is not canonical: %q, %v", topic.Name, k, v, norm, err)
				}
			}
		}
		if errs := Validate(s).Errors(); len(errs) > 0 {
			t.Fatalf("a spec that loaded clean fails Validate: %v", errs)
		}
	})
}
