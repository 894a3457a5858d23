//go:build kubeapiserver

package kube

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/avatar-project/avatar-sync/internal/kubetest"
	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
)

// A fresh namespace: the first plan creates every object, namespace first and workloads last; the
// apply creates them and waits for the brokers; the next plan is empty.
func TestFirstApplyCreatesEverythingInOrderThenPlansNothing(t *testing.T) {
	c, ns := connectLab(t)
	want := rendered{password: "first-password"}.desired(t, ns)
	p := mustPlan(t, c, want, planOpts{})
	got := changesOf(p)
	if len(got) != 16 || got[0] != "+ Namespace "+ns {
		t.Fatalf("first plan should create the namespace first and 16 objects in all, got %d: %v", len(got), got)
	}
	for i, kind := range []string{"StatefulSet " + ns + "/kafka-broker-1", "StatefulSet " + ns + "/kafka-broker-2", "StatefulSet " + ns + "/kafka-broker-3"} {
		if got[13+i] != "+ "+kind {
			t.Errorf("workloads come last, by broker id: position %d is %q, want %q", 13+i, got[13+i], "+ "+kind)
		}
	}
	startKubelet(t, c, ns, 100*time.Millisecond)
	var mu sync.Mutex
	var ready []string
	opts := quickWaits(planOpts{})
	opts.Progress = func(ev reconcile.ObjectEvent) {
		mu.Lock()
		defer mu.Unlock()
		if strings.HasSuffix(ev.Message, ") ready") {
			ready = append(ready, strings.TrimPrefix(ev.Name, "StatefulSet "+ns+"/"))
		}
	}
	mustApply(t, c, p, opts)
	if want := []string{"kafka-broker-1", "kafka-broker-2", "kafka-broker-3"}; !slices.Equal(ready, want) {
		t.Errorf("apply reported ready %v, want every broker %v", ready, want)
	}
	if again := mustPlan(t, c, want, planOpts{}); again.Pending() {
		t.Errorf("a second plan should be empty, got %v", changesOf(again))
	}
	inv, err := c.readInventory(testCtx(t), ns, "avatar")
	if err != nil || len(inv) != 16 {
		t.Errorf("the inventory should list the 16 applied objects, has %d (%v)", len(inv), err)
	}
}

// The namespace enforces PodSecurity "restricted" and the broker pods, as the StatefulSets
// describe them, are admitted by the real API server (a real create, not a dry run: dry runs do
// not catch every refusal). The API server has no controllers, so the test creates the pod a
// StatefulSet controller would.
func TestRestrictedNamespaceAdmitsTheBrokerPods(t *testing.T) {
	c, ns := connectLab(t)
	ctx := testCtx(t)
	mustApply(t, c, mustPlan(t, c, rendered{password: "restricted-pw"}.desired(t, ns), planOpts{}), applyOpts{NoWait: true})

	nsObj, err := c.get(ctx, plans.ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: ns})
	if err != nil || nsObj == nil {
		t.Fatalf("namespace: %v", err)
	}
	if got := nsObj.GetLabels()["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Fatalf("namespace enforces %q, want restricted", got)
	}
	sts, err := c.get(ctx, plans.ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: ns, Name: "kafka-broker-1"})
	if err != nil || sts == nil {
		t.Fatalf("statefulset: %v", err)
	}
	pod := func(name string) *unstructured.Unstructured {
		tmpl, _, _ := unstructured.NestedMap(sts.Object, "spec", "template")
		p := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": tmpl["metadata"], "spec": tmpl["spec"]}}
		p.SetNamespace(ns)
		p.SetName(name)
		// The controller turns volumeClaimTemplates into claims; a pod names its claim directly.
		vols, _, _ := unstructured.NestedSlice(p.Object, "spec", "volumes")
		vols = append(vols, map[string]any{"name": "data", "persistentVolumeClaim": map[string]any{"claimName": "data-" + name}})
		_ = unstructured.SetNestedSlice(p.Object, vols, "spec", "volumes")
		return p
	}
	// The service-account controller would create "default"; this server runs no controllers.
	sa := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "default", "namespace": ns}}}
	if err := c.client().Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	if err := c.client().Create(ctx, pod("kafka-broker-1-0")); err != nil {
		t.Fatalf("the rendered broker pod is refused in its restricted namespace: %v", err)
	}
	// The check has teeth: the same pod without its seccomp profile is refused.
	weak := pod("weakened-0")
	unstructured.RemoveNestedField(weak.Object, "spec", "securityContext", "seccompProfile")
	err = c.client().Create(ctx, weak)
	if err == nil || !strings.Contains(err.Error(), "restricted") {
		t.Fatalf("a pod without seccompProfile should be refused by PodSecurity restricted, got %v", err)
	}
}

// An image change shows the exact field diff and rolls the brokers one at a time, by id, asking
// the Kafka plane before each restart.
func TestImageChangeRollsBrokersOneAtATime(t *testing.T) {
	c, ns := connectLab(t)
	kl := startKubelet(t, c, ns, 300*time.Millisecond)
	mustApply(t, c, mustPlan(t, c, rendered{password: "roll-pw"}.desired(t, ns), planOpts{}), quickWaits(planOpts{}))

	// The target's kubernetes.imageTag changes, as a lab would upgrade Kafka.
	p := mustPlan(t, c, rendered{imageTag: "3.9.0", password: "roll-pw"}.desired(t, ns), planOpts{})
	if got, want := changesOf(p), []string{"~ StatefulSet " + ns + "/kafka-broker-1", "~ StatefulSet " + ns + "/kafka-broker-2", "~ StatefulSet " + ns + "/kafka-broker-3"}; !slices.Equal(got, want) {
		t.Fatalf("plan = %v, want %v", got, want)
	}
	ch := findChange(t, p, "StatefulSet", "kafka-broker-2")
	want := []plans.ObjectField{{Path: "spec.template.spec.containers[0].image", Before: "apache/kafka:3.8.1", After: "apache/kafka:3.9.0"}}
	if diff := cmp.Diff(want, ch.Object.Fields); diff != "" {
		t.Errorf("field diff (-want +got):\n%s", diff)
	}
	if ch.Object.Broker != 2 || len(ch.Object.Conflicts) != 0 {
		t.Errorf("broker = %d, conflicts = %v; want broker 2 and no conflicts", ch.Object.Broker, ch.Object.Conflicts)
	}

	var asked []int32
	opts := quickWaits(planOpts{})
	opts.SafeToRestart = func(_ context.Context, broker int32) error {
		asked = append(asked, broker)
		return nil
	}
	kl.reset()
	mustApply(t, c, p, opts)
	maxRolling, started := kl.result()
	if maxRolling != 1 {
		t.Errorf("%d StatefulSets were rolling at once; brokers must roll one at a time", maxRolling)
	}
	if got, want := started, []string{"kafka-broker-1", "kafka-broker-2", "kafka-broker-3"}; !slices.Equal(got, want) {
		t.Errorf("roll order %v, want %v", got, want)
	}
	if !slices.Equal(asked, []int32{1, 2, 3}) {
		t.Errorf("SafeToRestart asked for %v, want 1, 2, 3", asked)
	}
}

// A broker the Kafka plane says must not restart stops the roll there: the later brokers keep
// their old image.
func TestRollStopsAtABrokerThatIsNotSafeToRestart(t *testing.T) {
	c, ns := connectLab(t)
	startKubelet(t, c, ns, 50*time.Millisecond)
	mustApply(t, c, mustPlan(t, c, rendered{}.desired(t, ns), planOpts{}), quickWaits(planOpts{}))
	p := mustPlan(t, c, rendered{image: "apache/kafka:3.9.0"}.desired(t, ns), planOpts{})
	opts := quickWaits(planOpts{})
	opts.SafeToRestart = func(_ context.Context, broker int32) error {
		if broker == 2 {
			return errors.New("partition drone-commands-0 is under-replicated")
		}
		return nil
	}
	err := applyPlan(testCtx(t), c, p, opts)
	if err == nil || !strings.Contains(err.Error(), "broker 2") || !strings.Contains(err.Error(), "under-replicated") {
		t.Fatalf("apply error = %v, want broker 2 refused with the reason", err)
	}
	for name, image := range map[string]string{"kafka-broker-1": "apache/kafka:3.9.0", "kafka-broker-2": "apache/kafka:3.8.1", "kafka-broker-3": "apache/kafka:3.8.1"} {
		sts, _ := c.get(testCtx(t), plans.ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: ns, Name: name})
		cs, _, _ := unstructured.NestedSlice(sts.Object, "spec", "template", "spec", "containers")
		if got := cs[0].(map[string]any)["image"]; got != image {
			t.Errorf("%s runs %v, want %s", name, got, image)
		}
	}
}

// A field another manager changed (`kubectl set image`) is drift, reported with the manager's name,
// and taken back only with ForceConflicts.
func TestFieldChangedByAnotherManagerIsAConflict(t *testing.T) {
	c, ns := connectLab(t)
	startKubelet(t, c, ns, 50*time.Millisecond)
	want := rendered{}.desired(t, ns)
	mustApply(t, c, mustPlan(t, c, want, planOpts{}), quickWaits(planOpts{}))

	ctx := testCtx(t)
	sts := objectFor(plans.ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: ns, Name: "kafka-broker-3"})
	patch := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"kafka","image":"apache/kafka:edited"}]}}}}`)
	if err := c.client().Patch(ctx, sts, client.RawPatch(types.StrategicMergePatchType, patch), client.FieldOwner("kubectl-set")); err != nil {
		t.Fatal(err)
	}

	p := mustPlan(t, c, want, planOpts{})
	ch := findChange(t, p, "StatefulSet", "kafka-broker-3")
	if ch.Action != plans.Update || len(changesOf(p)) != 1 {
		t.Fatalf("plan = %v, want only an update of kafka-broker-3", changesOf(p))
	}
	if diff := cmp.Diff([]plans.ObjectField{{Path: "spec.template.spec.containers[0].image", Before: "apache/kafka:edited", After: "apache/kafka:3.8.1"}}, ch.Object.Fields); diff != "" {
		t.Errorf("drift (-want +got):\n%s", diff)
	}
	if len(ch.Object.Conflicts) != 1 || ch.Object.Conflicts[0].Manager != "kubectl-set" || !strings.Contains(ch.Object.Conflicts[0].Field, "image") {
		t.Fatalf("conflicts = %v, want the image owned by kubectl-set", ch.Object.Conflicts)
	}
	err := applyPlan(ctx, c, p, quickWaits(planOpts{}))
	if !errors.Is(err, reconcile.ErrRefused) || !strings.Contains(err.Error(), "kubectl-set") || !strings.Contains(err.Error(), "--force-conflicts") {
		t.Fatalf("apply without ForceConflicts = %v, want a refusal naming kubectl-set", err)
	}
	mustApply(t, c, p, quickWaits(planOpts{ForceConflicts: true}))
	if again := mustPlan(t, c, want, planOpts{}); again.Pending() {
		t.Errorf("after the forced apply the plan should be empty, got %v", changesOf(again))
	}
}

// An object that left the render is deleted only with both opt-ins; an object avatar-sync did not
// create is never touched, though it carries the same labels.
func TestPruneNeedsBothOptInsAndNeverTouchesForeignObjects(t *testing.T) {
	c, ns := connectLab(t)
	ctx := testCtx(t)
	full := rendered{}.desired(t, ns)
	mustApply(t, c, mustPlan(t, c, full, planOpts{}), applyOpts{NoWait: true})

	// A ConfigMap someone else created, labelled like the render's objects.
	foreign := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "kafka-broker-9-config", "namespace": ns}, "data": map[string]any{"k": "v"}}}
	foreign.SetLabels(full.Objects[len(full.Objects)-1].GetLabels())
	if err := c.client().Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}

	less := full
	less.Objects = slices.DeleteFunc(slices.Clone(full.Objects), func(u *unstructured.Unstructured) bool { return u.GetKind() == "PodDisruptionBudget" })
	pdb := plans.ObjectRef{APIVersion: "policy/v1", Kind: "PodDisruptionBudget", Namespace: ns, Name: "kafka"}
	for name, o := range map[string]planOpts{"retain": {}, "prune without --allow-delete": {Prune: true}, "--allow-delete without prune": {AllowDelete: true}} {
		p := mustPlan(t, c, less, o)
		if p.Pending() {
			t.Errorf("%s: plan = %v, want nothing to do", name, changesOf(p))
		}
		if ch := findChange(t, p, "PodDisruptionBudget", "kafka"); !strings.Contains(ch.Reason, "left the render") {
			t.Errorf("%s: the PDB's reason %q should say it left the render", name, ch.Reason)
		}
		mustApply(t, c, p, applyOpts{planOpts: o, NoWait: true})
		if live, _ := c.get(ctx, pdb); live == nil {
			t.Fatalf("%s: the PDB was deleted without both opt-ins", name)
		}
	}
	both := planOpts{Prune: true, AllowDelete: true}
	p := mustPlan(t, c, less, both)
	if got := changesOf(p); !slices.Equal(got, []string{"- PodDisruptionBudget " + ns + "/kafka"}) {
		t.Fatalf("plan with both opt-ins = %v, want only the PDB deleted", got)
	}
	// A plan made with the opt-ins is still refused by an apply that lacks them.
	if err := applyPlan(ctx, c, p, applyOpts{planOpts: planOpts{Prune: true}, NoWait: true}); !errors.Is(err, reconcile.ErrRefused) {
		t.Fatalf("apply without --allow-delete = %v, want a refusal", err)
	}
	mustApply(t, c, p, applyOpts{planOpts: both, NoWait: true})
	if live, _ := c.get(ctx, pdb); live != nil {
		t.Error("the PDB is still there after a prune with both opt-ins")
	}
	if live, _ := c.get(ctx, refOf(foreign)); live == nil {
		t.Error("the foreign ConfigMap was deleted; avatar-sync must never touch what it did not create")
	}
	if again := mustPlan(t, c, less, both); again.Pending() {
		t.Errorf("after pruning the plan should be empty, got %v", changesOf(again))
	}
}

// An object of a rendered name that avatar-sync did not create is a conflict, not silently adopted.
func TestExistingForeignObjectIsAConflict(t *testing.T) {
	c, ns := connectLab(t)
	ctx := testCtx(t)
	want := rendered{password: "foreign-pw"}.desired(t, ns)
	var nsObj *unstructured.Unstructured
	for _, o := range want.Objects {
		if o.GetKind() == "Namespace" {
			nsObj = o.DeepCopy()
		}
	}
	if err := c.client().Create(ctx, nsObj, client.FieldOwner("kubectl-create")); err != nil {
		t.Fatal(err)
	}
	manual := PasswordSecret(ns, "kafka-tls-password", "password", "typed-by-hand", nil)
	if err := c.client().Create(ctx, manual, client.FieldOwner("kubectl-create")); err != nil {
		t.Fatal(err)
	}
	p := mustPlan(t, c, want, planOpts{})
	ch := findChange(t, p, "Secret", "kafka-tls-password")
	if ch.Action != plans.Update || len(ch.Object.Conflicts) == 0 || ch.Object.Conflicts[0].Manager != "kubectl-create" || !strings.Contains(ch.Reason, "not created by avatar-sync") {
		t.Fatalf("the hand-made Secret: %+v, want an update conflicting with kubectl-create", ch)
	}
	if err := applyPlan(ctx, c, p, applyOpts{NoWait: true}); !errors.Is(err, reconcile.ErrRefused) {
		t.Fatalf("apply = %v, want a refusal", err)
	}
	if live, _ := c.get(ctx, plans.ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: ns, Name: "kafka-broker-1"}); live != nil {
		t.Error("a refused apply created objects; refusals must come before any change")
	}
}

// Secret values never appear in a plan, only that they change.
func TestSecretValuesAreSensitive(t *testing.T) {
	c, ns := connectLab(t)
	mustApply(t, c, mustPlan(t, c, rendered{password: "old-secret-pw"}.desired(t, ns), planOpts{}), applyOpts{NoWait: true})
	p := mustPlan(t, c, rendered{password: "new-secret-pw"}.desired(t, ns), planOpts{})
	ch := findChange(t, p, "Secret", "kafka-tls-password")
	if diff := cmp.Diff([]plans.ObjectField{{Path: "data.password", Before: Sensitive, After: Sensitive}}, ch.Object.Fields); diff != "" {
		t.Errorf("secret diff (-want +got):\n%s", diff)
	}
	out, _ := json.Marshal(p)
	for _, pw := range []string{"old-secret-pw", "new-secret-pw"} {
		if strings.Contains(string(out), pw) || strings.Contains(string(out), base64.StdEncoding.EncodeToString([]byte(pw))) {
			t.Errorf("the plan's JSON contains the password %q", pw)
		}
	}
}

// A plan is applied only to the cluster it was made against.
func TestStalePlanIsRefused(t *testing.T) {
	c, ns := connectLab(t)
	ctx := testCtx(t)
	mustApply(t, c, mustPlan(t, c, rendered{}.desired(t, ns), planOpts{}), applyOpts{NoWait: true})
	p := mustPlan(t, c, rendered{image: "apache/kafka:3.9.0"}.desired(t, ns), planOpts{})
	svc := objectFor(plans.ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: ns, Name: "kafka-broker-1"})
	if err := c.client().Patch(ctx, svc, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"edited":"yes"}}}`)), client.FieldOwner("kubectl-annotate")); err != nil {
		t.Fatal(err)
	}
	err := applyPlan(ctx, c, p, applyOpts{NoWait: true})
	if !errors.Is(err, reconcile.ErrRefused) || !strings.Contains(err.Error(), "kafka-broker-1 changed on the cluster since the plan") {
		t.Fatalf("apply of a stale plan = %v, want a refusal", err)
	}
}

// A volumeClaimTemplates change plans "! replace" with the field, is refused without the opt-in,
// and with it the StatefulSet is deleted with orphan propagation and recreated.
func TestVolumeClaimTemplateChangeIsAReplace(t *testing.T) {
	c, ns := connectLab(t)
	ctx := testCtx(t)
	startKubelet(t, c, ns, 50*time.Millisecond)
	mustApply(t, c, mustPlan(t, c, rendered{}.desired(t, ns), planOpts{}), quickWaits(planOpts{}))
	ref := plans.ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: ns, Name: "kafka-broker-1"}
	old, _ := c.get(ctx, ref)

	bigger := rendered{storage: "20Gi"}.desired(t, ns)
	p := mustPlan(t, c, bigger, planOpts{})
	ch := findChange(t, p, "StatefulSet", "kafka-broker-1")
	if headline(ch) != "! StatefulSet "+ns+"/kafka-broker-1" || !strings.Contains(ch.Reason, "volumeClaimTemplates") {
		t.Fatalf("change = %s (%s), want a replace explaining volumeClaimTemplates", headline(ch), ch.Reason)
	}
	if diff := cmp.Diff([]plans.ObjectField{{Path: "spec.volumeClaimTemplates[0].spec.resources.requests.storage", Before: "10Gi", After: "20Gi"}}, ch.Object.Fields); diff != "" {
		t.Errorf("replace fields (-want +got):\n%s", diff)
	}
	if err := applyPlan(ctx, c, p, quickWaits(planOpts{})); !errors.Is(err, reconcile.ErrRefused) || !strings.Contains(err.Error(), "replace") {
		t.Fatalf("apply without Replace = %v, want a refusal", err)
	}
	var steps []string
	opts := quickWaits(planOpts{Replace: true})
	opts.Progress = func(ev reconcile.ObjectEvent) {
		if ev.Name == "StatefulSet "+ns+"/kafka-broker-1" {
			steps = append(steps, ev.Message)
		}
	}
	mustApply(t, c, p, opts)
	now, _ := c.get(ctx, ref)
	if now == nil || now.GetUID() == old.GetUID() {
		t.Fatal("kafka-broker-1 was not recreated")
	}
	if !slices.Contains(steps, "(broker 1) deleted with --cascade=orphan (pods and volumes kept)") {
		t.Errorf("progress %v does not report the orphan delete", steps)
	}
	if again := mustPlan(t, c, bigger, planOpts{}); again.Pending() {
		t.Errorf("after the replace the plan should be empty, got %v", changesOf(again))
	}
}

// Each way of not reaching the cluster is one line naming the target.
func TestConnectionErrorsAreOneLineNamingTheTarget(t *testing.T) {
	srv := kubetest.Shared(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stopped := "https://" + l.Addr().String()
	l.Close()
	cases := map[string]struct {
		target Target
		want   []string
	}{
		"bad kubeconfig": {Target{Kubeconfig: write("garbage", "clusters: [this is not: a kubeconfig")},
			[]string{"kubeconfig", "garbage", "cannot be read"}},
		"unknown context": {Target{Kubeconfig: srv.Kubeconfig, Context: "microk8s"},
			[]string{`context "microk8s" is not in kubeconfig`, kubetest.ContextName, "clusters.lab.kubernetes.context"}},
		"stopped API server": {Target{Kubeconfig: write("stopped", kubetest.KubeconfigYAML("k", stopped, "t"))},
			[]string{"unreachable", stopped}},
		"wrong token": {Target{Kubeconfig: write("token", kubetest.KubeconfigYAML("k", srv.URL, "not-the-token"))},
			[]string{"401 Unauthorized", srv.URL}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tc.target.Name = "lab"
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := Connect(ctx, tc.target)
			if err == nil {
				t.Fatal("Connect succeeded")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "target lab: ") {
				t.Errorf("error is not one line starting with the target:\n%s", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

// An object the API server would refuse shows in the plan as unsupported with the server's
// reason, and the apply refuses before changing anything.
func TestObjectTheServerRefusesIsUnsupported(t *testing.T) {
	c, ns := connectLab(t)
	want := rendered{}.desired(t, ns)
	mustApply(t, c, mustPlan(t, c, want, planOpts{}), applyOpts{NoWait: true})
	bad := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "bad", "namespace": ns}, "data": map[string]any{"not a valid key!": "x"}}}
	want.Objects = append(want.Objects, bad)
	p := mustPlan(t, c, want, planOpts{})
	ch := findChange(t, p, "ConfigMap", "bad")
	if ch.Action != plans.Unsupported || !strings.Contains(ch.Reason, "not a valid key!") {
		t.Fatalf("change = %s (%s), want unsupported with the server's reason", headline(ch), ch.Reason)
	}
	if err := applyPlan(testCtx(t), c, p, applyOpts{NoWait: true}); !errors.Is(err, reconcile.ErrRefused) {
		t.Fatalf("apply = %v, want a refusal", err)
	}
}

// Issue 23: a plan of objects in sync asks the server nothing beyond reading them (no dry run:
// inSync recognises every rendered object as the real server stores it), yet a field the render
// drops is still planned, as the apply would remove it.
func TestPlanInSyncMakesNoDryRunAndStillSeesADroppedField(t *testing.T) {
	c, ns := connectLab(t)
	want := rendered{password: "in-sync-pw", watch: true}.desired(t, ns)
	mustApply(t, c, mustPlan(t, c, want, planOpts{}), applyOpts{NoWait: true})

	fresh, _ := connectLab(t)
	if p := mustPlan(t, fresh, want, planOpts{}); p.Pending() {
		t.Fatalf("plan after apply = %v, want nothing to do", changesOf(p))
	}
	if len(fresh.dryRuns) != 0 {
		t.Errorf("a plan of objects in sync dry-ran %d of them, want none", len(fresh.dryRuns))
	}

	dropped := rendered{password: "in-sync-pw", watch: true}.desired(t, ns)
	var label string
	for _, o := range dropped.Objects {
		if o.GetKind() == "PodDisruptionBudget" {
			labels := o.GetLabels()
			for k := range labels {
				if label == "" || k < label {
					label = k
				}
			}
			delete(labels, label)
			o.SetLabels(labels)
		}
	}
	p := mustPlan(t, fresh, dropped, planOpts{})
	ch := findChange(t, p, "PodDisruptionBudget", "kafka")
	if ch.Action != plans.Update || len(ch.Object.Fields) != 1 || ch.Object.Fields[0].After != absent || !strings.Contains(ch.Object.Fields[0].Path, label) {
		t.Errorf("a label the render dropped: %s %v, want an update removing %s", headline(ch), ch.Object.Fields, label)
	}
}
