package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/session"
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
	want, err := session.KubeDesired(load(), "microk8s", func(k string) string { return env[k] })
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
	if _, err := session.KubeDesired(load(), "microk8s", func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "AVATAR_KEYSTORE_PASSWORD (tls.passwordEnv) is not set") {
		t.Errorf("without a password: %v, want the unset variable named", err)
	}
	// The password certs generate wrote into tls.dir is used when the variable is unset.
	if err := os.WriteFile(filepath.Join(filepath.Dir(specPath), "ssl-certs", "keystore.password"), []byte("generated-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want, err = session.KubeDesired(load(), "microk8s", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	data, _ = want.Objects[len(want.Objects)-1].Object["data"].(map[string]any)
	if data["password"] != base64.StdEncoding.EncodeToString([]byte("generated-pw")) {
		t.Errorf("password from tls.dir/keystore.password = %v", data["password"])
	}
	if _, err := session.KubeDesired(load(), "dev", os.Getenv); err == nil {
		t.Error("a target without kubernetes: should be refused")
	}
}

// saslRepo is renderRepo's example with SASL_SSL listeners and kafka.sasl (issue 14).
func saslRepo(t *testing.T) string {
	t.Helper()
	specPath := renderRepo(t)
	data, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	for old, new := range map[string]string{
		"kafka: { image: apache/kafka:3.9.0 }": `kafka: { image: apache/kafka:3.9.0, sasl: { mechanism: SCRAM-SHA-512, username: admin, passwordEnv: AVATAR_ADMIN_PASSWORD } }`,
		"internal: 29092 }":                    "internal: 29092, sasl: 9292 }",
		"internal: 29093 }":                    "internal: 29093, sasl: 9293 }",
		"internal: 29094 }":                    "internal: 29094, sasl: 9294 }",
		"renewBefore: 30d }":                   "renewBefore: 30d, internal: true }",
	} {
		if !strings.Contains(src, old) {
			t.Fatalf("examples/avatar.yaml no longer has %q", old)
		}
		src = strings.ReplaceAll(src, old, new)
	}
	if err := os.WriteFile(specPath, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return specPath
}

// With SASL listeners the Kubernetes plane also applies the SCRAM admin's Secret from kafka.sasl's
// reference, refuses a password the brokers' --add-scram could not store, and names an unset
// variable instead of creating an empty password.
func TestKubeDesiredCarriesTheSASLAdminSecret(t *testing.T) {
	specPath := saslRepo(t)
	sp, diags := spec.LoadFile(specPath)
	if err := diags.Err(); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AVATAR_KEYSTORE_PASSWORD": "keystore-pw", "AVATAR_ADMIN_PASSWORD": "admin pw $x"}
	want, err := session.KubeDesired(sp, "microk8s", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	secret := want.Objects[len(want.Objects)-1]
	data, _ := secret.Object["data"].(map[string]any)
	if secret.GetName() != "kafka-sasl-admin" || secret.GetNamespace() != "avatar" || data["password"] != base64.StdEncoding.EncodeToString([]byte("admin pw $x")) {
		t.Errorf("SCRAM admin Secret = %v", secret.Object)
	}
	if len(want.Objects) != 18 {
		t.Errorf("%d objects, want the 16 rendered ones and two Secrets", len(want.Objects))
	}
	for name, tc := range map[string]struct{ password, want string }{
		"comma": {"a,b", "contains a comma"},
		"unset": {"", "AVATAR_ADMIN_PASSWORD is not set"},
	} {
		env["AVATAR_ADMIN_PASSWORD"] = tc.password
		if _, err := session.KubeDesired(sp, "microk8s", func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
