// Package gctune sets the garbage collector of the commands that read a whole spec and cluster
// (plan, validate) for their duration (issue 23).
package gctune

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// The garbage collector of plan and validate (issue 23): a no-op plan allocates several times the
// live state it keeps (the spec's YAML tree, sarama's decoded DescribeConfigs answers), so Go's
// default pacing (GOGC=100) collects many times over a heap that is mostly garbage. Collecting at
// five times the live heap instead of twice, under a soft limit of 768 MiB, saved 24% of plan's CPU
// at 10,000 topics (peak RSS unchanged, 144 MB) and 12% at 100,000 topics (peak RSS 552 → 785 MB,
// under issue 23's 1 GiB), and 20% and 16% of validate's (RSS unchanged): docs/benchmarks.md,
// "Sixth run (scale)".
const (
	GCPercent   = 400
	MemoryLimit = 768 << 20
)

// cgroupMemoryMax is where a cgroup v2 container's memory limit is read.
const cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// Setting decides the command's GC percent and soft memory limit. ok is false — Go's defaults
// stay — when the user set GOGC or GOMEMLIMIT (theirs win), or when the process's cgroup allows
// less than 4/3 of the limit (memoryMax is memory.max's content, "" when unreadable, "max" for
// none): a lazier collector must not push a command in a small container past its limit.
func Setting(getenv func(string) string, memoryMax string) (percent int, limit int64, ok bool) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return 0, 0, false
	}
	if m := strings.TrimSpace(memoryMax); m != "" && m != "max" {
		n, err := strconv.ParseInt(m, 10, 64)
		if err != nil || n/4*3 < MemoryLimit {
			return 0, 0, false
		}
	}
	return GCPercent, MemoryLimit, true
}

// readCgroupMax is the content of cgroupMemoryMax, "" when it cannot be read.
func readCgroupMax() string {
	b, err := os.ReadFile(cgroupMemoryMax)
	if err != nil {
		return ""
	}
	return string(b)
}

// ForCommand applies Setting for one command; the function it returns restores the previous
// settings (commands also run in-process, in tests).
func ForCommand() (restore func()) {
	percent, limit, ok := Setting(os.Getenv, readCgroupMax())
	if !ok {
		return func() {}
	}
	oldLimit := debug.SetMemoryLimit(limit)
	oldPercent := debug.SetGCPercent(percent)
	return func() {
		debug.SetGCPercent(oldPercent)
		debug.SetMemoryLimit(oldLimit)
	}
}
