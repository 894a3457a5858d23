// Package gctune sets the garbage collector of the commands that read a whole spec and cluster
// (plan, validate, apply) for their duration (issue 23).
package gctune

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// The garbage collector of plan, validate and apply (issue 23): a no-op plan allocates several
// times the live state it keeps (the spec's YAML tree, sarama's decoded DescribeConfigs answers),
// so Go's default pacing (GOGC=100) collects many times over a heap that is mostly garbage.
// Collecting at five times the live heap instead of twice, under a soft limit of 768 MiB, saved 24%
// of plan's CPU at 10,000 topics (peak RSS unchanged, 144 MB) and 12% at 100,000 topics (peak RSS
// 552 → 785 MB, under issue 23's 1 GiB), and 20% and 16% of validate's (RSS unchanged):
// docs/benchmarks.md, "Sixth run (scale)". apply holds the plan, the settle read and the results
// beside the live state, and its peak RSS is the one nearest issue 23's 1.5× of the floor: it
// collects at three times the live heap, which saved 19% of its CPU on a config change of 10,000
// topics for 1.33× the floor's RSS where five times gave 1.45× ("Ninth run").
type Profile struct {
	Percent int
	Limit   int64
}

var (
	// Reading is plan's and validate's.
	Reading = Profile{Percent: 400, Limit: 768 << 20}
	// Applying is apply's.
	Applying = Profile{Percent: 200, Limit: 768 << 20}
)

// cgroupMemoryMax is where a cgroup v2 container's memory limit is read.
const cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// Setting decides whether a command runs with p. ok is false — Go's defaults stay — when the user
// set GOGC or GOMEMLIMIT (theirs win), or when the process's cgroup allows less than 4/3 of p's
// limit (memoryMax is memory.max's content, "" when unreadable, "max" for none): a lazier collector
// must not push a command in a small container past its limit.
func Setting(p Profile, getenv func(string) string, memoryMax string) (ok bool) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return false
	}
	if m := strings.TrimSpace(memoryMax); m != "" && m != "max" {
		n, err := strconv.ParseInt(m, 10, 64)
		if err != nil || n/4*3 < p.Limit {
			return false
		}
	}
	return true
}

// readCgroupMax is the content of cgroupMemoryMax, "" when it cannot be read.
func readCgroupMax() string {
	b, err := os.ReadFile(cgroupMemoryMax)
	if err != nil {
		return ""
	}
	return string(b)
}

// ForCommand applies p for one command when Setting allows it; the function it returns restores
// the previous settings (commands also run in-process, in tests).
func ForCommand(p Profile) (restore func()) {
	if !Setting(p, os.Getenv, readCgroupMax()) {
		return func() {}
	}
	oldLimit := debug.SetMemoryLimit(p.Limit)
	oldPercent := debug.SetGCPercent(p.Percent)
	return func() {
		debug.SetGCPercent(oldPercent)
		debug.SetMemoryLimit(oldLimit)
	}
}
