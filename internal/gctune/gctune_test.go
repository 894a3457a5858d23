package gctune

import (
	"runtime/debug"
	"testing"
)

// TestGCSetting: plan, validate and apply collect lazily under a soft limit, unless the user chose
// a GC setting or the process's cgroup is too small for the limit.
func TestGCSetting(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	tests := []struct {
		name      string
		getenv    func(string) string
		memoryMax string
		ok        bool
	}{
		{"no cgroup file", env(), "", true},
		{"unlimited cgroup", env(), "max\n", true},
		{"cgroup of 2 GiB", env(), "2147483648\n", true},
		{"cgroup of exactly 4/3 of the limit", env(), "1073741824\n", true},
		{"cgroup of 512 MiB", env(), "536870912\n", false},
		{"unreadable cgroup limit", env(), "lots\n", false},
		{"GOGC set", env("GOGC", "100"), "max", false},
		{"GOGC=off set", env("GOGC", "off"), "", false},
		{"GOMEMLIMIT set", env("GOMEMLIMIT", "2GiB"), "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range []Profile{Reading, Applying} {
				if ok := Setting(p, tc.getenv, tc.memoryMax); ok != tc.ok {
					t.Fatalf("%+v: ok = %v, want %v", p, ok, tc.ok)
				}
			}
		})
	}
}

// TestForCommandRestores: the setting lasts for the command only; commands also run in-process.
func TestForCommandRestores(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	percent := debug.SetGCPercent(-1)
	debug.SetGCPercent(percent)
	limit := debug.SetMemoryLimit(-1)
	restore := ForCommand(Applying)
	if Setting(Applying, func(string) string { return "" }, readCgroupMax()) {
		if got := debug.SetGCPercent(Applying.Percent); got != Applying.Percent {
			t.Errorf("GC percent during the command = %d, want %d", got, Applying.Percent)
		}
		if got := debug.SetMemoryLimit(-1); got != Applying.Limit {
			t.Errorf("memory limit during the command = %d, want %d", got, Applying.Limit)
		}
	}
	restore()
	if got := debug.SetGCPercent(percent); got != percent {
		t.Errorf("GC percent after = %d, want %d", got, percent)
	}
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("memory limit after = %d, want %d", got, limit)
	}
}
