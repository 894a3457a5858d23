package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSchemaCommand: `schema` prints exactly the committed schema/avatar.schema.json (the spec
// package keeps that file in sync with the tables), and -o markdown the committed reference.
func TestSchemaCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		file string
	}{
		{[]string{"schema"}, "../../schema/avatar.schema.json"},
		{[]string{"schema", "-o", "json"}, "../../schema/avatar.schema.json"},
		{[]string{"schema", "-o", "markdown"}, "../../docs/avatar-yaml.md"},
	} {
		code, out, errOut := runCLI(t, tc.args...)
		want, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if code != exitOK || errOut != "" || out != string(want) {
			t.Errorf("%v: code %d, stderr %q, output equals %s: %v", tc.args, code, errOut, tc.file, out == string(want))
		}
	}
	var schema map[string]any
	_, out, _ := runCLI(t, "schema")
	if err := json.Unmarshal([]byte(out), &schema); err != nil || schema["$schema"] != "http://json-schema.org/draft-07/schema#" {
		t.Errorf("schema output is not a draft-07 JSON Schema: %v", err)
	}
	if code, _, errOut := runCLI(t, "schema", "-o", "yaml"); code != exitError || !strings.Contains(errOut, "-o/--output") {
		t.Errorf("-o yaml: code %d, stderr %q", code, errOut)
	}
}

// TestSchemaAcceptsExamples cross-checks the schema with an independent validator (Python's
// jsonschema, as editors' yaml-language-server would): the example and the every-key file pass,
// a file with a typo'd key fails. CI installs python3-jsonschema (.ci/run).
func TestSchemaAcceptsExamples(t *testing.T) {
	if err := exec.Command("python3", "-c", "import jsonschema, yaml").Run(); err != nil {
		t.Skip("python3 with jsonschema and yaml is not installed (.ci/run installs python3-jsonschema python3-yaml)")
	}
	const check = `
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
v = jsonschema.Draft7Validator(schema)
for path in sys.argv[2:]:
    for e in v.iter_errors(yaml.safe_load(open(path))):
        print(path, "/".join(map(str, e.absolute_path)), e.message[:120])
`
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, bytes.Replace(data, []byte("retention: 6h"), []byte("retension: 6h"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("python3", "-c", check, "../../schema/avatar.schema.json",
		example, "../../spec/testdata/valid/full.yaml", bad).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], bad+" topics/1 Additional properties are not allowed ('retension'") {
		t.Errorf("want exactly one schema error, for the typo in %s; got:\n%s", bad, out)
	}
}
