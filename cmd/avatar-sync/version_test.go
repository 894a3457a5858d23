package main

import (
	"encoding/json"
	"runtime"
	"testing"
)

// TestVersionJSON: version -o json names the version, commit, date, platform and the image render
// defaults to for this version (issue 25); an unstamped build is "dev".
func TestVersionJSON(t *testing.T) {
	code, out, errOut := runCLI(t, "version", "-o", "json")
	if code != exitOK {
		t.Fatalf("version -o json: code %d, %s", code, errOut)
	}
	var info map[string]string
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"version", "commit", "date", "go", "platform", "image"} {
		if _, ok := info[k]; !ok {
			t.Errorf("version -o json lacks %q: %s", k, out)
		}
	}
	if info["version"] != "dev" || info["image"] != "ghcr.io/avatar-project/avatar-sync:dev" || info["platform"] != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("version -o json: %v", info)
	}
}
