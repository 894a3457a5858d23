package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/internal/tooltest"
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
	python := ""
	// Debian's python3 first: .ci/run installs python3-jsonschema there, whatever python3 the PATH
	// prefers (pyenv, a virtualenv).
	for _, candidate := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(candidate, "-c", "import jsonschema, yaml").Run() == nil {
			python = candidate
			break
		}
	}
	if python == "" {
		tooltest.Missing(t, "python3 with jsonschema and yaml is not installed (.ci/run installs python3-jsonschema python3-yaml)")
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
	// What validate refuses as empty or zero, the editor flags too: ssl: 0, host: "", an empty
	// list item (a nameless topic).
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	data = bytes.Replace(data, []byte("ssl: 9192"), []byte("ssl: 0"), 1)
	data = bytes.Replace(data, []byte("host: kafka-broker-2"), []byte(`host: ""`), 1)
	data = bytes.Replace(data, []byte("topics:\n"), []byte("topics:\n  -\n"), 1)
	if err := os.WriteFile(empty, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "-c", check, "../../schema/avatar.schema.json",
		example, "../../spec/testdata/valid/full.yaml", bad, empty).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		got = append(got, f[0]+" "+f[1])
	}
	want := []string{bad + " topics/1", empty + " brokers/0/ports/ssl", empty + " brokers/1/host", empty + " topics/0"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("schema errors at %q, want %q; output:\n%s", got, want, out)
	}
	if !strings.Contains(string(out), "Additional properties are not allowed ('retension'") {
		t.Errorf("the typo is not named:\n%s", out)
	}
}
