//go:build kubeapiserver

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/health"
)

// TestKubeStatusShowsStatefulSetsAndDrift is issue 24's Kubernetes item against the real
// kube-apiserver: after `kubectl set image` changed a broker's image behind avatar-sync's back,
// `status` (text and -o json) shows every StatefulSet with ready/desired and image, and the
// drifting field with live and wanted values, reported (status never heals); the watch page in
// --mode report shows the same in its Kubernetes section and tile, and /metrics the StatefulSets.
func TestKubeStatusShowsStatefulSetsAndDrift(t *testing.T) {
	lab := deployed(t)
	lab.kubectl("set", "image", "statefulset/kafka-broker-2", "kafka=apache/kafka:3.7.0")

	out, _ := lab.mustCLI(exitOK, "status", "--no-color")
	for _, want := range []string{
		"KUBERNETES (namespace " + lab.ns + ")",
		"kafka-broker-1", "kafka-broker-3",
		"Drifting from the plan (reported, not healed):",
		"spec.template.spec.containers[0].image  apache/kafka:3.7.0 → apache/kafka:3.8.1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if !containsFields(out, "StatefulSet", "kafka-broker-2", "spec.template.spec.containers[0].image", "apache/kafka:3.7.0", "→", "apache/kafka:3.8.1", "update") {
		t.Errorf("status does not name the drifting field:\n%s", out)
	}

	out, _ = lab.mustCLI(exitOK, "status", "-o", "json")
	var r health.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	k := r.Kubernetes
	if k == nil || k.Namespace != lab.ns || len(k.StatefulSets) != 3 || k.Mode != "report" {
		t.Fatalf("kubernetes part: %+v", k)
	}
	for _, s := range k.StatefulSets {
		want := "apache/kafka:3.8.1"
		if s.Name == "kafka-broker-2" {
			want = "apache/kafka:3.7.0"
		}
		if s.Desired != 1 || len(s.Images) != 1 || s.Images[0] != want {
			t.Errorf("StatefulSet %+v, want image %s", s, want)
		}
	}
	found := false
	for _, d := range k.Drift {
		found = found || (d.Kind == "StatefulSet" && d.Name == "kafka-broker-2" && d.Field == "spec.template.spec.containers[0].image" && d.Live == "apache/kafka:3.7.0" && d.Wanted == "apache/kafka:3.8.1")
	}
	if !found {
		t.Errorf("drift %+v lacks kafka-broker-2's image", k.Drift)
	}

	_, stop, base := runWatch(t, "-f", lab.specPath, "--cluster", "lab", "--mode", "report", "--interval", "1s", "--state-dir", t.TempDir(), "--metrics-addr", "127.0.0.1:0")
	defer stop()
	var page string
	waitFor(t, func() bool {
		resp, err := http.Get(base + "/")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		page = string(b)
		return strings.Contains(page, `<table id="statefulsets">`)
	})
	for _, want := range []string{
		`<li class="tile warning" id="tile-kubernetes"><h3>Kubernetes <span>warning</span></h3><p class="why">1 field(s) drifting (StatefulSet/kafka-broker-2 spec.template.spec.containers[0].image), reported, not healed</p></li>`,
		`<td>kafka-broker-2</td>`,
		`<code>apache/kafka:3.7.0</code>`,
		`reported, not healed: --mode report`,
		`<td>StatefulSet</td><td>kafka-broker-2</td><td><code>spec.template.spec.containers[0].image</code></td><td>apache/kafka:3.7.0 → apache/kafka:3.8.1</td><td>update</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the watch page lacks %q:\n%s", want, page)
		}
	}
	if m := scrape(t, base); !strings.Contains(m, `avatar_sync_statefulset_desired_replicas{statefulset="kafka-broker-2"} 1`) ||
		!strings.Contains(m, "avatar_sync_kubernetes_drifting_fields 1") {
		t.Errorf("/metrics lacks the Kubernetes plane:\n%s", m)
	}
}
