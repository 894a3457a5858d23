package reconcile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

func TestImportTarget(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	c := spec.Cluster{Name: "lab", CAFile: filepath.Join(wd, "certs", "ca.crt"), CertFile: "certs/me.crt",
		SASL:       &spec.SASL{Username: "admin", PasswordFile: filepath.Join(wd, "secrets", "pw")},
		Kubernetes: &spec.Kubernetes{Namespace: "avatar"}}
	got := ImportTarget(c, filepath.Join("out", "avatar.yaml"))
	if got.CAFile != filepath.Join("..", "certs", "ca.crt") || got.CertFile != filepath.Join("..", "certs", "me.crt") || got.KeyFile != "" {
		t.Errorf("files not relative to out/: %+v", got)
	}
	if got.SASL.PasswordFile != filepath.Join("..", "secrets", "pw") || c.SASL.PasswordFile != filepath.Join(wd, "secrets", "pw") {
		t.Errorf("SASL password file %q (the original must stay %q)", got.SASL.PasswordFile, c.SASL.PasswordFile)
	}
	if got.Kubernetes != nil || c.Kubernetes == nil {
		t.Errorf("kubernetes: is dropped from the copy only")
	}
	if got := ImportTarget(c, ""); got.CertFile != filepath.Join("certs", "me.crt") {
		t.Errorf("stdout: relative to the working directory: %q", got.CertFile)
	}
}
