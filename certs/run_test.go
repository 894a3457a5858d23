package certs

import (
	"bytes"
	"testing"
)

func TestRenderGenerateText(t *testing.T) {
	actions := []Action{
		{Verb: "create", File: "ssl-certs/ca.crt", Reason: "missing"},
		{Verb: "renew", File: "ssl-certs/kafka-broker-1.crt", Reason: "expires in 12 days"},
	}
	for _, tc := range []struct {
		name       string
		rep        GenerateReport
		out, notes string
	}{
		{"up to date", GenerateReport{Dir: "ssl-certs", Password: "$AVATAR_KEYSTORE_PASSWORD"},
			"ssl-certs is up to date; nothing to write.\n", ""},
		{"dry run", GenerateReport{Dir: "ssl-certs", DryRun: true, Actions: actions, Written: 2, Removed: 1},
			"create  ssl-certs/ca.crt              missing\nrenew   ssl-certs/kafka-broker-1.crt  expires in 12 days\n" +
				"Dry run: would write 2 files and remove 1 file in ssl-certs.\n", ""},
		{"written, with a note", GenerateReport{Dir: "ssl-certs", Password: "generated", Actions: actions[:1], Written: 1,
			Notes: []string{"AVATAR_KEYSTORE_PASSWORD is not set"}},
			"create  ssl-certs/ca.crt  missing\nWrote 1 file, removed 0 files in ssl-certs (keystore password from generated).\n",
			"note: AVATAR_KEYSTORE_PASSWORD is not set\n"},
		{"PEM stores", GenerateReport{Dir: "ssl-certs", Written: 3, NoPassword: true},
			"Wrote 3 files, removed 0 files in ssl-certs (PEM keystores: no password).\n", ""},
	} {
		var out, notes bytes.Buffer
		if err := RenderGenerateText(&out, &notes, tc.rep); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.out || notes.String() != tc.notes {
			t.Errorf("%s:\nout   %q\nwant  %q\nnotes %q\nwant  %q", tc.name, out.String(), tc.out, notes.String(), tc.notes)
		}
	}
}

func TestRenderGenerateJSONHidesNoPassword(t *testing.T) {
	var b bytes.Buffer
	if err := RenderGenerateJSON(&b, GenerateReport{Dir: "d", Actions: []Action{}, Notes: []string{}, NoPassword: true}); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"dir\": \"d\",\n  \"dryRun\": false,\n  \"actions\": [],\n  \"removed\": 0,\n  \"written\": 0,\n  \"notes\": []\n}\n"
	if b.String() != want {
		t.Errorf("got %s\nwant %s", b.String(), want)
	}
}

func TestInspectReportProblem(t *testing.T) {
	ok := CertStatus{Name: "ca", Status: StateOK}
	renew := CertStatus{Name: "kafka-broker-1", Status: StateRenew}
	expired := CertStatus{Name: "kafka-broker-2", Status: StateExpired}
	missing := CertStatus{Name: "client-ml", Status: StateMissing}
	for _, tc := range []struct {
		name string
		rep  InspectReport
		want string
	}{
		{"all ok", InspectReport{Certificates: []CertStatus{ok}}, ""},
		{"renew alone is no problem", InspectReport{Certificates: []CertStatus{ok, renew}}, ""},
		{"one", InspectReport{Certificates: []CertStatus{ok, expired}},
			"1 certificate needs attention (kafka-broker-2 expired): run avatar-sync certs generate"},
		{"two and the password", InspectReport{Certificates: []CertStatus{expired, missing}, Password: "the keystore password does not open x.p12"},
			"2 certificates need attention (kafka-broker-2 expired, client-ml missing): run avatar-sync certs generate; and the keystore password does not open x.p12"},
		{"only the password", InspectReport{Certificates: []CertStatus{ok}, Password: "the keystore password does not open x.p12"},
			"the keystore password does not open x.p12"},
	} {
		got := ""
		if err := tc.rep.Problem(); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}
