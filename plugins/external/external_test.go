package external

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/spec"
)

// fakePlugin is the test program in testdata/fakeplugin, built once for the package's tests.
var fakePlugin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "avatar-sync-plugins")
	if err != nil {
		panic(err)
	}
	fakePlugin = filepath.Join(dir, "fakeplugin")
	build := exec.Command("go", "build", "-o", fakePlugin, "./testdata/fakeplugin")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("build fake plugin: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func check(t *testing.T, d spec.Device) (okDetail string, ok bool, facts map[string]string, err error) {
	t.Helper()
	p := Find(d, nil)
	ctx, cancel := context.WithTimeout(context.Background(), d.Timeout)
	defer cancel()
	res, err := p.Check(ctx, d)
	return res.Detail, res.OK, res.Facts, err
}

func TestPluginAnswers(t *testing.T) {
	tests := map[string]struct {
		mode       string
		wantOK     bool
		wantDetail string
		wantErr    []string
	}{
		"good":        {mode: "good", wantOK: true, wantDetail: "sensor answered; firmware 2.1"},
		"finding":     {mode: "fail", wantDetail: "lens dirty; battery 5%"},
		"crash":       {mode: "crash", wantErr: []string{"plugin fakeplugin crashed (aborted)"}},
		"exit status": {mode: "exit3", wantErr: []string{"exited with status 3", "stderr: fakeplugin: cannot open /dev/ttyACM0: permission denied"}},
		"bad json":    {mode: "badjson", wantErr: []string{"answered invalid JSON", `stdout began "battery=87 OK"`}},
		"empty":       {mode: "empty", wantErr: []string{"answered nothing on stdout"}},
		"two objects": {mode: "extra", wantErr: []string{"extra output after the JSON object"}},
		"protocol":    {mode: "wrongproto", wantErr: []string{`answered protocol "avatar-sync.device/v2"; this avatar-sync speaks "avatar-sync.device/v1"`}},
		"no findings": {mode: "nofindings", wantErr: []string{"answered no findings and no error"}},
		"probe error": {mode: "error", wantErr: []string{"could not probe the device: bluetooth adapter missing"}},
		"chatty":      {mode: "chatty", wantErr: []string{"printed more than 1048576 bytes"}},
		"unknown":     {mode: "", wantErr: []string{"exited with status 7", `unknown mode ""`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := spec.Device{Name: "lidar-1", Kind: "lidar", Plugin: fakePlugin, Timeout: 20 * time.Second,
				Params: map[string]string{"mode": tc.mode}}
			detail, ok, _, err := check(t, d)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("got OK=%v %q, want an error", ok, detail)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.wantOK || detail != tc.wantDetail {
				t.Errorf("got OK=%v %q, want OK=%v %q", ok, detail, tc.wantOK, tc.wantDetail)
			}
		})
	}
}

func TestRequestCarriesTheDeviceEntry(t *testing.T) {
	d := spec.Device{Name: "lidar-1", Kind: "lidar", Address: "127.0.0.1:7000", Required: true, Plugin: fakePlugin,
		Timeout: 20 * time.Second, Params: map[string]string{"mode": "good"}}
	p := Find(d, nil)
	res, err := p.Check(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"name": "lidar-1", "kind": "lidar", "address": "127.0.0.1:7000", "required": "true", "op": "check",
		"protocol": Protocol, "env": Protocol, "timeoutMs": "20000", "timeout": "20s",
	}
	for k, v := range want {
		if res.Facts[k] != v {
			t.Errorf("plugin saw %s = %q, want %q", k, res.Facts[k], v)
		}
	}
	if res.Latency != 12500*time.Microsecond {
		t.Errorf("latency = %s, want the plugin's own 12.5ms", res.Latency)
	}
}

// TestHangKillsTheProcessGroup: a plugin that never answers, and whose child holds stdout open,
// ends at the deadline with an error, and the child is killed with it.
func TestHangKillsTheProcessGroup(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "child.pid")
	d := spec.Device{Name: "lidar-1", Kind: "lidar", Plugin: fakePlugin, Timeout: 2 * time.Second,
		Params: map[string]string{"mode": "hang", "pidfile": pidfile}}
	_, _, _, err := check(t, d)
	if err == nil || !strings.Contains(err.Error(), "did not answer within 2s; killed its process group") {
		t.Fatalf("err = %v, want the hang reported", err)
	}
	if !strings.Contains(err.Error(), "waiting for a sensor that never answers") {
		t.Errorf("err = %v, want the plugin's stderr quoted", err)
	}
	raw, err2 := os.ReadFile(pidfile)
	if err2 != nil {
		t.Fatalf("the plugin did not start its child: %v", err2)
	}
	pid, _ := strconv.Atoi(string(raw))
	// SIGKILL is delivered asynchronously; give the kernel a bounded moment to finish the child.
	for range 200 {
		if !alive(pid) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("the plugin's child %d survived the process-group kill", pid)
}

// alive reports whether pid exists and is not a zombie awaiting its reaper.
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

func TestFindOnPath(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink(fakePlugin, filepath.Join(dir, Prefix+"lidar")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	d := spec.Device{Name: "lidar-1", Kind: "lidar", Timeout: 20 * time.Second, Params: map[string]string{"mode": "good"}}
	p := Find(d, nil)
	if p.Missing != nil || p.Name() != Prefix+"lidar" {
		t.Fatalf("Find = %+v", p)
	}
	if _, ok, _, err := check(t, d); err != nil || !ok {
		t.Fatalf("check via PATH: ok=%v err=%v", ok, err)
	}

	d.Kind = "sonar"
	p = Find(d, nil)
	if p.Missing == nil {
		t.Fatal("want sonar missing")
	}
	if _, err := p.Check(context.Background(), d); err == nil || !strings.Contains(err.Error(), "no avatar-sync-plugin-sonar on PATH") {
		t.Errorf("Check of a missing plugin: %v", err)
	}
}

func TestFindExplicitPathNotExecutable(t *testing.T) {
	f := filepath.Join(t.TempDir(), "plugin.sh")
	if err := os.WriteFile(f, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := Find(spec.Device{Name: "x", Kind: "lidar", Plugin: f}, nil)
	if p.Missing == nil || !strings.Contains(p.Missing.Error(), "is not an executable file (chmod +x it)") {
		t.Fatalf("Missing = %v", p.Missing)
	}
	diags := p.Validate(spec.Device{Name: "x", Kind: "lidar", Plugin: f})
	if len(diags) != 1 || diags[0].Severity != spec.SeverityWarning {
		t.Errorf("Validate = %v, want one warning", diags)
	}
}

// TestExamplePlugin runs the worked example of docs/devices.md through the runner, so the
// documented protocol and the code cannot drift apart.
func TestExamplePlugin(t *testing.T) {
	bin := filepath.Join(t.TempDir(), Prefix+"diskspace")
	build := exec.Command("go", "build", "-o", bin, "../../examples/plugins/avatar-sync-plugin-diskspace")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build example: %v\n%s", err, out)
	}
	dir := t.TempDir()
	tests := map[string]struct {
		address, minFree string
		wantOK           bool
		want             string
		wantErr          string
	}{
		"enough space":  {address: dir, minFree: "1KB", wantOK: true, want: dir + " is writable; "},
		"too little":    {address: dir, minFree: "1000000TB", want: "free, want at least"},
		"missing dir":   {address: filepath.Join(dir, "nope"), minFree: "1KB", want: "is not a directory"},
		"bad parameter": {address: dir, minFree: "lots", wantErr: `could not probe the device: minFree: "lots" is not a size`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := spec.Device{Name: "recordings", Kind: "diskspace", Address: tc.address, Plugin: bin, Timeout: 20 * time.Second,
				Params: map[string]string{"minFree": tc.minFree}}
			detail, ok, facts, err := check(t, d)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.wantOK || !strings.Contains(detail, tc.want) {
				t.Errorf("got OK=%v %q, want OK=%v containing %q", ok, detail, tc.wantOK, tc.want)
			}
			if tc.wantOK && facts["freeBytes"] == "" {
				t.Errorf("facts %v lack freeBytes", facts)
			}
		})
	}
}
