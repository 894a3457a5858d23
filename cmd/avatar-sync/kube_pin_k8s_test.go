//go:build kubeapiserver

package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/internal/kubetest"
)

// The four Kubernetes findings of issue 20, each against the real kube-apiserver: a saved plan
// pins the objects it creates, a deferred plan never bypasses the apply lock, Secret values are
// re-supplied at apply and checked, and no output holds an unsalted digest of a Secret.

// TestKubeSavedPlanPinsTheObjectsItCreates: `plan --out` on an empty namespace, then kafka.image
// edited, then `apply --plan`: the StatefulSets run the planned image, not today's. It used to
// apply the edited image, exit 0 and say "converged": a create carried no fields and the objects
// were re-rendered from today's spec at apply.
func TestKubeSavedPlanPinsTheObjectsItCreates(t *testing.T) {
	lab := newKubeLab(t)
	saved := filepath.Join(t.TempDir(), "fresh.json")
	lab.mustCLI(exitOK, "plan", "--out", saved)
	lab.editSpec(`image: "apache/kafka:3.8.1"`, `image: "apache/kafka:3.9.0"`)
	lab.mustCLI(exitOK, "apply", "--plan", saved, "--auto-approve", "--wait-timeout", "2m")
	for _, n := range []string{"kafka-broker-1", "kafka-broker-2", "kafka-broker-3"} {
		if got := image(lab.statefulSet(n)); got != "apache/kafka:3.8.1" {
			t.Errorf("%s runs %s, want the planned apache/kafka:3.8.1", n, got)
		}
	}
	// Today's spec still wants the edited image: a fresh plan shows it as the next change.
	out, _ := lab.mustCLI(exitChanges, "plan", "--detailed-exitcode")
	if !strings.Contains(out, "apache/kafka:3.8.1 → apache/kafka:3.9.0") {
		t.Errorf("a plan after applying the saved one:\n%s", out)
	}
}

// TestKubeDeferredSavedPlanTakesTheLockBeforeAnyObject: a plan saved while the brokers did not
// answer (topics deferred, no edit needed), applied once they answer while another apply holds
// the lock, changes no object; released, it applies the objects under the lock, plans the topics
// under it, and says truthfully that the brokers answered. It used to roll every broker under the
// other holder's lock and print "the brokers did not answer".
func TestKubeDeferredSavedPlanTakesTheLockBeforeAnyObject(t *testing.T) {
	lab := newKubeLab(t)
	saved := filepath.Join(t.TempDir(), "deferred.json")
	lab.mustCLI(exitOK, "plan", "--out", saved)
	data, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"plane": "kafka"`) {
		t.Fatalf("the plan did not defer the Kafka plane:\n%s", data)
	}
	lab.startBrokers()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := lab.brokers.Connect(ctx, clusters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	other, err := a.AcquireLease(ctx, "watch@lab pid 4242", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, errOut := lab.mustCLI(exitError, "apply", "--plan", saved, "--auto-approve", "--lock-timeout", "0s")
	if !strings.Contains(errOut, "another apply holds the lock on this cluster: watch@lab pid 4242") {
		t.Errorf("a deferred plan under another apply's lock:\n%s", errOut)
	}
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("apps/v1")
	u.SetKind("StatefulSet")
	if err := lab.client.Get(ctx, client.ObjectKey{Namespace: lab.ns, Name: "kafka-broker-1"}, u); !apierrors.IsNotFound(err) {
		t.Errorf("kafka-broker-1 while another apply held the lock: %v, want not found", err)
	}
	if err := other.Release(ctx); err != nil {
		t.Fatal(err)
	}
	out, errOut := lab.mustCLI(exitOK, "apply", "--plan", saved, "--auto-approve", "--wait-timeout", "2m")
	for _, want := range []string{
		"+ create StatefulSet " + lab.ns + "/kafka-broker-1",
		`The brokers of "lab" answered: the topics were planned under the apply lock but are not part of this plan, so none was changed`,
		"create topic eeg-brainwave-data",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s\nstderr:\n%s", want, out, errOut)
		}
	}
	// The saved plan's header tells when it was made (the brokers did not answer then); nothing may
	// say they do not answer now.
	if strings.Contains(strings.ReplaceAll(out+errOut, "the brokers did not answer when this plan was made", ""), "did not answer") {
		t.Errorf("the brokers answered, yet apply says they did not:\n%s\n%s", out, errOut)
	}
	lab.statefulSet("kafka-broker-3")
}

const secretLabSpec = `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar, namespace: %[1]s }
kafka: { image: "apache/kafka:3.8.1", storageSize: 10Gi, sasl: { mechanism: SCRAM-SHA-512, username: admin, passwordEnv: AVATAR_ADMIN_PASSWORD } }
brokers:
  - { id: 1, host: kafka-broker-1, ports: { plaintext: %[2]d, ssl: %[5]d, sasl: %[8]d, internal: 29092 } }
  - { id: 2, host: kafka-broker-2, ports: { plaintext: %[3]d, ssl: %[6]d, sasl: %[9]d, internal: 29093 } }
  - { id: 3, host: kafka-broker-3, ports: { plaintext: %[4]d, ssl: %[7]d, sasl: %[10]d, internal: 29094 } }
tls: { enabled: true, internal: true, dir: ssl-certs, passwordEnv: AVATAR_KEYSTORE_PASSWORD }
clusters:
  lab:
    bootstrap: [127.0.0.1:%[11]d]
    kubernetes: { context: %[12]s, namespace: %[1]s, externalHost: lab.example }
topics:
  - { name: eeg-brainwave-data, partitions: 3, replicationFactor: 3 }
`

// secretLab is a lab whose render needs both password Secrets (TLS and a SCRAM admin); its brokers
// never answer, so every plan defers the topics. The keystores are made by `certs generate`
// (lab.certs) with the keystore password of the moment, so they open with it.
func secretLab(t *testing.T) *kubeLab {
	lab := newKubeLab(t)
	nodePortMu.Lock()
	np := nextNodePort
	nextNodePort += 9
	nodePortMu.Unlock()
	src := fmt.Sprintf(secretLabSpec, lab.ns, np, np+1, np+2, np+3, np+4, np+5, np+6, np+7, np+8, lab.bootstrap[0], kubetest.ContextName)
	if err := os.WriteFile(lab.specPath, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return lab
}

// certs runs `certs generate` (with flags, e.g. --force to rewrite the stores for a new keystore
// password).
func (lab *kubeLab) certs(flags ...string) {
	lab.t.Helper()
	lab.mustCLI(exitOK, append([]string{"certs", "generate"}, flags...)...)
}

// copyDir copies the files of one directory into another (created).
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// passwords sets the two passwords apply reads.
func passwords(t *testing.T, admin, keystore string) {
	t.Setenv("AVATAR_ADMIN_PASSWORD", admin)
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", keystore)
}

func (lab *kubeLab) secret(name string) *unstructured.Unstructured {
	lab.t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("Secret")
	if err := lab.client.Get(context.Background(), client.ObjectKey{Namespace: lab.ns, Name: name}, u); err != nil {
		lab.t.Fatal(err)
	}
	return u
}

func (lab *kubeLab) secretValue(name string) string {
	lab.t.Helper()
	data, _, _ := unstructured.NestedStringMap(lab.secret(name).Object, "data")
	v, err := base64.StdEncoding.DecodeString(data["password"])
	if err != nil {
		lab.t.Fatal(err)
	}
	return string(v)
}

// unsaltedDigests are what a plan used to hold for a live Secret, and the other plain hashes an
// offline guess of its password could be checked against: SHA-256 of the object as the API server
// returns it (without status and bookkeeping), of the password and of its base64, in full and as
// the 16-hex-digit prefix plans printed.
func (lab *kubeLab) unsaltedDigests(name, password string) []string {
	lab.t.Helper()
	cp := lab.secret(name).DeepCopy()
	unstructured.RemoveNestedField(cp.Object, "status")
	for _, f := range []string{"managedFields", "resourceVersion", "generation", "creationTimestamp", "uid"} {
		unstructured.RemoveNestedField(cp.Object, "metadata", f)
	}
	obj, err := json.Marshal(cp.Object)
	if err != nil {
		lab.t.Fatal(err)
	}
	var out []string
	for _, b := range [][]byte{obj, []byte(password), []byte(base64.StdEncoding.EncodeToString([]byte(password)))} {
		sum := sha256.Sum256(b)
		out = append(out, hex.EncodeToString(sum[:]), hex.EncodeToString(sum[:8]))
	}
	return out
}

// TestKubeSavedPlanRefusesAnUnplannedPassword: a saved plan with pending updates of
// kafka-sasl-admin and kafka-tls-password, applied with other passwords, is refused naming both
// Secrets and changes nothing; with the planned passwords it applies them. It used to write the
// unplanned passwords and exit 0. Every output on the way — plan text, JSON, markdown, the plan
// file, apply text and JSON — is searched for the passwords and for any unsalted digest of a
// Secret (issue 20: the plan's `live` digest of a Secret used to be a plain SHA-256 an offline
// guess matched).
func TestKubeSavedPlanRefusesAnUnplannedPassword(t *testing.T) {
	lab := secretLab(t)
	certsDir := filepath.Join(filepath.Dir(lab.specPath), "ssl-certs")
	planned := filepath.Join(t.TempDir(), "planned-certs")
	passwords(t, "admin-pw-1-Qz", "keystore-pw-1-Qz")
	lab.certs()
	lab.mustCLI(exitOK, "apply", "--auto-approve", "--no-wait") // no brokers will answer: do not wait for them
	if lab.secretValue("kafka-sasl-admin") != "admin-pw-1-Qz" || lab.secretValue("kafka-tls-password") != "keystore-pw-1-Qz" {
		t.Fatal("the first apply did not write the passwords")
	}
	var outputs []string
	forbidden := []string{"admin-pw-1-Qz", "keystore-pw-1-Qz", "admin-pw-2-Qz", "keystore-pw-2-Qz", "admin-pw-3-Qz", "keystore-pw-3-Qz"}
	for _, pw := range forbidden[:] {
		forbidden = append(forbidden, base64.StdEncoding.EncodeToString([]byte(pw)))
	}
	forbidden = append(forbidden, lab.unsaltedDigests("kafka-sasl-admin", "admin-pw-1-Qz")...)
	forbidden = append(forbidden, lab.unsaltedDigests("kafka-tls-password", "keystore-pw-1-Qz")...)

	// New passwords: the stores are rewritten for the new keystore password, and kept as planned.
	passwords(t, "admin-pw-2-Qz", "keystore-pw-2-Qz")
	lab.certs("--force")
	copyDir(t, certsDir, planned)
	saved := filepath.Join(t.TempDir(), "plan.json")
	text, _ := lab.mustCLI(exitOK, "plan", "--out", saved)
	for _, name := range []string{"kafka-sasl-admin", "kafka-tls-password"} {
		if !strings.Contains(text, "~ update Secret "+lab.ns+"/"+name) {
			t.Errorf("the plan does not update %s:\n%s", name, text)
		}
	}
	js, _ := lab.mustCLI(exitOK, "plan", "-o", "json")
	md, _ := lab.mustCLI(exitOK, "plan", "-o", "markdown")
	file, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, text, js, md, string(file))

	// Other passwords at apply (the stores rewritten for the other keystore password, so they open
	// with it): refused, naming both Secrets.
	passwords(t, "admin-pw-3-Qz", "keystore-pw-3-Qz")
	lab.certs("--force")
	out, errOut := lab.mustCLI(exitError, "apply", "--plan", saved, "--auto-approve")
	outputs = append(outputs, out, errOut)
	for _, name := range []string{"kafka-sasl-admin", "kafka-tls-password"} {
		if !strings.Contains(errOut, "Secret "+lab.ns+"/"+name+": the value supplied now for data.password is not the one the plan was made with") {
			t.Errorf("apply with another password does not name %s:\n%s", name, errOut)
		}
	}
	if lab.secretValue("kafka-sasl-admin") != "admin-pw-1-Qz" || lab.secretValue("kafka-tls-password") != "keystore-pw-1-Qz" {
		t.Error("a refused plan changed a password")
	}

	// The planned passwords and stores: applied.
	passwords(t, "admin-pw-2-Qz", "keystore-pw-2-Qz")
	if err := os.RemoveAll(certsDir); err != nil {
		t.Fatal(err)
	}
	copyDir(t, planned, certsDir)
	// The Secrets are applied; the brokers, whose keystore Secret got a new name, are not rolled:
	// no broker answers to say whether that is safe.
	out, errOut = lab.mustCLI(exitError, "apply", "--plan", saved, "--auto-approve")
	outputs = append(outputs, out, errOut)
	if !strings.Contains(errOut, "is not restarted: the brokers do not answer") {
		t.Errorf("apply of the planned passwords:\n%s\n%s", out, errOut)
	}
	if lab.secretValue("kafka-sasl-admin") != "admin-pw-2-Qz" || lab.secretValue("kafka-tls-password") != "keystore-pw-2-Qz" {
		t.Error("the planned passwords were not applied")
	}
	forbidden = append(forbidden, lab.unsaltedDigests("kafka-sasl-admin", "admin-pw-2-Qz")...)
	forbidden = append(forbidden, lab.unsaltedDigests("kafka-tls-password", "keystore-pw-2-Qz")...)
	out, errOut = lab.mustCLI(exitOK, "plan")
	outputs = append(outputs, out, errOut)
	out, errOut = lab.mustCLI(exitOK, "plan", "-o", "json")
	outputs = append(outputs, out, errOut)
	// apply -o json: the brokers still cannot roll, so it fails; its output is searched all the same.
	out, errOut = lab.mustCLI(exitError, "apply", "-o", "json", "--auto-approve")
	outputs = append(outputs, out, errOut)
	if !strings.Contains(out, `"formatVersion"`) {
		t.Errorf("apply -o json printed no document:\n%s\n%s", out, errOut)
	}

	for i, o := range outputs {
		for _, f := range forbidden {
			if strings.Contains(o, f) {
				t.Errorf("output %d holds %q:\n%s", i+1, f, o)
			}
		}
	}
	if !strings.Contains(string(file), `"live": "hmac:`) || !strings.Contains(string(file), "hmac-sha256:") {
		t.Errorf("the plan file lacks the salted digests:\n%s", file)
	}
}
