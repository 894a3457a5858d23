package certs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

// A password that does not open the stores in tls.dir is refused, naming each store (issue 21: a
// wrong AVATAR_KEYSTORE_PASSWORD went into kafka-tls-password and the brokers failed at their next
// restart); the password they were written with passes.
func TestCheckPasswordNamesTheStoresItDoesNotOpen(t *testing.T) {
	for _, kt := range []string{spec.KeystorePKCS12, spec.KeystoreJKS} {
		t.Run(kt, func(t *testing.T) {
			h := newHarness(t, kt)
			h.spec.TLS.PasswordEnv = "KS_PW"
			h.env["KS_PW"] = "right-password"
			h.generate(t0, nil)
			src := h.source()
			if err := CheckPassword(h.spec, src, Password{Value: "right-password", From: "$KS_PW"}); err != nil {
				t.Fatalf("the password the stores were written with: %v", err)
			}
			err := CheckPassword(h.spec, src, Password{Value: "wrong-password", From: "$KS_PW"})
			ext := storeExt(kt)
			if !errors.Is(err, ErrPasswordDoesNotOpen) || !strings.Contains(err.Error(), "from $KS_PW does not open kafka-broker-1.keystore."+ext+", kafka-broker-1.truststore."+ext) ||
				!strings.Contains(err.Error(), "prediction-service.truststore."+ext+" in "+h.dir) {
				t.Fatalf("a wrong password: %v, want every store named", err)
			}
		})
	}
}

// Only a store that rejects the password is a password problem: stores not written yet, and PEM
// stores (no password), are not refused.
func TestCheckPasswordIgnoresMissingAndPEMStores(t *testing.T) {
	h := newHarness(t, spec.KeystorePKCS12)
	if err := os.MkdirAll(h.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := CheckPassword(h.spec, h.source(), Password{Value: "anything", From: "test"}); err != nil {
		t.Errorf("no stores yet: %v", err)
	}
	if err := os.WriteFile(filepath.Join(h.dir, "kafka-broker-1.keystore.p12"), []byte("placeholder\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckPassword(h.spec, h.source(), Password{Value: "anything", From: "test"}); err != nil {
		t.Errorf("a file that is no store at all is not a password problem: %v", err)
	}
	p := newHarness(t, spec.KeystorePEM)
	p.generate(t0, nil)
	if err := CheckPassword(p.spec, p.source(), Password{Value: "anything", From: "test"}); err != nil {
		t.Errorf("PEM stores hold no password: %v", err)
	}
}
