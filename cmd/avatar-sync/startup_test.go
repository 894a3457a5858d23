package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestOwnPackagesInitCheaply: every command pays for the package initialisation of everything the
// binary links, so our own packages do no work at start that a command may not need — regexps are
// compiled and templates parsed when first used (issue 23: spec's init allocated 360 KB in 3,207
// allocations, statuspage's parsed the status page's template). It runs this test binary, which
// links the same packages, with GODEBUG=inittrace=1 and reads each package's allocations; they are
// deterministic, unlike its clock.
func TestOwnPackagesInitCheaply(t *testing.T) {
	const limit = 64 << 10 // bytes allocated by one package's init
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	seen := 0
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		// init github.com/avatar-project/avatar-sync/spec @14 ms, 0.040 ms clock, 6608 bytes, 120 allocs
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[0] != "init" || !strings.HasPrefix(f[1], "github.com/avatar-project/avatar-sync/") || f[1] == "github.com/avatar-project/avatar-sync/cmd/avatar-sync" {
			continue
		}
		seen++
		bytes, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("unexpected inittrace line %q", sc.Text())
		}
		if bytes > limit {
			t.Errorf("%s allocates %d bytes (%s allocations) when the program starts, more than %d: defer the work to first use (sync.OnceValue)", f[1], bytes, f[9], limit)
		}
	}
	if seen < 3 {
		t.Fatalf("inittrace listed %d of our packages; is GODEBUG=inittrace=1 still honoured?\n%s", seen, stderr.String())
	}
}
