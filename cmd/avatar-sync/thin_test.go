package main

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// cmdLineBudget is issue 20's "done when": cmd keeps flags, prompts and the choice of a view in at
// most this many non-blank lines of non-test code; the pipeline is session's, the daemon daemon's,
// the views report's.
const cmdLineBudget = 2500

// TestCmdStaysThin holds cmd/avatar-sync to its line budget and keeps the watch daemon out of it:
// no file of cmd serves HTTP or imports what the daemon is made of (its status page, its sources).
// Over budget, move the code that grew to the package that owns it (docs/architecture.md).
func TestCmdStaysThin(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	daemonParts := []string{"net/http", "github.com/avatar-project/avatar-sync/statuspage",
		"github.com/avatar-project/avatar-sync/filewatch", "github.com/avatar-project/avatar-sync/gitsource"}
	lines := 0
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(src), "\n") {
			if strings.TrimSpace(l) != "" {
				lines++
			}
		}
		f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, d := range daemonParts {
				if path == d {
					t.Errorf("%s imports %s: the watch daemon lives in package daemon", name, path)
				}
			}
		}
	}
	if lines > cmdLineBudget {
		t.Errorf("cmd/avatar-sync holds %d non-blank lines of non-test code, over its budget of %d", lines, cmdLineBudget)
	}
	t.Logf("cmd/avatar-sync: %d non-blank lines of non-test code (budget %d)", lines, cmdLineBudget)
}
