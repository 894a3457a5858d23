package spec

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDiagnostics(t *testing.T) {
	ds := Diagnostics{
		{Pos: Pos{File: "a.yaml", Line: 3, Col: 5}, Message: "broken"},
		{Pos: Pos{File: "a.yaml", Line: 4, Col: 1}, Severity: SeverityWarning, Message: "odd"},
		{Pos: Pos{File: "a.yaml"}, Message: "no line"},
		{Message: "nowhere"},
	}
	for i, want := range []string{"a.yaml:3:5: broken", "a.yaml:4:1: warning: odd", "a.yaml: no line", "nowhere"} {
		if got := ds[i].String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
	if len(ds.Errors()) != 3 || len(ds.Warnings()) != 1 {
		t.Errorf("Errors/Warnings split %d/%d", len(ds.Errors()), len(ds.Warnings()))
	}
	err := ds.Err()
	if !errors.Is(err, ErrInvalid) || err.Error() != "invalid spec: a.yaml:3:5: broken\na.yaml: no line\nnowhere" {
		t.Errorf("Err() = %q", err)
	}
	if (Diagnostics{ds[1]}).Err() != nil {
		t.Errorf("warnings alone must not be an error")
	}
	out, _ := json.Marshal(ds[1])
	if want := `{"severity":"warning","file":"a.yaml","line":4,"col":1,"message":"odd"}`; string(out) != want {
		t.Errorf("JSON = %s, want %s", out, want)
	}
}

func TestLoadFileErrors(t *testing.T) {
	_, ds := LoadFile("testdata/no-such.yaml")
	if len(ds) != 1 || ds[0].String() != "testdata/no-such.yaml: no such file (point -f/--file at your avatar.yaml)" {
		t.Errorf("missing file: %v", ds)
	}
	_, ds = LoadFile("testdata")
	if len(ds) != 1 || !strings.Contains(ds[0].Message, "is a directory") || ds[0].Severity != SeverityError {
		t.Errorf("directory: %v", ds)
	}
	if len(TopicConfigs()) != len(topicConfigs) {
		t.Errorf("TopicConfigs() returns %d of %d", len(TopicConfigs()), len(topicConfigs))
	}
}

// TestDiagnosticIsOneLine: a key such as "a\nb" (legal in quoted YAML) is quoted in the message
// without breaking the one-diagnostic-per-line form editors and CI parse.
func TestDiagnosticIsOneLine(t *testing.T) {
	_, diags := Parse("a.yaml", []byte("apiVersion: avatar-sync/v1\nkind: KafkaCluster\n\"meta\\ndata\\t\\e[31m\": {}\n"))
	for _, d := range diags {
		if s := d.String(); strings.ContainsAny(s, "\n\t\x1b") {
			t.Errorf("diagnostic spans lines or carries escapes: %q", s)
		}
	}
	if len(diags) == 0 || !strings.Contains(Diagnostics(diags).Err().Error(), `meta\ndata\t\x1b[31m is not a known key`) {
		t.Errorf("diagnostics: %q", diags)
	}
}
