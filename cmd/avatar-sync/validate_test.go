package main

import (
	"strings"
	"testing"
)

func TestValidateExample(t *testing.T) {
	code, out, errOut := runCLI(t, "validate", "-f", "../../examples/avatar.yaml")
	if code != exitOK || !strings.Contains(out, "is valid: 3 brokers, 3 topics") || errOut != "" {
		t.Fatalf("code %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}
