//go:build kubeapiserver

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/internal/kubetest"
	"github.com/avatar-project/avatar-sync/internal/tooltest"
	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// The tests' controller-runtime client prints a stack trace 30 s after it is made unless a logger is
// set (the command itself no longer links controller-runtime, issue 23).
func init() { ctrllog.SetLogger(logr.Discard()) }

// The whole deployment through the CLI (issue 11), against a real kube-apiserver. There are no
// nodes, so a test kubelet writes each StatefulSet's status as a kubelet would. The brokers are an
// embedded kfake cluster listening on the addresses the target's bootstrap names: it stands in for
// the Kafka the pods would run, and a test decides when it answers (before or after the brokers'
// StatefulSets become Ready).

// kubeLab is one test's target "lab": a namespace of the shared API server, its spec and the
// addresses its brokers will answer on.
type kubeLab struct {
	t         testing.TB
	ns        string
	specPath  string
	bootstrap []int
	client    client.Client
	kubelet   *testKubelet
	brokers   *clusters.Embedded
}

var (
	nodePortMu   sync.Mutex
	nextNodePort = 31000
)

const labSpec = `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar, namespace: %[1]s }
kafka: { image: "apache/kafka:3.8.1", storageSize: 10Gi }
brokers:
  - { id: 1, host: kafka-broker-1, ports: { plaintext: %[2]d, internal: 29092 } }
  - { id: 2, host: kafka-broker-2, ports: { plaintext: %[3]d, internal: 29093 } }
  - { id: 3, host: kafka-broker-3, ports: { plaintext: %[4]d, internal: 29094 } }
clusters:
  lab:
    bootstrap: [127.0.0.1:%[5]d, 127.0.0.1:%[6]d, 127.0.0.1:%[7]d]
    kubernetes: { context: %[8]s, namespace: %[1]s, externalHost: lab.example }
topics:
  - { name: eeg-brainwave-data, partitions: 3, replicationFactor: 3, config: { retention.ms: "3600000" } }
`

// newKubeLab writes the spec, points KUBECONFIG at the API server and starts the test kubelet.
func newKubeLab(t *testing.T) *kubeLab {
	t.Helper()
	return newKubeLabOn(t, kubetest.Shared(t))
}

// newKubeLabOn is newKubeLab on a given API server (one with an audit log, say).
func newKubeLabOn(t testing.TB, srv *kubetest.Server) *kubeLab {
	t.Helper()
	t.Setenv("KUBECONFIG", srv.Kubeconfig)
	lab := &kubeLab{t: t, ns: kubetest.Namespace(t), bootstrap: freePorts(t, 3)}
	nodePortMu.Lock()
	np := nextNodePort
	nextNodePort += 3
	nodePortMu.Unlock()
	lab.specPath = filepath.Join(t.TempDir(), "avatar.yaml")
	src := fmt.Sprintf(labSpec, lab.ns, np, np+1, np+2, lab.bootstrap[0], lab.bootstrap[1], lab.bootstrap[2], kubetest.ContextName)
	if err := os.WriteFile(lab.specPath, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", srv.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 100, 200 // the test kubelet polls; client-go's default 5/s would throttle it
	if lab.client, err = client.New(cfg, client.Options{}); err != nil {
		t.Fatal(err)
	}
	lab.kubelet = startTestKubelet(t, lab.client, lab.ns)
	return lab
}

// startBrokers makes the target's bootstrap addresses answer: the brokers are up.
func (lab *kubeLab) startBrokers() {
	lab.t.Helper()
	sp, diags := spec.LoadFile(lab.specPath)
	if err := diags.Err(); err != nil {
		lab.t.Fatal(err)
	}
	e, err := clusters.StartEmbedded(context.Background(), sp, clusters.EmbeddedOptions{Ports: lab.bootstrap})
	if err != nil {
		lab.t.Fatalf("start the brokers: %v", err)
	}
	lab.brokers = e
	lab.t.Cleanup(func() { e.Close() })
}

// cli runs avatar-sync against the lab's spec and target.
func (lab *kubeLab) cli(args ...string) (int, string, string) {
	lab.t.Helper()
	return runCLI(lab.t, append(args, "-f", lab.specPath, "--cluster", "lab")...)
}

// mustCLI runs avatar-sync and fails the test unless it exits with want.
func (lab *kubeLab) mustCLI(want int, args ...string) (string, string) {
	lab.t.Helper()
	code, out, errOut := lab.cli(args...)
	if code != want {
		lab.t.Fatalf("avatar-sync %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out, errOut
}

// deployed is a lab after a first apply with the brokers answering.
func deployed(t *testing.T) *kubeLab {
	lab := newKubeLab(t)
	lab.startBrokers()
	lab.mustCLI(exitOK, "apply", "--auto-approve")
	lab.kubelet.reset()
	return lab
}

func (lab *kubeLab) editSpec(old, new string) {
	lab.t.Helper()
	editSpec(lab.t, lab.specPath, old, new)
}

// statefulSet reads a broker's StatefulSet.
func (lab *kubeLab) statefulSet(name string) *unstructured.Unstructured {
	lab.t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("apps/v1")
	u.SetKind("StatefulSet")
	if err := lab.client.Get(context.Background(), client.ObjectKey{Namespace: lab.ns, Name: name}, u); err != nil {
		lab.t.Fatal(err)
	}
	return u
}

func image(u *unstructured.Unstructured) string {
	cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	if len(cs) == 0 {
		return ""
	}
	s, _, _ := unstructured.NestedString(cs[0].(map[string]any), "image")
	return s
}

// kubectl runs the real kubectl against the lab (another field manager than avatar-sync).
func (lab *kubeLab) kubectl(args ...string) {
	lab.t.Helper()
	tooltest.Require(lab.t, "kubectl", "apt-get install kubectl")
	cmd := exec.Command("kubectl", append([]string{"--context", kubetest.ContextName, "-n", lab.ns}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		lab.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// testKubelet plays the node agent and the garbage collector: it reports every StatefulSet whose
// spec changed as rolled out after a short delay, removes the orphan finalizer of a StatefulSet
// deleted with --cascade=orphan, and records how many StatefulSets rolled at once and in which
// order they started.
type testKubelet struct {
	mu         sync.Mutex
	maxRolling int
	started    []string
	seen       map[string]time.Time
}

func startTestKubelet(t testing.TB, c client.Client, ns string) *testKubelet {
	k := &testKubelet{seen: map[string]time.Time{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			k.poll(ctx, c, ns)
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return k
}

func (k *testKubelet) poll(ctx context.Context, c client.Client, ns string) {
	list := &unstructured.UnstructuredList{}
	list.SetAPIVersion("apps/v1")
	list.SetKind("StatefulSetList")
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	rolling := 0
	for i := range list.Items {
		sts := &list.Items[i]
		if sts.GetDeletionTimestamp() != nil {
			sts.SetFinalizers(nil)
			_ = c.Update(ctx, sts)
			continue
		}
		observed, _, _ := unstructured.NestedInt64(sts.Object, "status", "observedGeneration")
		if observed == sts.GetGeneration() {
			continue
		}
		rolling++
		key := fmt.Sprintf("%s@%s@%d", sts.GetName(), sts.GetUID(), sts.GetGeneration())
		first, ok := k.seen[key]
		if !ok {
			k.seen[key] = time.Now()
			k.started = append(k.started, sts.GetName())
			continue
		}
		if time.Since(first) < 300*time.Millisecond {
			continue
		}
		rev := fmt.Sprintf("%s-%d", sts.GetName(), sts.GetGeneration())
		_ = unstructured.SetNestedMap(sts.Object, map[string]any{
			"observedGeneration": sts.GetGeneration(), "replicas": int64(1), "readyReplicas": int64(1),
			"availableReplicas": int64(1), "currentReplicas": int64(1), "updatedReplicas": int64(1),
			"currentRevision": rev, "updateRevision": rev,
		}, "status")
		_ = c.Status().Update(ctx, sts)
	}
	k.maxRolling = max(k.maxRolling, rolling)
}

func (k *testKubelet) reset() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.maxRolling, k.started = 0, nil
}

func (k *testKubelet) result() (int, []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.maxRolling, slices.Clone(k.started)
}

// allReady reports whether the namespace's three broker StatefulSets are rolled out.
func (lab *kubeLab) allReady() bool {
	for _, n := range []string{"kafka-broker-1", "kafka-broker-2", "kafka-broker-3"} {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("apps/v1")
		u.SetKind("StatefulSet")
		if err := lab.client.Get(context.Background(), client.ObjectKey{Namespace: lab.ns, Name: n}, u); err != nil {
			return false
		}
		ready, _, _ := unstructured.NestedInt64(u.Object, "status", "readyReplicas")
		if ready < 1 {
			return false
		}
	}
	return true
}

// A fresh cluster: `apply --cluster lab` is the whole deployment. The brokers do not answer
// before their pods exist, so the first plan holds the Kubernetes side and says the topics wait;
// apply creates the namespace, secrets and brokers, waits for the brokers, and once they answer
// (the test starts them when the kubelet reported all three Ready) plans and creates the topics.
// A second plan is empty.
func TestKubeApplyDeploysAFreshClusterThenItsTopics(t *testing.T) {
	lab := newKubeLab(t)
	go func() {
		deadline := time.Now().Add(3 * time.Minute)
		for time.Now().Before(deadline) && !lab.allReady() {
			time.Sleep(100 * time.Millisecond)
		}
		sp, _ := spec.LoadFile(lab.specPath)
		e, err := clusters.StartEmbedded(context.Background(), sp, clusters.EmbeddedOptions{Ports: lab.bootstrap})
		if err != nil {
			t.Errorf("start the brokers: %v", err)
			return
		}
		lab.brokers = e
	}()
	t.Cleanup(func() {
		if lab.brokers != nil {
			lab.brokers.Close()
		}
	})
	out, errOut := lab.mustCLI(exitOK, "apply", "--auto-approve", "--wait-timeout", "2m")
	ns := lab.ns
	for _, want := range []string{
		"+ create Namespace " + ns,
		"+ create StatefulSet " + ns + "/kafka-broker-1",
		"the topics will be planned once the brokers answer",
		"Waiting up to 2m0s for the brokers of \"lab\" to answer",
		"+ create topic eeg-brainwave-data",
		"converged: a fresh plan has no changes",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s\nstderr:\n%s", want, out, errOut)
		}
	}
	// Namespace first, brokers last, and the topic after every object.
	first, sts, topic := strings.Index(out, "create Namespace"), strings.Index(out, "create StatefulSet"), strings.Index(out, "create topic")
	if first < 0 || sts < first || topic < sts {
		t.Errorf("order: namespace at %d, StatefulSet at %d, topic at %d", first, sts, topic)
	}
	if !strings.Contains(errOut, "(broker 1) ready") {
		t.Errorf("apply did not report waiting for the brokers:\n%s", errOut)
	}
	out, _ = lab.mustCLI(exitOK, "plan", "--detailed-exitcode")
	if !strings.Contains(out, "No changes.") {
		t.Errorf("second plan:\n%s", out)
	}
}

// With the brokers not answering, plan shows the Kubernetes side and says why there are no topics;
// --detailed-exitcode does not call that in sync.
func TestKubePlanWithoutBrokersPlansObjectsOnly(t *testing.T) {
	lab := newKubeLab(t)
	out, _ := lab.mustCLI(exitChanges, "plan", "--detailed-exitcode")
	if !strings.Contains(out, "+ create Namespace "+lab.ns) || !strings.Contains(out, "topics: the brokers do not answer yet") || strings.Contains(out, "create topic") {
		t.Errorf("plan without brokers:\n%s", out)
	}
}

// An image change shows the exact field in every view and rolls the brokers one at a time, in
// broker order, each waited for (the kubelet never sees two rolling at once).
func TestKubeImageChangeShowsTheFieldAndRollsOneAtATime(t *testing.T) {
	lab := deployed(t)
	lab.editSpec(`image: "apache/kafka:3.8.1"`, `image: "apache/kafka:3.9.0"`)
	field := "spec.template.spec.containers[0].image: apache/kafka:3.8.1 → apache/kafka:3.9.0"
	text, _ := lab.mustCLI(exitChanges, "plan", "--detailed-exitcode")
	if !strings.Contains(text, "~ update StatefulSet "+lab.ns+"/kafka-broker-2\n      "+field) || !strings.Contains(text, "Plan: 0 to create, 3 to update, 0 to delete.") {
		t.Errorf("text plan:\n%s", text)
	}
	md, _ := lab.mustCLI(exitOK, "plan", "-o", "markdown")
	if !strings.Contains(md, "| `~` | update StatefulSet "+lab.ns+"/kafka-broker-3 | `"+field+"` |") {
		t.Errorf("markdown plan:\n%s", md)
	}
	js, _ := lab.mustCLI(exitOK, "plan", "-o", "json")
	var run struct {
		Targets []struct {
			Parts []struct {
				Plane   string
				Changes []struct {
					Kind, Name, Action string
					Object             struct {
						Broker int32
						Fields []struct{ Path, Before, After string }
					}
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(js), &run); err != nil || len(run.Targets) != 1 || len(run.Targets[0].Parts) != 2 || run.Targets[0].Parts[0].Plane != "kubernetes" {
		t.Fatalf("want one target with a kubernetes part, then a kafka part: %v:\n%s", err, js)
	}
	var brokers []int32
	for _, c := range run.Targets[0].Parts[0].Changes {
		if c.Kind == "object" && c.Action == "update" && len(c.Object.Fields) == 1 && c.Object.Fields[0].After == "apache/kafka:3.9.0" && c.Object.Fields[0].Path == "spec.template.spec.containers[0].image" {
			brokers = append(brokers, c.Object.Broker)
		}
	}
	if !slices.Equal(brokers, []int32{1, 2, 3}) {
		t.Errorf("JSON plan: image changes of brokers %v, want [1 2 3]:\n%s", brokers, js)
	}

	lab.mustCLI(exitOK, "apply", "--auto-approve")
	maxRolling, started := lab.kubelet.result()
	if maxRolling != 1 || !slices.Equal(started, []string{"kafka-broker-1", "kafka-broker-2", "kafka-broker-3"}) {
		t.Errorf("rollout: %d at once, order %v; want one at a time, brokers 1, 2, 3", maxRolling, started)
	}
	if got := image(lab.statefulSet("kafka-broker-2")); got != "apache/kafka:3.9.0" {
		t.Errorf("kafka-broker-2 runs %s", got)
	}
	lab.mustCLI(exitOK, "plan", "--detailed-exitcode")
}

// Drift made by another field manager (kubectl set image) shows in plan with the manager named,
// is refused without --force-conflicts, and taken back with it.
func TestKubeDriftByAnotherManagerNeedsForceConflicts(t *testing.T) {
	lab := deployed(t)
	lab.kubectl("set", "image", "statefulset/kafka-broker-2", "kafka=apache/kafka:3.7.0")
	out, _ := lab.mustCLI(exitChanges, "plan", "--detailed-exitcode")
	for _, want := range []string{
		"~ update StatefulSet " + lab.ns + "/kafka-broker-2",
		"spec.template.spec.containers[0].image: apache/kafka:3.7.0 → apache/kafka:3.8.1",
		`is owned by field manager "kubectl-set"`,
		"1 Kubernetes object(s) take fields another field manager owns: apply needs --force-conflicts.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	_, errOut := lab.mustCLI(exitError, "apply", "--auto-approve")
	if !strings.Contains(errOut, `owned by field manager "kubectl-set"; taking them needs --force-conflicts`) {
		t.Errorf("apply without --force-conflicts:\n%s", errOut)
	}
	if got := image(lab.statefulSet("kafka-broker-2")); got != "apache/kafka:3.7.0" {
		t.Errorf("a refused apply changed the image to %s", got)
	}
	lab.mustCLI(exitOK, "apply", "--auto-approve", "--force-conflicts")
	if got := image(lab.statefulSet("kafka-broker-2")); got != "apache/kafka:3.8.1" {
		t.Errorf("after --force-conflicts the image is %s", got)
	}
	lab.mustCLI(exitOK, "plan", "--detailed-exitcode")
}

// A saved plan covers the Kubernetes side: applied exactly as reviewed, refused once an object
// changed on the cluster (stale), and refused when its object changes were edited.
func TestKubeSavedPlanRoundTripStaleAndTampered(t *testing.T) {
	lab := deployed(t)
	dir := t.TempDir()
	saved := filepath.Join(dir, "plan.json")

	lab.editSpec(`image: "apache/kafka:3.8.1"`, `image: "apache/kafka:3.9.0"`)
	lab.mustCLI(exitOK, "plan", "--out", saved)
	lab.mustCLI(exitOK, "apply", "--plan", saved, "--auto-approve")
	if got := image(lab.statefulSet("kafka-broker-1")); got != "apache/kafka:3.9.0" {
		t.Fatalf("the saved plan was not applied: image %s", got)
	}

	// Stale: another manager changes a broker after the plan was saved.
	lab.editSpec(`image: "apache/kafka:3.9.0"`, `image: "apache/kafka:4.0.0"`)
	lab.mustCLI(exitOK, "plan", "--out", saved)
	lab.kubectl("label", "statefulset/kafka-broker-3", "edited-by=hand")
	_, errOut := lab.mustCLI(exitError, "apply", "--plan", saved, "--auto-approve")
	if !strings.Contains(errOut, "the Kubernetes objects changed since the plan was computed") {
		t.Errorf("stale saved plan:\n%s", errOut)
	}

	// Tampered: the saved image edited, the digest recomputed so only verification can tell.
	lab.mustCLI(exitOK, "plan", "--out", saved)
	data, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(data, []byte(`"after": "apache/kafka:4.0.0"`), []byte(`"after": "evil/kafka:latest"`), 1)
	if bytes.Equal(edited, data) {
		t.Fatalf("the saved plan has no image change to edit:\n%s", data)
	}
	if err := os.WriteFile(saved, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut = lab.mustCLI(exitError, "apply", "--plan", saved, "--auto-approve")
	if !strings.Contains(errOut, "the document was edited after plan saved it") {
		t.Errorf("edited saved plan:\n%s", errOut)
	}
	if got := image(lab.statefulSet("kafka-broker-1")); got != "apache/kafka:3.9.0" {
		t.Errorf("a refused plan changed the image to %s", got)
	}
}

// A volumeClaimTemplates change cannot be made in place: planned as "! replace" with the reason,
// refused without --allow-replace, done with it (orphan delete and recreate).
func TestKubeVolumeClaimChangeIsAReplaceNeedingTheFlag(t *testing.T) {
	lab := deployed(t)
	oldUID := lab.statefulSet("kafka-broker-1").GetUID()
	lab.editSpec("storageSize: 10Gi", "storageSize: 20Gi")
	out, _ := lab.mustCLI(exitChanges, "plan", "--detailed-exitcode")
	for _, want := range []string{
		"! replace StatefulSet " + lab.ns + "/kafka-broker-1  [HEAVY]",
		"spec.volumeClaimTemplates[0].spec.resources.requests.storage: 10Gi → 20Gi",
		"Kubernetes cannot change a StatefulSet's volumeClaimTemplates in place",
		"Plan: 0 to create, 0 to update, 3 to replace, 0 to delete.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	_, errOut := lab.mustCLI(exitError, "apply", "--auto-approve")
	if !strings.Contains(errOut, "it needs --allow-replace") {
		t.Errorf("apply without --allow-replace:\n%s", errOut)
	}
	if lab.statefulSet("kafka-broker-1").GetUID() != oldUID {
		t.Fatal("a refused replace recreated kafka-broker-1")
	}
	lab.mustCLI(exitOK, "apply", "--auto-approve", "--allow-replace")
	if lab.statefulSet("kafka-broker-1").GetUID() == oldUID {
		t.Error("kafka-broker-1 was not recreated")
	}
	lab.mustCLI(exitOK, "plan", "--detailed-exitcode")
}

// Every way of not reaching the API server is one line naming the target.
func TestKubeConnectionErrorsNameTheTarget(t *testing.T) {
	lab := newKubeLab(t)
	bad := filepath.Join(t.TempDir(), "kubeconfig")
	srv := kubetest.Shared(t)
	cases := map[string]struct {
		kubeconfig, want string
	}{
		"missing file":  {filepath.Join(t.TempDir(), "absent"), "target lab: kubeconfig"},
		"unknown token": {kubetest.KubeconfigYAML(kubetest.ContextName, srv.URL, "not-the-token"), "target lab: Kubernetes API server " + srv.URL + " refused the kubeconfig's credentials (401 Unauthorized)"},
		"unreachable":   {kubetest.KubeconfigYAML(kubetest.ContextName, fmt.Sprintf("https://127.0.0.1:%d", freePorts(t, 1)[0]), "x"), "is unreachable"},
		"other context": {kubetest.KubeconfigYAML("elsewhere", srv.URL, srv.Token), `target lab: context "kubetest" is not in kubeconfig`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path := tc.kubeconfig
			if strings.Contains(tc.kubeconfig, "\n") {
				path = bad
				if err := os.WriteFile(bad, []byte(tc.kubeconfig), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("KUBECONFIG", path)
			code, _, errOut := lab.cli("plan")
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if code != exitError || !strings.Contains(errOut, tc.want) || len(lines) != 1 {
				t.Errorf("exit %d, stderr:\n%s\nwant one line containing %q", code, errOut, tc.want)
			}
		})
	}
}

// An edited saved plan whose digest was recomputed passes the integrity check; verification
// against the API server still refuses it, and nothing changes.
func TestKubeSavedPlanWithRecomputedDigestIsRefused(t *testing.T) {
	lab := deployed(t)
	saved := filepath.Join(t.TempDir(), "plan.json")
	lab.editSpec(`image: "apache/kafka:3.8.1"`, `image: "apache/kafka:3.9.0"`)
	lab.mustCLI(exitOK, "plan", "--out", saved)
	f, err := os.Open(saved)
	if err != nil {
		t.Fatal(err)
	}
	run, err := plans.ReadRun(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	p := run.Targets[0].Plan
	edited := false
	objects := p.Part(plans.PlaneKubernetes).Changes // the plan's own slice: edited in place
	for i, c := range objects {
		if c.Object != nil && c.Object.Object.Name == "kafka-broker-2" {
			payload := *c.Object
			payload.Fields = []plans.ObjectField{{Path: "spec.template.spec.containers[0].image", Before: "apache/kafka:3.8.1", After: "evil/kafka:latest"}}
			objects[i].Object = &payload
			edited = true
		}
	}
	if !edited {
		t.Fatal("the saved plan does not change kafka-broker-2")
	}
	var buf bytes.Buffer
	if err := plans.WriteRun(&buf, plans.SingleRun(p)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(saved, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut := lab.mustCLI(exitError, "apply", "--plan", saved, "--auto-approve")
	if !strings.Contains(errOut, "its Kubernetes changes are not what its own manifests give against the live API server") || !strings.Contains(errOut, "kafka-broker-2") {
		t.Errorf("edited saved plan with a fresh digest:\n%s", errOut)
	}
	if got := image(lab.statefulSet("kafka-broker-1")); got != "apache/kafka:3.8.1" {
		t.Errorf("a refused plan changed kafka-broker-1 to %s", got)
	}
}

// watch heals both planes within its flags: a broker image changed with kubectl (another field
// manager) is reported and, like any plan the flags do not cover, the pass is refused whole
// without --force-conflicts; with it, one pass restores the image and a topic config changed by
// hand.
func TestKubeWatchHealsBothPlanes(t *testing.T) {
	lab := deployed(t)
	lab.kubectl("set", "image", "statefulset/kafka-broker-1", "kafka=apache/kafka:3.7.0")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := clusters.Open(ctx, mustLoad(t, lab.specPath), "lab", clusters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// Lowered by hand: restoring it raises the retention, which loses nothing.
	if _, err := admin.AlterTopicConfigs(ctx, []reconcile.ConfigChange{{Topic: "eeg-brainwave-data", Set: map[string]string{"retention.ms": "1800000"}}}); err != nil {
		t.Fatal(err)
	}
	retention := func() string {
		live, err := admin.Describe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return live.Topics["eeg-brainwave-data"].Config["retention.ms"].Value
	}

	watch := func(until func(log string) bool, args ...string) string {
		wctx, stop := context.WithCancel(ctx)
		var out, errOut syncBuffer
		done := make(chan int, 1)
		go func() {
			done <- run(wctx, append([]string{"watch", "-f", lab.specPath, "--cluster", "lab", "--interval", "1s"}, args...), strings.NewReader(""), &out, &errOut)
		}()
		for ctx.Err() == nil && !until(errOut.String()) {
			time.Sleep(200 * time.Millisecond)
		}
		stop()
		if code := <-done; code != exitOK {
			t.Errorf("watch %v exited %d:\n%s", args, code, errOut.String())
		}
		return errOut.String()
	}
	log := watch(func(log string) bool { return strings.Contains(log, "--force-conflicts") })
	if !strings.Contains(log, `owned by field manager \"kubectl-set\"; taking them needs --force-conflicts`) {
		t.Errorf("watch without --force-conflicts did not report the conflict:\n%s", log)
	}
	if got := image(lab.statefulSet("kafka-broker-1")); got != "apache/kafka:3.7.0" || retention() != "1800000" {
		t.Errorf("watch without --force-conflicts changed something: image %s, retention.ms %s", got, retention())
	}
	log = watch(func(string) bool {
		return image(lab.statefulSet("kafka-broker-1")) == "apache/kafka:3.8.1" && retention() == "3600000"
	}, "--force-conflicts")
	if image(lab.statefulSet("kafka-broker-1")) != "apache/kafka:3.8.1" || retention() != "3600000" {
		t.Fatalf("watch --force-conflicts did not heal both planes:\n%s", log)
	}
	lab.mustCLI(exitOK, "plan", "--detailed-exitcode")
}

func mustLoad(t *testing.T, path string) *spec.Spec {
	t.Helper()
	sp, diags := spec.LoadFile(path)
	if err := diags.Err(); err != nil {
		t.Fatal(err)
	}
	return sp
}

// Objects that left the render (a broker removed from the spec) are pruned with the same two
// opt-ins as topics: kept under deletion: retain, kept without --allow-delete, deleted with both.
func TestKubePruneNeedsDeletionPruneAndAllowDelete(t *testing.T) {
	lab := newKubeLab(t)
	lab.editSpec("replicationFactor: 3", "replicationFactor: 2")
	lab.startBrokers()
	lab.mustCLI(exitOK, "apply", "--auto-approve")
	lab.editSpec("  - { id: 3, host: kafka-broker-3", "  # - { id: 3, host: kafka-broker-3")
	orphan := "StatefulSet " + lab.ns + "/kafka-broker-3"

	out, _ := lab.mustCLI(exitOK, "plan")
	if !strings.Contains(out, "? keep "+orphan+"\n      left the render; kept (deleting needs deletion: prune in the spec and --allow-delete)") {
		t.Errorf("plan under deletion: retain:\n%s", out)
	}
	lab.editSpec("topics:\n", "deletion: prune\ntopics:\n")
	out, _ = lab.mustCLI(exitOK, "plan")
	if !strings.Contains(out, "? keep "+orphan+"\n      left the render; the spec says deletion: prune, but deleting also needs --allow-delete") || strings.Contains(out, "- delete "+orphan) {
		t.Errorf("plan under deletion: prune without --allow-delete:\n%s", out)
	}
	lab.mustCLI(exitOK, "apply", "--auto-approve")
	lab.statefulSet("kafka-broker-3") // still there

	out, _ = lab.mustCLI(exitOK, "apply", "--auto-approve", "--allow-delete")
	if !strings.Contains(out, "- delete "+orphan) {
		t.Errorf("apply --allow-delete:\n%s", out)
	}
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("apps/v1")
	u.SetKind("StatefulSet")
	err := lab.client.Get(context.Background(), client.ObjectKey{Namespace: lab.ns, Name: "kafka-broker-3"}, u)
	if err == nil && u.GetDeletionTimestamp() == nil {
		t.Error("kafka-broker-3 was not deleted")
	}
}

// Without brokers that answer nobody can tell whether a restart keeps every partition in sync, so
// an existing broker is never rolled: the apply stops at the first broker, changing none.
func TestKubeNoBrokerRestartWhileTheBrokersDoNotAnswer(t *testing.T) {
	lab := deployed(t)
	lab.brokers.Close()
	lab.editSpec(`image: "apache/kafka:3.8.1"`, `image: "apache/kafka:3.9.0"`)
	_, errOut := lab.mustCLI(exitError, "apply", "--auto-approve")
	if !strings.Contains(errOut, "broker 1 (StatefulSet "+lab.ns+"/kafka-broker-1) is not restarted: the brokers do not answer") {
		t.Errorf("apply without brokers:\n%s", errOut)
	}
	for _, n := range []string{"kafka-broker-1", "kafka-broker-2", "kafka-broker-3"} {
		if got := image(lab.statefulSet(n)); got != "apache/kafka:3.8.1" {
			t.Errorf("%s was rolled to %s without brokers to ask", n, got)
		}
	}
}

// TestKubeApplyUnderAnotherAppliesLockChangesNoObject: the objects phase runs under the apply lock,
// so an apply (CI) while another (watch) holds it rolls no broker; it used to roll every
// StatefulSet and fail only at the topics (two applies could roll two brokers at once).
func TestKubeApplyUnderAnotherAppliesLockChangesNoObject(t *testing.T) {
	lab := deployed(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
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
	lab.editSpec(`image: "apache/kafka:3.8.1"`, `image: "apache/kafka:3.9.0"`)
	_, errOut := lab.mustCLI(exitError, "apply", "--auto-approve", "--lock-timeout", "0s")
	if !strings.Contains(errOut, "another apply holds the lock on this cluster: watch@lab pid 4242") {
		t.Errorf("apply under another apply's lock:\n%s", errOut)
	}
	for _, n := range []string{"kafka-broker-1", "kafka-broker-2", "kafka-broker-3"} {
		if got := image(lab.statefulSet(n)); got != "apache/kafka:3.8.1" {
			t.Errorf("%s was rolled to %s while another apply held the lock", n, got)
		}
	}
	if _, started := lab.kubelet.result(); len(started) > 0 {
		t.Errorf("brokers restarted while another apply held the lock: %v", started)
	}
	if err := other.Release(ctx); err != nil {
		t.Fatal(err)
	}
	lab.mustCLI(exitOK, "apply", "--auto-approve")
	if got := image(lab.statefulSet("kafka-broker-2")); got != "apache/kafka:3.9.0" {
		t.Errorf("after the lock was released, kafka-broker-2 runs %s", got)
	}
}

// Issue 21: `apply --no-wait` restarted all three brokers in the same second. It restarts one, and
// says the others wait until it is Ready; the next apply goes on from there.
func TestKubeNoWaitRestartsOneBrokerPerApply(t *testing.T) {
	lab := deployed(t)
	lab.editSpec(`image: "apache/kafka:3.8.1"`, `image: "apache/kafka:3.9.0"`)
	_, errOut := lab.mustCLI(exitError, "apply", "--auto-approve", "--no-wait")
	if !strings.Contains(errOut, "broker 2 (StatefulSet "+lab.ns+"/kafka-broker-2) is not restarted: broker 1") || !strings.Contains(errOut, "--no-wait does not wait for broker 1") {
		t.Errorf("apply --no-wait:\n%s", errOut)
	}
	for name, want := range map[string]string{"kafka-broker-1": "apache/kafka:3.9.0", "kafka-broker-2": "apache/kafka:3.8.1", "kafka-broker-3": "apache/kafka:3.8.1"} {
		if got := image(lab.statefulSet(name)); got != want {
			t.Errorf("%s runs %s after one apply --no-wait, want %s", name, got, want)
		}
	}
	if maxRolling, started := lab.kubelet.result(); maxRolling > 1 || len(started) > 1 {
		t.Errorf("apply --no-wait rolled %v (%d at once), want one broker", started, maxRolling)
	}
}
