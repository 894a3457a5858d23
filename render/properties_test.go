package render

import (
	"strings"
	"testing"
)

// TestPropertyValuesAreEscaped: a spec value is written so java.util.Properties reads back exactly
// that value in exactly one property. A rack with a line break used to smuggle a second property
// (here: turning topic auto-creation back on) into every broker's server.properties.
func TestPropertyValuesAreEscaped(t *testing.T) {
	for name, rack := range map[string]string{
		"line break":  "lab-a\nauto.create.topics.enable=true",
		"backslash":   `lab\a`,
		"tab":         "lab\ta",
		"leading sp":  " lab-a",
		"non-ascii":   "labor-ä-🚁",
		"env ref":     "${env:RACK}",
		"plain":       "lab-a",
		"equals sign": "a=b:c#d!e",
	} {
		t.Run(name, func(t *testing.T) {
			s := exampleSpec(t.TempDir())
			s.Brokers[0].Rack = rack
			files, err := KustomizeFiles(s, "deploy")
			if err != nil {
				t.Fatal(err)
			}
			text := files["base/config/kafka-broker-1.properties"]
			for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
				if strings.ContainsAny(line, "\r\t") || strings.ContainsFunc(line, func(r rune) bool { return r > 0x7e }) {
					t.Errorf("line %d is not plain ASCII: %q", i+1, line)
				}
			}
			props := ParseProperties(text)
			if props["broker.rack"] != rack {
				t.Errorf("broker.rack reads back as %q, want %q", props["broker.rack"], rack)
			}
			if props["auto.create.topics.enable"] != "false" {
				t.Errorf("auto.create.topics.enable = %q, want false", props["auto.create.topics.enable"])
			}
		})
	}
}
