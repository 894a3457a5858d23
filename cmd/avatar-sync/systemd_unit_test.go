package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/internal/tooltest"
)

const watchUnit = "../../deploy/systemd/avatar-sync-watch.service"

// TestSystemdUnitVerifies runs systemd's own checker on the shipped unit (issue 12). verify
// returns 0 for unknown keys and only prints them, so any output fails the test too: a misspelt
// hardening directive would otherwise be ignored by systemd without a word. The binary path is
// pointed at an existing executable, since verify checks that ExecStart can run.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := tooltest.Require(t, "systemd-analyze", "apt-get install systemd")
	data, err := os.ReadFile(watchUnit)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(data)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(unit, "ExecStart=/usr/local/bin/avatar-sync watch ") {
		t.Fatal("the unit does not start /usr/local/bin/avatar-sync watch")
	}
	path := filepath.Join(t.TempDir(), "avatar-sync-watch.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/avatar-sync", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}

	// The hardening issue 12 asks for, and the password kept out of the command line.
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "EnvironmentFile=/etc/avatar-sync/watch.env",
		"StateDirectory=avatar-sync", "CapabilityBoundingSet=\n"} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
	if strings.Contains(unit, "PASSWORD=") && !strings.Contains(unit, "#   AVATAR_KEYSTORE_PASSWORD=") {
		t.Error("a password is set in the unit itself; it belongs in the EnvironmentFile")
	}
}

// TestSystemdUnitFlagsExist: every flag the unit's ExecStart passes is one watch knows, so a
// renamed flag fails here rather than in the lab's journal.
func TestSystemdUnitFlagsExist(t *testing.T) {
	data, err := os.ReadFile(watchUnit)
	if err != nil {
		t.Fatal(err)
	}
	var exec string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "ExecStart=") {
			exec = strings.TrimPrefix(line, "ExecStart=")
		}
	}
	root := newRootCmd(&streams{in: strings.NewReader(""), out: io.Discard, err: io.Discard})
	watch, _, err := root.Find([]string{"watch"})
	if err != nil {
		t.Fatal(err)
	}
	for _, arg := range strings.Fields(exec) {
		if !strings.HasPrefix(arg, "-") {
			continue
		}
		name := strings.TrimLeft(arg, "-")
		if len(name) == 1 {
			if watch.Flags().ShorthandLookup(name) == nil && watch.InheritedFlags().ShorthandLookup(name) == nil {
				t.Errorf("ExecStart passes -%s, which watch does not know", name)
			}
		} else if watch.Flags().Lookup(name) == nil && watch.InheritedFlags().Lookup(name) == nil {
			t.Errorf("ExecStart passes --%s, which watch does not know", name)
		}
	}
}
