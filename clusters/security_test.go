package clusters

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/avatar-project/avatar-sync/spec"
)

// testPKI writes a CA certificate to dir and returns it with a server TLS config for 127.0.0.1
// signed by that CA.
func testPKI(t *testing.T, dir string) (caFile string, server *tls.Config) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "avatar test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kafka-broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
}

func TestSecurityAgainstTLSAndSASL(t *testing.T) {
	dir := t.TempDir()
	caFile, serverTLS := testPKI(t, dir)
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.TLS(serverTLS), kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plain-user", "p1ain"),
		kfake.Superuser("SCRAM-SHA-256", "scram256", "s256-secret"),
		kfake.Superuser("SCRAM-SHA-512", "scram512", "s512-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("s512-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AVATAR_TEST_PW_PLAIN", "p1ain")
	t.Setenv("AVATAR_TEST_PW_256", "s256-secret")
	t.Setenv("AVATAR_TEST_PW_BAD", "wrong-pw-7d1e")

	sasl := func(mech, user, env, file string) *spec.SASL {
		return &spec.SASL{Mechanism: mech, Username: user, PasswordEnv: env, PasswordFile: file}
	}
	tests := map[string]struct {
		cluster  spec.Cluster
		insecure bool
		wantErr  string // "" = connects and describes
	}{
		"plain over tls":          {cluster: spec.Cluster{Security: spec.SecuritySASLSSL, CAFile: caFile, SASL: sasl("PLAIN", "plain-user", "AVATAR_TEST_PW_PLAIN", "")}},
		"scram-sha-256 from env":  {cluster: spec.Cluster{Security: spec.SecuritySASLSSL, CAFile: caFile, SASL: sasl("SCRAM-SHA-256", "scram256", "AVATAR_TEST_PW_256", "")}},
		"scram-sha-512 from file": {cluster: spec.Cluster{Security: spec.SecuritySASLSSL, CAFile: caFile, SASL: sasl("SCRAM-SHA-512", "scram512", "", pwFile)}},
		"wrong password":          {cluster: spec.Cluster{Security: spec.SecuritySASLSSL, CAFile: caFile, SASL: sasl("SCRAM-SHA-256", "scram256", "AVATAR_TEST_PW_BAD", "")}, wantErr: "closed the connection during authentication (wrong SASL username, password or mechanism?)"},
		"unknown CA":              {cluster: spec.Cluster{Security: spec.SecuritySASLSSL, SASL: sasl("PLAIN", "plain-user", "AVATAR_TEST_PW_PLAIN", "")}, wantErr: "TLS certificate not trusted"},
		"insecure skip verify":    {cluster: spec.Cluster{Security: spec.SecuritySASLSSL, SASL: sasl("PLAIN", "plain-user", "AVATAR_TEST_PW_PLAIN", "")}, insecure: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.cluster.Name = "lab"
			tc.cluster.Bootstrap = c.ListenAddrs()
			s := &spec.Spec{Clusters: []spec.Cluster{tc.cluster}}
			a, err := Open(testCtx(t), s, "lab", Options{InsecureSkipVerify: tc.insecure, DialTimeout: 5 * time.Second})
			if err == nil {
				defer a.Close()
				_, err = a.Describe(testCtx(t))
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Errorf("error is not one line: %q", err)
			}
			// A failed connection names the variable or file, never the password in it.
			for _, pw := range []string{"wrong-pw-7d1e", "p1ain", "s256-secret", "s512-secret"} {
				if err != nil && strings.Contains(err.Error(), pw) {
					t.Errorf("the error shows a password: %v", err)
				}
			}
		})
	}
}

// TestSecurityConfigErrors: every problem of a target's security settings is reported at once,
// before any connection is attempted.
func TestSecurityConfigErrors(t *testing.T) {
	c := spec.Cluster{Name: "lab", Bootstrap: []string{"127.0.0.1:1"}, Security: spec.SecuritySASLSSL,
		CAFile: "/work/missing-ca.pem", CertFile: "client.pem",
		SASL: &spec.SASL{Mechanism: "GSSAPI", Username: "u", PasswordEnv: "AVATAR_TEST_UNSET_VAR"}}
	_, err := Open(testCtx(t), &spec.Spec{File: "/work/avatar.yaml", Clusters: []spec.Cluster{c}}, "lab", Options{})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`cluster "lab"`, "/work/missing-ca.pem", "certFile and keyFile must be set together", "AVATAR_TEST_UNSET_VAR is not set"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	bad := spec.Cluster{Name: "lab", Bootstrap: []string{"127.0.0.1:1"}, Security: "kerberos"}
	if _, err := Open(testCtx(t), &spec.Spec{Clusters: []spec.Cluster{bad}}, "lab", Options{}); err == nil || !strings.Contains(err.Error(), `security "kerberos"`) {
		t.Errorf("unknown security: %v", err)
	}
	mech := spec.Cluster{Name: "lab", Bootstrap: []string{"127.0.0.1:1"}, Security: spec.SecuritySASLSSL,
		SASL: &spec.SASL{Mechanism: "GSSAPI", Username: "u", PasswordFile: filepath.Join(t.TempDir(), "none")}}
	if _, err := Open(testCtx(t), &spec.Spec{Clusters: []spec.Cluster{mech}}, "lab", Options{}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing password file: %v", err)
	}
}

// TestEmbeddedTLSSeam: EmbeddedOptions.TLS (where the certs work plugs in dev up's SSL listeners)
// serves TLS that an ssl target verifies with its caFile.
func TestEmbeddedTLSSeam(t *testing.T) {
	ctx := testCtx(t)
	caFile, serverTLS := testPKI(t, t.TempDir())
	e, err := StartEmbedded(ctx, testSpec(), EmbeddedOptions{TLS: serverTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := &spec.Spec{Clusters: []spec.Cluster{
		{Name: "ssl", Bootstrap: e.Bootstrap(), Security: spec.SecuritySSL, CAFile: caFile},
		{Name: "plain", Bootstrap: e.Bootstrap()},
	}}
	a, err := Open(ctx, s, "ssl", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Describe(ctx); err != nil {
		t.Fatal(err)
	}
	// A plaintext client on a TLS listener gets one line, not a hang.
	_, err = Open(ctx, s, "plain", Options{RequestTimeout: 2 * time.Second})
	if err == nil || !strings.HasPrefix(err.Error(), `cannot reach cluster "plain"`) {
		t.Errorf("plaintext against TLS: %v", err)
	}
	t.Logf("plaintext against TLS: %v", err)
}
