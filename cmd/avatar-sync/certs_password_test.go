package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/certs"
	"github.com/avatar-project/avatar-sync/session"
	"github.com/avatar-project/avatar-sync/spec"
)

// A wrong AVATAR_KEYSTORE_PASSWORD (issue 21) is caught before it reaches the brokers: `certs
// inspect` exits 1 naming the stores it does not open, and the Kubernetes plane refuses to build the
// kafka-tls-password Secret from it (so plan and apply stop), instead of reporting "converged" and
// leaving every broker unable to start at its next restart.
func TestWrongKeystorePasswordIsRefusedByInspectAndThePlan(t *testing.T) {
	specPath, _ := certsWorkspace(t)
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "lab-secret-42")
	if code, out, errOut := runCLI(t, "certs", "generate", "-f", specPath); code != exitOK {
		t.Fatalf("generate: code %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "certs", "inspect", "-f", specPath); code != exitOK {
		t.Fatalf("inspect with the right password: code %d\n%s\n%s", code, out, errOut)
	}
	sp, diags := spec.LoadFile(specPath)
	if err := diags.Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := session.KubeDesired(sp, "microk8s", func(string) string { return "lab-secret-42" }); err != nil {
		t.Fatalf("the Kubernetes plane with the right password: %v", err)
	}

	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "typo-secret-42")
	code, out, errOut := runCLI(t, "certs", "inspect", "-f", specPath)
	if code != exitError || !strings.Contains(errOut, "the password from $AVATAR_KEYSTORE_PASSWORD does not open kafka-broker-1.keystore.p12, kafka-broker-1.truststore.p12") {
		t.Fatalf("inspect with a wrong password: code %d, want %d naming the stores\nstdout %s\nstderr %s", code, exitError, out, errOut)
	}
	if strings.Contains(out+errOut, "typo-secret-42") {
		t.Error("inspect printed the password")
	}
	code, out, _ = runCLI(t, "certs", "inspect", "-f", specPath, "-o", "json")
	if code != exitError || !strings.Contains(out, `"password": "the keystore password does not open`) || !strings.Contains(out, `"ok": false`) {
		t.Errorf("inspect -o json with a wrong password: code %d\n%s", code, out)
	}
	_, err := session.KubeDesired(sp, "microk8s", func(string) string { return "typo-secret-42" })
	if !errors.Is(err, certs.ErrPasswordDoesNotOpen) || !strings.Contains(err.Error(), "kafka-broker-1.keystore.p12") {
		t.Fatalf("the Kubernetes plane with a wrong password: %v, want a refusal naming the store", err)
	}
}
