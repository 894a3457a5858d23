package main

import (
	"strings"
	"testing"
	"time"
)

// TestPlanShowsCertificateChanges covers issue 5's "plan includes certificate changes": nothing
// generated yet is a note, not a change; fresh material is in sync; a SAN added to the spec and a
// certificate inside renewBefore are Cert updates that make --detailed-exitcode report changes,
// and apply names them without issuing anything.
func TestPlanShowsCertificateChanges(t *testing.T) {
	f, state := kafkaWorkspace(t)
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "lab-keystore-secret")
	if code, out, errOut := runCLI(t, "apply", "--auto-approve", "-f", f, "--state-dir", state); code != exitOK {
		t.Fatalf("apply: %d\n%s\n%s", code, out, errOut)
	}

	code, out, errOut := runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state)
	if code != exitOK || strings.Contains(out, "certificate") || !strings.Contains(errOut, "no TLS material in") {
		t.Fatalf("before certs generate: code %d, want 0 and only a note\n%s\n%s", code, out, errOut)
	}

	if code, out, errOut := runCLI(t, "certs", "generate", "-f", f); code != exitOK {
		t.Fatalf("certs generate: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state); code != exitOK {
		t.Fatalf("fresh certificates: code %d, want 0\n%s\n%s", code, out, errOut)
	}

	editSpec(t, f, "renewBefore: 30d }", "renewBefore: 30d, extraSANs: [avatar.lab] }")
	code, out, errOut = runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state)
	if code != exitChanges {
		t.Fatalf("SAN added: code %d, want 2\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"~ update certificate kafka-broker-1", "status:  mismatch → ok", "missing avatar.lab",
		"run `avatar-sync certs generate`", "Plan: 0 to create, 3 to update, 0 to delete."} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = runCLI(t, "apply", "--auto-approve", "-f", f, "--state-dir", state)
	if code != exitOK || !strings.Contains(errOut, "note: update certificate kafka-broker-2: SANs differ") {
		t.Fatalf("apply with cert work pending: code %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "certs", "generate", "-f", f); code != exitOK {
		t.Fatalf("certs generate: %d\n%s\n%s", code, out, errOut)
	}

	// 810 days on, the 825-day certificates are inside the 30-day renewal window.
	saved := certsClock
	t.Cleanup(func() { certsClock = saved })
	certsClock = func() time.Time { return time.Now().Add(810 * 24 * time.Hour) }
	code, out, _ = runCLI(t, "plan", "--detailed-exitcode", "-o", "json", "-f", f, "--state-dir", state)
	if code != exitChanges || !strings.Contains(out, `"kind": "cert"`) || !strings.Contains(out, `"status": "renew"`) {
		t.Fatalf("renewal window: code %d, want 2 with cert changes in JSON\n%s", code, out)
	}
}
