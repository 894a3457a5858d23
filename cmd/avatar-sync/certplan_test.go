package main

import (
	"strings"
	"testing"
	"time"
)

// TestPlanShowsCertificateAdvisories covers issue 5's "plan includes certificate work" as issue 9
// settled it: certificates are advisories, shown apart, never counted as changes and never making
// --detailed-exitcode exit 2, because apply does not issue them. Nothing generated yet is one
// advisory; fresh material has none; a SAN added to the spec and a certificate inside renewBefore
// are advisories, and apply names them without issuing anything (with -o json, as notes on stderr).
func TestPlanShowsCertificateAdvisories(t *testing.T) {
	f, state := kafkaWorkspace(t)
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "lab-keystore-secret")
	if code, out, errOut := runCLI(t, "apply", "--auto-approve", "-f", f, "--state-dir", state); code != exitOK {
		t.Fatalf("apply: %d\n%s\n%s", code, out, errOut)
	}

	code, out, errOut := runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state)
	if code != exitOK || strings.Contains(out, "certificate kafka") || !strings.Contains(out, "* tls: no TLS material in") || !strings.Contains(out, "No changes.") {
		t.Fatalf("before certs generate: code %d, want 0 and one advisory\n%s\n%s", code, out, errOut)
	}

	if code, out, errOut := runCLI(t, "certs", "generate", "-f", f); code != exitOK {
		t.Fatalf("certs generate: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state); code != exitOK {
		t.Fatalf("fresh certificates: code %d, want 0\n%s\n%s", code, out, errOut)
	}

	editSpec(t, f, "renewBefore: 30d }", "renewBefore: 30d, extraSANs: [avatar.lab] }")
	code, out, errOut = runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--state-dir", state)
	if code != exitOK {
		t.Fatalf("SAN added: code %d, want 0 (advisories are not changes)\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"Advisories (not changes: apply does not act on them):", "* certificate kafka-broker-1: ", "missing avatar.lab",
		"run `avatar-sync certs generate`", "No changes."} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = runCLI(t, "apply", "--auto-approve", "-f", f, "--state-dir", state)
	if code != exitOK || !strings.Contains(out, "* certificate kafka-broker-2: SANs differ") {
		t.Fatalf("apply with cert work pending: code %d\n%s\n%s", code, out, errOut)
	}
	// With -o json the plan is not printed as text: its advisories are notes on stderr.
	code, out, errOut = runCLI(t, "apply", "--auto-approve", "-o", "json", "-f", f, "--state-dir", state)
	if code != exitOK || !strings.Contains(errOut, "note: certificate kafka-broker-2: SANs differ") || strings.Contains(out, "note: ") {
		t.Fatalf("apply -o json with cert work pending: code %d, want the advisories as notes on stderr\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "certs", "generate", "-f", f); code != exitOK {
		t.Fatalf("certs generate: %d\n%s\n%s", code, out, errOut)
	}

	// 810 days on, the 825-day certificates are inside the 30-day renewal window.
	saved := certsClock
	t.Cleanup(func() { certsClock = saved })
	certsClock = func() time.Time { return time.Now().Add(810 * 24 * time.Hour) }
	code, out, _ = runCLI(t, "plan", "--detailed-exitcode", "-o", "json", "-f", f, "--state-dir", state)
	if code != exitOK || !strings.Contains(out, `"advisories"`) || !strings.Contains(out, `"status": "renew"`) || !strings.Contains(out, `"hasChanges": false`) {
		t.Fatalf("renewal window: code %d, want 0 with certificate advisories in JSON\n%s", code, out)
	}
}
