//go:build kubeapiserver

package main

import (
	"context"
	"fmt"
	"maps"
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
	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
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
	pl := &kube.Plane{Client: c, Desired: want}
	p := planKube(t, pl)
	if got := kubeSummary(p); got != "17 create" {
		t.Errorf("first plan: %s", got)
	}
	applyKube(t, pl, p)
	if again := planKube(t, pl); len(again.Changes) > 0 {
		t.Errorf("the second plan is not empty: %s", kubeSummary(again))
	}
}

// planKube plans the Kubernetes plane alone, as plan does for its objects.
func planKube(t *testing.T, pl *kube.Plane) reconcile.ObjectPlan {
	t.Helper()
	p, err := pl.PlanObjects(context.Background(), reconcile.ObjectPlanOptions{Salt: []byte("0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// applyKube applies the objects of p without waiting (this API server runs no controllers).
func applyKube(t *testing.T, pl *kube.Plane, p reconcile.ObjectPlan) {
	t.Helper()
	if err := pl.ApplyObjects(context.Background(), p, reconcile.ObjectApplyOptions{NoWait: true}, func(reconcile.ObjectEvent) {}); err != nil {
		t.Fatal(err)
	}
}

// kubeSummary counts a plan's changes by action: "17 create".
func kubeSummary(p reconcile.ObjectPlan) string {
	n := map[plans.Action]int{}
	for _, c := range p.Changes {
		n[c.Action]++
	}
	var out []string
	for _, a := range slices.Sorted(maps.Keys(n)) {
		out = append(out, fmt.Sprintf("%d %s", n[a], a))
	}
	return strings.Join(out, ", ")
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
	pl := &kube.Plane{Client: c, Desired: want}
	p := planKube(t, pl)
	// The brokers' objects may exist already (the test above shares the server and namespace).
	var watchKinds []string
	for _, ch := range p.Changes {
		if ch.Object.Object.Name == "avatar-sync-watch" && ch.Action == plans.Create {
			watchKinds = append(watchKinds, ch.Object.Object.Kind)
		}
	}
	slices.Sort(watchKinds)
	for _, ch := range p.Changes {
		if ch.Object.Object.Name == "avatar-sync-watch-avatar" && ch.Action == plans.Create {
			watchKinds = append(watchKinds, ch.Object.Object.Kind)
		}
	}
	slices.Sort(watchKinds)
	if got := strings.Join(watchKinds, ","); got != "ClusterRole,ClusterRoleBinding,Deployment,Role,RoleBinding,ServiceAccount" {
		t.Errorf("the plan creates %q of watch, want its Deployment, Role, RoleBinding, ServiceAccount, and the ClusterRole(Binding) of its Namespace: %s", got, kubeSummary(p))
	}
	applyKube(t, pl, p)
	if again := planKube(t, pl); len(again.Changes) > 0 {
		t.Errorf("the second plan is not empty: %s", kubeSummary(again))
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
	dpl := &kube.Plane{Client: daemon, Desired: want}
	p = planKube(t, dpl)
	if len(p.Changes) > 0 {
		t.Errorf("the daemon's plan is not empty: %s", kubeSummary(p))
	}
	if err := dpl.ApplyObjects(ctx, p, reconcile.ObjectApplyOptions{NoWait: true}, func(reconcile.ObjectEvent) {}); err != nil {
		t.Errorf("the daemon's apply with the rendered RBAC: %v", err)
	}
	dpl.Desired = kube.Desired{Inventory: want.Inventory, Objects: append(slices.Clone(want.Objects), foreign)}
	if _, err := dpl.PlanObjects(ctx, reconcile.ObjectPlanOptions{Salt: []byte("0123456789abcdef")}); err == nil || !strings.Contains(err.Error(), "forbidden") {
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
