package release

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"testing"

	"github.com/avatar-project/avatar-sync/internal/tooltest"
)

// TestChecksumsVerifyWithSha256sum: SHA256SUMS is in sha256sum's format, so `sha256sum -c` in the
// release directory verifies it, and a changed file fails it.
func TestChecksumsVerifyWithSha256sum(t *testing.T) {
	tooltest.Require(t, "sha256sum", "apt-get install coreutils")
	dir := t.TempDir()
	var files []string
	for name, content := range map[string]string{"avatar-sync-v1-linux-arm64": "arm", "avatar-sync-v1-darwin-arm64": "mac"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	sums, err := Checksums(files)
	if err != nil {
		t.Fatal(err)
	}
	want := "348a629f5ceed032c3e8706ec47d9bfafb00fb4250b018dd965435ca50cb836e  avatar-sync-v1-darwin-arm64\n" +
		"ddf7ff5ebd9d66ce161466c1c0262430fa04de32b0e420ee3f489e2e2112e386  avatar-sync-v1-linux-arm64\n"
	if sums != want {
		t.Errorf("SHA256SUMS:\n%s\nwant (sorted by name, sha256sum's format):\n%s", sums, want)
	}
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(sums), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func() error {
		cmd := exec.Command("sha256sum", "-c", "--strict", "SHA256SUMS")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return &exec.ExitError{Stderr: out}
		}
		return nil
	}
	if err := check(); err != nil {
		t.Fatalf("sha256sum -c fails: %s", err.(*exec.ExitError).Stderr)
	}
	if err := os.WriteFile(files[0], []byte("tampered"), 0o755); err != nil {
		t.Fatal(err)
	}
	if check() == nil {
		t.Fatal("sha256sum -c accepts a changed file")
	}
}

// TestSBOMFromBuildInfo reads this test binary's own build information: a CycloneDX document
// whose main component is the module, with the build settings as properties.
func TestSBOMFromBuildInfo(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ReadSBOM(exe, "v1.2.3", "2026-12-01T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	data, err := doc.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back["bomFormat"] != "CycloneDX" || back["specVersion"] != "1.5" {
		t.Errorf("not a CycloneDX 1.5 document: %s", data)
	}
	main := doc.Metadata.Component
	if main.Name != "github.com/avatar-project/avatar-sync" || main.PURL != "pkg:golang/github.com/avatar-project/avatar-sync@v1.2.3" {
		t.Errorf("main component %+v", main)
	}
	props := map[string]string{}
	for _, p := range main.Properties {
		props[p.Name] = p.Value
	}
	if props["go:build:GOOS"] == "" || props["go:toolchain"] == "" {
		t.Errorf("build settings missing from the main component's properties: %v", props)
	}
	if _, err := ReadSBOM(filepath.Join(t.TempDir(), "missing"), "", ""); err == nil {
		t.Error("an SBOM of a missing file")
	}
}

func TestComponentHashFromGoSum(t *testing.T) {
	c := component("library", "github.com/IBM/sarama", "v1.61.1", "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
	if c.PURL != "pkg:golang/github.com/IBM/sarama@v1.61.1" || len(c.Hashes) != 1 || c.Hashes[0].Alg != "SHA-256" ||
		c.Hashes[0].Content != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("component %+v", c)
	}
}

// TestSBOMOfReplacedModules: a module replaced by a directory of this repository (kfake, as `go
// version -m` shows it: "=> ./third_party/kfake (devel)") keeps its module path and version and
// names the directory; a module replaced by another module is listed as the replacement.
func TestSBOMOfReplacedModules(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/avatar-project/avatar-sync", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "github.com/twmb/franz-go/pkg/kfake", Version: "v0.0.0-20260918054303-01f206a7e32c",
				Replace: &debug.Module{Path: "./third_party/kfake", Version: "(devel)"}},
			{Path: "example.org/old", Version: "v1.0.0", Replace: &debug.Module{Path: "example.org/fork", Version: "v1.0.1", Sum: "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}},
		}}
	doc := fromBuildInfo(bi, "v1.2.3", "")
	want := map[string]Property{
		"pkg:golang/example.org/fork@v1.0.1":                                               {"go:replaces", "example.org/old@v1.0.0"},
		"pkg:golang/github.com/twmb/franz-go/pkg/kfake@v0.0.0-20260918054303-01f206a7e32c": {"go:replaced-by", "./third_party/kfake"},
	}
	if len(doc.Components) != len(want) {
		t.Fatalf("components %+v", doc.Components)
	}
	for _, c := range doc.Components {
		p, ok := want[c.PURL]
		if !ok || !slices.Contains(c.Properties, p) {
			t.Errorf("component %+v, want %s with %v", c, c.PURL, p)
		}
	}
}
