package devices

import (
	"errors"
	"slices"
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
