package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The figure a user sees is the whole command, process start and spec parse included, not an
// in-process call (issue 9). These benchmarks build the binary once and time it end to end; they are
// kept out of `make test` (run `make bench-cli`) and recorded in docs/benchmarks.md.

// cliBenchSpec is a spec of n topics, two lines each (20,000 lines at n = 10,000).
func cliBenchSpec(n int) string {
	var b strings.Builder
	b.WriteString(`apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar, namespace: avatar }
brokers:
  - { id: 1, host: kafka-broker-1, rack: lab-a, ports: { plaintext: 9092, internal: 29092 } }
  - { id: 2, host: kafka-broker-2, rack: lab-b, ports: { plaintext: 9093, internal: 29093 } }
  - { id: 3, host: kafka-broker-3, rack: lab-c, ports: { plaintext: 9094, internal: 29094 } }
topicDefaults: { partitions: 3, replicationFactor: 3, config: { min.insync.replicas: 2 } }
topics:
`)
	for i := range n {
		fmt.Fprintf(&b, "  - name: avatar.topic-%05d\n    retention: 7d\n", i)
	}
	return b.String()
}

// buildCLI builds avatar-sync into dir.
func buildCLI(b *testing.B, dir string) string {
	b.Helper()
	bin := filepath.Join(dir, "avatar-sync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runCLIBinary runs the binary and fails the benchmark on an exit code other than want.
func runCLIBinary(b *testing.B, want int, bin string, args ...string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), 15*time.Minute) // creating 100,000 topics took about 4 minutes on the loaded VM
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		b.Fatalf("%v: %v", args, err)
	}
	if code != want {
		b.Fatalf("%v: exit %d, want %d\n%s", args, code, want, out)
	}
}

// BenchmarkCLIValidate is `avatar-sync validate` of a 10,000-topic spec: process start, read, parse
// and validate, nothing else.
func BenchmarkCLIValidate(b *testing.B) {
	dir := b.TempDir()
	bin := buildCLI(b, dir)
	file := filepath.Join(dir, "avatar.yaml")
	if err := os.WriteFile(file, []byte(cliBenchSpec(10000)), 0o600); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		runCLIBinary(b, exitOK, bin, "validate", "-f", file)
	}
}

// BenchmarkCLIPlanNoop is a no-op `avatar-sync plan --detailed-exitcode` over 10,000 topics against
// the embedded cluster served by `dev up` from a state directory prepared once (apply created the
// topics): the set-up of issue 9's measurement.
func BenchmarkCLIPlanNoop(b *testing.B) {
	dir := b.TempDir()
	bin := buildCLI(b, dir)
	file, state := filepath.Join(dir, "avatar.yaml"), filepath.Join(dir, "state")
	if err := os.WriteFile(file, []byte(cliBenchSpec(10000)), 0o600); err != nil {
		b.Fatal(err)
	}
	runCLIBinary(b, exitOK, bin, "apply", "--auto-approve", "-f", file, "--state-dir", state)

	devUp(b, bin, file, state)

	b.ResetTimer()
	for b.Loop() {
		runCLIBinary(b, exitOK, bin, "plan", "--detailed-exitcode", "-f", file, "--state-dir", state)
	}
}

// devUp starts `dev up` on state (its embedded cluster serving file's target) for the rest of the
// benchmark and returns its bootstrap addresses and process id.
func devUp(b *testing.B, bin, file, state string) (string, int) {
	addrs, pid, _ := devUpStoppable(b, bin, file, state)
	return addrs, pid
}

// devUpStoppable is devUp that also returns a function stopping it (and waiting for it to save its
// state) before the benchmark ends.
func devUpStoppable(b *testing.B, bin, file, state string) (string, int, func()) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	up := exec.CommandContext(ctx, bin, "dev", "up", "-f", file, "--state-dir", state, "--ports", "0,0,0")
	up.Cancel = func() error { return up.Process.Signal(syscall.SIGINT) }
	up.WaitDelay = time.Minute // saving 10,000 topics' state takes a few seconds
	stdout, err := up.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := up.Start(); err != nil {
		b.Fatal(err)
	}
	stop := sync.OnceFunc(func() {
		cancel()
		_ = up.Wait()
	})
	b.Cleanup(stop)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addrs, ok := strings.CutPrefix(sc.Text(), "bootstrap: "); ok {
				ready <- addrs
			}
		}
		close(ready)
	}()
	select {
	case addrs, ok := <-ready:
		if !ok {
			b.Fatal("dev up ended before serving")
		}
		return addrs, up.Process.Pid, stop
	case <-time.After(5 * time.Minute):
		b.Fatal("dev up did not serve within 5 minutes")
	}
	return "", 0, stop
}

// BenchmarkCLITable prints issue 23's table: each command through the built binary against `dev up`,
// next to the floor (clusters/internal/floor: franz-go doing only the requests the command needs,
// as a process of its own), the two run alternately in the same run. Every figure is the median of
// AVATAR_BENCH_RUNS runs (default 5): wall time, CPU time (user + system, from the child's rusage)
// and peak RSS, and the CPU time the `dev up` process serving the row spent meanwhile (the
// cluster's side of the command). AVATAR_BENCH_ROWS, a regular expression, keeps only the rows it
// matches (and sets up only the clusters they need). Run it with `make bench-cli`
// (`BENCH_ROWS='config change' make bench-cli` for one row); docs/benchmarks.md records the figures.
func BenchmarkCLITable(b *testing.B) {
	runs := 5
	if v, err := strconv.Atoi(os.Getenv("AVATAR_BENCH_RUNS")); err == nil && v > 0 {
		runs = v
	}
	rowFilter, err := regexp.Compile(os.Getenv("AVATAR_BENCH_ROWS"))
	if err != nil {
		b.Fatalf("AVATAR_BENCH_ROWS: %v", err)
	}
	wanted := func(names ...string) bool {
		return slices.ContainsFunc(names, rowFilter.MatchString)
	}
	dir := b.TempDir()
	bin := buildCLI(b, dir)
	floor := filepath.Join(dir, "floor")
	if out, err := exec.Command("go", "build", "-o", floor, "../../clusters/internal/floor").CombinedOutput(); err != nil {
		b.Fatalf("go build floor: %v\n%s", err, out)
	}
	write := func(name, data string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			b.Fatal(err)
		}
		return path
	}
	cluster := func(n int) (file, state, addrs string, pid int) {
		file = write(fmt.Sprintf("avatar-%d.yaml", n), cliBenchSpec(n))
		state = filepath.Join(dir, fmt.Sprintf("state-%d", n))
		runCLIBinary(b, exitOK, bin, "apply", "--auto-approve", "-f", file, "--state-dir", state)
		addrs, pid = devUp(b, bin, file, state)
		return file, state, addrs, pid
	}
	var rows []cliRow
	measure := func(row cliRow) {
		if !wanted(row.name) {
			return
		}
		for i := range runs {
			row.avatar = append(row.avatar, withClusterCPU(b, row.cluster, func() cliSample { return runMeasured(b, row.codes, bin, row.cmd(i)...) }))
			if row.floor != nil {
				row.floorRuns = append(row.floorRuns, withClusterCPU(b, row.cluster, func() cliSample { return runMeasured(b, []int{exitOK}, floor, row.floor(i)...) }))
			}
		}
		rows = append(rows, row)
		fmt.Fprintf(os.Stderr, "measured %s\n", row.name)
	}
	b.ResetTimer()

	rows1k := []string{"no-op plan, 1,000 topics", "verify, 3,000 partitions", "status, 1,000 topics × 50 groups", "apply creating 1 topic on 1,000"}
	var (
		file1k, state1k, addrs1k string
		pid1k                    int
	)
	if wanted(rows1k...) {
		file1k, state1k, addrs1k, pid1k = cluster(1000)
	}
	fb1k := func(args ...string) func(int) []string {
		return func(int) []string { return append([]string{"-b", addrs1k}, args...) }
	}
	measure(cliRow{name: rows1k[0], codes: []int{exitOK}, cluster: pid1k,
		cmd: func(int) []string {
			return []string{"plan", "--detailed-exitcode", "-f", file1k, "--state-dir", state1k}
		},
		floor: fb1k("describe")})
	measure(cliRow{name: rows1k[1], codes: []int{exitOK}, cluster: pid1k,
		cmd:   func(int) []string { return []string{"verify", "-f", file1k, "--state-dir", state1k} },
		floor: fb1k("verify")})
	if wanted(rows1k[2]) {
		runMeasured(b, []int{exitOK}, floor, "-b", addrs1k, "groups", "50")
	}
	measure(cliRow{name: rows1k[2], codes: []int{exitOK, exitError}, cluster: pid1k,
		cmd:   func(int) []string { return []string{"status", "-f", file1k, "--state-dir", state1k} },
		floor: fb1k("status")})
	measure(cliRow{name: rows1k[3], codes: []int{exitOK}, cluster: pid1k,
		cmd: func(i int) []string {
			var extra strings.Builder
			for j := range i + 1 {
				fmt.Fprintf(&extra, "  - name: bench.new-%d\n", j)
			}
			f := write(fmt.Sprintf("apply-one-%d.yaml", i), cliBenchSpec(1000)+extra.String())
			return []string{"apply", "--auto-approve", "-f", f, "--state-dir", state1k}
		},
		floor: func(i int) []string { return []string{"-b", addrs1k, "create", fmt.Sprintf("floor.new-%d", i)} }})

	rows10k := []string{"no-op plan, 10,000 topics", "validate, 10,000 topics", "config, 10,000 topics", "config change on 10,000 topics", "create 10,000 topics"}
	var (
		file10k, state10k, addrs10k string
		pid10k                      int
	)
	switch {
	case wanted(rows10k[0], rows10k[3]):
		file10k, state10k, addrs10k, pid10k = cluster(10000)
	case wanted(rows10k[1:]...):
		file10k = write("avatar-10000.yaml", cliBenchSpec(10000))
	}
	measure(cliRow{name: rows10k[0], codes: []int{exitOK}, cluster: pid10k,
		cmd: func(int) []string {
			return []string{"plan", "--detailed-exitcode", "-f", file10k, "--state-dir", state10k}
		},
		floor: func(int) []string { return []string{"-b", addrs10k, "describe"} }})
	measure(cliRow{name: rows10k[1], codes: []int{exitOK},
		cmd: func(int) []string { return []string{"validate", "-f", file10k} }})
	measure(cliRow{name: rows10k[2], codes: []int{exitOK},
		cmd: func(int) []string { return []string{"config", "-f", file10k} }})
	measure(cliRow{name: rows10k[3], codes: []int{exitOK}, cluster: pid10k,
		cmd: func(i int) []string {
			// Retention only grows: lowering it can lose records, which apply refuses without
			// --allow-data-loss.
			f := write("config-change.yaml", strings.ReplaceAll(cliBenchSpec(10000), "retention: 7d", fmt.Sprintf("retention: %dd", 8+i)))
			return []string{"apply", "--auto-approve", "-f", f, "--state-dir", state10k}
		},
		floor: func(i int) []string {
			return []string{"-b", addrs10k, "alter", fmt.Sprintf("retention.ms=%d", (100+i)*3600000)}
		}})

	// Creating 10,000 topics needs a cluster without them each time: every run, avatar-sync's and
	// the floor's, gets a fresh `dev up` of its own, stopped after the run.
	create := cliRow{name: rows10k[4], codes: []int{exitOK}}
	names := make([]string, 10000)
	for i := range names {
		names[i] = fmt.Sprintf("avatar.topic-%05d", i)
	}
	for i := range runs {
		if !wanted(create.name) {
			break
		}
		state := filepath.Join(dir, fmt.Sprintf("create-%d", i))
		_, pid, stop := devUpStoppable(b, bin, file10k, state)
		create.avatar = append(create.avatar, withClusterCPU(b, pid, func() cliSample {
			return runMeasured(b, create.codes, bin, "apply", "--auto-approve", "-f", file10k, "--state-dir", state)
		}))
		stop()
		addrs, pid, stop := devUpStoppable(b, bin, file10k, state+"-floor")
		create.floorRuns = append(create.floorRuns, withClusterCPU(b, pid, func() cliSample {
			return runMeasured(b, []int{exitOK}, floor, append([]string{"-b", addrs, "create"}, names...)...)
		}))
		stop()
	}
	if create.avatar != nil {
		rows = append(rows, create)
		fmt.Fprintf(os.Stderr, "measured %s\n", create.name)
	}

	printCLIRows(rows, runs)
}

// BenchmarkCLIHundredThousand is issue 23's scale row: 100,000 topics in one spec, as one file and
// as a directory of ten files, loaded and validated (`validate`) and planned with nothing to do
// (`plan --detailed-exitcode` against `dev up`), next to the floor's Describe of the same cluster.
// The topics have one partition and one replica (not the table's 3 × 3): 900,000 embedded replicas
// are more than the 2-core machine holds beside its other work, and the spec's size, not the
// partition count, is what this row measures. Creating the topics takes minutes, so it is a
// benchmark of its own: `make bench-cli-100k`.
func BenchmarkCLIHundredThousand(b *testing.B) {
	const n = 100000
	runs := 3
	if v, err := strconv.Atoi(os.Getenv("AVATAR_BENCH_RUNS")); err == nil && v > 0 {
		runs = v
	}
	dir := b.TempDir()
	bin := buildCLI(b, dir)
	floor := filepath.Join(dir, "floor")
	if out, err := exec.Command("go", "build", "-o", floor, "../../clusters/internal/floor").CombinedOutput(); err != nil {
		b.Fatalf("go build floor: %v\n%s", err, out)
	}
	whole := strings.Replace(cliBenchSpec(n), "partitions: 3, replicationFactor: 3, config: { min.insync.replicas: 2 }",
		"partitions: 1, replicationFactor: 1, config: { min.insync.replicas: 1 }", 1)
	file := filepath.Join(dir, "avatar.yaml")
	if err := os.WriteFile(file, []byte(whole), 0o600); err != nil {
		b.Fatal(err)
	}
	// The directory: the cluster and the first 10,000 topics in one file, 10,000 more in each of
	// nine others.
	specDir := filepath.Join(dir, "spec.d")
	if err := os.Mkdir(specDir, 0o755); err != nil {
		b.Fatal(err)
	}
	head, list, _ := strings.Cut(whole, "topics:\n")
	lines := strings.SplitAfter(list, "\n")
	for f := range 10 {
		part := "apiVersion: avatar-sync/v1\nkind: KafkaCluster\n"
		if f == 0 {
			part = head
		}
		part += "topics:\n" + strings.Join(lines[f*2*n/10:(f+1)*2*n/10], "")
		if err := os.WriteFile(filepath.Join(specDir, fmt.Sprintf("%02d.yaml", f)), []byte(part), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	state := filepath.Join(dir, "state")
	runCLIBinary(b, exitOK, bin, "apply", "--auto-approve", "-f", file, "--state-dir", state)
	addrs, pid := devUp(b, bin, file, state)
	b.ResetTimer()

	var rows []cliRow
	for _, r := range []cliRow{
		{name: "validate, 100,000 topics, one file", cmd: func(int) []string { return []string{"validate", "-f", file} }},
		{name: "validate, 100,000 topics, a directory of 10 files", cmd: func(int) []string { return []string{"validate", "-f", specDir} }},
		{name: "no-op plan, 100,000 topics, one file", cluster: pid, cmd: func(int) []string {
			return []string{"plan", "--detailed-exitcode", "-f", file, "--state-dir", state}
		}, floor: func(int) []string { return []string{"-b", addrs, "describe"} }},
		{name: "no-op plan, 100,000 topics, a directory of 10 files", cluster: pid, cmd: func(int) []string {
			return []string{"plan", "--detailed-exitcode", "-f", specDir, "--state-dir", state}
		}},
	} {
		for i := range runs {
			r.avatar = append(r.avatar, withClusterCPU(b, r.cluster, func() cliSample { return runMeasured(b, []int{exitOK}, bin, r.cmd(i)...) }))
			if r.floor != nil {
				r.floorRuns = append(r.floorRuns, withClusterCPU(b, r.cluster, func() cliSample { return runMeasured(b, []int{exitOK}, floor, r.floor(i)...) }))
			}
		}
		rows = append(rows, r)
		fmt.Fprintf(os.Stderr, "measured %s\n", r.name)
	}
	printCLIRows(rows, runs)
}

// printCLIRows prints the rows' medians as the Markdown table docs/benchmarks.md records.
// The cluster CPU columns are what the `dev up` process serving the row spent while the command
// ran; "—" for a row without a cluster.
func printCLIRows(rows []cliRow, runs int) {
	fmt.Printf("\n| command | avatar-sync wall | floor wall | ratio | avatar-sync CPU | floor CPU | avatar-sync RSS | floor RSS | cluster CPU, avatar-sync | cluster CPU, floor |\n|---|---|---|---|---|---|---|---|---|---|\n")
	clusterCPU := func(r cliRow, s cliSample) string {
		if r.cluster == 0 {
			return "—"
		}
		return ms(s.cluster)
	}
	for _, r := range rows {
		a := medianSample(r.avatar)
		if r.floorRuns == nil {
			fmt.Printf("| %s | %s | — | — | %s | — | %d MB | — | %s | — |\n", r.name, ms(a.wall), ms(a.cpu), a.rss>>20, clusterCPU(r, a))
			continue
		}
		f := medianSample(r.floorRuns)
		fmt.Printf("| %s | %s | %s | %.2f× | %s | %s | %d MB | %d MB | %s | %s |\n", r.name, ms(a.wall), ms(f.wall),
			float64(a.wall)/float64(f.wall), ms(a.cpu), ms(f.cpu), a.rss>>20, f.rss>>20, clusterCPU(r, a), clusterCPU(r, f))
	}
	fmt.Printf("(medians of %d runs each, alternating avatar-sync and the floor; load average %s)\n", runs, loadAverage())
}

// cliRow is one row of BenchmarkCLITable.
type cliRow struct {
	name       string
	codes      []int // exit codes that count as success
	cluster    int   // the process id of the `dev up` the row runs against; 0 for none
	cmd, floor func(i int) []string
	avatar     []cliSample
	floorRuns  []cliSample
}

// cliSample is one run of a process: wall time, CPU time (user + system) and peak RSS in bytes,
// and the CPU time the cluster's process spent meanwhile.
type cliSample struct {
	wall, cpu, cluster time.Duration
	rss                int64
}

// withClusterCPU runs run and adds to its sample the CPU time (user + system) the process pid (a
// `dev up`) spent meanwhile, read from /proc/<pid>/stat; pid 0 adds nothing.
func withClusterCPU(b *testing.B, pid int, run func() cliSample) cliSample {
	b.Helper()
	if pid == 0 {
		return run()
	}
	before := processCPU(b, pid)
	s := run()
	s.cluster = processCPU(b, pid) - before
	return s
}

// processCPU is the user + system time of process pid so far: fields 14 and 15 of /proc/<pid>/stat,
// in clock ticks of 10 ms (USER_HZ is 100 on Linux).
func processCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("cluster CPU: %v", err)
	}
	// The command name, field 2, is in parentheses and may hold spaces: count from after it.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("cluster CPU: /proc/%d/stat: %q", pid, data)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// runMeasured runs the binary once and measures it from its rusage.
func runMeasured(b *testing.B, codes []int, bin string, args ...string) cliSample {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		b.Fatalf("%s %v: %v", filepath.Base(bin), args, err)
	}
	if !slices.Contains(codes, code) {
		b.Fatalf("%s %v: exit %d, want %v\n%s", filepath.Base(bin), args, code, codes, out.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return cliSample{
		wall: wall,
		cpu:  time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		rss:  ru.Maxrss << 10, // kilobytes on Linux
	}
}

// medianSample is the median of each measure on its own.
func medianSample(ss []cliSample) cliSample {
	var w, c, cl []time.Duration
	var r []int64
	for _, s := range ss {
		w, c, cl, r = append(w, s.wall), append(c, s.cpu), append(cl, s.cluster), append(r, s.rss)
	}
	slices.Sort(w)
	slices.Sort(c)
	slices.Sort(cl)
	slices.Sort(r)
	return cliSample{wall: w[len(w)/2], cpu: c[len(c)/2], cluster: cl[len(cl)/2], rss: r[len(r)/2]}
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

// loadAverage is the first field of /proc/loadavg: how busy the machine was.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(data))[0]
}
