package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestCIRecipes keeps docs/ci.md ready to copy (issue 15): every YAML block parses, and every
// avatar-sync command line in it names a real command with flags that command has.
func TestCIRecipes(t *testing.T) {
	data, err := os.ReadFile("../../docs/ci.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(data), -1)
	if len(blocks) < 3 {
		t.Fatalf("%d YAML blocks; want the target, the GitHub workflow and the GitLab job", len(blocks))
	}
	for i, b := range blocks {
		var v any
		if err := yaml.Unmarshal([]byte(b[1]), &v); err != nil {
			t.Errorf("YAML block %d does not parse: %v", i+1, err)
		}
	}
	lines := 0
	for _, b := range blocks {
		for _, line := range strings.Split(b[1], "\n") {
			_, call, ok := strings.Cut(line, "avatar-sync ")
			if !ok || strings.Contains(line, "go install") || strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			call, _, _ = strings.Cut(call, ">") // output redirection
			call, _, _ = strings.Cut(call, ";")
			args := strings.Fields(strings.ReplaceAll(call, `"`, ""))
			root := newRootCmd(&streams{})
			cmd, rest, err := root.Find(args)
			if err != nil || cmd == root {
				t.Errorf("%q: not a command: %v", line, err)
				continue
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Errorf("%q: %v", strings.TrimSpace(line), err)
			}
			lines++
		}
	}
	if lines < 8 {
		t.Errorf("checked %d avatar-sync command lines; the recipes have at least 8", lines)
	}
}
