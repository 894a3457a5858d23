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

// TestCertificateErrorsSayWhatToDo (issue 10 item 15): a broker certificate that expired, or that
// does not name the address dialled, is issued by the right CA; "set caFile" would send the user
// the wrong way. The message says which it is and to re-issue (certs generate) and restart.
func TestCertificateErrorsSayWhatToDo(t *testing.T) {
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "avatar test CA"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	leaf := func(notAfter time.Time, ips []net.IP, dns []string) *tls.Config {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kafka-broker-1"},
			NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: notAfter, IPAddresses: ips, DNSNames: dns,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	}
	loopback := []net.IP{net.ParseIP("127.0.0.1")}
	for name, tc := range map[string]struct {
		server *tls.Config
		caFile string
		want   []string
	}{
		"expired": {leaf(time.Now().Add(-time.Hour), loopback, nil), caFile,
			[]string{"the broker's TLS certificate expired on ", "run `avatar-sync certs generate` (or `certs rotate`) and restart the brokers"}},
		"wrong name": {leaf(time.Now().Add(time.Hour), nil, []string{"kafka-broker-1"}), caFile,
			[]string{"the broker's TLS certificate is not valid for 127.0.0.1", "tls.extraSANs", "avatar-sync certs generate", "restart the brokers"}},
		"unknown CA": {leaf(time.Now().Add(time.Hour), loopback, nil), "",
			[]string{"TLS certificate not trusted", "set caFile to the cluster's CA"}},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(tc.server))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s := &spec.Spec{Clusters: []spec.Cluster{{Name: "lab", Bootstrap: c.ListenAddrs(), Security: spec.SecuritySSL, CAFile: tc.caFile}}}
			a, err := Open(testCtx(t), s, "lab", Options{DialTimeout: 5 * time.Second})
			if err == nil {
				a.Close()
				t.Fatal("connected")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if name != "unknown CA" && strings.Contains(err.Error(), "set caFile") {
				t.Errorf("error sends the user to caFile:\n%v", err)
			}
		})
	}
}
