package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSubjectOfCertFile: the principal import leaves out for an mTLS target is the certificate's
// subject in RFC 2253 form, as Kafka's default principal builder names it. openssl, which no one
// here wrote, prints the same for each subject, special characters included; a key block before the
// certificate is skipped; a file without a certificate or far too large is refused.
func TestSubjectOfCertFile(t *testing.T) {
	need(t, "openssl")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i, subject := range []pkix.Name{
		{CommonName: "avatar-sync", Organization: []string{"avatar-sync"}},
		{CommonName: "drone, controller+1", Organization: []string{"Avatar Lab"}, OrganizationalUnit: []string{"ml"}, Country: []string{"US"}},
	} {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: subject,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "client.pem")
		data := append(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := SubjectOfCertFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("openssl", "x509", "-in", path, "-noout", "-subject", "-nameopt", "RFC2253").CombinedOutput()
		if err != nil {
			t.Fatalf("openssl x509: %v\n%s", err, out)
		}
		if want := strings.TrimSpace(strings.TrimPrefix(string(out), "subject=")); got != want {
			t.Errorf("subject %q, openssl says %q", got, want)
		}
	}
	if got, _ := SubjectOfCertFile(filepath.Join(dir, "client.pem")); !strings.HasPrefix(got, "CN=drone\\, controller\\+1,") {
		t.Errorf("special characters not escaped as RFC 2253 wants: %q", got)
	}

	noCert := filepath.Join(dir, "key-only.pem")
	if err := os.WriteFile(noCert, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := SubjectOfCertFile(noCert); err == nil || !strings.Contains(err.Error(), "no PEM certificate found") {
		t.Errorf("key-only file: %v", err)
	}
	huge := filepath.Join(dir, "huge.pem")
	if err := os.WriteFile(huge, make([]byte, maxCertFile+10), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := SubjectOfCertFile(huge); err == nil || !strings.Contains(err.Error(), "not a client certificate") {
		t.Errorf("huge file: %v", err)
	}
}
