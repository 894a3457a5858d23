package spec

import (
	"slices"
	"testing"
)

func TestDecodedDevices(t *testing.T) {
	all := []Device{
		{Name: "tello-1", Kind: "tello", Address: "192.168.10.1"},
		{Name: "", Kind: "tcp", Address: "h:1"},                       // no name
		{Name: "tello-1", Kind: "tello", Address: "192.168.10.2"},     // repeated name
		{Name: "svc", Kind: "http", Address: "http://x", Timeout: -1}, // negative timeout
		{Name: "bad-kind", Kind: "Tello!", Address: "1.2.3.4"},        // the loader refused its kind
		{Name: "ok-2", Kind: "tcp", Address: "h:2"},
	}
	diags := Diagnostics{
		{Severity: SeverityError, Message: `devices[4].kind "Tello!" is not a valid kind`},
		{Severity: SeverityWarning, Message: `devices[5].address is unusual`}, // a warning rejects nothing
		{Severity: SeverityError, Message: `devices[5].params.x is wrong`},    // nor does another key
	}
	var got []string
	for _, d := range DecodedDevices(all, diags) {
		got = append(got, d.Name+"@"+d.Address)
	}
	if want := []string{"tello-1@192.168.10.1", "ok-2@h:2"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
