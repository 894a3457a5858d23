package gctune

import (
	"runtime/debug"
	"testing"
)

// TestGCSetting: plan collects lazily under a soft limit, unless the user chose a GC setting or
// the process's cgroup is too small for the limit.
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
			percent, limit, ok := Setting(tc.getenv, tc.memoryMax)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if ok && (percent != 400 || limit != 768<<20) {
				t.Errorf("setting = GOGC %d, limit %d; want 400, 768 MiB", percent, limit)
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
	restore := ForCommand()
	if _, _, ok := Setting(func(string) string { return "" }, readCgroupMax()); ok {
		if got := debug.SetGCPercent(GCPercent); got != GCPercent {
			t.Errorf("GC percent during the command = %d, want %d", got, GCPercent)
		}
		if got := debug.SetMemoryLimit(-1); got != MemoryLimit {
			t.Errorf("memory limit during the command = %d, want %d", got, MemoryLimit)
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
