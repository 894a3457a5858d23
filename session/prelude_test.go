package session

import (
	"errors"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

// TestDecidePreflight: the devices are probed for --preflight or a target's preflight: true,
// never with --skip-preflight, and never the devices whose external plugins were not run; a fleet
// when any of its targets sets preflight: true.
func TestDecidePreflight(t *testing.T) {
	sp := &spec.Spec{
		Clusters: []spec.Cluster{{Name: "lab", Preflight: true}, {Name: "dev"}},
		Devices:  []spec.Device{{Name: "tello-1"}, {Name: "lidar"}},
	}
	noDevices := &spec.Spec{Clusters: sp.Clusters}
	tests := []struct {
		name      string
		sp        *spec.Spec
		target    string
		notRun    []string
		run, skip bool
		want      PreflightSkip
		why       string
		devices   string
	}{
		{"not asked for", sp, "dev", nil, false, false, PreflightNotWanted, "", ""},
		{"--preflight", sp, "dev", nil, true, false, "", "--preflight", "tello-1,lidar"},
		{"target sets preflight", sp, "lab", nil, false, false, "", `cluster "lab" sets preflight: true`, "tello-1,lidar"},
		{"--skip-preflight wins over --preflight", sp, "lab", nil, true, true, PreflightSkipped, "", ""},
		{"no devices", noDevices, "lab", nil, false, false, PreflightNoDevices, "", ""},
		{"plugins not run are left out", sp, "lab", []string{"lidar"}, false, false, "", `cluster "lab" sets preflight: true`, "tello-1"},
		{"every device a plugin not run", sp, "lab", []string{"lidar", "tello-1"}, false, false, PreflightAllExternal, "", ""},
		// A fleet is probed when any of its targets asks, wherever it stands in the list.
		{"fleet, second target sets preflight", sp, "dev,lab", nil, false, false, "", `cluster "lab" sets preflight: true`, "tello-1,lidar"},
		{"fleet, none sets preflight", sp, "dev, dev2", nil, false, false, PreflightNotWanted, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := DecidePreflight(tc.sp, tc.target, tc.notRun, tc.run, tc.skip)
			names := make([]string, len(d.Devices))
			for i, dev := range d.Devices {
				names[i] = dev.Name
			}
			if d.Skip != tc.want || d.Why != tc.why || strings.Join(names, ",") != tc.devices {
				t.Errorf("got %q %q %v, want %q %q %s", d.Skip, d.Why, names, tc.want, tc.why, tc.devices)
			}
		})
	}
}

// TestSpecErrorCountsAsValidate: an invalid spec's error starts with validate's summary and lists
// each error on its own line; errors.Is(err, spec.ErrInvalid) holds.
func TestSpecErrorCountsAsValidate(t *testing.T) {
	diags := spec.Diagnostics{
		{Severity: spec.SeverityError, Pos: spec.Pos{File: "avatar.yaml", Line: 3, Col: 5}, Message: "a"},
		{Severity: spec.SeverityWarning, Pos: spec.Pos{File: "avatar.yaml", Line: 4, Col: 1}, Message: "w"},
	}
	err := DiagnosticsErr("", diags)
	if err == nil || !strings.HasPrefix(err.Error(), "the spec is invalid: 1 error, 1 warning:\navatar.yaml:3:5") {
		t.Fatalf("err: %v", err)
	}
	if !errors.Is(err, spec.ErrInvalid) {
		t.Error("errors.Is(err, spec.ErrInvalid) does not hold")
	}
	if DiagnosticsErr("avatar.yaml", diags[1:]) != nil {
		t.Error("warnings alone are an error")
	}
}
