//go:build kubeapiserver

package kube

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/render"
	"github.com/avatar-project/avatar-sync/spec"
)

// The rendered SASL deployment (issue 14: SASL_SSL listeners, the SCRAM admin's password from a
// Secret, INTERNAL and CONTROLLER over TLS) is accepted by the real API server: every object is
// created, the NodePort Service publishes the SASL port as itself, and a broker pod as the
// StatefulSet describes it, reading both passwords by secretKeyRef, is admitted in the restricted
// namespace. There is no Kafka here: what the brokers do with the properties is not run.
func TestRenderedSASLDeploymentIsAccepted(t *testing.T) {
	c, ns := connectLab(t)
	ctx := testCtx(t)
	plain, ssl, sasl := nodePorts(ns), nodePorts(ns+"/ssl"), nodePorts(ns+"/sasl")
	root := t.TempDir()
	src := fmt.Sprintf(`apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar, namespace: %[1]s }
kafka: { sasl: { mechanism: SCRAM-SHA-512, username: admin, passwordEnv: AVATAR_ADMIN_PASSWORD } }
brokers:
  - { id: 1, host: kafka-broker-1, ports: { plaintext: %[2]d, ssl: %[5]d, sasl: %[8]d, internal: 29092 } }
  - { id: 2, host: kafka-broker-2, ports: { plaintext: %[3]d, ssl: %[6]d, sasl: %[9]d, internal: 29093 } }
  - { id: 3, host: kafka-broker-3, ports: { plaintext: %[4]d, ssl: %[7]d, sasl: %[10]d, internal: 29094 } }
tls: { enabled: true, internal: true, passwordEnv: AVATAR_KEYSTORE_PASSWORD }
users:
  - { name: prediction-service, mechanism: SCRAM-SHA-512, passwordEnv: AVATAR_PREDICTION_PASSWORD }
clusters:
  lab: { bootstrap: ["lab:%[8]d"], security: sasl_ssl,
         sasl: { mechanism: SCRAM-SHA-512, username: admin, passwordEnv: AVATAR_ADMIN_PASSWORD },
         kubernetes: { namespace: %[1]s, externalHost: lab.example } }
`, ns, plain, plain+1, plain+2, ssl, ssl+1, ssl+2, sasl, sasl+1, sasl+2)
	s, diags := spec.Parse(filepath.Join(root, "avatar.yaml"), []byte(src))
	if err := diags.Err(); err != nil {
		t.Fatalf("test spec: %v", err)
	}
	certs := filesys.MakeFsInMemory()
	for _, f := range []string{"ca.crt", "kafka-broker-1.keystore.p12", "kafka-broker-1.truststore.p12", "kafka-broker-2.keystore.p12",
		"kafka-broker-2.truststore.p12", "kafka-broker-3.keystore.p12", "kafka-broker-3.truststore.p12"} {
		if err := certs.WriteFile(filepath.Join(root, "ssl-certs", f), []byte("placeholder\n")); err != nil {
			t.Fatal(err)
		}
	}
	out, err := render.BuildSpec(s, filepath.Join(root, "deploy"), "lab", certs)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app.kubernetes.io/managed-by": "avatar-sync"}
	objs = append(objs,
		PasswordSecret(ns, render.PasswordSecret, render.PasswordSecretKey, "keystore-pw", labels),
		PasswordSecret(ns, render.SASLAdminSecret, render.SASLAdminSecretKey, "admin-pw", labels))
	want := Desired{Inventory: "avatar", Objects: objs}
	mustApply(t, c, mustPlan(t, c, want, planOpts{}), applyOpts{NoWait: true})
	if pending := changesOf(mustPlan(t, c, want, planOpts{})); len(pending) != 0 {
		t.Errorf("after apply the plan still has %v", pending)
	}

	svc, err := c.get(ctx, plans.ObjectRef{APIVersion: "v1", Kind: "Service", Namespace: ns, Name: "kafka-broker-2-external"})
	if err != nil || svc == nil {
		t.Fatalf("external Service: %v", err)
	}
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	published := map[string]int64{}
	for _, p := range ports {
		pm := p.(map[string]any)
		published[pm["name"].(string)] = pm["nodePort"].(int64)
	}
	if published["sasl"] != int64(sasl+1) || published["ssl"] != int64(ssl+1) || published["plaintext"] != int64(plain+1) {
		t.Errorf("kafka-broker-2-external publishes %v, want sasl on %d", published, sasl+1)
	}

	sts, err := c.get(ctx, plans.ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: ns, Name: "kafka-broker-1"})
	if err != nil || sts == nil {
		t.Fatalf("statefulset: %v", err)
	}
	tmpl, _, _ := unstructured.NestedMap(sts.Object, "spec", "template")
	pod := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": tmpl["metadata"], "spec": tmpl["spec"]}}
	pod.SetNamespace(ns)
	pod.SetName("kafka-broker-1-0")
	vols, _, _ := unstructured.NestedSlice(pod.Object, "spec", "volumes")
	vols = append(vols, map[string]any{"name": "data", "persistentVolumeClaim": map[string]any{"claimName": "data-kafka-broker-1-0"}})
	_ = unstructured.SetNestedSlice(pod.Object, vols, "spec", "volumes")
	// The service-account controller would create "default"; this server runs no controllers.
	sa := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "default", "namespace": ns}}}
	if err := c.client().Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	if err := c.client().Create(ctx, pod); err != nil {
		t.Fatalf("the rendered SASL broker pod is refused: %v", err)
	}
	created, err := c.get(ctx, plans.ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: ns, Name: "kafka-broker-1-0"})
	if err != nil || created == nil {
		t.Fatalf("pod: %v", err)
	}
	ctrs, _, _ := unstructured.NestedSlice(created.Object, "spec", "containers")
	env, _, _ := unstructured.NestedSlice(ctrs[0].(map[string]any), "env")
	var fromSecret bool
	for _, e := range env {
		em := e.(map[string]any)
		if em["name"] == "KAFKA_SASL_ADMIN_PASSWORD" {
			name, _, _ := unstructured.NestedString(em, "valueFrom", "secretKeyRef", "name")
			fromSecret = name == render.SASLAdminSecret && em["value"] == nil
		}
	}
	cmd, _, _ := unstructured.NestedStringSlice(ctrs[0].(map[string]any), "command")
	if !fromSecret || !strings.Contains(strings.Join(cmd, " "), "--add-scram") || strings.Contains(created.GetResourceVersion()+fmt.Sprint(created.Object), "admin-pw") {
		t.Errorf("the admitted pod does not format the admin from its Secret: env %v", env)
	}
}
