package spec

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// checkGolden compares got with the committed file at path, rewriting it with -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./spec -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s is out of date; run make schema (go test ./spec -run InSync -update) and commit the result", path)
	}
}

// TestSchemaInSync keeps schema/avatar.schema.json equal to what the tables generate.
func TestSchemaInSync(t *testing.T) {
	got := JSONSchema()
	var v map[string]any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	checkGolden(t, "../schema/avatar.schema.json", got)
}

// TestReferenceInSync keeps docs/avatar-yaml.md equal to what the tables generate.
func TestReferenceInSync(t *testing.T) {
	checkGolden(t, "../docs/avatar-yaml.md", Reference())
}
