package reconcile

import (
	"slices"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

func TestSelectDevices(t *testing.T) {
	all := []spec.Device{{Name: "tello-1"}, {Name: "tello-2"}, {Name: "openbci-headset"}}
	for _, tc := range []struct {
		name    string
		all     []spec.Device
		names   []string
		want    []string
		wantErr string
	}{
		{name: "no names: every device", all: all, want: []string{"tello-1", "tello-2", "openbci-headset"}},
		{name: "spec order, not argument order", all: all, names: []string{"openbci-headset", "tello-1"}, want: []string{"tello-1", "openbci-headset"}},
		{name: "a typo gets a suggestion", all: all, names: []string{"telo-1"},
			wantErr: `unknown device "telo-1" (did you mean "tello-1"?); known devices: tello-1, tello-2, openbci-headset`},
		{name: "another number is another device, not a typo", all: all, names: []string{"tello-3", "tello-1"},
			wantErr: `unknown device "tello-3"; known devices: tello-1, tello-2, openbci-headset`},
		{name: "unknown names together", all: all, names: []string{"tello-3", "lidar"},
			wantErr: `unknown devices "tello-3", "lidar"; known devices: tello-1, tello-2, openbci-headset`},
		{name: "a spec without devices", names: []string{"tello-1"},
			wantErr: `unknown device "tello-1"; known devices: none: the spec declares no devices`},
	} {
		got, err := SelectDevices(tc.all, tc.names)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var names []string
		for _, d := range got {
			names = append(names, d.Name)
		}
		if !slices.Equal(names, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, names, tc.want)
		}
	}
}
