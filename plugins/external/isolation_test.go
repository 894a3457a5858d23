package external

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/spec"
)

// These tests try to break the promises of issue 10 item 7 and issue 9: a plugin never sees
// avatar-sync's secrets, never comes from $PATH when the spec names a file, never runs in a plain
// `validate`, and dies with Ctrl-C.

// TestPluginEnvironmentHoldsNoSecrets: with the keystore password, a SASL password and a cloud
// credential in avatar-sync's environment, a plugin (both ops) sees only the allow-list, the
// protocol variable and what its device names under env:.
func TestPluginEnvironmentHoldsNoSecrets(t *testing.T) {
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "keystore-secret")
	t.Setenv("KAFKA_SASL_PASSWORD", "sasl-secret")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "cloud-secret")
	t.Setenv("LIDAR_TOKEN", "named-by-the-device")
	t.Setenv("LC_TIME", "C")
	t.Setenv("HOME", "/home/lab")
	envfile := filepath.Join(t.TempDir(), "env")
	d := spec.Device{Name: "lidar-1", Kind: "lidar", Address: "lidar:7000", Plugin: fakePlugin, Timeout: 20 * time.Second,
		Env: []string{"LIDAR_TOKEN"}, Params: map[string]string{"mode": "env", "envfile": envfile}}
	p := Find(d, nil)
	if diags := p.Validate(t.Context(), d); len(diags) > 0 {
		t.Fatalf("Validate = %v", diags)
	}
	if _, err := p.Check(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(envfile)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string][]string{} // op → NAME=value
	for line := range strings.Lines(string(raw)) {
		op, kv, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		seen[op] = append(seen[op], kv)
	}
	for _, op := range []string{OpValidate, OpCheck} {
		env := seen[op]
		if len(env) == 0 {
			t.Fatalf("op %s: the plugin wrote no environment:\n%s", op, raw)
		}
		for _, kv := range env {
			if strings.Contains(kv, "secret") {
				t.Errorf("op %s: the plugin received %s", op, kv)
			}
			name, _, _ := strings.Cut(kv, "=")
			if !slices.Contains(allowedEnv, name) && !strings.HasPrefix(name, "LC_") &&
				name != "LIDAR_TOKEN" && name != "AVATAR_SYNC_PLUGIN_PROTOCOL" {
				t.Errorf("op %s: %s is neither allow-listed nor named by the device", op, name)
			}
		}
		for _, want := range []string{"LIDAR_TOKEN=named-by-the-device", "LC_TIME=C", "HOME=/home/lab", "AVATAR_SYNC_PLUGIN_PROTOCOL=" + Protocol} {
			if !slices.Contains(env, want) {
				t.Errorf("op %s: the plugin lacks %s; it got %v", op, want, env)
			}
		}
	}
}

// TestPluginNeverGetsTheSpecsSecrets (issue 21): even when a device's env: names the spec's own
// password variable (validate refuses that; here the spec is used as parsed, errors and all), the
// plugin runs without it and still gets the other variables the device names.
func TestPluginNeverGetsTheSpecsSecrets(t *testing.T) {
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "keystore-secret")
	t.Setenv("LIDAR_TOKEN", "named-by-the-device")
	s, diags := spec.ParsePartial("avatar.yaml", []byte(`apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: lab }
brokers: [ { id: 1, host: b1, ports: { plaintext: 9092, ssl: 9192 } } ]
tls: { enabled: true, passwordEnv: AVATAR_KEYSTORE_PASSWORD }
topics: [ { name: t1, partitions: 1, replicationFactor: 1 } ]
devices: [ { name: lidar-1, kind: lidar, address: 'lidar:7000', env: [LIDAR_TOKEN, AVATAR_KEYSTORE_PASSWORD] } ]
`))
	if s == nil || len(diags.Errors()) != 1 {
		t.Fatalf("want the spec with one error (the env entry), got %v", diags)
	}
	envfile := filepath.Join(t.TempDir(), "env")
	d := s.Devices[0]
	d.Plugin, d.Timeout, d.Params = fakePlugin, 20*time.Second, map[string]string{"mode": "env", "envfile": envfile}
	if _, err := Find(d, nil).Check(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(envfile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "keystore-secret") || !strings.Contains(string(raw), "LIDAR_TOKEN=named-by-the-device") {
		t.Errorf("the plugin's environment:\n%s", raw)
	}
}

// TestExplicitPluginNeverFromPath: with the spec given as a relative path in the working
// directory (the default -f avatar.yaml), plugin: ./probe.sh is the probe.sh next to the spec,
// by absolute path; a probe.sh on $PATH never runs, whether or not the spec's file exists.
func TestExplicitPluginNeverFromPath(t *testing.T) {
	work, onPath := t.TempDir(), t.TempDir()
	marker := filepath.Join(t.TempDir(), "ran-from-path")
	writeScript(t, filepath.Join(onPath, "probe.sh"), "touch "+marker+"\n"+
		`echo '{"protocol":"avatar-sync.device/v1","findings":[{"ok":true,"message":"the PATH one ran"}]}'`+"\n")
	t.Setenv("PATH", onPath+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Chdir(work)

	for _, plugin := range []string{"./probe.sh", "probe.sh"} {
		d := spec.Device{Name: "x", Kind: "lidar", Plugin: plugin, Timeout: 10 * time.Second,
			Pos: spec.Pos{File: "avatar.yaml", Line: 3, Col: 5}}
		p := Find(d, nil)
		if p.Missing == nil || !strings.Contains(p.Missing.Error(), filepath.Join(work, "probe.sh")) {
			t.Errorf("plugin: %s with no such file next to the spec: Missing = %v, want the absolute path named", plugin, p.Missing)
		}
		_, err := p.Check(t.Context(), d)
		if err == nil {
			t.Errorf("plugin: %s: Check succeeded, want the missing file reported", plugin)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a plugin: path made avatar-sync run the same-named program on $PATH")
	}

	// The file next to the spec is the one that runs, by its absolute path.
	writeScript(t, filepath.Join(work, "probe.sh"),
		`echo '{"protocol":"avatar-sync.device/v1","findings":[{"ok":true,"message":"the spec'"'"'s one ran"}]}'`+"\n")
	d := spec.Device{Name: "x", Kind: "lidar", Plugin: "./probe.sh", Timeout: 10 * time.Second, Pos: spec.Pos{File: "avatar.yaml"}}
	p := Find(d, nil)
	if p.Path != filepath.Join(work, "probe.sh") {
		t.Errorf("Path = %q, want %q", p.Path, filepath.Join(work, "probe.sh"))
	}
	res, err := p.Check(t.Context(), d)
	if err != nil || res.Detail != "the spec's one ran" {
		t.Errorf("Check = %+v, %v", res, err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the program on $PATH ran")
	}
}

// TestNoRunStartsNothing: `validate` and `plan` without --plugins judge untrusted pull requests,
// so the plugin must not start, neither to validate nor to probe; a missing plugin is still
// reported (that needs no run).
func TestNoRunStartsNothing(t *testing.T) {
	envfile := filepath.Join(t.TempDir(), "env")
	d := spec.Device{Name: "x", Kind: "lidar", Plugin: fakePlugin, Params: map[string]string{"mode": "env", "envfile": envfile}}
	p := Find(d, nil)
	p.NoRun = true
	if diags := p.Validate(t.Context(), d); len(diags) != 0 {
		t.Errorf("Validate = %v, want nothing", diags)
	}
	if res, err := p.Check(t.Context(), d); !errors.Is(err, ErrNotRun) {
		t.Errorf("Check = %+v, %v; want ErrNotRun", res, err)
	}
	if _, err := os.Stat(envfile); err == nil {
		t.Fatal("the plugin ran although NoRun was set")
	}
	d.Plugin = filepath.Join(t.TempDir(), "absent")
	p = Find(d, nil)
	p.NoRun = true
	if diags := p.Validate(t.Context(), d); len(diags) != 1 || diags[0].Severity != spec.SeverityWarning {
		t.Errorf("Validate of a missing plugin = %v, want one warning", diags)
	}
}

// TestValidateCancelKillsPlugin: Ctrl-C (ctx cancelled) while a plugin hangs in validate ends the
// exchange as interrupted — not as "did not answer within 2s", which is what ignoring ctx would
// report — and the plugin and its child are gone.
func TestValidateCancelKillsPlugin(t *testing.T) {
	dir := t.TempDir()
	selfPid, childPid := filepath.Join(dir, "self.pid"), filepath.Join(dir, "child.pid")
	d := validateDevice("hang", map[string]string{"selfpidfile": selfPid, "pidfile": childPid})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		defer cancel()
		for range 1000 { // the plugin writes its child's pid last; give up after 10s
			if _, err := os.Stat(childPid); err == nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	p := Find(d, nil)
	p.Validations = NewValidationCache()
	diags := p.Validate(ctx, d)
	if len(diags) != 1 || !strings.Contains(diags[0].Message, "plugin fakeplugin was interrupted; killed its process group") {
		t.Fatalf("Validate = %v, want the interruption reported", diags)
	}
	for _, f := range []string{selfPid, childPid} {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("the plugin did not start as expected: %v", err)
		}
		pid, _ := strconv.Atoi(string(raw))
		waitGone(t, pid)
	}
	// An interruption says nothing about the plugin: the next run asks it again.
	if _, hung := p.Validations.hung[p.Path]; hung || len(p.Validations.m) != 0 {
		t.Errorf("the interrupted run was remembered: %+v", p.Validations)
	}
}

// TestCheckAfterValidateHangDoesNotRunAgain: a plugin that hung in validate is not started again
// to probe, so `check` waits for a hanging plugin once (issue 10: it waited twice). The budget of
// validate is the device's timeout when that is shorter than 2s.
func TestCheckAfterValidateHangDoesNotRunAgain(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "child.pid")
	d := spec.Device{Name: "lidar-1", Kind: "lidar", Plugin: fakePlugin, Timeout: 300 * time.Millisecond,
		Params: map[string]string{"mode": "hang", "validate": "hang", "pidfile": pidfile}}
	p := Find(d, nil)
	p.Validations = NewValidationCache()
	diags := p.Validate(t.Context(), d)
	if len(diags) != 1 || !strings.Contains(diags[0].Message, "did not answer within 300ms; killed its process group") {
		t.Fatalf("Validate = %v, want a hang within the device's 300ms", diags)
	}
	if err := os.Remove(pidfile); err != nil {
		t.Fatalf("the plugin did not start: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), d.Timeout)
	defer cancel()
	_, err := p.Check(ctx, d)
	if err == nil || !strings.Contains(err.Error(), `did not answer op "validate" within 300ms (device "lidar-1"); killed its process group and did not run it again`) {
		t.Fatalf("Check = %v", err)
	}
	if _, err := os.Stat(pidfile); err == nil {
		t.Error("check started the plugin that had hung in validate")
	}
}

// TestEnvironAllowList is the allow-list as a table.
func TestEnvironAllowList(t *testing.T) {
	got := Environ([]string{
		"PATH=/usr/bin", "HOME=/root", "LANG=C.UTF-8", "LC_ALL=C", "TZ=UTC", "TMPDIR=/tmp", "USER=lab",
		"AVATAR_KEYSTORE_PASSWORD=x", "SASL_PASSWORD=y", "LAB_TOKEN=z", "AVATAR_SYNC_PLUGIN_PROTOCOL=forged", "broken",
	}, []string{"LAB_TOKEN", "NOT_SET"})
	want := []string{"PATH=/usr/bin", "HOME=/root", "LANG=C.UTF-8", "LC_ALL=C", "TZ=UTC", "TMPDIR=/tmp", "USER=lab",
		"LAB_TOKEN=z", "AVATAR_SYNC_PLUGIN_PROTOCOL=" + Protocol}
	if !slices.Equal(got, want) {
		t.Errorf("Environ =\n%v\nwant\n%v", got, want)
	}
}

func writeScript(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\ncat >/dev/null\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// waitGone waits (bounded) for a SIGKILLed process to disappear.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for range 500 {
		if !alive(pid) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("process %d survived the process-group kill", pid)
}
