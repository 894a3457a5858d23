package spec

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseAllTargetsParsesOnce: what validate without --cluster reports is the spec's own
// diagnostics and every overriding target's, as ParsePartialSources and ValidateSources give them,
// but the spec as written is parsed once, not twice (issue 23): at 1,000 topics and no overrides it
// allocates about what one parse does.
func TestParseAllTargetsParsesOnce(t *testing.T) {
	data := []byte(overridesBase + "    overrides:\n      topics:\n        - { name: eeg-raw, partitions: 7 }\n        - { name: eeg-raw, partitions: 8 }\n")
	srcs := []Source{{Name: "avatar.yaml", Data: data}}
	s, diags := ParsePartialAllTargets("avatar.yaml", srcs)
	want, wantDiags := ParsePartialSources("avatar.yaml", srcs, "")
	wantDiags = append(wantDiags, ValidateSources("avatar.yaml", srcs)...)
	if s == nil || len(s.Topics) != len(want.Topics) {
		t.Fatalf("spec %v; want the spec as written", s)
	}
	if d := cmp.Diff(errorsOnly(wantDiags), errorsOnly(diags)); d != "" || len(diags.Errors()) == 0 {
		t.Errorf("diagnostics (-ParsePartialSources+ValidateSources +ParsePartialAllTargets):\n%s", d)
	}

	big := []Source{{Name: "avatar.yaml", Data: manyTopicsSpec(1000)}}
	once := testing.AllocsPerRun(3, func() { ParsePartialSources("avatar.yaml", big, "") })
	all := testing.AllocsPerRun(3, func() { ParsePartialAllTargets("avatar.yaml", big) })
	if all > once*1.2 {
		t.Errorf("ParsePartialAllTargets allocates %.0f times, one parse %.0f: the spec is parsed more than once", all, once)
	}
}
