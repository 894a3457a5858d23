package render

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/avatar-project/avatar-sync/spec"
)

var update = flag.Bool("update", false, "rewrite golden files")

// goldenCase is one spec whose whole output is pinned in testdata.
type goldenCase struct {
	name string
	spec func(root string) *spec.Spec
}

func goldenCases() []goldenCase {
	return []goldenCase{
		{"avatar", loadExample},
		{"five-brokers", fiveBrokerSpec},
		{"internal-tls", internalTLSSpec},
		{"sasl", saslSpec},
	}
}

// checkGolden compares got with testdata/<name>, or rewrites it under -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run `go test ./render -update` to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got); if the change is intended, run `go test ./render -update`:\n%s", path, diff)
	}
}

// dumpTree concatenates every file below the given roots (sorted), so one golden file pins a tree.
func dumpTree(t *testing.T, fSys filesys.FileSystem, roots ...string) string {
	t.Helper()
	var paths []string
	for _, root := range roots {
		if !fSys.IsDir(root) {
			paths = append(paths, root)
			continue
		}
		err := fSys.Walk(root, func(p string, info os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			if !info.IsDir() {
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(paths)
	var sb strings.Builder
	for _, p := range paths {
		data, err := fSys.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sb.WriteString("=== " + p + "\n")
		sb.Write(data)
	}
	return sb.String()
}

// renderAll renders both targets of a case into an in-memory repository at /repo.
func renderAll(t *testing.T, s *spec.Spec) filesys.FileSystem {
	t.Helper()
	fSys := filesys.MakeFsInMemory()
	if s.TLS.Enabled {
		writeCerts(t, fSys, s)
	}
	if _, err := Kustomize(s, fSys, "/repo/deploy"); err != nil {
		t.Fatalf("render kustomize: %v", err)
	}
	if _, err := Compose(s, fSys, "/repo/deploy"); err != nil {
		t.Fatalf("render compose: %v", err)
	}
	return fSys
}

// TestGolden pins the rendered tree (both targets, plus the kustomization beside the certificates) and
// the built manifests of every overlay.
func TestGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.spec("/repo")
			fSys := renderAll(t, s)
			roots := []string{"/repo/deploy"}
			if s.TLS.Enabled {
				roots = append(roots, "/repo/ssl-certs/kustomization.yaml")
			}
			checkGolden(t, tc.name+"/tree.golden", dumpTree(t, fSys, roots...))
			for _, c := range overlayClusters(s) {
				out, err := Build(fSys, "/repo/deploy", c)
				if err != nil {
					t.Fatalf("build %s: %v", c, err)
				}
				checkGolden(t, tc.name+"/build-"+c+".golden", string(out))
			}
		})
	}
}

// TestExampleFixtureMatchesExampleFile keeps the Go-built fixture (the base of the 5-broker variant)
// honest: it must render exactly like examples/avatar.yaml.
func TestExampleFixtureMatchesExampleFile(t *testing.T) {
	want, err := KustomizeFiles(loadExample("/repo"), "/repo/deploy")
	if err != nil {
		t.Fatal(err)
	}
	got, err := KustomizeFiles(exampleSpec("/repo"), "/repo/deploy")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("exampleSpec drifted from examples/avatar.yaml:\n%s", diff)
	}
}

// TestRenderIsDeterministic guards against map iteration order leaking into the output.
func TestRenderIsDeterministic(t *testing.T) {
	s := fiveBrokerSpec("/repo")
	first, err := KustomizeFiles(s, "/repo/deploy")
	if err != nil {
		t.Fatal(err)
	}
	firstCompose, err := ComposeFiles(s, "/repo/deploy")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		again, _ := KustomizeFiles(s, "/repo/deploy")
		againCompose, _ := ComposeFiles(s, "/repo/deploy")
		if !cmp.Equal(first, again) || !cmp.Equal(firstCompose, againCompose) {
			t.Fatalf("render %d differs from the first:\n%s%s", i, cmp.Diff(first, again), cmp.Diff(firstCompose, againCompose))
		}
	}
}

// BenchmarkRenderAndBuild measures a full render of the 5-broker spec into memory plus the in-process
// kustomize build of one overlay (what `render --build` does).
func BenchmarkRenderAndBuild(b *testing.B) {
	s := fiveBrokerSpec("/repo")
	for b.Loop() {
		fSys := filesys.MakeFsInMemory()
		writeCerts(b, fSys, s)
		if _, err := Kustomize(s, fSys, "/repo/deploy"); err != nil {
			b.Fatal(err)
		}
		if _, err := Build(fSys, "/repo/deploy", "lab"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKustomizeFiles measures render's own work: computing the tree, without kustomize.
func BenchmarkKustomizeFiles(b *testing.B) {
	s := fiveBrokerSpec("/repo")
	for b.Loop() {
		if _, err := KustomizeFiles(s, "/repo/deploy"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBuildPrintsTheNamespaceFirst: `render --build | kubectl apply -f -` creates objects in stream
// order, so on a fresh cluster the Namespace must come before everything in it (issue 11), and the
// workloads after what they mount.
func TestBuildPrintsTheNamespaceFirst(t *testing.T) {
	s := exampleSpec("/repo")
	fSys := filesys.MakeFsInMemory()
	writeCerts(t, fSys, s)
	if _, err := Kustomize(s, fSys, "/repo/deploy"); err != nil {
		t.Fatal(err)
	}
	out, err := Build(fSys, "/repo/deploy", "microk8s")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, line := range strings.Split(string(out), "\n") {
		if k, ok := strings.CutPrefix(line, "kind: "); ok {
			kinds = append(kinds, k)
		}
	}
	last := func(kind string) int { return len(kinds) - 1 - slices.Index(reverse(kinds), kind) }
	if len(kinds) == 0 || kinds[0] != "Namespace" {
		t.Fatalf("kinds in build order %v: the Namespace must be first", kinds)
	}
	if first := slices.Index(kinds, "StatefulSet"); first < last("Secret") || first < last("ConfigMap") || first < last("Service") {
		t.Errorf("kinds in build order %v: StatefulSets must follow the Secrets, ConfigMaps and Services", kinds)
	}
}

func reverse(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}
