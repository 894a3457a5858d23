package kube

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
)

func pinFixture(password string) Desired {
	sts := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "StatefulSet",
		"metadata": map[string]any{"name": "kafka-broker-1", "namespace": "avatar"},
		"spec":     map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "kafka", "image": "apache/kafka:3.8.1"}}}}},
	}}
	return Desired{Inventory: "avatar", Objects: []*unstructured.Unstructured{
		sts, PasswordSecret("avatar", "kafka-sasl-admin", "password", password, nil),
	}}
}

var testSalt = []byte("0123456789abcdef")

// A plan's snapshot holds every manifest as rendered except Secret values, which are salted
// fingerprints; unsealing re-supplies them from today's render only when they are the planned
// ones, and keeps the planned manifests whatever today's render says (issue 20).
func TestSealAndUnseal(t *testing.T) {
	snap, err := Seal(pinFixture("planned-pw"), testSalt)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(snap)
	for _, leak := range []string{"planned-pw", base64.StdEncoding.EncodeToString([]byte("planned-pw"))} {
		if strings.Contains(string(doc), leak) {
			t.Errorf("the snapshot holds %q:\n%s", leak, doc)
		}
	}
	if !strings.Contains(string(doc), "hmac-sha256:") || !strings.Contains(string(doc), "apache/kafka:3.8.1") {
		t.Errorf("the snapshot lacks the fingerprint or the manifest:\n%s", doc)
	}

	// Today's render has another image: the planned manifest wins; the same password passes.
	today := pinFixture("planned-pw")
	_ = unstructured.SetNestedSlice(today.Objects[0].Object, []any{map[string]any{"name": "kafka", "image": "apache/kafka:9.9.9"}}, "spec", "template", "spec", "containers")
	got, salt, err := Unseal(snap, today)
	if err != nil {
		t.Fatal(err)
	}
	if string(salt) != string(testSalt) || got.Inventory != "avatar" || len(got.Objects) != 2 {
		t.Fatalf("unsealed %+v, salt %q", got, salt)
	}
	cs, _, _ := unstructured.NestedSlice(got.Objects[0].Object, "spec", "template", "spec", "containers")
	if img := cs[0].(map[string]any)["image"]; img != "apache/kafka:3.8.1" {
		t.Errorf("unsealed image %v, want the planned apache/kafka:3.8.1", img)
	}
	data, _, _ := unstructured.NestedStringMap(got.Objects[1].Object, "data")
	if data["password"] != base64.StdEncoding.EncodeToString([]byte("planned-pw")) {
		t.Errorf("unsealed Secret data %v, want the re-supplied password", data)
	}

	tests := map[string]struct {
		snap  plans.DesiredObjects
		today Desired
		is    error
		want  string
	}{
		"another password": {snap, pinFixture("other-pw"), reconcile.ErrRefused, "Secret avatar/kafka-sasl-admin: the value supplied now for data.password is not the one the plan was made with"},
		"no Secret now":    {snap, Desired{Objects: pinFixture("planned-pw").Objects[:1]}, reconcile.ErrRefused, "Secret avatar/kafka-sasl-admin: the plan needs its values re-supplied"},
		"no salt":          {plans.DesiredObjects{Inventory: "avatar", Manifests: snap.Manifests}, pinFixture("planned-pw"), plans.ErrTampered, "salt is missing"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := Unseal(tc.snap, tc.today)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Unseal = %v, want %v containing %q", err, tc.is, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "other-pw") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

// A live object's digest is keyed by the plan's salt: two plans never share it, and it is not the
// plain SHA-256 an offline guess of a Secret's password could be checked against (issue 20).
func TestDigestIsSalted(t *testing.T) {
	secret := PasswordSecret("avatar", "kafka-sasl-admin", "password", "guessable", nil)
	a, b := digest(secret, testSalt), digest(secret, []byte("fedcba9876543210"))
	if a == b || a != digest(secret, testSalt) {
		t.Errorf("digests %s and %s: want stable per salt, different across salts", a, b)
	}
	plain, _ := json.Marshal(secret.Object)
	sum := sha256.Sum256(plain)
	if strings.Contains(a, hex.EncodeToString(sum[:8])) || !strings.HasPrefix(a, "hmac:") {
		t.Errorf("digest %s is the unsalted SHA-256 of the Secret", a)
	}
}
