package clusters

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

func TestDefaultCAFile(t *testing.T) {
	dir := t.TempDir()
	specFile := filepath.Join(dir, "avatar.yaml")
	if err := os.MkdirAll(filepath.Join(dir, "ssl-certs"), 0o700); err != nil {
		t.Fatal(err)
	}
	generated := filepath.Join(dir, "ssl-certs", "ca.crt")
	if err := os.WriteFile(generated, []byte("-----BEGIN CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tlsOn := spec.TLS{Enabled: true, Dir: filepath.Join(dir, "ssl-certs")} // as spec resolves it
	tests := map[string]struct {
		tls  spec.TLS
		c    spec.Cluster
		want string
	}{
		"explicit caFile wins":         {tlsOn, spec.Cluster{Security: spec.SecuritySSL, CAFile: "other.crt"}, "other.crt"},
		"ssl trusts tls.dir's CA":      {tlsOn, spec.Cluster{Security: spec.SecuritySSL}, generated},
		"sasl_ssl trusts tls.dir's CA": {tlsOn, spec.Cluster{Security: spec.SecuritySASLSSL}, generated},
		"plaintext needs no CA":        {tlsOn, spec.Cluster{Security: spec.SecurityPlaintext}, ""},
		"tls off: system roots":        {spec.TLS{Dir: "ssl-certs"}, spec.Cluster{Security: spec.SecuritySSL}, ""},
		"nothing generated: system roots": {spec.TLS{Enabled: true, Dir: filepath.Join(dir, "elsewhere")},
			spec.Cluster{Security: spec.SecuritySSL}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := &spec.Spec{File: specFile, TLS: tc.tls}
			if got := defaultCAFile(s, tc.c); got != tc.want {
				t.Errorf("defaultCAFile = %q, want %q", got, tc.want)
			}
		})
	}
}
