// Package tooltest decides, for every test in the repository, what happens when a real tool that
// no one here wrote (kcat, openssl, keytool, kubectl, etcd, git, chromium, systemd-analyze, …) is
// missing: the test fails under AVATAR_SYNC_REQUIRE_TOOLS=1 (CI, after .ci/run installed the tools)
// and skips with its reason otherwise. One policy, so a missing install step can never turn a
// cross-check into a silent skip in CI, and a developer without the tool can still run the suite.
package tooltest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// RequireEnv is the environment variable that turns a missing tool into a failure.
const RequireEnv = "AVATAR_SYNC_REQUIRE_TOOLS"

// Required reports whether missing tools fail tests (CI) rather than skip them.
func Required() bool { return os.Getenv(RequireEnv) != "" }

// Require returns the path of tool on $PATH, or ends the test: Fatal under AVATAR_SYNC_REQUIRE_TOOLS,
// Skip otherwise. hint says how to get the tool (e.g. "apt-get install kcat").
func Require(t testing.TB, tool, hint string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		Missing(t, fmt.Sprintf("%s is not installed (%s; .ci/run installs it)", tool, hint))
	}
	return path
}

// Missing ends the test for a prerequisite that is not a single executable (a Python module, a
// built fixture): Fatal under AVATAR_SYNC_REQUIRE_TOOLS, Skip otherwise.
func Missing(t testing.TB, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("required tool missing under %s=1: %s", RequireEnv, why)
	}
	t.Skip(why)
}
