package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// installExamplePlugin builds the worked example plugin of docs/devices.md and puts it on PATH,
// the way a lab machine installs it.
func installExamplePlugin(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "avatar-sync-plugin-diskspace")
	build := exec.Command("go", "build", "-o", bin, "../../examples/plugins/avatar-sync-plugin-diskspace")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build example plugin: %v\n%s", err, out)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// position returns file:line:col of the first occurrence of needle in the file, 1-based, as the
// spec loader reports positions.
func position(t *testing.T, path, needle string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(raw), needle)
	if i < 0 {
		t.Fatalf("%s does not contain %q", path, needle)
	}
	before := string(raw[:i])
	line := strings.Count(before, "\n") + 1
	col := i - strings.LastIndex(before, "\n")
	return fmt.Sprintf("%s:%d:%d", path, line, col)
}

// TestValidateExternalPluginParams: `avatar-sync validate --plugins` asks an external plugin (the worked
// example, found on PATH) to judge its device's parameters, and reports its verdicts at the
// parameter's file:line:col with exit 1, as it does for built-in kinds (issue 6). plan --plugins
// stops on the same error before it touches any cluster.
func TestValidateExternalPluginParams(t *testing.T) {
	installExamplePlugin(t)
	path := specWithDevices(t, `
  - { name: tello-1, kind: tello, address: "127.0.0.1:8889" }
  - { name: recordings, kind: diskspace, address: /data/eeg, minFre: 20GB }
`)
	want := position(t, path, "minFre:") + `: device "recordings" (plugin avatar-sync-plugin-diskspace): unknown parameter "minFre" for kind diskspace (did you mean "minFree"?); known: minFree`

	code, out, errOut := runCLI(t, "validate", "--plugins", "-f", path)
	if code != exitError {
		t.Fatalf("validate: exit %d, want 1\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if !strings.Contains(errOut, want+"\n") {
		t.Errorf("validate stderr lacks\n%s\ngot:\n%s", want, errOut)
	}

	code, out, _ = runCLI(t, "validate", "--plugins", "-f", path, "-o", "json")
	var rep struct {
		Valid       bool
		Diagnostics []struct {
			Severity, File, Message string
			Line, Col               int
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("validate -o json: %v\n%s", err, out)
	}
	if code != exitError || rep.Valid || len(rep.Diagnostics) != 1 || rep.Diagnostics[0].Severity != "error" ||
		fmt.Sprintf("%s:%d:%d: %s", rep.Diagnostics[0].File, rep.Diagnostics[0].Line, rep.Diagnostics[0].Col, rep.Diagnostics[0].Message) != want {
		t.Errorf("validate -o json: exit %d, %+v; want exit 1 and the one error %q", code, rep, want)
	}

	code, out, errOut = runCLI(t, "plan", "--plugins", "-f", path)
	if code != exitError || !strings.Contains(errOut, want) || out != "" {
		t.Errorf("plan --plugins: exit %d, stdout %q, stderr:\n%s\nwant exit 1 with %q", code, out, errOut, want)
	}
}

// TestValidateExternalPluginWarnings: a plugin's warning is printed with its position but keeps
// the spec valid (exit 0) unless --strict; a correct entry is simply valid.
func TestValidateExternalPluginWarnings(t *testing.T) {
	installExamplePlugin(t)
	path := specWithDevices(t, `
  - { name: recordings, kind: diskspace, address: /data/eeg, minFree: 1KB }
  - { name: archive, kind: diskspace, address: /data/archive, minFree: 500GB }
`)
	want := position(t, path, "minFree: 1KB") + `: warning: device "recordings" (plugin avatar-sync-plugin-diskspace): minFree 1KB is under 1MiB`
	code, out, errOut := runCLI(t, "validate", "--plugins", "-f", path)
	if code != exitOK || !strings.Contains(errOut, want) || strings.Count(errOut, "warning:") != 1 {
		t.Errorf("validate: exit %d\nstdout: %s\nstderr: %s\nwant exit 0 and one warning %q", code, out, errOut, want)
	}
	if code, _, _ := runCLI(t, "validate", "--plugins", "--strict", "-f", path); code != exitError {
		t.Errorf("validate --strict: exit %d, want 1", code)
	}
}
