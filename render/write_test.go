package render

import (
	"bytes"
	"context"
	"errors"
	"github.com/avatar-project/avatar-sync/internal/tooltest"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// TestKubectlBuildsTheSameObjects renders onto disk and compares `kubectl kustomize` (a kustomize no
// one here wrote) with the in-process build, object by object.
func TestKubectlBuildsTheSameObjects(t *testing.T) {
	kubectl := tooltest.Require(t, "kubectl", "the Kubernetes apt repository")
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			s := tc.spec(root)
			fSys := filesys.MakeFsOnDisk()
			writeCerts(t, fSys, s)
			dir := filepath.Join(root, "deploy")
			if _, err := Kustomize(s, fSys, dir); err != nil {
				t.Fatal(err)
			}
			for _, c := range overlayClusters(s) {
				ours, err := Build(fSys, dir, c)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				var stderr bytes.Buffer
				cmd := exec.CommandContext(ctx, kubectl, "kustomize", filepath.Join(dir, "overlays", c))
				cmd.Stderr = &stderr
				theirs, err := cmd.Output()
				cancel()
				if err != nil {
					t.Fatalf("kubectl kustomize %s: %v\n%s", c, err, stderr.String())
				}
				if diff := cmp.Diff(parseObjects(t, theirs), parseObjects(t, ours)); diff != "" {
					t.Errorf("overlay %s: kubectl (-) and the in-process build (+) disagree:\n%s", c, diff)
				}
			}
		})
	}
}

// parseObjects decodes a manifest stream into generic objects, sorted by kind/namespace/name, so
// formatting and order do not matter but every field does.
func parseObjects(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []map[string]any
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if obj != nil {
			out = append(out, obj)
		}
	}
	key := func(o map[string]any) string {
		md, _ := o["metadata"].(map[string]any)
		ns, _ := md["namespace"].(string)
		name, _ := md["name"].(string)
		return o["kind"].(string) + "/" + ns + "/" + name
	}
	sort.Slice(out, func(i, j int) bool { return key(out[i]) < key(out[j]) })
	if len(out) == 0 {
		t.Fatal("no objects")
	}
	return out
}

func TestRerenderUnchangedSpecChangesNothing(t *testing.T) {
	s := fiveBrokerSpec("/repo")
	fSys := renderAll(t, s)
	before := dumpTree(t, fSys, "/repo")
	for _, render := range []func() (Result, error){
		func() (Result, error) { return Kustomize(s, fSys, "/repo/deploy") },
		func() (Result, error) { return Compose(s, fSys, "/repo/deploy") },
	} {
		res, err := render()
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Written) > 0 || len(res.Removed) > 0 || len(res.Unchanged) == 0 {
			t.Errorf("%s re-render: written %v, removed %v, unchanged %d files; want only unchanged", res.Target, res.Written, res.Removed, len(res.Unchanged))
		}
	}
	if diff := cmp.Diff(before, dumpTree(t, fSys, "/repo")); diff != "" {
		t.Errorf("re-render changed the tree:\n%s", diff)
	}
}

func TestStaleFilesAreRemoved(t *testing.T) {
	s := fiveBrokerSpec("/repo")
	fSys := renderAll(t, s)
	// Someone's own file beside the generated ones is not render's to delete.
	if err := fSys.WriteFile("/repo/deploy/README.md", []byte("ours\n")); err != nil {
		t.Fatal(err)
	}
	small := exampleSpec("/repo") // 3 brokers, no "lab" target
	res, err := Kustomize(small, fSys, "/repo/deploy")
	if err != nil {
		t.Fatal(err)
	}
	wantRemoved := []string{
		"base/config/kafka-broker-4.properties", "base/config/kafka-broker-5.properties",
		"base/kafka-broker-4.yaml", "base/kafka-broker-5.yaml",
		"overlays/lab/grafana-dashboard.yaml", "overlays/lab/kafka-statefulsets.patch.yaml", "overlays/lab/kustomization.yaml", "overlays/lab/namespace.yaml",
		"overlays/lab/watch.yaml",
	}
	if diff := cmp.Diff(wantRemoved, res.Removed); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	for _, p := range []string{"/repo/deploy/overlays/lab", "/repo/deploy/base/kafka-broker-4.yaml"} {
		if fSys.Exists(p) {
			t.Errorf("%s still exists", p)
		}
	}
	for _, p := range []string{"/repo/deploy/README.md", "/repo/deploy/docker-compose.yml", "/repo/deploy/compose/kafka-broker-5.properties"} {
		if !fSys.Exists(p) {
			t.Errorf("%s was removed, but it is not the kustomize target's to remove", p)
		}
	}
	// The tree now equals a fresh render of the smaller spec.
	fresh := filesys.MakeFsInMemory()
	writeCerts(t, fresh, small)
	if _, err := Kustomize(small, fresh, "/repo/deploy"); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{"/repo/deploy/base", "/repo/deploy/overlays"} {
		if diff := cmp.Diff(dumpTree(t, fresh, root), dumpTree(t, fSys, root)); diff != "" {
			t.Errorf("%s differs from a fresh render:\n%s", root, diff)
		}
	}

	// Turning TLS off leaves the kustomization beside the certificates (render never removes a file
	// outside its directory, issue 10) and never touches the certificates.
	small.TLS.Enabled = false
	res, err = Kustomize(small, fSys, "/repo/deploy")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(res.Removed, "../ssl-certs/kustomization.yaml") || !fSys.Exists("/repo/ssl-certs/kustomization.yaml") {
		t.Errorf("TLS off: want ../ssl-certs/kustomization.yaml left in place, got removed %v", res.Removed)
	}
	if !fSys.Exists("/repo/ssl-certs/kafka-broker-1.keystore.jks") || !fSys.Exists("/repo/ssl-certs/ca.crt") {
		t.Error("TLS off removed a keystore")
	}
	// The compose target's files were left alone throughout.
	if _, err := Compose(small, fSys, "/repo/deploy"); err != nil {
		t.Fatal(err)
	}
	if fSys.Exists("/repo/deploy/compose/kafka-broker-5.properties") {
		t.Error("compose re-render kept broker 5's properties")
	}
}

func TestRefusesDirectoriesItDoesNotOwn(t *testing.T) {
	s := exampleSpec("/repo")
	cases := map[string]struct {
		prepare func(t *testing.T, fSys filesys.FileSystem)
		wantErr string
		owned   bool // errors.Is(err, ErrNotOwned)
	}{
		"non-empty dir without marker": {func(t *testing.T, fSys filesys.FileSystem) {
			mustWrite(t, fSys, "/repo/deploy/kustomization.yaml", "resources: [mine.yaml]\n")
		}, "holds files but no .avatar-sync-render marker", true},
		"foreign kustomization beside the certificates": {func(t *testing.T, fSys filesys.FileSystem) {
			mustWrite(t, fSys, "/repo/ssl-certs/kustomization.yaml", "secretGenerator: []\n")
		}, "/repo/ssl-certs/kustomization.yaml exists and was not generated by avatar-sync", true},
		"dir is a file": {func(t *testing.T, fSys filesys.FileSystem) {
			mustWrite(t, fSys, "/repo/deploy", "x")
		}, "is a file", false},
		"unreadable marker": {func(t *testing.T, fSys filesys.FileSystem) {
			mustWrite(t, fSys, "/repo/deploy/"+Marker, "kustomize\n")
		}, ".avatar-sync-render:1: cannot read", false},
		"marker naming a path outside": {func(t *testing.T, fSys filesys.FileSystem) {
			mustWrite(t, fSys, "/repo/deploy/"+Marker, "kustomize /etc/passwd\n")
		}, "cannot read", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			fSys := filesys.MakeFsInMemory()
			writeCerts(t, fSys, s)
			tc.prepare(t, fSys)
			before := dumpTree(t, fSys, "/repo")
			_, err := Kustomize(s, fSys, "/repo/deploy")
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("want error containing %q, got %v", tc.wantErr, err)
			}
			if tc.owned != errors.Is(err, ErrNotOwned) {
				t.Errorf("errors.Is(err, ErrNotOwned) = %v, want %v", !tc.owned, tc.owned)
			}
			if diff := cmp.Diff(before, dumpTree(t, fSys, "/repo")); diff != "" {
				t.Errorf("a refused render changed files:\n%s", diff)
			}
		})
	}
	t.Run("empty existing dir is taken", func(t *testing.T) {
		fSys := filesys.MakeFsInMemory()
		if err := fSys.MkdirAll("/repo/deploy"); err != nil {
			t.Fatal(err)
		}
		if _, err := Kustomize(s, fSys, "/repo/deploy"); err != nil {
			t.Fatal(err)
		}
		data, _ := fSys.ReadFile("/repo/deploy/" + Marker)
		if !strings.Contains(string(data), "kustomize base/kustomization.yaml\n") {
			t.Errorf("marker does not list the tree:\n%s", data)
		}
	})
}

func mustWrite(t *testing.T, fSys filesys.FileSystem, p, content string) {
	t.Helper()
	if err := fSys.MkdirAll(filepath.Dir(p)); err != nil {
		t.Fatal(err)
	}
	if err := fSys.WriteFile(p, []byte(content)); err != nil {
		t.Fatal(err)
	}
}

func TestBuildSpecMatchesRenderedTree(t *testing.T) {
	root := t.TempDir()
	s := exampleSpec(root)
	disk := filesys.MakeFsOnDisk()
	writeCerts(t, disk, s)
	dir := filepath.Join(root, "deploy")
	got, err := BuildSpec(s, dir, "microk8s", disk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("BuildSpec wrote %s", dir)
	}
	if _, err := Kustomize(s, disk, dir); err != nil {
		t.Fatal(err)
	}
	want, err := Build(disk, dir, "microk8s")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("BuildSpec differs from Build of the rendered tree:\n%s", diff)
	}

	for name, tc := range map[string]struct {
		cluster, want string
		noCerts       bool
	}{
		"target without kubernetes": {cluster: "dev", want: `--cluster "dev" has no kubernetes: block; targets with one: microk8s`},
		"unknown target":            {cluster: "prod", want: `--cluster "prod" is not a target in clusters:; targets with a kubernetes: block: microk8s`},
		"certificates missing":      {cluster: "microk8s", noCerts: true, want: "lacks ca.crt, kafka-broker-1.keystore.p12"},
	} {
		t.Run(name, func(t *testing.T) {
			certs := filesys.FileSystem(disk)
			if tc.noCerts {
				certs = filesys.MakeFsInMemory()
			}
			_, err := BuildSpec(s, dir, tc.cluster, certs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestPlanWritesNothing(t *testing.T) {
	s := exampleSpec("/repo")
	fSys := renderAll(t, s)
	before := dumpTree(t, fSys, "/repo")
	files, err := KustomizeFiles(s, "/repo/deploy")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Plan(fSys, "/repo/deploy", TargetKustomize, files)
	if err != nil || res.Changed() {
		t.Fatalf("unchanged spec: plan %+v, %v", res, err)
	}
	s.Brokers[0].Rack = "bench-7"
	s.Clusters = s.Clusters[:2] // drop microk8s
	files, err = KustomizeFiles(s, "/repo/deploy")
	if err != nil {
		t.Fatal(err)
	}
	res, err = Plan(fSys, "/repo/deploy", TargetKustomize, files)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"base/config/kafka-broker-1.properties"}, res.Written); diff != "" {
		t.Errorf("written (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"overlays/microk8s/kustomization.yaml", "overlays/microk8s/namespace.yaml"}, res.Removed); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, dumpTree(t, fSys, "/repo")); diff != "" {
		t.Errorf("Plan changed files:\n%s", diff)
	}
}
