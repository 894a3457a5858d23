package devices

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/plugins/external"
	"github.com/avatar-project/avatar-sync/spec"
)

func TestSuggest(t *testing.T) {
	kinds := NewRegistry().Kinds()
	tests := map[string]struct {
		word       string
		candidates []string
		want       string
	}{
		"one letter off":          {word: "minBatery", candidates: telloSchema.names(), want: "minBattery"},
		"case only":               {word: "minbattery", candidates: telloSchema.names(), want: "minBattery"},
		"kind typo":               {word: "tell", candidates: kinds, want: "tello"},
		"kind with underscore":    {word: "openbci_wifi", candidates: kinds, want: "openbci-wifi"},
		"too far":                 {word: "lidar", candidates: kinds, want: ""},
		"short words stay strict": {word: "ud", candidates: kinds, want: "udp"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := suggest(tc.word, tc.candidates); got != tc.want {
				t.Errorf("suggest(%q) = %q, want %q", tc.word, got, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	pos := func(line, col int) spec.Pos { return spec.Pos{File: "avatar.yaml", Line: line, Col: col} }
	tests := map[string]struct {
		device spec.Device
		want   []string // each diagnostic's String(), in order
	}{
		"valid tello": {
			device: spec.Device{Name: "tello-1", Kind: "tello", Address: "192.168.10.1", Params: map[string]string{"minBattery": "30%"}},
		},
		"unknown param with suggestion at its position": {
			device: spec.Device{Name: "tello-1", Kind: "tello", Address: "192.168.10.1:8889", Pos: pos(30, 5),
				Params: map[string]string{"minBatery": "30"}, ParamsPos: map[string]spec.Pos{"minBatery": pos(30, 61)}},
			want: []string{`avatar.yaml:30:61: device "tello-1": unknown parameter "minBatery" for kind tello (did you mean "minBattery"?); known: minBattery, retries, stateStream, stateListen, stateTimeout`},
		},
		"every bad value, in file order": {
			device: spec.Device{Name: "tello-1", Kind: "tello", Address: "192.168.10.1:88x9", Pos: pos(30, 5),
				Params:    map[string]string{"retries": "50", "minBattery": "120%", "stateStream": "yes please"},
				ParamsPos: map[string]spec.Pos{"retries": pos(31, 7), "minBattery": pos(32, 7), "stateStream": pos(33, 7)}},
			want: []string{
				`avatar.yaml:30:5: device "tello-1" (kind tello): address "192.168.10.1:88x9": port "88x9" is not a number from 1 to 65535`,
				`avatar.yaml:31:7: device "tello-1": retries: 50 is out of range [1, 10]`,
				`avatar.yaml:32:7: device "tello-1": minBattery: "120%" is not a percentage from 0 to 100`,
				`avatar.yaml:33:7: device "tello-1": stateStream: "yes please" is not true or false`,
			},
		},
		"tcp needs a port": {
			device: spec.Device{Name: "kafka", Kind: "tcp", Address: "kafka-broker-1"},
			want:   []string{`device "kafka" (kind tcp): address "kafka-broker-1" needs host:port`},
		},
		"tcp takes no params": {
			device: spec.Device{Name: "kafka", Kind: "tcp", Address: "kafka-broker-1:9092", Params: map[string]string{"probe": "true"}},
			want:   []string{`device "kafka": unknown parameter "probe" for kind tcp; this kind takes no parameters`},
		},
		"serial path must be absolute": {
			device: spec.Device{Name: "cyton", Kind: "openbci-serial", Params: map[string]string{"path": "ttyUSB0", "baud": "115201"}},
			want: []string{
				`device "cyton": baud: 115201 is not a supported rate (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)`,
				`device "cyton": path: "ttyUSB0" must be an absolute device path such as /dev/ttyUSB0 or /dev/serial/by-id/...`,
			},
		},
		"serial needs a path": {
			device: spec.Device{Name: "cyton", Kind: "openbci-serial"},
			want:   []string{`device "cyton" (kind openbci-serial): set path: (or address:) to the dongle's device, e.g. /dev/ttyUSB0`},
		},
		"http status list": {
			device: spec.Device{Name: "svc", Kind: "http", Address: "localhost:5000", Params: map[string]string{"expectStatus": "2xx,ok", "path": "health"}},
			want: []string{
				`device "svc": expectStatus: "2xx,ok" is not a status code list such as 200 or 200,204 or 2xx`,
				`device "svc": path: "health" must start with /`,
			},
		},
		"http scheme": {
			device: spec.Device{Name: "svc", Kind: "http", Address: "ftp://localhost/"},
			want:   []string{`device "svc" (kind http): address "ftp://localhost/": scheme "ftp" is not http or https`},
		},
	}
	reg := NewRegistry()
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := reg.Checker(tc.device)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range c.Validate(t.Context(), tc.device) {
				got = append(got, d.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestRegistryChecker(t *testing.T) {
	installed, runs := validPlugin(t)
	reg := NewRegistry()
	reg.LookPath = func(file string) (string, error) {
		if file == "avatar-sync-plugin-lidar" {
			return installed, nil
		}
		return "", errors.New("not found")
	}
	tests := map[string]struct {
		device   spec.Device
		wantName string
		wantErr  string
		warning  string
	}{
		"built-in":           {device: spec.Device{Kind: "tello", Address: "192.168.10.1"}, wantName: "tello"},
		"installed plugin":   {device: spec.Device{Kind: "lidar"}, wantName: "avatar-sync-plugin-lidar"},
		"missing plugin":     {device: spec.Device{Name: "x", Kind: "sonar"}, wantName: "avatar-sync-plugin-sonar", warning: "no built-in probe for kind \"sonar\" and no avatar-sync-plugin-sonar on PATH"},
		"typo of a built-in": {device: spec.Device{Kind: "tell"}, wantErr: `unknown kind "tell" (did you mean "tello"?)`},
		"no kind":            {device: spec.Device{}, wantErr: "no kind: set kind: to one of http, openbci-serial, openbci-wifi, tcp, tello, udp"},
		"explicit plugin beats kind": {device: spec.Device{Kind: "tello", Plugin: "/nonexistent/p"}, wantName: "p",
			warning: "plugin /nonexistent/p: stat /nonexistent/p: no such file or directory"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := reg.Checker(tc.device)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Name() != tc.wantName {
				t.Errorf("Name() = %q, want %q", c.Name(), tc.wantName)
			}
			diags := c.Validate(t.Context(), tc.device)
			if tc.warning == "" {
				if len(diags) > 0 {
					t.Errorf("unexpected diagnostics %v", diags)
				}
				return
			}
			if len(diags) != 1 || diags[0].Severity != spec.SeverityWarning || !strings.Contains(diags[0].Message, tc.warning) {
				t.Errorf("diagnostics %v, want one warning containing %q", diags, tc.warning)
			}
			if _, ok := c.(*external.Plugin); !ok {
				t.Errorf("checker is %T, want *external.Plugin", c)
			}
		})
	}

	// The plugins a registry hands out share validate answers: a command that validates a device
	// and then probes it (which validates again) runs the plugin's validate once.
	d := spec.Device{Name: "lidar-1", Kind: "lidar", Params: map[string]string{"rpm": "600"}}
	for range 3 {
		c, err := reg.Checker(d)
		if err != nil {
			t.Fatal(err)
		}
		if diags := c.Validate(t.Context(), d); len(diags) > 0 {
			t.Fatalf("unexpected diagnostics %v", diags)
		}
	}
	if n := runs(); n != 2 { // once for "installed plugin" above, once for lidar-1
		t.Errorf("the plugin's validate ran %d times, want 2", n)
	}
}

// validPlugin writes an external plugin that finds every entry valid, and a counter of its runs.
func validPlugin(t *testing.T) (path string, runs func() int) {
	t.Helper()
	dir := t.TempDir()
	path = filepath.Join(dir, "avatar-sync-plugin-lidar")
	log := filepath.Join(dir, "runs")
	script := "#!/bin/sh\ncat >/dev/null\necho run >>'" + log + "'\n" +
		`echo '{"protocol":"avatar-sync.device/v1","diagnostics":[]}'` + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, func() int {
		raw, _ := os.ReadFile(log)
		return strings.Count(string(raw), "\n")
	}
}

// TestPluginPathRelativeToSpec: plugin: ./bin/x is found next to the spec file, as tls.dir and
// passwordFile are, whatever the working directory (it used to be resolved against the latter).
func TestPluginPathRelativeToSpec(t *testing.T) {
	lab := t.TempDir()
	if err := os.MkdirAll(filepath.Join(lab, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lab, "bin", "plug"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := spec.Device{Name: "disk", Kind: "diskspace", Address: "/tmp", Plugin: "./bin/plug",
		Pos: spec.Pos{File: filepath.Join(lab, "avatar.yaml"), Line: 7, Col: 5}}
	c, err := NewRegistry().Checker(d)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := c.(*external.Plugin)
	if !ok || p.Missing != nil || p.Path != filepath.Join(lab, "bin", "plug") {
		t.Fatalf("checker %T %+v; want the plugin at %s", c, c, filepath.Join(lab, "bin", "plug"))
	}
}
