package spec

import (
	"cmp"
	"os"
	"slices"
	"strings"
)

// Shell completion's answers from the spec (candidates are "value\tdescription").

// completionSpec is what completion knows of the spec at path: whatever the loader could decode,
// since the file is often mid-edit (and invalid) exactly when someone presses TAB. Nil when the file
// cannot be read or is not a YAML mapping.
func completionSpec(path string) *Spec {
	if path == Stdin {
		return nil // standard input is the command's, not completion's
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	s, _ := ParsePartial(path, data)
	return s
}

// CompleteTargets lists the targets of the spec at path with a short description; an unreadable
// spec still offers the embedded target, which every spec has.
func CompleteTargets(path string) []string {
	s := completionSpec(path)
	if s == nil {
		return []string{EmbeddedCluster + "\tin-process cluster"}
	}
	out := make([]string, 0, len(s.Clusters))
	for _, c := range s.Clusters {
		if c.Name == "" {
			continue
		}
		desc := "in-process cluster"
		if !c.Embedded() {
			desc = strings.TrimSpace(cmp.Or(c.Security, SecurityPlaintext) + " " + c.Bootstrap[0])
		}
		out = append(out, c.Name+"\t"+desc)
	}
	return out
}

// CompleteDevices lists the devices of the spec at path (for `check NAME`), with kind and address,
// leaving out those already given.
func CompleteDevices(path string, given []string) []string {
	s := completionSpec(path)
	if s == nil {
		return nil
	}
	var out []string
	for _, d := range s.Devices {
		if d.Name == "" || slices.Contains(given, d.Name) {
			continue
		}
		out = append(out, d.Name+"\t"+strings.TrimSpace(d.Kind+" "+d.Address))
	}
	return out
}
