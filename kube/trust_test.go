//go:build kubeapiserver

package kube

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
)

// Issue 21: entries added by hand to the inventory ConfigMap, for an object in another namespace
// and for another (cluster-scoped) Namespace, both carrying copied owner labels, are never deleted
// by a prune with both opt-ins: the plan reports them as ignored, and the apply drops them from the
// inventory. Only objects of the rendered kinds in the target's namespace (and the Namespace
// itself) are ever pruned.
func TestInventoryEntriesOutsideTheTargetAreNeverPruned(t *testing.T) {
	c, ns := connectLab(t)
	ctx := testCtx(t)
	want := rendered{}.desired(t, ns)
	mustApply(t, c, mustPlan(t, c, want, planOpts{}), applyOpts{NoWait: true})

	owner := c.ownerLabels("avatar", ns)
	victimNS := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": "victim-" + ns[len(ns)-6:]}}}
	victimNS.SetLabels(owner)
	victimCM := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "precious", "namespace": victimNS.GetName()}, "data": map[string]any{"k": "v"}}}
	victimCM.SetLabels(owner)
	for _, o := range []*unstructured.Unstructured{victimNS, victimCM} {
		if err := c.client().Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = c.client().Delete(context.Background(), victimNS) })

	// Someone who can edit ConfigMaps in the target's namespace adds both to the inventory.
	invRef := plans.ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: ns, Name: InventoryName("avatar")}
	cm, err := c.get(ctx, invRef)
	if err != nil || cm == nil {
		t.Fatalf("inventory: %v", err)
	}
	raw, _, _ := unstructured.NestedString(cm.Object, "data", inventoryKey)
	var refs []plans.ObjectRef
	if err := json.Unmarshal([]byte(raw), &refs); err != nil {
		t.Fatal(err)
	}
	refs = append(refs, refOf(victimNS), refOf(victimCM))
	edited, _ := json.Marshal(refs)
	if err := unstructured.SetNestedField(cm.Object, string(edited), "data", inventoryKey); err != nil {
		t.Fatal(err)
	}
	if err := c.client().Update(ctx, cm); err != nil {
		t.Fatal(err)
	}

	both := planOpts{Prune: true, AllowDelete: true}
	p := mustPlan(t, c, want, both)
	if p.Pending() {
		t.Fatalf("plan with both opt-ins = %v, want nothing to do", changesOf(p))
	}
	for _, victim := range []*unstructured.Unstructured{victimNS, victimCM} {
		ch := findChange(t, p, victim.GetKind(), victim.GetName())
		if ch.Action != plans.NoOp || !strings.Contains(ch.Reason, "ignored, never deleted") {
			t.Errorf("%s: %s (%s), want it ignored and said so", refOf(victim), headline(ch), ch.Reason)
		}
	}
	mustApply(t, c, p, applyOpts{planOpts: both, NoWait: true})

	// Also a plan that names them for deletion (one made by hand) is refused before any change.
	forged := p
	forged.Changes = slices.Clone(p.Changes)
	for i, ch := range forged.Changes {
		if ch.Object.Object == refOf(victimNS) {
			live, _ := c.get(ctx, ch.Object.Object)
			payload := *ch.Object
			payload.Live = digest(live, p.ex.salt)
			forged.Changes[i].Action, forged.Changes[i].Object = plans.Delete, &payload
		}
	}
	if err := applyPlan(ctx, c, forged, applyOpts{planOpts: both, NoWait: true}); !errors.Is(err, reconcile.ErrRefused) || !strings.Contains(err.Error(), "avatar-sync never deletes it") {
		t.Errorf("a plan deleting another namespace = %v, want a refusal", err)
	}

	for _, victim := range []*unstructured.Unstructured{victimNS, victimCM} {
		live, err := c.get(ctx, refOf(victim))
		if err != nil || live == nil || live.GetDeletionTimestamp() != nil {
			t.Errorf("%s was deleted (or is terminating) by a prune: %v", refOf(victim), err)
		}
	}
	// The next apply that changes an object rewrites the inventory without them.
	changed := rendered{}.desired(t, ns)
	for _, o := range changed.Objects {
		if o.GetKind() == "PodDisruptionBudget" {
			_ = unstructured.SetNestedField(o.Object, int64(2), "spec", "maxUnavailable")
		}
	}
	mustApply(t, c, mustPlan(t, c, changed, both), applyOpts{planOpts: both, NoWait: true})
	cm, _ = c.get(ctx, invRef)
	raw, _, _ = unstructured.NestedString(cm.Object, "data", inventoryKey)
	if inv, err := c.readInventory(ctx, ns, "avatar"); err != nil || strings.Contains(raw, "victim-") || len(inv) != 15 {
		t.Errorf("the apply should drop the hand-added entries and keep the 15 objects, has %d (%v):\n%s", len(inv), err, raw)
	}
}

// Issue 21: a broker is rolled only while every other broker's StatefulSet is Ready in Kubernetes.
// With broker 2 at 0/1 ready, an image change does not restart broker 1, and says why.
func TestRollWaitsForEveryOtherBrokerToBeReady(t *testing.T) {
	c, ns := connectLab(t)
	ctx := testCtx(t)
	startKubelet(t, c, ns, 50*time.Millisecond)
	mustApply(t, c, mustPlan(t, c, rendered{}.desired(t, ns), planOpts{}), quickWaits(planOpts{}))

	// Broker 2's pod stops being ready (a crash loop, a node down).
	sts, err := c.get(ctx, plans.ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: ns, Name: "kafka-broker-2"})
	if err != nil || sts == nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(sts.Object, int64(0), "status", "readyReplicas")
	_ = unstructured.SetNestedField(sts.Object, int64(0), "status", "availableReplicas")
	if err := c.client().Status().Update(ctx, sts); err != nil {
		t.Fatal(err)
	}

	p := mustPlan(t, c, rendered{image: "apache/kafka:3.9.0"}.desired(t, ns), planOpts{})
	opts := quickWaits(planOpts{})
	var asked []int32
	opts.SafeToRestart = func(_ context.Context, broker int32) error { asked = append(asked, broker); return nil }
	err = applyPlan(ctx, c, p, opts)
	if err == nil || !strings.Contains(err.Error(), "broker 1 (StatefulSet "+ns+"/kafka-broker-1) is not restarted: broker 2 (StatefulSet "+ns+"/kafka-broker-2) is not ready in Kubernetes") {
		t.Fatalf("apply = %v, want broker 1 refused because broker 2 is not ready", err)
	}
	for _, name := range []string{"kafka-broker-1", "kafka-broker-2", "kafka-broker-3"} {
		if got := stsImage(t, c, ns, name); got != "apache/kafka:3.8.1" {
			t.Errorf("%s runs %s; no broker may restart while another is not ready", name, got)
		}
	}
	if len(asked) != 0 {
		t.Errorf("the Kafka plane was asked about %v before Kubernetes readiness was checked", asked)
	}
}

// Issue 21: --no-wait restarted all three brokers in the same second. It now restarts at most one
// broker per apply (the others wait for it to be Ready), and says so.
func TestNoWaitNeverRestartsTwoBrokers(t *testing.T) {
	c, ns := connectLab(t)
	kl := startKubelet(t, c, ns, 2*time.Second)
	mustApply(t, c, mustPlan(t, c, rendered{}.desired(t, ns), planOpts{}), quickWaits(planOpts{}))
	kl.reset()
	p := mustPlan(t, c, rendered{image: "apache/kafka:3.9.0"}.desired(t, ns), planOpts{})
	err := applyPlan(testCtx(t), c, p, applyOpts{NoWait: true, Interval: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "broker 2 (StatefulSet "+ns+"/kafka-broker-2) is not restarted: broker 1") || !strings.Contains(err.Error(), "--no-wait does not wait for broker 1") {
		t.Fatalf("apply --no-wait = %v, want broker 2 held back until broker 1 is ready", err)
	}
	time.Sleep(500 * time.Millisecond) // the kubelet polls every 25 ms and rolls after 2 s
	if maxRolling, started := kl.result(); maxRolling > 1 || !slices.Equal(started, []string{"kafka-broker-1"}) {
		t.Errorf("--no-wait rolled %v (%d at once), want only kafka-broker-1", started, maxRolling)
	}
	for name, want := range map[string]string{"kafka-broker-1": "apache/kafka:3.9.0", "kafka-broker-2": "apache/kafka:3.8.1", "kafka-broker-3": "apache/kafka:3.8.1"} {
		if got := stsImage(t, c, ns, name); got != want {
			t.Errorf("%s runs %s, want %s", name, got, want)
		}
	}
}

// Issue 21: an interrupt while waiting on a broker is reported as an interrupt, not as "not ready
// after 5m0s".
func TestInterruptWhileWaitingIsReportedAsInterrupted(t *testing.T) {
	c, ns := connectLab(t)
	p := mustPlan(t, c, rendered{}.desired(t, ns), planOpts{})
	ctx, cancel := context.WithCancel(testCtx(t))
	opts := applyOpts{Interval: 50 * time.Millisecond} // the default 5 minute wait: no kubelet runs
	opts.Progress = func(ev reconcile.ObjectEvent) {
		if strings.HasPrefix(ev.Message, "(broker 1) waiting") {
			cancel() // SIGINT while waiting for the brokers
		}
	}
	start := time.Now()
	err := applyPlan(ctx, c, p, opts)
	if err == nil || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted while waiting for broker 1") || strings.Contains(err.Error(), "not ready after") {
		t.Fatalf("apply interrupted while waiting = %v, want an interrupt naming the broker", err)
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("the interrupt took %s to end the wait", d)
	}
}

func stsImage(t *testing.T, c *Client, ns, name string) string {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("apps/v1")
	u.SetKind("StatefulSet")
	if err := c.client().Get(testCtx(t), client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
		t.Fatal(err)
	}
	cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	img, _, _ := unstructured.NestedString(cs[0].(map[string]any), "image")
	return img
}
