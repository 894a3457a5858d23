package spec

import (
	"errors"
	"strings"
	"testing"
)

const resolveSpec = `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: lab }
brokers:
  - { id: 1, host: b1, ports: { plaintext: 9092, ssl: 9192 } }
topicDefaults: { partitions: 1, replicationFactor: 1 }
topics:
  - { name: t1 }
tls:
  enabled: true
  %s
clusters:
  lab:
    bootstrap: [b1:9192]
    security: sasl_ssl
    caFile: pki/ca.pem
    certFile: /etc/pki/client.pem
    keyFile: pki/client.key
    sasl: { mechanism: PLAIN, username: u, passwordFile: secrets/sasl }
`

// TestResolvedPaths: Parse defaults tls.dir and resolves every spec-relative path once (issue 9), so
// no other package re-derives them; absolute paths and standard input stay as written.
func TestResolvedPaths(t *testing.T) {
	tests := map[string]struct {
		file, tls                                        string
		dir, pwFile, caFile, certFile, keyFile, saslFile string
	}{
		"spec in a subdirectory, tls.dir defaulted": {
			"deploy/avatar.yaml", "passwordFile: secrets/ks",
			"deploy/ssl-certs", "deploy/secrets/ks", "deploy/pki/ca.pem", "/etc/pki/client.pem", "deploy/pki/client.key", "deploy/secrets/sasl"},
		"spec in the working directory": {
			"avatar.yaml", "dir: ./certs\n  passwordFile: ks",
			"certs", "ks", "pki/ca.pem", "/etc/pki/client.pem", "pki/client.key", "secrets/sasl"},
		"absolute tls.dir": {
			"/srv/lab/avatar.yaml", "dir: /var/pki\n  passwordFile: ../ks",
			"/var/pki", "/srv/ks", "/srv/lab/pki/ca.pem", "/etc/pki/client.pem", "/srv/lab/pki/client.key", "/srv/lab/secrets/sasl"},
		"standard input: relative to the working directory": {
			StdinName, "passwordFile: ks",
			"ssl-certs", "ks", "pki/ca.pem", "/etc/pki/client.pem", "pki/client.key", "secrets/sasl"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, diags := Parse(tc.file, []byte(strings.Replace(resolveSpec, "%s", tc.tls, 1)))
			if s == nil {
				t.Fatalf("does not load: %v", diags)
			}
			c, err := s.Target("lab")
			if err != nil {
				t.Fatal(err)
			}
			got := []string{s.TLS.Dir, s.TLS.PasswordFile, c.CAFile, c.CertFile, c.KeyFile, c.SASL.PasswordFile}
			want := []string{tc.dir, tc.pwFile, tc.caFile, tc.certFile, tc.keyFile, tc.saslFile}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("resolved\n got %q\nwant %q", got, want)
			}
		})
	}
}

func TestTarget(t *testing.T) {
	s, diags := Parse("avatar.yaml", []byte(strings.Replace(resolveSpec, "%s", "passwordEnv: KS", 1)))
	if s == nil {
		t.Fatal(diags)
	}
	if c, err := s.Target("lab"); err != nil || c.Name != "lab" {
		t.Errorf("lab: %v, %v", c, err)
	}
	if c, err := (&Spec{}).Target(EmbeddedCluster); err != nil || !c.Embedded() {
		t.Errorf("embedded in a bare spec: %v, %v", c, err)
	}
	_, err := s.Target("lba")
	var unknown *UnknownTargetError
	want := `"lba" is not a target in avatar.yaml (targets: lab, embedded); did you mean "lab"?`
	if !errors.As(err, &unknown) || err.Error() != want {
		t.Errorf("unknown target: %v; want %s", err, want)
	}
}
