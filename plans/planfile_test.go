package plans

import (
	"encoding/json"
	"strings"
	"testing"
)

// sealed is a hand-made document with a correct digest: what ReadRun must refuse for what it says,
// not for its digest.
func sealed(t *testing.T, doc string) string {
	t.Helper()
	var d RunDocument
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return doc // not a document: the test is about that
	}
	var probe map[string]any
	if err := json.Unmarshal([]byte(doc), &probe); err != nil {
		t.Fatal(err)
	}
	probe["digest"] = d.digest()
	b, err := json.Marshal(probe)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReadRunErrors(t *testing.T) {
	const fp = `"cluster":"a","fingerprint":"x","desired":{"topics":[],"deletion":"retain"}`
	tests := map[string]struct{ doc, want string }{
		"not json":         {"plan", "not a plan file"},
		"no version":       {`{"targets":[]}`, "no formatVersion"},
		"previous version": {`{"formatVersion":1,"fingerprint":"x","changes":[]}`, "the file has formatVersion 1, this avatar-sync reads formatVersion 4 only; run plan --out again"},
		"version 3":        {`{"formatVersion":3,"cluster":"a","fingerprint":"x","changes":[]}`, "the file has formatVersion 3, this avatar-sync reads formatVersion 4 only; run plan --out again"},
		"future version":   {`{"formatVersion":5}`, "the file has formatVersion 5"},
		"no targets":       {`{"formatVersion":4,"targets":[]}`, "no targets"},
		"nameless target":  {`{"formatVersion":4,"targets":[{` + fp + `,"changes":[]}]}`, "target 1 has no name"},
		"duplicate target": {`{"formatVersion":4,"targets":[{"target":"a",` + fp + `,"changes":[]},{"target":"a",` + fp + `,"changes":[]}]}`, `target "a" appears twice`},
		"other cluster":    {`{"formatVersion":4,"targets":[{"target":"b",` + fp + `,"changes":[]}]}`, `target "b" holds a plan computed for cluster target "a"`},
		"failed target":    {`{"formatVersion":4,"targets":[{"target":"a",` + fp + `,"changes":[]},{"target":"b","error":"no broker answered"}]}`, `target "b": it failed when planned (no broker answered)`},
		"no plan":          {`{"formatVersion":4,"targets":[{"target":"a"}]}`, `target "a": no plan`},
		"no fingerprint":   {`{"formatVersion":4,"targets":[{"target":"a","cluster":"a","changes":[]}]}`, `target "a": no fingerprint`},
		"no manifests":     {`{"formatVersion":4,"targets":[{"target":"a",` + fp + `,"objectsFingerprint":"o","changes":[]}]}`, "no manifests"},
		"bad action":       {`{"formatVersion":4,"targets":[{"target":"a",` + fp + `,"changes":[{"action":"nuke"}]}]}`, `unknown action "nuke"`},
		"no payload":       {`{"formatVersion":4,"targets":[{"target":"a",` + fp + `,"changes":[{"kind":"topic","name":"a","action":"create"}]}]}`, "change 1: create topic a: a topic change must carry exactly one payload"},
		"wrong payload":    {`{"formatVersion":4,"targets":[{"target":"a",` + fp + `,"changes":[{"kind":"topic","name":"a","action":"create","partitions":{"from":1,"to":2}}]}]}`, "exactly one payload"},
		"unknown field":    {`{"formatVersion":4,"targets":[{"target":"a",` + fp + `,"changes":[],"before":{}}]}`, "unknown field"},
		"top-level plan":   {`{"formatVersion":4,` + fp + `,"changes":[]}`, "unknown field"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ReadRun(strings.NewReader(sealed(t, tc.doc)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadRun error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	// The sealed documents are well formed otherwise: one with nothing wrong reads.
	if _, err := ReadRun(strings.NewReader(sealed(t, `{"formatVersion":4,"targets":[{"target":"a",`+fp+`,"changes":[]}]}`))); err != nil {
		t.Errorf("a well-formed hand-made document: %v", err)
	}
}
