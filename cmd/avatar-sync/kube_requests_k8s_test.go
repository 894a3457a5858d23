//go:build kubeapiserver

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/avatar-project/avatar-sync/internal/kubetest"
	"github.com/avatar-project/avatar-sync/internal/tooltest"
	"github.com/avatar-project/avatar-sync/kube"
	"github.com/avatar-project/avatar-sync/session"
	"github.com/avatar-project/avatar-sync/spec"
)

// Issue 23: the Kubernetes plane's API requests against kubectl's on the same rendered objects,
// counted from the API server's audit log (internal/kubetest, Options.Audit). Each side is one
// process run as a user runs it: `avatar-sync plan` against `kubectl diff --server-side`, and
// `avatar-sync apply` of one image change (three broker StatefulSets, rolled one at a time and
// waited for) against `kubectl apply --server-side` of one image change, which neither rolls nor
// waits. Only each client's own requests count (by user agent: avatar-sync's kube.UserAgent,
// kubectl's "kubectl/"); the test kubelet's, the fixture's setup and health probes do not.
// kubectl runs with a warm discovery cache (a first, uncounted run fills it), as on a workstation.

// kubeRequestCounts are the requests of each measured command.
type kubeRequestCounts struct {
	objects                   int
	plan, diff, diffCold      []kubetest.Request
	apply, kubectlApply       []kubetest.Request
	planDuration, applyPeriod time.Duration
}

// measureKubeRequests deploys a three-broker lab on an API server of its own and counts.
func measureKubeRequests(t testing.TB) kubeRequestCounts {
	tooltest.Require(t, "kubectl", "apt-get install kubectl")
	srv := kubetest.Start(t, kubetest.Options{Audit: true})
	lab := newKubeLabOn(t, srv)
	lab.startBrokers()
	lab.mustCLI(exitOK, "apply", "--auto-approve")
	waitAllReady(t, lab)
	var m kubeRequestCounts
	cache := t.TempDir()

	manifests := func(name string) (string, int) {
		sp := mustLoadTB(t, lab.specPath)
		want, err := session.KubeDesired(sp, "lab", os.Getenv)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		for _, o := range want.Objects {
			b, err := yaml.Marshal(o.Object)
			if err != nil {
				t.Fatal(err)
			}
			buf.WriteString("---\n")
			buf.Write(b)
		}
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return path, len(want.Objects)
	}
	kubectl := func(args ...string) {
		cmd := exec.Command("kubectl", append([]string{"--kubeconfig", srv.Kubeconfig, "--context", kubetest.ContextName, "--cache-dir", cache}, args...)...)
		out, err := cmd.CombinedOutput()
		// kubectl diff exits 1 when it finds differences (the render lacks the owner labels
		// avatar-sync adds): a count, not a failure.
		if ee, ok := err.(*exec.ExitError); err != nil && !(ok && ee.ExitCode() == 1 && args[0] == "diff") {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	count := func(agent string, f func()) []kubetest.Request {
		mark := srv.AuditMark(t)
		f()
		return srv.Requests(t, mark, agent)
	}

	// A no-op plan, then kubectl diff of the same objects (cold, then warm discovery cache).
	start := time.Now()
	m.plan = count(kube.UserAgent, func() { lab.mustCLI(exitOK, "plan") })
	m.planDuration = time.Since(start)
	file, n := manifests("in-sync.yaml")
	m.objects = n
	diff := []string{"diff", "--server-side", "--field-manager", kube.FieldManager, "--force-conflicts", "-f", file}
	m.diffCold = count("kubectl/", func() { kubectl(diff...) })
	m.diff = count("kubectl/", func() { kubectl(diff...) })

	// One image change: avatar-sync applies it (the brokers roll one at a time, each waited for).
	lab.editSpec(`image: "apache/kafka:3.8.1"`, `image: "apache/kafka:3.9.0"`)
	start = time.Now()
	m.apply = count(kube.UserAgent, func() { lab.mustCLI(exitOK, "apply", "--auto-approve") })
	m.applyPeriod = time.Since(start)
	waitAllReady(t, lab)
	// The next image change, by kubectl, on the same objects.
	lab.editSpec(`image: "apache/kafka:3.9.0"`, `image: "apache/kafka:3.9.1"`)
	file, _ = manifests("image-change.yaml")
	m.kubectlApply = count("kubectl/", func() {
		kubectl("apply", "--server-side", "--field-manager", kube.FieldManager, "--force-conflicts", "-f", file)
	})
	return m
}

// waitAllReady waits (bounded) until the test kubelet has rolled out every broker.
func waitAllReady(t testing.TB, lab *kubeLab) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !lab.allReady() {
		if time.Now().After(deadline) {
			t.Fatal("the brokers' StatefulSets are not ready after a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mustLoadTB(t testing.TB, path string) *spec.Spec {
	t.Helper()
	sp, diags := spec.LoadFile(path)
	if err := diags.Err(); err != nil {
		t.Fatal(err)
	}
	return sp
}

func (m kubeRequestCounts) log(t testing.TB) {
	t.Helper()
	t.Logf("%d rendered objects", m.objects)
	t.Logf("no-op plan: avatar-sync %d requests (%s), kubectl diff --server-side %d (cold discovery cache: %d)", len(m.plan), m.planDuration.Round(time.Millisecond), len(m.diff), len(m.diffCold))
	t.Logf("apply, one image change: avatar-sync %d requests (%s, three brokers rolled and waited for), kubectl apply --server-side %d", len(m.apply), m.applyPeriod.Round(time.Millisecond), len(m.kubectlApply))
	for name, rs := range map[string][]kubetest.Request{"avatar-sync plan": m.plan, "avatar-sync apply": m.apply, "kubectl diff": m.diff, "kubectl apply": m.kubectlApply} {
		var lines []string
		for _, r := range rs {
			lines = append(lines, r.String())
		}
		t.Logf("%s:\n  %s", name, strings.Join(lines, "\n  "))
	}
}

// TestKubeRequestsWithinKubectlBounds holds issue 23's goals: a no-op plan makes no more API
// requests than `kubectl diff --server-side` on the same objects, an apply of one image change at
// most twice `kubectl apply --server-side`'s. Counts, not times.
func TestKubeRequestsWithinKubectlBounds(t *testing.T) {
	m := measureKubeRequests(t)
	m.log(t)
	if len(m.plan) > len(m.diff) {
		t.Errorf("a no-op plan made %d API requests, kubectl diff --server-side %d: want no more", len(m.plan), len(m.diff))
	}
	if len(m.apply) > 2*len(m.kubectlApply) {
		t.Errorf("an apply of one image change made %d API requests, kubectl apply --server-side %d: want at most twice", len(m.apply), len(m.kubectlApply))
	}
}

// BenchmarkKubeRequests prints the figures of docs/benchmarks.md's "Kubernetes plane: API requests"
// (make bench-k8s). Run: go test -tags kubeapiserver -run '^$' -bench KubeRequests -benchtime 1x ./cmd/avatar-sync
func BenchmarkKubeRequests(b *testing.B) {
	m := measureKubeRequests(b)
	m.log(b)
	for b.Loop() { // the measurement is one run of each command; the loop only satisfies the framework
	}
	b.ReportMetric(float64(len(m.plan)), "plan-requests")
	b.ReportMetric(float64(len(m.diff)), "kubectl-diff-requests")
	b.ReportMetric(float64(len(m.apply)), "apply-requests")
	b.ReportMetric(float64(len(m.kubectlApply)), "kubectl-apply-requests")
}
