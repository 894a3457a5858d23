package spec

import (
	"errors"
	"strings"
	"testing"
)

// TestExplainEveryKey: explain knows every key of the table validation uses, and what it says about
// units is what Normalize accepts (issue 15).
func TestExplainEveryKey(t *testing.T) {
	for _, def := range TopicConfigs() {
		t.Run(def.Key, func(t *testing.T) {
			e, err := Explain(def.Key)
			if err != nil {
				t.Fatal(err)
			}
			if e.Key != def.Key || e.Doc != def.Doc || e.Type != def.Type.String() || e.Accepts == "" || e.Deprecated != def.Deprecated {
				t.Errorf("explanation does not match the table: %+v", e)
			}
			if !strings.HasPrefix(e.Default, def.Default) {
				t.Errorf("default %q, table says %q", e.Default, def.Default)
			}
			for _, v := range def.Enum {
				if !strings.Contains(e.Allowed, v) {
					t.Errorf("allowed %q lacks %q", e.Allowed, v)
				}
			}
			// The forms the text promises are accepted by validation's own parser.
			switch def.Type {
			case ConfigMs:
				checkAccepts(t, def, e, "forever", "1h30m")
			case ConfigBytes, ConfigIntBytes:
				checkAccepts(t, def, e, "unlimited", "1MiB")
			}
			if !strings.Contains(e.String(), def.Key) || !strings.Contains(e.String(), "default:") {
				t.Errorf("text lacks the key or the default:\n%s", e)
			}
		})
	}
}

// checkAccepts: each promised spelling mentioned in the text normalises (within range).
func checkAccepts(t *testing.T, def TopicConfigDef, e Explanation, noLimit, unit string) {
	t.Helper()
	if _, err := def.Normalize(unit); err != nil && !strings.Contains(err.Error(), "outside") {
		t.Errorf("%s: %q promised but refused: %v", def.Key, unit, err)
	}
	_, err := def.Normalize(noLimit)
	if strings.Contains(e.Accepts, noLimit) != (err == nil) {
		t.Errorf("%s: text mentions %q = %v, but Normalize says %v", def.Key, noLimit, strings.Contains(e.Accepts, noLimit), err)
	}
}

func TestExplainUnknownAndShorthand(t *testing.T) {
	if _, err := Explain("log.retention.hours"); !errors.Is(err, ErrUnknownTopicConfig) || !strings.Contains(err.Error(), "retention.ms") {
		t.Errorf("log.retention.hours: %v; want an unknown-key error pointing at retention.ms", err)
	}
	if _, err := Explain("retension.ms"); err == nil || !strings.Contains(err.Error(), `did you mean "retention.ms"`) {
		t.Errorf("typo: %v", err)
	}
	// A typo of the topic key explain also takes (issue 21).
	if _, err := Explain("retension"); !errors.Is(err, ErrUnknownTopicConfig) || !strings.Contains(err.Error(), `did you mean "retention"?`) {
		t.Errorf("retension: %v; want did you mean \"retention\"", err)
	}
	e, err := Explain("retention")
	if err != nil || e.Key != "retention.ms" || e.Shorthand == "" {
		t.Errorf("retention: %+v %v", e, err)
	}
}
