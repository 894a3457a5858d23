package report

import (
	"bytes"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

func TestRenderValidateText(t *testing.T) {
	sp := &spec.Spec{Brokers: make([]spec.Broker, 3), Topics: make([]spec.Topic, 1), Clusters: make([]spec.Cluster, 2)}
	warn := spec.Diagnostic{Pos: spec.Pos{File: "avatar.yaml", Line: 3, Col: 5}, Severity: spec.SeverityWarning, Message: "topic x has one replica"}
	bad := spec.Diagnostic{Pos: spec.Pos{File: "avatar.yaml", Line: 9, Col: 1}, Severity: spec.SeverityError, Message: "brokers[0].id is missing"}
	for _, tc := range []struct {
		name        string
		rep         ValidateReport
		out, diag   string
		wantInvalid bool
	}{
		{name: "valid", rep: NewValidateReport("avatar.yaml", sp, nil, nil, false),
			out: "avatar.yaml is valid: 3 brokers, 1 topic, 2 cluster targets, 0 devices\n"},
		{name: "valid with a warning and plugins not run", rep: NewValidateReport("avatar.yaml", sp, spec.Diagnostics{warn}, []string{"lidar-1"}, false),
			out: "avatar.yaml is valid: 3 brokers, 1 topic, 2 cluster targets, 0 devices (1 warning)\n",
			diag: "avatar.yaml:3:5: warning: topic x has one replica\n" +
				"note: the parameters of 1 device served by external plugins (lidar-1) were not checked; --plugins runs the plugins' validate op (only for a spec you trust)\n"},
		{name: "strict", rep: NewValidateReport("avatar.yaml", sp, spec.Diagnostics{warn}, nil, true), wantInvalid: true,
			diag: "avatar.yaml:3:5: warning: topic x has one replica\navatar.yaml has 1 warning and --strict is set\n"},
		{name: "invalid", rep: NewValidateReport("avatar.yaml", nil, spec.Diagnostics{warn, bad}, nil, false), wantInvalid: true,
			diag: "avatar.yaml:3:5: warning: topic x has one replica\navatar.yaml:9:1: brokers[0].id is missing\navatar.yaml is invalid: 1 error, 1 warning\n"},
	} {
		var out, diag bytes.Buffer
		if err := RenderValidateText(&out, &diag, tc.rep); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.out || diag.String() != tc.diag || tc.rep.Valid == tc.wantInvalid {
			t.Errorf("%s (valid %v):\nout  %q\nwant %q\ndiag %q\nwant %q", tc.name, tc.rep.Valid, out.String(), tc.out, diag.String(), tc.diag)
		}
	}
}

func TestRenderValidateJSONListsNoDiagnosticsAsEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := RenderValidateJSON(&b, NewValidateReport("avatar.yaml", &spec.Spec{}, nil, nil, false)); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"file\": \"avatar.yaml\",\n  \"valid\": true,\n  \"errors\": 0,\n  \"warnings\": 0,\n  \"diagnostics\": []\n}\n"
	if b.String() != want {
		t.Errorf("got %s\nwant %s", b.String(), want)
	}
}
