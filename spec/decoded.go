package spec

import (
	"fmt"
	"slices"
	"strings"
)

// DecodedDevices are the devices of a spec with errors whose common keys the loader accepted (name,
// kind and address set and valid, name not repeated): the plugins judge their parameters. The others
// already have the loader's message, which the plugins would only repeat.
func DecodedDevices(all []Device, diags Diagnostics) []Device {
	var out []Device
	seen := map[string]bool{}
	for i, d := range all {
		if d.Name == "" || d.Kind == "" || d.Address == "" || d.Timeout < 0 || seen[d.Name] {
			continue
		}
		if slices.ContainsFunc(diags.Errors(), func(e Diagnostic) bool {
			for _, key := range []string{"name", "kind", "address"} {
				if strings.HasPrefix(e.Message, fmt.Sprintf("devices[%d].%s ", i, key)) {
					return true
				}
			}
			return false
		}) {
			continue
		}
		seen[d.Name] = true
		out = append(out, d)
	}
	return out
}
