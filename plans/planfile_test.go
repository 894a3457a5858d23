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
	const fp = `"cluster":"a","desired":{"topics":[],"deletion":"retain"}`
	const kafka = `"parts":[{"plane":"kafka","fingerprint":"x","changes":[]}]`
	part := func(changes string) string {
		return `"parts":[{"plane":"kafka","fingerprint":"x","changes":[` + changes + `]}]`
	}
	tests := map[string]struct{ doc, want string }{
		"not json":              {"plan", "not a plan file"},
		"no version":            {`{"targets":[]}`, "no formatVersion"},
		"previous version":      {`{"formatVersion":1,"fingerprint":"x","changes":[]}`, "the file has formatVersion 1, this avatar-sync reads formatVersion 5 only; run plan --out again"},
		"version 3":             {`{"formatVersion":3,"cluster":"a","fingerprint":"x","changes":[]}`, "the file has formatVersion 3, this avatar-sync reads formatVersion 5 only; run plan --out again"},
		"version 4":             {`{"formatVersion":4,"targets":[{"target":"a",` + fp + `,"fingerprint":"x","changes":[]}]}`, "the file has formatVersion 4, this avatar-sync reads formatVersion 5 only; run plan --out again"},
		"future version":        {`{"formatVersion":6}`, "the file has formatVersion 6"},
		"no targets":            {`{"formatVersion":5,"targets":[]}`, "no targets"},
		"nameless target":       {`{"formatVersion":5,"targets":[{` + fp + `,` + kafka + `}]}`, "target 1 has no name"},
		"duplicate target":      {`{"formatVersion":5,"targets":[{"target":"a",` + fp + `,` + kafka + `},{"target":"a",` + fp + `,` + kafka + `}]}`, `target "a" appears twice`},
		"other cluster":         {`{"formatVersion":5,"targets":[{"target":"b",` + fp + `,` + kafka + `}]}`, `target "b" holds a plan computed for cluster target "a"`},
		"failed target":         {`{"formatVersion":5,"targets":[{"target":"a",` + fp + `,` + kafka + `},{"target":"b","error":"no broker answered"}]}`, `target "b": it failed when planned (no broker answered)`},
		"no plan":               {`{"formatVersion":5,"targets":[{"target":"a"}]}`, `target "a": no plan`},
		"no parts":              {`{"formatVersion":5,"targets":[{"target":"a",` + fp + `,"parts":[]}]}`, `target "a": no parts: a plan holds one part per plane`},
		"no fingerprint":        {`{"formatVersion":5,"targets":[{"target":"a",` + fp + `,"parts":[{"plane":"kafka","changes":[]}]}]}`, `target "a": its kafka part has no fingerprint`},
		"plane twice":           {`{"formatVersion":5,"targets":[{"target":"a",` + fp + `,"parts":[{"plane":"kafka","fingerprint":"x","changes":[]},{"plane":"kafka","fingerprint":"x","changes":[]}]}]}`, "the kafka plane has two parts"},
		"unknown plane":         {`{"formatVersion":5,"targets":[{"target":"a",` + fp + `,"parts":[{"plane":"registry","fingerprint":"x","changes":[]}]}]}`, `unknown plane "registry"`},
		"no manifests":          {`{"formatVersion":5,"targets":[{"target":"a",` + fp + `,"parts":[{"plane":"kubernetes","fingerprint":"o","changes":[]},{"plane":"kafka","fingerprint":"x","changes":[]}]}]}`, "no manifests"},
		"deferred with changes": {`{"formatVersion":5,"targets":[{"target":"a",` + fp + `,"parts":[{"plane":"kafka","changes":[{"kind":"topic","name":"a","action":"create","topic":{"partitions":1,"replicationFactor":1}}],"deferred":{"reason":"down"}}]}]}`, "its kafka part is deferred (not planned), yet it has a fingerprint or changes"},
		"all deferred":          {`{"formatVersion":5,"targets":[{"target":"a",` + fp + `,"parts":[{"plane":"kafka","changes":[],"deferred":{"reason":"down"}}]}]}`, "every part is deferred"},
		"wrong plane":           {`{"formatVersion":5,"targets":[{"target":"a",` + fp + `,` + part(`{"kind":"object","name":"Namespace avatar","action":"create","object":{"object":{"apiVersion":"v1","kind":"Namespace","name":"avatar"},"broker":-1}}`) + `}]}`, "kafka part: change 1 (create Namespace avatar) belongs to the kubernetes plane"},
		"bad action":            {`{"formatVersion":5,"targets":[{"target":"a",` + fp + `,` + part(`{"action":"nuke"}`) + `}]}`, `unknown action "nuke"`},
		"no payload":            {`{"formatVersion":5,"targets":[{"target":"a",` + fp + `,` + part(`{"kind":"topic","name":"a","action":"create"}`) + `}]}`, "kafka part: change 1: create topic a: a topic change must carry exactly one payload"},
		"wrong payload":         {`{"formatVersion":5,"targets":[{"target":"a",` + fp + `,` + part(`{"kind":"topic","name":"a","action":"create","partitions":{"from":1,"to":2}}`) + `}]}`, "exactly one payload"},
		"unknown field":         {`{"formatVersion":5,"targets":[{"target":"a",` + fp + `,` + kafka + `,"before":{}}]}`, "unknown field"},
		"top-level plan":        {`{"formatVersion":5,` + fp + `,` + kafka + `}`, "unknown field"},
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
	if _, err := ReadRun(strings.NewReader(sealed(t, `{"formatVersion":5,"targets":[{"target":"a",`+fp+`,`+kafka+`}]}`))); err != nil {
		t.Errorf("a well-formed hand-made document: %v", err)
	}
}
