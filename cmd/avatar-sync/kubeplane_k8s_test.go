//go:build kubeapiserver

package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/avatar-project/avatar-sync/internal/kubetest"
	"github.com/avatar-project/avatar-sync/kube"
	"github.com/avatar-project/avatar-sync/session"
	"github.com/avatar-project/avatar-sync/spec"
)

// Once the tests are done, stop this package's kube-apiserver (started by the first test that
// needs it); TestMain (testmain_test.go) runs afterTests.
func init() { afterTests = append(afterTests, kubetest.Stop) }

// The example spec's whole Kubernetes side, as the plane will apply it for `--cluster microk8s`:
// the rendered objects (TLS keystore Secret, configs, Services on NodePorts 9092-9194, brokers)
// and the password Secret are admitted by a real API server into a PodSecurity-restricted
// namespace, and the next plan is empty.
func TestKubeExampleSpecAppliesToARealAPIServer(t *testing.T) {
	srv := kubetest.Shared(t)
	specPath := renderRepo(t)
	sp, diags := spec.LoadFile(specPath)
	if err := diags.Err(); err != nil {
		t.Fatal(err)
	}
	want, err := session.KubeDesired(sp, "microk8s", func(k string) string {
		return map[string]string{"AVATAR_KEYSTORE_PASSWORD": "example-password"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := kube.Connect(ctx, kube.Target{Name: "microk8s", Kubeconfig: srv.Kubeconfig, Context: kubetest.ContextName})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Plan(ctx, want, kube.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Summary(); s != "Kubernetes: 17 to create, 0 to update, 0 to replace, 0 to delete." {
		t.Errorf("first plan: %s", s)
	}
	if err := c.Apply(ctx, p, kube.ApplyOptions{NoWait: true}); err != nil {
		t.Fatal(err)
	}
	again, err := c.Plan(ctx, want, kube.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Pending() {
		t.Errorf("the second plan is not empty: %s", again.Summary())
	}
}

// TestKubeWatchDeploymentAppliesToARealAPIServer: with kubernetes.watch enabled, the rendered
// watch daemon (ServiceAccount, Role, RoleBinding, Deployment; issue 12) is admitted by a real API
// server next to the brokers, into the PodSecurity-restricted namespace, and the next plan is empty.
// (The kube-apiserver fixture runs no controllers: the Deployment is admitted, not run.)
func TestKubeWatchDeploymentAppliesToARealAPIServer(t *testing.T) {
	srv := kubetest.Shared(t)
	specPath := renderRepo(t)
	editSpec(t, specPath, "kubernetes: { context: microk8s, namespace: avatar } }",
		"kubernetes: { context: microk8s, namespace: avatar, watch: { enabled: true, git: \"https://git.example.org/avatar/lab.git\", path: lab/avatar.yaml } } }")
	sp, diags := spec.LoadFile(specPath)
	if err := diags.Err(); err != nil {
		t.Fatal(err)
	}
	want, err := session.KubeDesired(sp, "microk8s", func(k string) string {
		return map[string]string{"AVATAR_KEYSTORE_PASSWORD": "example-password"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := kube.Connect(ctx, kube.Target{Name: "microk8s", Kubeconfig: srv.Kubeconfig, Context: kubetest.ContextName})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Plan(ctx, want, kube.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The brokers' objects may exist already (the test above shares the server and namespace).
	var watchKinds []string
	for _, ch := range p.Changes {
		if ch.Object.Name == "avatar-sync-watch" && ch.Action == kube.Create {
			watchKinds = append(watchKinds, ch.Object.Kind)
		}
	}
	slices.Sort(watchKinds)
	for _, ch := range p.Changes {
		if ch.Object.Name == "avatar-sync-watch-avatar" && ch.Action == kube.Create {
			watchKinds = append(watchKinds, ch.Object.Kind)
		}
	}
	slices.Sort(watchKinds)
	if got := strings.Join(watchKinds, ","); got != "ClusterRole,ClusterRoleBinding,Deployment,Role,RoleBinding,ServiceAccount" {
		t.Errorf("the plan creates %q of watch, want its Deployment, Role, RoleBinding, ServiceAccount, and the ClusterRole(Binding) of its Namespace: %s", got, p.Summary())
	}
	if err := c.Apply(ctx, p, kube.ApplyOptions{NoWait: true}); err != nil {
		t.Fatal(err)
	}
	again, err := c.Plan(ctx, want, kube.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Pending() {
		t.Errorf("the second plan is not empty: %s", again.Summary())
	}

	// Issue 21: the daemon runs the same plan and apply with its own ServiceAccount's token and
	// the rendered RBAC alone, reading the Secrets the render holds, and no other Secret.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "avatar-sync-watch", Namespace: "avatar"}}
	expiry := int64(3600)
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}
	admin, err := client.New(adminConfig(t, srv.Kubeconfig), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.SubResource("token").Create(ctx, sa, tr); err != nil {
		t.Fatalf("TokenRequest: %v", err)
	}
	foreign := kube.PasswordSecret("avatar", "not-avatar-syncs", "password", "keep-out", nil)
	if err := admin.Create(ctx, foreign); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	saConfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(saConfig, []byte(kubetest.KubeconfigYAML("watch", srv.URL, tr.Status.Token)), 0o600); err != nil {
		t.Fatal(err)
	}
	daemon, err := kube.Connect(ctx, kube.Target{Name: "microk8s", Kubeconfig: saConfig, Context: "watch"})
	if err != nil {
		t.Fatal(err)
	}
	p, err = daemon.Plan(ctx, want, kube.Options{})
	if err != nil {
		t.Fatalf("the daemon's plan with the rendered RBAC: %v", err)
	}
	if p.Pending() {
		t.Errorf("the daemon's plan is not empty: %s", p.Summary())
	}
	if err := daemon.Apply(ctx, p, kube.ApplyOptions{NoWait: true}); err != nil {
		t.Errorf("the daemon's apply with the rendered RBAC: %v", err)
	}
	if _, err := daemon.Plan(ctx, kube.Desired{Inventory: want.Inventory, Objects: append(slices.Clone(want.Objects), foreign)}, kube.Options{}); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("the daemon reads a Secret the render does not hold: %v, want forbidden", err)
	}
}

// adminConfig is the kubeconfig's (system:masters) client configuration.
func adminConfig(t *testing.T, kubeconfig string) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
