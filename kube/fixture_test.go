//go:build kubeapiserver

package kube

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/avatar-project/avatar-sync/internal/kubetest"
	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/render"
	"github.com/avatar-project/avatar-sync/spec"
)

// One real kube-apiserver (with etcd) serves every test of the package; each test works in a
// namespace of its own.
func TestMain(m *testing.M) {
	code := m.Run()
	kubetest.Stop()
	os.Exit(code)
}

// connectLab connects to the package's API server as a target named "lab" and returns a fresh
// namespace name for the test.
func connectLab(t testing.TB) (*Client, string) {
	t.Helper()
	srv := kubetest.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Connect(ctx, Target{Name: "lab", Kubeconfig: srv.Kubeconfig, Context: kubetest.ContextName})
	if err != nil {
		t.Fatal(err)
	}
	return c, kubetest.Namespace(t)
}

// testCtx bounds a test's calls to the API server.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// rendered is what `render --build --cluster lab` produces for a three-broker spec in namespace ns
// (the real render, not a copy of its output), plus the keystore-password Secret.
type rendered struct {
	image, storage, password string
	// imageTag is the target's kubernetes.imageTag (the overlay's images: entry).
	imageTag string
	// watch renders the in-cluster watch daemon (kubernetes.watch.enabled) with its RBAC.
	watch bool
}

func (r rendered) objects(t testing.TB, ns string) []*unstructured.Unstructured {
	t.Helper()
	image := r.image
	if image == "" {
		image = "apache/kafka:3.8.1"
	}
	storage := r.storage
	if storage == "" {
		storage = "10Gi"
	}
	port := nodePorts(ns)
	tag := ""
	if r.imageTag != "" {
		tag = ", imageTag: " + r.imageTag
	}
	if r.watch {
		tag += `, watch: { enabled: true, git: "https://git.example.org/avatar/lab.git", path: lab/avatar.yaml }`
	}
	src := fmt.Sprintf(`apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar, namespace: %[1]s }
kafka: { image: %[2]q, storageSize: %[3]s }
brokers:
  - { id: 1, host: kafka-broker-1, ports: { plaintext: %[4]d, internal: 29092 } }
  - { id: 2, host: kafka-broker-2, ports: { plaintext: %[5]d, internal: 29093 } }
  - { id: 3, host: kafka-broker-3, ports: { plaintext: %[6]d, internal: 29094 } }
clusters:
  lab: { bootstrap: [lab:9092], kubernetes: { namespace: %[1]s, externalHost: lab.example%[7]s } }
`, ns, image, storage, port, port+1, port+2, tag)
	s, diags := spec.Parse("avatar.yaml", []byte(src))
	if err := diags.Err(); err != nil {
		t.Fatalf("test spec: %v", err)
	}
	out, err := render.BuildSpec(s, t.TempDir(), "lab", filesys.MakeFsInMemory())
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.password != "" {
		objs = append(objs, PasswordSecret(ns, render.PasswordSecret, render.PasswordSecretKey, r.password, map[string]string{"app.kubernetes.io/managed-by": "avatar-sync"}))
	}
	return objs
}

var (
	portsMu  sync.Mutex
	portsOf  = map[string]int{}
	nextPort = 9092
)

// nodePorts gives each namespace its own three NodePorts: they are cluster-wide, and the tests share
// one API server.
func nodePorts(ns string) int {
	portsMu.Lock()
	defer portsMu.Unlock()
	if p, ok := portsOf[ns]; ok {
		return p
	}
	portsOf[ns] = nextPort
	nextPort += 3
	return portsOf[ns]
}

func (r rendered) desired(t testing.TB, ns string) Desired {
	return Desired{Inventory: "avatar", Objects: r.objects(t, ns)}
}

// kubelet plays the node agent and the garbage collector, which this API server runs without: it
// reports every StatefulSet whose spec changed as rolled out after a delay, one poll at a time,
// and removes the orphan finalizer of a StatefulSet deleted with --cascade=orphan. It records how
// many StatefulSets were rolling at once and the order in which they started.
type kubelet struct {
	mu         sync.Mutex
	maxRolling int
	started    []string
	seen       map[string]time.Time
}

func startKubelet(t *testing.T, c *Client, ns string, delay time.Duration) *kubelet {
	t.Helper()
	k := &kubelet{seen: map[string]time.Time{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			k.poll(ctx, c, ns, delay)
			select {
			case <-ctx.Done():
			case <-time.After(25 * time.Millisecond):
			}
		}
	}()
	return k
}

func (k *kubelet) poll(ctx context.Context, c *Client, ns string, delay time.Duration) {
	list := &unstructured.UnstructuredList{}
	list.SetAPIVersion("apps/v1")
	list.SetKind("StatefulSetList")
	if err := c.client().List(ctx, list, client.InNamespace(ns)); err != nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	rolling := 0
	for i := range list.Items {
		sts := &list.Items[i]
		if sts.GetDeletionTimestamp() != nil {
			sts.SetFinalizers(nil)
			_ = c.client().Update(ctx, sts)
			continue
		}
		observed, _, _ := unstructured.NestedInt64(sts.Object, "status", "observedGeneration")
		if observed == sts.GetGeneration() {
			continue
		}
		rolling++
		key := fmt.Sprintf("%s@%d", sts.GetName(), sts.GetGeneration())
		first, ok := k.seen[key]
		if !ok {
			k.seen[key] = time.Now()
			k.started = append(k.started, sts.GetName())
			continue
		}
		if time.Since(first) < delay {
			continue
		}
		rev := fmt.Sprintf("%s-%d", sts.GetName(), sts.GetGeneration())
		_ = unstructured.SetNestedMap(sts.Object, map[string]any{
			"observedGeneration": sts.GetGeneration(),
			"replicas":           int64(1),
			"readyReplicas":      int64(1),
			"availableReplicas":  int64(1),
			"currentReplicas":    int64(1),
			"updatedReplicas":    int64(1),
			"currentRevision":    rev,
			"updateRevision":     rev,
		}, "status")
		_ = c.client().Status().Update(ctx, sts)
	}
	k.maxRolling = max(k.maxRolling, rolling)
	k.deployments(ctx, c, ns)
}

// deployments reports every Deployment (the watch daemon) as rolled out at once; they are not
// brokers, so nothing is recorded.
func (k *kubelet) deployments(ctx context.Context, c *Client, ns string) {
	list := &unstructured.UnstructuredList{}
	list.SetAPIVersion("apps/v1")
	list.SetKind("DeploymentList")
	if err := c.client().List(ctx, list, client.InNamespace(ns)); err != nil {
		return
	}
	for i := range list.Items {
		d := &list.Items[i]
		observed, _, _ := unstructured.NestedInt64(d.Object, "status", "observedGeneration")
		if observed == d.GetGeneration() {
			continue
		}
		_ = unstructured.SetNestedMap(d.Object, map[string]any{
			"observedGeneration": d.GetGeneration(), "replicas": int64(1), "updatedReplicas": int64(1),
			"readyReplicas": int64(1), "availableReplicas": int64(1),
			"conditions": []any{
				map[string]any{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
				map[string]any{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
			},
		}, "status")
		_ = c.client().Status().Update(ctx, d)
	}
}

// reset forgets what was recorded so far (the creation of the brokers, which start together).
func (k *kubelet) reset() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.maxRolling, k.started = 0, nil
}

func (k *kubelet) result() (maxRolling int, started []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.maxRolling, append([]string(nil), k.started...)
}

// planOpts and applyOpts are the tests' opt-ins; plan and apply take reconcile's.
type planOpts struct{ Prune, AllowDelete, ForceConflicts, Replace bool }

type applyOpts struct {
	planOpts
	NoWait                bool
	WaitTimeout, Interval time.Duration
	SafeToRestart         func(context.Context, int32) error
	Progress              func(reconcile.ObjectEvent)
}

// quickWaits keeps rollouts in tests short but bounded.
func quickWaits(o planOpts) applyOpts {
	return applyOpts{planOpts: o, WaitTimeout: time.Minute, Interval: 50 * time.Millisecond}
}

// testPlan is a plan as the Plane keeps it: reconcile's object plan and the execution record.
type testPlan struct {
	reconcile.ObjectPlan
	ex *execution
}

// Pending reports whether applying the plan would change anything.
func (p testPlan) Pending() bool { return slices.ContainsFunc(p.Changes, plans.Change.Pending) }

func mustPlan(t testing.TB, c *Client, want Desired, o planOpts) testPlan {
	t.Helper()
	op, ex, err := c.plan(testCtx(t), want, planOptions{prune: o.Prune, allowDelete: o.AllowDelete, salt: testSalt})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return testPlan{op, ex}
}

// applyPlan executes p as the Plane does.
func applyPlan(ctx context.Context, c *Client, p testPlan, o applyOpts) error {
	ao := reconcile.ObjectApplyOptions{
		ObjectPlanOptions: reconcile.ObjectPlanOptions{Prune: o.Prune, AllowDelete: o.AllowDelete},
		ForceConflicts:    o.ForceConflicts, AllowReplace: o.Replace,
		NoWait: o.NoWait, WaitTimeout: o.WaitTimeout, SafeToRestart: o.SafeToRestart,
	}
	return c.apply(ctx, p.ObjectPlan, p.ex, execOptions{ObjectApplyOptions: ao, interval: o.Interval, progress: o.Progress})
}

func mustApply(t testing.TB, c *Client, p testPlan, o applyOpts) {
	t.Helper()
	if err := applyPlan(testCtx(t), c, p, o); err != nil {
		t.Fatalf("apply: %v", err)
	}
}

// headline is "~ StatefulSet avatar/kafka-broker-2": the action's symbol and the object.
func headline(ch plans.Change) string {
	symbol := map[plans.Action]string{plans.Create: "+", plans.Update: "~", plans.Delete: "-",
		plans.Replace: "!", plans.Unsupported: "x"}[ch.Action]
	return cmp.Or(symbol, " ") + " " + ch.Object.Object.String()
}

// changesOf lists "<symbol> Kind ns/name" for the plan's pending changes, in plan order.
func changesOf(p testPlan) []string {
	var out []string
	for _, ch := range p.Changes {
		if ch.Action != plans.NoOp {
			out = append(out, headline(ch))
		}
	}
	return out
}

func findChange(t *testing.T, p testPlan, kind, name string) plans.Change {
	t.Helper()
	for _, ch := range p.Changes {
		if ch.Object.Object.Kind == kind && ch.Object.Object.Name == name {
			return ch
		}
	}
	t.Fatalf("plan has no %s %s: %v", kind, name, changesOf(p))
	return plans.Change{}
}

// readInventory reads the entries avatar-sync may act on, as the next plan will.
func (c *Client) readInventory(ctx context.Context, ns, name string) (inventory, error) {
	cm, err := c.get(ctx, inventoryRef(ns, name))
	if err != nil {
		return nil, err
	}
	inv, _, err := c.parseInventory(ns, name, cm)
	return inv, err
}
