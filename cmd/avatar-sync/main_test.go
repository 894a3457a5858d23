package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// runCLI runs one avatar-sync invocation in-process and returns its exit code and output.
func runCLI(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != exitOK || !strings.HasPrefix(out, "avatar-sync ") {
		t.Fatalf("version: code %d, output %q", code, out)
	}
	code, _, errOut := runCLI(t, "version", "-o", "yaml")
	if code != exitError || !strings.Contains(errOut, `-o/--output "yaml"`) {
		t.Fatalf("version -o yaml: code %d, stderr %q", code, errOut)
	}
}

func TestUnknownCommandFails(t *testing.T) {
	code, _, errOut := runCLI(t, "frobnicate")
	if code != exitError || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}
