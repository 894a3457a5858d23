package release

import (
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/internal/tooltest"
)

func gitOut(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// TestMakeRelease is `make release` as a user runs it (issue 25): static binaries for
// linux/amd64, linux/arm64 and darwin/arm64 whose `version -o json` shows the commit and its date
// (linux/arm64 under qemu-user; darwin/arm64 checked by its Mach-O header and build information),
// SHA256SUMS that `sha256sum -c` verifies, and an SBOM per binary listing the modules compiled in.
func TestMakeRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds avatar-sync for three platforms")
	}
	tooltest.Require(t, "make", "apt-get install make")
	tooltest.Require(t, "git", "apt-get install git")
	sha256sum := tooltest.Require(t, "sha256sum", "apt-get install coreutils")
	// The commit the binaries are built from (read first: a commit made meanwhile is not theirs).
	commit := gitOut(t, "rev-parse", "HEAD")
	epoch := gitOut(t, "log", "-1", "--format=%ct")
	var secs int64
	if err := json.Unmarshal([]byte(epoch), &secs); err != nil {
		t.Fatal(err)
	}
	date := time.Unix(secs, 0).UTC().Format(time.RFC3339)
	dir := t.TempDir()
	cmd := exec.Command("make", "--no-print-directory", "release", "RELEASE_DIR="+dir)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make release: %v\n%s", err, out)
	}

	check := exec.Command(sha256sum, "-c", "--strict", "SHA256SUMS")
	check.Dir = dir
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c SHA256SUMS: %v\n%s", err, out)
	}
	sums, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}

	for _, platform := range []string{"linux/amd64", "linux/arm64", "darwin/arm64"} {
		t.Run(strings.ReplaceAll(platform, "/", "-"), func(t *testing.T) {
			matches, _ := filepath.Glob(filepath.Join(dir, "avatar-sync-*-"+strings.ReplaceAll(platform, "/", "-")))
			if len(matches) != 1 {
				t.Fatalf("want one binary for %s, got %v", platform, matches)
			}
			bin := matches[0]
			if !strings.Contains(string(sums), "  "+filepath.Base(bin)+"\n") || !strings.Contains(string(sums), "  "+filepath.Base(bin)+".cdx.json\n") {
				t.Errorf("SHA256SUMS does not cover %s and its SBOM:\n%s", filepath.Base(bin), sums)
			}
			checkSBOM(t, bin+".cdx.json")
			bi, err := buildinfo.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			settings := map[string]string{}
			for _, s := range bi.Settings {
				settings[s.Key] = s.Value
			}
			goos, goarch, _ := strings.Cut(platform, "/")
			if settings["GOOS"] != goos || settings["GOARCH"] != goarch || settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
				t.Errorf("build settings %v, want a static -trimpath build for %s", settings, platform)
			}
			// (-trimpath keeps -ldflags out of the build information: the stamp is checked by running it.)

			var run []string
			switch {
			case platform == "darwin/arm64":
				f, err := macho.Open(bin)
				if err != nil {
					t.Fatalf("not a Mach-O binary: %v", err)
				}
				defer f.Close()
				if f.Cpu != macho.CpuArm64 || f.Type != macho.TypeExec {
					t.Errorf("Mach-O cpu %v type %v, want an arm64 executable", f.Cpu, f.Type)
				}
				return // no way to run it here
			case goarch == runtime.GOARCH && runtime.GOOS == "linux":
				run = []string{bin}
			case goarch == "arm64":
				f, err := elf.Open(bin)
				if err != nil {
					t.Fatalf("not an ELF binary: %v", err)
				}
				f.Close()
				if f.Machine != elf.EM_AARCH64 || f.Type != elf.ET_EXEC {
					t.Errorf("ELF machine %v type %v, want an aarch64 executable", f.Machine, f.Type)
				}
				qemu, err := exec.LookPath("qemu-aarch64-static")
				if err != nil {
					qemu = tooltest.Require(t, "qemu-aarch64-static", "apt-get install qemu-user-static")
				}
				run = []string{qemu, bin}
			default:
				t.Skipf("cannot run %s on %s/%s", platform, runtime.GOOS, runtime.GOARCH)
			}
			out, err := exec.Command(run[0], append(run[1:], "version", "-o", "json")...).Output()
			if err != nil {
				t.Fatalf("%s version: %v", platform, err)
			}
			var info map[string]string
			if err := json.Unmarshal(out, &info); err != nil {
				t.Fatalf("version -o json: %v\n%s", err, out)
			}
			if info["commit"] != commit || info["date"] != date || info["platform"] != platform || info["version"] == "dev" {
				t.Errorf("version -o json of the %s binary: %v, want commit %s, date %s", platform, info, commit, date)
			}
		})
	}
}

func checkSBOM(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc SBOM
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	purls := map[string]Component{}
	for _, c := range doc.Components {
		purls[c.PURL] = c
	}
	if doc.BOMFormat != "CycloneDX" || doc.Metadata.Component.Name != "github.com/avatar-project/avatar-sync" {
		t.Errorf("%s is not the binary's CycloneDX SBOM", path)
	}
	// Compiled in, from go.mod's pins; kfake through the replace directive.
	if c, ok := purls["pkg:golang/github.com/IBM/sarama@v1.61.1"]; !ok || len(c.Hashes) != 1 {
		t.Errorf("%s lacks sarama v1.61.1 with its hash", path)
	}
	found := false
	for _, c := range doc.Components {
		for _, p := range c.Properties {
			found = found || (c.Name == "github.com/twmb/franz-go/pkg/kfake" && p.Name == "go:replaced-by" && p.Value == "./third_party/kfake")
		}
	}
	if !found {
		t.Errorf("%s does not record kfake's replacement by third_party/kfake", path)
	}
}
