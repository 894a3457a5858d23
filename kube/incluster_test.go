//go:build kubeapiserver

package kube

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/avatar-project/avatar-sync/internal/kubetest"
	"github.com/avatar-project/avatar-sync/plans"
)

// serviceAccountToken asks the API server for a token of the rendered watch daemon's
// ServiceAccount (the TokenRequest API, as the kubelet does for the pod's projected token).
func serviceAccountToken(t *testing.T, c *Client, ns string) string {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "avatar-sync-watch", Namespace: ns}}
	expiry := int64(3600)
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}
	if err := c.client().SubResource("token").Create(testCtx(t), sa, tr); err != nil {
		t.Fatalf("TokenRequest for %s/avatar-sync-watch: %v", ns, err)
	}
	return tr.Status.Token
}

// inPod makes the test process look like the watch pod: no kubeconfig anywhere, the API server in
// $KUBERNETES_SERVICE_HOST/PORT and the ServiceAccount's token and CA where Kubernetes mounts them.
func inPod(t *testing.T, srv *kubetest.Server, token string) {
	t.Helper()
	dir := t.TempDir()
	ca, err := os.ReadFile(srv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"token": []byte(token), "ca.crt": ca} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := serviceAccountDir
	serviceAccountDir = dir
	t.Cleanup(func() { serviceAccountDir = old })
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", dir)
	t.Setenv("KUBECONFIG", filepath.Join(dir, "no-kubeconfig"))
	t.Setenv("KUBERNETES_SERVICE_HOST", u.Hostname())
	t.Setenv("KUBERNETES_SERVICE_PORT", u.Port())
}

// Issue 21: the rendered watch Deployment can run the Kubernetes plane. With no kubeconfig, inside
// the pod, Connect uses the pod's service account; with the rendered ServiceAccount's token and
// only the rendered RBAC, plan sees every object in sync and an image change is planned and applied
// (rolled one broker at a time). The same token cannot read a Secret the render does not hold, nor
// another Namespace, nor list Secrets.
func TestRenderedWatchServiceAccountRunsPlanAndApply(t *testing.T) {
	admin, ns := connectLab(t)
	srv := kubetest.Shared(t)
	startKubelet(t, admin, ns, 50*time.Millisecond)
	want := rendered{watch: true}.desired(t, ns)
	mustApply(t, admin, mustPlan(t, admin, want, planOpts{}), quickWaits(planOpts{}))
	foreign := PasswordSecret(ns, "not-avatar-syncs", "password", "keep-out", nil)
	if err := admin.client().Create(testCtx(t), foreign); err != nil {
		t.Fatal(err)
	}

	inPod(t, srv, serviceAccountToken(t, admin, ns))
	sa, err := Connect(testCtx(t), Target{Name: "lab", Context: "microk8s"})
	if err != nil {
		t.Fatalf("connect in the pod: %v", err)
	}
	if again := mustPlan(t, sa, want, planOpts{}); again.Pending() {
		t.Errorf("the daemon's plan of the applied render should be empty, got %v", changesOf(again))
	}
	upgrade := rendered{watch: true, imageTag: "3.9.0"}.desired(t, ns)
	p := mustPlan(t, sa, upgrade, planOpts{})
	if got := changesOf(p); len(got) != 3 || !strings.Contains(got[0], "StatefulSet "+ns+"/kafka-broker-1") {
		t.Fatalf("the daemon's plan of an image change = %v, want the three brokers", got)
	}
	mustApply(t, sa, p, quickWaits(planOpts{}))
	if got := stsImage(t, admin, ns, "kafka-broker-3"); got != "apache/kafka:3.9.0" {
		t.Errorf("after the daemon's apply kafka-broker-3 runs %s", got)
	}
	if again := mustPlan(t, sa, upgrade, planOpts{}); again.Pending() {
		t.Errorf("after the daemon's apply the plan should be empty, got %v", changesOf(again))
	}

	// Exactly what the plane needs: nothing else.
	for _, ref := range []plans.ObjectRef{
		refOf(foreign),
		{APIVersion: "v1", Kind: "Namespace", Name: "kube-system"},
		{APIVersion: "v1", Kind: "ConfigMap", Namespace: "kube-system", Name: "extension-apiserver-authentication"},
	} {
		if _, err := sa.get(testCtx(t), ref); !apierrors.IsForbidden(err) {
			t.Errorf("the daemon reads %s: %v, want 403 Forbidden", ref, err)
		}
	}
	list := &unstructured.UnstructuredList{}
	list.SetAPIVersion("v1")
	list.SetKind("SecretList")
	if err := sa.client().List(testCtx(t), list); !apierrors.IsForbidden(err) {
		t.Errorf("the daemon lists Secrets: %v, want 403 Forbidden", err)
	}
}
