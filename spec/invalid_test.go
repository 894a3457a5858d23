package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInvalidFiles runs one file per validation rule (spec/testdata/invalid/<rule>.yaml, whose first
// line says the rule) and compares every diagnostic, as "line:col: message", with <rule>.golden.
// Rewrite the golden files with -update after changing a message, and read the diff.
func TestInvalidFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(data), "# ") {
				t.Errorf("%s: the first line should be a comment naming the rule", file)
			}
			s, diags := Parse(filepath.Base(file), data)
			if len(diags) == 0 {
				t.Fatalf("%s: no diagnostics; the rule it tests is not enforced", file)
			}
			var b strings.Builder
			for _, d := range diags {
				if d.Pos.File != filepath.Base(file) || d.Pos.Line < 1 || d.Pos.Col < 1 {
					t.Errorf("diagnostic without a full position: %#v", d)
				}
				sev := ""
				if d.Severity == SeverityWarning {
					sev = "warning: "
				}
				fmt.Fprintf(&b, "%d:%d: %s%s\n", d.Pos.Line, d.Pos.Col, sev, d.Message)
			}
			if errs := diags.Errors(); (len(errs) > 0) != (s == nil) {
				t.Errorf("spec returned = %v with %d errors; want a spec exactly when there are no errors", s != nil, len(errs))
			}
			checkGolden(t, strings.TrimSuffix(file, ".yaml")+".golden", []byte(b.String()))
		})
	}
}
