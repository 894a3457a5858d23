package spec

import (
	"strings"
	"testing"
)

// TestParsePartial: with errors, Parse returns no spec but ParsePartial returns what it decoded
// (the devices, for their plugins' checks) with the same diagnostics; a file that is not a YAML
// mapping has nothing to return.
func TestParsePartial(t *testing.T) {
	src := []byte("apiVersion: avatar-sync/v1\nkind: KafkaCluster\nmetadata: { name: lab }\n" +
		"brokers:\n  - { id: 1, host: b1, ports: { plaintext: 9092 } }\nretension: 1h\n" +
		"devices:\n  - { name: t1, kind: tello, address: \"127.0.0.1:8889\", minBatery: 30 }\n")
	s, diags := Parse("a.yaml", src)
	p, pdiags := ParsePartial("a.yaml", src)
	if s != nil || len(diags.Errors()) != 1 {
		t.Fatalf("Parse: spec %v, diagnostics %v; want no spec and one error", s != nil, diags)
	}
	if p == nil || len(pdiags) != len(diags) {
		t.Fatalf("ParsePartial: spec %v, diagnostics %v; want the spec and Parse's diagnostics", p != nil, pdiags)
	}
	if len(p.Devices) != 1 || p.Devices[0].Params["minBatery"] != "30" {
		t.Errorf("devices = %+v; want t1 with its parameter", p.Devices)
	}
	if p, _ := ParsePartial("a.yaml", []byte("- a list\n")); p != nil {
		t.Errorf("ParsePartial of a list returned a spec")
	}
}

// TestHugeFileRefused: a file far beyond any real spec is refused up front, with its size, instead
// of being parsed for seconds (yaml.v3 builds the whole tree before the node limit applies).
func TestHugeFileRefused(t *testing.T) {
	data := make([]byte, 0, MaxFileBytes+64)
	data = append(data, "apiVersion: avatar-sync/v1\nkind: KafkaCluster\ntopics:\n"...)
	for len(data) <= MaxFileBytes {
		data = append(data, "  - { name: t, partitions: 1, replicationFactor: 1 }\n"...)
	}
	s, diags := ParsePartial("big.yaml", data)
	if s != nil || len(diags) != 1 || diags[0].Pos.Line != 1 {
		t.Fatalf("spec %v, diagnostics %v; want one error at line 1", s != nil, diags)
	}
	if want := "more than a spec can sensibly be (limit 16MiB)"; !strings.Contains(diags[0].Message, want) {
		t.Errorf("message %q lacks %q", diags[0].Message, want)
	}
}
