package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

// The Kubernetes plane applies the keystore-password Secret from the spec's password source, in the
// target's namespace, beside everything render builds.
func TestKubeDesiredCarriesThePasswordSecret(t *testing.T) {
	specPath := renderRepo(t)
	load := func() *spec.Spec {
		sp, diags := spec.LoadFile(specPath)
		if err := diags.Err(); err != nil {
			t.Fatal(err)
		}
		return sp
	}
	env := map[string]string{"AVATAR_KEYSTORE_PASSWORD": "from-the-env"}
	want, err := kubeDesired(load(), "microk8s", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if want.Inventory != "avatar" || len(want.Objects) != 17 {
		t.Fatalf("inventory %q with %d objects, want avatar with the 16 rendered objects and the password Secret", want.Inventory, len(want.Objects))
	}
	if first := want.Objects[0]; first.GetKind() != "Namespace" || first.GetName() != "avatar" {
		t.Errorf("the first object is %s %s, want the Namespace", first.GetKind(), first.GetName())
	}
	secret := want.Objects[len(want.Objects)-1]
	data, _ := secret.Object["data"].(map[string]any)
	if secret.GetName() != "kafka-tls-password" || secret.GetNamespace() != "avatar" || data["password"] != base64.StdEncoding.EncodeToString([]byte("from-the-env")) {
		t.Errorf("password Secret = %v", secret.Object)
	}

	// No password anywhere: refuse rather than invent one the keystores were not written with.
	if _, err := kubeDesired(load(), "microk8s", func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "AVATAR_KEYSTORE_PASSWORD (tls.passwordEnv) is not set") {
		t.Errorf("without a password: %v, want the unset variable named", err)
	}
	// The password certs generate wrote into tls.dir is used when the variable is unset.
	if err := os.WriteFile(filepath.Join(filepath.Dir(specPath), "ssl-certs", "keystore.password"), []byte("generated-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want, err = kubeDesired(load(), "microk8s", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	data, _ = want.Objects[len(want.Objects)-1].Object["data"].(map[string]any)
	if data["password"] != base64.StdEncoding.EncodeToString([]byte("generated-pw")) {
		t.Errorf("password from tls.dir/keystore.password = %v", data["password"])
	}
	if _, err := kubeDesired(load(), "dev", os.Getenv); err == nil {
		t.Error("a target without kubernetes: should be refused")
	}
}
