package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRenderNeverLeavesItsDirectory plays the pull request that plants a marker line or a symbolic
// link in the render directory (issue 10, item 4): render and render --check refuse, naming the
// path, and the file outside is untouched.
func TestRenderNeverLeavesItsDirectory(t *testing.T) {
	cases := map[string]struct {
		plant   func(t *testing.T, root, dir, victim string)
		wantErr string // "%s" is replaced by root
	}{
		"marker line leaving the directory": {func(t *testing.T, root, dir, victim string) {
			appendFile(t, filepath.Join(dir, Marker), "kustomize ../victim/old.yaml\n")
		}, "lists \"../victim/old.yaml\", which is outside"},
		"marker line naming a directory": {func(t *testing.T, root, dir, victim string) {
			appendFile(t, filepath.Join(dir, Marker), "kustomize overlays\n")
		}, "lists %s/deploy/overlays, which is a directory"},
		"symlinked subdirectory": {func(t *testing.T, root, dir, victim string) {
			// base/ replaced by a link to a directory holding a file render used to generate.
			must(t, os.RemoveAll(filepath.Join(dir, "base")))
			must(t, os.Symlink(victim, filepath.Join(dir, "base")))
			appendFile(t, filepath.Join(dir, Marker), "kustomize base/old.yaml\n")
		}, "%s/deploy/base is a symbolic link"},
		"generated file replaced by a link": {func(t *testing.T, root, dir, victim string) {
			f := filepath.Join(dir, "base", "kustomization.yaml")
			must(t, os.Remove(f))
			must(t, os.Symlink(filepath.Join(victim, "old.yaml"), f))
		}, "%s/deploy/base/kustomization.yaml is a symbolic link"},
		"marker replaced by a link": {func(t *testing.T, root, dir, victim string) {
			must(t, os.Remove(filepath.Join(dir, Marker)))
			must(t, os.WriteFile(filepath.Join(victim, "marker"), []byte("kustomize base/kustomization.yaml\n"), 0o644))
			must(t, os.Symlink(filepath.Join(victim, "marker"), filepath.Join(dir, Marker)))
		}, "%s/deploy/.avatar-sync-render is a symbolic link"},
	}
	for name, tc := range cases {
		for _, check := range []bool{false, true} {
			t.Run(name+map[bool]string{true: " (--check)"}[check], func(t *testing.T) {
				root := t.TempDir()
				s := exampleSpec(root)
				disk := OnDisk()
				writeCerts(t, disk, s)
				dir := filepath.Join(root, "deploy")
				if _, err := Kustomize(s, disk, dir); err != nil {
					t.Fatal(err)
				}
				victim := filepath.Join(root, "victim")
				must(t, os.MkdirAll(victim, 0o755))
				must(t, os.WriteFile(filepath.Join(victim, "old.yaml"), []byte("precious\n"), 0o644))
				tc.plant(t, root, dir, victim)

				s.Brokers[0].Rack = "bench-7" // something to write
				files, err := KustomizeFiles(s, dir)
				if err != nil {
					t.Fatal(err)
				}
				if check {
					_, err = Plan(disk, dir, TargetKustomize, files)
				} else {
					_, err = Write(disk, dir, TargetKustomize, files)
				}
				want := strings.ReplaceAll(tc.wantErr, "%s", root)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("want error containing %q, got %v", want, err)
				}
				data, err := os.ReadFile(filepath.Join(victim, "old.yaml"))
				if err != nil || string(data) != "precious\n" {
					t.Errorf("the file outside the render directory was changed: %q, %v", data, err)
				}
				if _, err := os.Stat(filepath.Join(dir, "overlays", "microk8s", "kustomization.yaml")); err != nil {
					t.Errorf("a refused render removed files: %v", err)
				}
			})
		}
	}
}

func appendFile(t *testing.T, name, text string) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteString(text)
	must(t, err)
	must(t, f.Close())
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
