package spec

import (
	"fmt"
	"strings"
)

// Explanation is what `avatar-sync explain KEY` prints about one Kafka topic config (issue 15). It is
// built from the same table (topicConfigs) that validation, NormalizeTopicConfig, the JSON Schema and
// docs/avatar-yaml.md use, so the four cannot disagree.
type Explanation struct {
	Key  string `json:"key"`
	Type string `json:"type"`
	// Default is Kafka's default as avatar.yaml would write it (604800000 (7d)).
	Default string `json:"default"`
	// Allowed is the accepted range or the enum values ("" when any value of the type is accepted).
	Allowed string `json:"allowed,omitempty"`
	// Accepts says how avatar.yaml may write a value: units, spellings, list forms.
	Accepts    string `json:"accepts"`
	Doc        string `json:"doc"`
	Deprecated string `json:"deprecated,omitempty"`
	// Shorthand names a topic key that sets this config too (retention for retention.ms).
	Shorthand string `json:"shorthand,omitempty"`
}

// Explain describes a topic config key. "retention", the topic key, explains retention.ms. An
// unknown key is an error with the same hint validation gives (log.retention.hours → retention.ms).
func Explain(key string) (Explanation, error) {
	k := strings.TrimSpace(key)
	if k == "retention" {
		k = "retention.ms"
	}
	def, ok := LookupTopicConfig(k)
	if !ok {
		// explain also takes the topic key retention, so a typo of it gets its suggestion too
		// (`explain retension`, issue 21).
		hint := topicConfigHint(k)
		if hint == "" {
			hint = didYouMean(k, append([]string{"retention"}, topicConfigKeys()...))
		}
		return Explanation{}, fmt.Errorf("%q is not a Kafka topic config%s: %w", key, hint, ErrUnknownTopicConfig)
	}
	e := Explanation{Key: def.Key, Type: def.Type.String(), Default: humanDefault(def), Accepts: def.accepts(), Doc: def.Doc, Deprecated: def.Deprecated}
	switch {
	case len(def.Enum) > 0:
		e.Allowed = strings.Join(def.Enum, ", ")
	case def.Min != nil || def.Max != nil:
		e.Allowed = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(def.rangeText(), "the allowed range "), "("), ")")
	}
	if def.Key == "retention.ms" {
		e.Shorthand = "retention (a topic key beside config, e.g. retention: 7d); not both"
	}
	return e, nil
}

// accepts says how a value of this config may be written in avatar.yaml, as Normalize reads it.
func (d TopicConfigDef) accepts() string {
	allows := func(n float64) bool { return d.Min == nil || *d.Min <= n }
	switch d.Type {
	case ConfigMs:
		s := "milliseconds (a bare integer), or a duration with units ms, s, m, h, d, w: 90s, 10m, 1h30m, 1.5h, 7d, 2w"
		if allows(-1) {
			s += "; -1, forever or infinite mean no limit"
		}
		return s
	case ConfigBytes, ConfigIntBytes:
		s := "bytes (a bare integer), or a size: 512KiB, 1MiB, 1GiB (powers of 1024) or 500KB, 1MB, 1GB (powers of 1000), any case"
		if allows(-1) {
			s += "; -1 or unlimited mean no limit"
		}
		return s
	case ConfigBool:
		return "true or false (any case)"
	case ConfigInt:
		return "a whole number (32-bit)"
	case ConfigLong:
		return "a whole number (64-bit)"
	case ConfigDouble:
		return "a number, e.g. 0.5"
	case ConfigEnum:
		return "one of the allowed values, any case; stored in Kafka's spelling"
	case ConfigEnumList:
		return "one or more of the allowed values, comma-separated (compact,delete) or as a YAML list; any case and order"
	case ConfigReplicaList:
		return "* (every replica) or partition:broker pairs, e.g. 0:1,1:2"
	}
	return "a string"
}

// String renders the explanation for a terminal.
func (e Explanation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s)\n  %s\n\n", e.Key, e.Type, e.Doc)
	row := func(label, v string) {
		if v != "" {
			fmt.Fprintf(&b, "  %-11s %s\n", label+":", v)
		}
	}
	row("default", e.Default)
	row("allowed", e.Allowed)
	row("write", e.Accepts)
	row("shorthand", e.Shorthand)
	row("deprecated", e.Deprecated)
	return b.String()
}

// ExplainAll explains every topic config key, in the table's order (`explain` without a key).
func ExplainAll() ([]Explanation, error) {
	var list []Explanation
	for _, d := range TopicConfigs() {
		e, err := Explain(d.Key)
		if err != nil {
			return nil, err
		}
		list = append(list, e)
	}
	return list, nil
}
