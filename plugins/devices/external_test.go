package devices

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

// TestExternalDevices: only a device an installed external plugin serves is named; built-in kinds
// and a plugin missing from PATH are not (their checks ran, or have nothing to run).
func TestExternalDevices(t *testing.T) {
	installed, _ := validPlugin(t)
	reg := NewRegistry()
	reg.NoExternalRun = true
	reg.LookPath = func(file string) (string, error) {
		if file == "avatar-sync-plugin-lidar" {
			return installed, nil
		}
		return "", errors.New("not found")
	}
	devs := []spec.Device{
		{Name: "tello-1", Kind: "tello", Address: "192.168.10.1"},
		{Name: "lidar-1", Kind: "lidar", Address: "10.0.0.9"},
		{Name: "sonar-1", Kind: "sonar", Address: "10.0.0.8"},
		{Name: "typo", Kind: "tell", Address: "10.0.0.7"},
	}
	if got := ExternalDevices(devs, reg); !slices.Equal(got, []string{"lidar-1"}) {
		t.Errorf("got %v, want [lidar-1]", got)
	}
}

// TestValidateSpec: the devices' diagnostics join the loader's in file order; in a spec with errors
// a device the loader already faulted is not judged again; without runExternal the installed
// plugin does not run and its device is named.
func TestValidateSpec(t *testing.T) {
	installed, runs := validPlugin(t)
	t.Setenv("PATH", filepath.Dir(installed))
	pos := func(line, col int) spec.Pos { return spec.Pos{File: "avatar.yaml", Line: line, Col: col} }
	sp := &spec.Spec{Devices: []spec.Device{
		{Name: "tello-1", Kind: "tello", Address: "192.168.10.1:8889", Pos: pos(30, 5),
			Params: map[string]string{"retries": "50"}, ParamsPos: map[string]spec.Pos{"retries": pos(31, 7)}},
		{Name: "lidar-1", Kind: "lidar", Address: "10.0.0.9", Pos: pos(40, 5)},
		{Name: "bad", Kind: "tello", Address: "x:1", Pos: pos(50, 5), Params: map[string]string{"retries": "50"}},
	}}
	loader := spec.Diagnostics{
		{Pos: pos(50, 13), Severity: spec.SeverityError, Message: `devices[2].kind "tello" is faulted here for the test`},
		{Pos: pos(2, 1), Severity: spec.SeverityWarning, Message: "first"},
	}
	for _, external := range []bool{false, true} {
		diags, notRun := ValidateSpec(context.Background(), sp, slices.Clone(loader), external)
		var got []string
		for _, d := range diags {
			got = append(got, d.String())
		}
		want := []string{
			"avatar.yaml:2:1: warning: first",
			`avatar.yaml:31:7: device "tello-1": retries: 50 is out of range [1, 10]`,
			`avatar.yaml:50:13: devices[2].kind "tello" is faulted here for the test`,
		}
		if !slices.Equal(got, want) {
			t.Errorf("external %v: diagnostics\n%s\nwant\n%s", external, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if wantNotRun := []string{"lidar-1"}; external == slices.Equal(notRun, wantNotRun) {
			t.Errorf("external %v: notRun %v", external, notRun)
		}
	}
	if n := runs(); n != 1 {
		t.Errorf("the plugin ran %d times, want once (only with runExternal)", n)
	}
}
