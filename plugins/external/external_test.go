package external

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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

// buildExample builds the worked example plugin of docs/devices.md under its installed name.
func buildExample(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), Prefix+"diskspace")
	build := exec.Command("go", "build", "-o", bin, "../../examples/plugins/avatar-sync-plugin-diskspace")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build example: %v\n%s", err, out)
	}
	return bin
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
	diags := p.Validate(t.Context(), spec.Device{Name: "x", Kind: "lidar", Plugin: f})
	if len(diags) != 1 || diags[0].Severity != spec.SeverityWarning {
		t.Errorf("Validate = %v, want one warning", diags)
	}
}

// TestExamplePlugin runs the worked example of docs/devices.md through the runner, so the
// documented protocol and the code cannot drift apart.
func TestExamplePlugin(t *testing.T) {
	bin := buildExample(t)
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

// validateDevice is the entry the validate tests send: two params with positions, so diagnostics
// can be checked to land on the key they name (or on the device when they name none).
func validateDevice(validate string, extra map[string]string) spec.Device {
	params := map[string]string{"validate": validate, "rate": "5Hz", "colour": "red"}
	for k, v := range extra {
		params[k] = v
	}
	return spec.Device{
		Name: "lidar-1", Kind: "lidar", Address: "lidar.lab:7000", Plugin: fakePlugin,
		Pos:    spec.Pos{File: "avatar.yaml", Line: 40, Col: 5},
		Params: params,
		ParamsPos: map[string]spec.Pos{
			"validate": {File: "avatar.yaml", Line: 41, Col: 7},
			"rate":     {File: "avatar.yaml", Line: 42, Col: 7},
			"colour":   {File: "avatar.yaml", Line: 43, Col: 7},
		},
	}
}

// TestValidate runs op "validate" through the real runner against every way a plugin can
// answer: diagnostics land at their param's position, plugins without validate contribute
// nothing, and a broken plugin is one warning at the device (its parameters were not checked).
func TestValidate(t *testing.T) {
	const notChecked = `avatar.yaml:40:5: warning: device "lidar-1" (plugin fakeplugin): parameters not checked: `
	tests := map[string]struct {
		validate, mode string
		want           []string // each diagnostic's String(), in order
		wantContains   string   // for the single warning of a broken plugin
	}{
		"valid": {validate: "valid"},
		"diagnostics at their params": {validate: "diags", want: []string{
			`avatar.yaml:40:5: device "lidar-1" (plugin fakeplugin): ghost: is required`,
			`avatar.yaml:40:5: warning: device "lidar-1" (plugin fakeplugin): address: use a host name the lab DNS knows`,
			`avatar.yaml:42:7: warning: device "lidar-1" (plugin fakeplugin): rate: 5Hz is slow for a lidar`,
			`avatar.yaml:43:7: device "lidar-1" (plugin fakeplugin): unknown parameter "colour" (did you mean "color"?)`,
		}},
		"unsupported answer":                     {validate: "unsupported"},
		"unknown op error":                       {validate: "unknownop"},
		"unknown op error, exit 1":               {validate: "unknownop-exit1"},
		"plugin that ignores op":                 {mode: "good"},
		"plugin that ignores op, failing device": {mode: "fail"},
		"could not validate": {validate: "cannot",
			wantContains: notChecked + "plugin fakeplugin could not validate the device: calibration table /etc/lidar.cal is unreadable"},
		"hang": {validate: "hang",
			wantContains: notChecked + "plugin fakeplugin did not answer within 2s; killed its process group; stderr: fakeplugin: waiting for a sensor that never answers"},
		"crash":       {validate: "crash", wantContains: notChecked + "plugin fakeplugin crashed (aborted); stderr: "},
		"garbage":     {validate: "badjson", wantContains: notChecked + `plugin fakeplugin: answered invalid JSON (invalid character 'b' looking for beginning of value); stdout began "battery=87 OK"`},
		"nothing":     {validate: "empty", wantContains: notChecked + "plugin fakeplugin: answered nothing on stdout"},
		"two objects": {validate: "extra", wantContains: notChecked + "plugin fakeplugin: answered extra output after the JSON object"},
		"protocol":    {validate: "wrongproto", wantContains: notChecked + `plugin fakeplugin: answered protocol "avatar-sync.device/v2"`},
		"exit status": {validate: "exit3", wantContains: notChecked + "plugin fakeplugin exited with status 3"},
		"chatty":      {validate: "chatty", wantContains: notChecked + "plugin fakeplugin printed more than 1048576 bytes on stdout"},
		"no diagnostics": {validate: "nofindings",
			wantContains: notChecked + `plugin fakeplugin answered op "validate" with neither diagnostics nor an error (want "diagnostics": [] when the entry is valid)`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := validateDevice(tc.validate, map[string]string{"mode": tc.mode})
			diags := Find(d, nil).Validate(t.Context(), d)
			var got []string
			for _, dg := range diags {
				got = append(got, dg.String())
			}
			if tc.wantContains != "" {
				if len(diags) != 1 || diags[0].Severity != spec.SeverityWarning || !strings.HasPrefix(got[0], tc.wantContains) {
					t.Fatalf("Validate = %q\nwant one warning starting %q", got, tc.wantContains)
				}
				if !strings.HasSuffix(got[0], `(op "validate" must answer within 2s without touching the network; see docs/devices.md)`) {
					t.Errorf("warning %q does not say what validate must do", got[0])
				}
				return
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("Validate =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if tc.validate == "diags" {
				if errs := diags.Errors(); len(errs) != 2 {
					t.Errorf("want 2 errors (colour, ghost), got %q", errs)
				}
			}
		})
	}
}

// TestValidateHangKillsTheProcessGroup: validate is bounded like check, children included.
func TestValidateHangKillsTheProcessGroup(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "child.pid")
	d := validateDevice("hang", map[string]string{"pidfile": pidfile})
	diags := Find(d, nil).Validate(t.Context(), d)
	if len(diags) != 1 || !strings.Contains(diags[0].Message, "did not answer within 2s; killed its process group") {
		t.Fatalf("Validate = %v, want the hang reported", diags)
	}
	raw, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatalf("the plugin did not start its child: %v", err)
	}
	pid, _ := strconv.Atoi(string(raw))
	for range 200 {
		if !alive(pid) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("the plugin's child %d survived the process-group kill", pid)
}

// TestValidateHungPluginRunsOnce: with a shared cache, a plugin that hung on one device's
// validate is not run (and waited for) again for the next device it serves.
func TestValidateHungPluginRunsOnce(t *testing.T) {
	cache := NewValidationCache()
	var got []string
	for i, name := range []string{"lidar-1", "lidar-2"} {
		pidfile := filepath.Join(t.TempDir(), "child.pid")
		d := validateDevice("hang", map[string]string{"pidfile": pidfile})
		d.Name = name
		p := Find(d, nil)
		p.Validations = cache
		diags := p.Validate(t.Context(), d)
		if len(diags) != 1 || diags[0].Severity != spec.SeverityWarning {
			t.Fatalf("Validate(%s) = %v, want one warning", name, diags)
		}
		got = append(got, diags[0].Message)
		if _, err := os.Stat(pidfile); (err == nil) != (i == 0) {
			t.Errorf("device %s: plugin started = %v, want %v", name, err == nil, i == 0)
		}
	}
	if !strings.Contains(got[0], "plugin fakeplugin did not answer within 2s; killed its process group") {
		t.Errorf("first device: %q", got[0])
	}
	if want := `device "lidar-2" (plugin fakeplugin): parameters not checked: plugin fakeplugin did not answer within 2s when validating device "lidar-1", so it was not run again`; !strings.HasPrefix(got[1], want) {
		t.Errorf("second device: %q\nwant prefix %q", got[1], want)
	}
}

// TestValidateRequestAndCache: the plugin sees op "validate" with the validate budget, and a
// shared cache runs it once per entry however often the entry is validated (check validates
// before probing, and Preflight validates again with the timeout it capped).
func TestValidateRequestAndCache(t *testing.T) {
	dir := t.TempDir()
	reqs := filepath.Join(dir, "requests")
	script := filepath.Join(dir, "plugin.sh")
	body := "#!/bin/sh\ncat >>'" + reqs + "'\necho >>'" + reqs + "'\n" +
		`echo '{"protocol":"avatar-sync.device/v1","diagnostics":[{"param":"minBatery","message":"unknown parameter"}]}'` + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	cache := NewValidationCache()
	d := spec.Device{Name: "drone", Kind: "quad", Address: "10.0.0.7", Plugin: script,
		Params: map[string]string{"minBatery": "30"}, ParamsPos: map[string]spec.Pos{"minBatery": {File: "a.yaml", Line: 3, Col: 9}}}
	for _, timeout := range []time.Duration{0, 2500 * time.Millisecond} {
		d.Timeout = timeout
		p := Find(d, nil)
		p.Validations = cache
		diags := p.Validate(t.Context(), d)
		if len(diags) != 1 || diags[0].String() != `a.yaml:3:9: device "drone" (plugin plugin.sh): minBatery: unknown parameter` {
			t.Fatalf("Validate = %v", diags)
		}
	}
	raw, err := os.ReadFile(reqs)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 1 {
		t.Fatalf("the plugin ran %d times, want once:\n%s", len(lines), raw)
	}
	var req Request
	if err := json.Unmarshal([]byte(lines[0]), &req); err != nil {
		t.Fatal(err)
	}
	want := Request{Protocol: Protocol, Op: OpValidate, TimeoutMs: 2000, Device: RequestDevice{
		Name: "drone", Kind: "quad", Address: "10.0.0.7", Timeout: "3s", Params: map[string]string{"minBatery": "30"},
	}}
	if diff := cmp.Diff(want, req); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}

	// Another entry is another question.
	d.Params = map[string]string{"minBattery": "30"}
	p := Find(d, nil)
	p.Validations = cache
	p.Validate(t.Context(), d)
	if raw, _ := os.ReadFile(reqs); strings.Count(string(raw), "\n") != 2 {
		t.Errorf("a changed entry was answered from the cache:\n%s", raw)
	}
}

// TestExamplePluginValidate runs the worked example's validate op through the runner, with the
// positions a spec file gives.
func TestExamplePluginValidate(t *testing.T) {
	bin := buildExample(t)
	at := func(line, col int) spec.Pos { return spec.Pos{File: "avatar.yaml", Line: line, Col: col} }
	tests := map[string]struct {
		address string
		params  map[string]string
		want    []string
	}{
		"valid":                               {address: "/data/eeg", params: map[string]string{"minFree": "20GB"}},
		"no params":                           {address: "/data/eeg"},
		"missing dir is the check's business": {address: "/does/not/exist", params: map[string]string{"minFree": "1GiB"}},
		"typo": {address: "/data/eeg", params: map[string]string{"minFre": "20GB"}, want: []string{
			`avatar.yaml:12:60: device "recordings" (plugin avatar-sync-plugin-diskspace): unknown parameter "minFre" for kind diskspace (did you mean "minFree"?); known: minFree`,
		}},
		"bad size and relative address": {address: "data/eeg", params: map[string]string{"minFree": "lots"}, want: []string{
			`avatar.yaml:12:5: device "recordings" (plugin avatar-sync-plugin-diskspace): address "data/eeg" must be the absolute path of the recordings directory, e.g. /data/eeg`,
			`avatar.yaml:12:60: device "recordings" (plugin avatar-sync-plugin-diskspace): minFree: "lots" is not a size such as 500MB or 20GB`,
		}},
		"tiny minFree warns": {address: "/data/eeg", params: map[string]string{"minFree": "1KB"}, want: []string{
			`avatar.yaml:12:60: warning: device "recordings" (plugin avatar-sync-plugin-diskspace): minFree 1KB is under 1MiB, so the check passes on an almost full disk; a session needs gigabytes (e.g. 20GB)`,
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := spec.Device{Name: "recordings", Kind: "diskspace", Address: tc.address, Plugin: bin, Pos: at(12, 5),
				Params: tc.params, ParamsPos: map[string]spec.Pos{}}
			for k := range tc.params {
				d.ParamsPos[k] = at(12, 60)
			}
			var got []string
			for _, dg := range Find(d, nil).Validate(t.Context(), d) {
				got = append(got, dg.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

// TestInterpretValidateUnknownOpWords: the v1 documentation only asked plugins to answer "an
// error" for an unknown op, so the usual phrasings all mean "no validation", while any other
// error is a plugin that could not validate.
func TestInterpretValidateUnknownOpWords(t *testing.T) {
	tests := map[string]struct {
		answer      string
		unsupported bool
	}{
		"documented":                     {answer: `{"protocol":"avatar-sync.device/v1","unsupported":true}`, unsupported: true},
		"unknown op":                     {answer: `{"protocol":"avatar-sync.device/v1","error":"unknown op \"validate\""}`, unsupported: true},
		"old example plugin":             {answer: `{"protocol":"avatar-sync.device/v1","error":"unsupported protocol \"avatar-sync.device/v1\" op \"validate\""}`, unsupported: true},
		"not implemented":                {answer: `{"protocol":"avatar-sync.device/v1","error":"validate: not implemented"}`, unsupported: true},
		"bad op":                         {answer: `{"protocol":"avatar-sync.device/v1","error":"invalid op validate"}`, unsupported: true},
		"real failure":                   {answer: `{"protocol":"avatar-sync.device/v1","error":"config file missing"}`},
		"unsupported but other protocol": {answer: `{"protocol":"avatar-sync.device/v2","unsupported":true}`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v := interpretValidate("p", []byte(tc.answer), "", nil)
			if got := v.failure == "" && v.diags == nil; got != tc.unsupported {
				t.Errorf("unsupported = %v (%+v), want %v", got, v, tc.unsupported)
			}
		})
	}
}
