package reconcile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/avatar-project/avatar-sync/spec"
)

// SelectDevices returns the devices named (all of them when names is empty), in spec order.
// Unknown names are reported together, with the known ones, so a typo is fixed in one go.
func SelectDevices(all []spec.Device, names []string) ([]spec.Device, error) {
	if len(names) == 0 {
		return all, nil
	}
	known := make([]string, len(all))
	for i, d := range all {
		known[i] = d.Name
	}
	var unknown []string
	for _, n := range names {
		if !slices.Contains(known, n) {
			u := fmt.Sprintf("%q", n)
			// tello-3 is not a typo of tello-1: names differing only in digits are other devices.
			if sug := spec.Suggest(n, known); sug != "" && stripDigits(sug) != stripDigits(n) {
				u += fmt.Sprintf(" (did you mean %q?)", sug)
			}
			unknown = append(unknown, u)
		}
	}
	if len(unknown) > 0 {
		list := "none: the spec declares no devices"
		if len(known) > 0 {
			list = strings.Join(known, ", ")
		}
		noun := "device"
		if len(unknown) > 1 {
			noun = "devices"
		}
		return nil, fmt.Errorf("unknown %s %s; known devices: %s", noun, strings.Join(unknown, ", "), list)
	}
	var out []spec.Device
	for _, d := range all {
		if slices.Contains(names, d.Name) {
			out = append(out, d)
		}
	}
	return out, nil
}

// stripDigits drops the digits of s.
func stripDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return -1
		}
		return r
	}, s)
}

// DeviceNames are the names of the devices rs reports on, in order.
func DeviceNames(rs []CheckResult) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Device
	}
	return out
}
