package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// TestLoadFleetParsesOnce: a fleet reads and parses the spec once (issue 23); each further target
// costs merging its overrides and a decode of the topics (about 10 allocations a topic), not
// yaml.v3 building the node tree again (about 33 more), and gets its own overrides.
func TestLoadFleetParsesOnce(t *testing.T) {
	var b strings.Builder
	b.WriteString(`apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar }
brokers:
  - { id: 1, host: b1, ports: { plaintext: 9092 } }
topicDefaults: { partitions: 3, replicationFactor: 1 }
clusters:
  a: { bootstrap: ["a:9092"] }
  b: { bootstrap: ["b:9092"], overrides: { topicDefaults: { partitions: 1 } } }
topics:
`)
	for i := range 2000 {
		fmt.Fprintf(&b, "  - name: t%05d\n    retention: 7d\n", i)
	}
	file := filepath.Join(t.TempDir(), "avatar.yaml")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(list string) []*spec.Spec {
		_, specs, _, err := LoadFleet(context.Background(), file, nil, list)
		if err != nil {
			t.Fatal(err)
		}
		return specs
	}
	if specs := load("a,b"); specs[0].Topics[0].Partitions != 3 || specs[1].Topics[0].Partitions != 1 {
		t.Errorf("partitions a %d, b %d; want 3 and b's override 1", specs[0].Topics[0].Partitions, specs[1].Topics[0].Partitions)
	}
	one := testing.AllocsPerRun(2, func() { load("a") })
	two := testing.AllocsPerRun(2, func() { load("a,b") })
	perTopic := (two - one) / 2000
	t.Logf("%.1f allocations per topic for the second target", perTopic)
	if perTopic > 20 {
		t.Errorf("the second target costs %.1f allocations per topic, want at most 20 (a decode, not a parse)", perTopic)
	}
}

// TestLoadFleetFromStdin: a fleet's spec on standard input is read once and serves every target.
func TestLoadFleetFromStdin(t *testing.T) {
	const file = `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar }
brokers:
  - { id: 1, host: b1, ports: { plaintext: 9092 } }
clusters:
  a: { bootstrap: ["a:9092"] }
  b: { bootstrap: ["b:9092"], overrides: { topics: [{ name: t, partitions: 2 }] } }
topics:
  - { name: t, partitions: 1, replicationFactor: 1 }
`
	names, specs, _, err := LoadFleet(context.Background(), spec.Stdin, strings.NewReader(file), "a,b")
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 2 || names[1] != "b" || specs[0].Topics[0].Partitions != 1 || specs[1].Topics[0].Partitions != 2 {
		t.Errorf("targets %v: want a with 1 partition and b with its override of 2", names)
	}
}
