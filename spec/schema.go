package spec

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// JSON Schema patterns for the human units; they accept what ParseDuration / ParseDurationMs /
// ParseBytes accept (sizes case-insensitively, which ECMA regexes spell out with classes).
const (
	durationPattern   = `^([0-9]+(\.[0-9]+)? ?(ms|s|m|h|d|w))+$`
	kafkaDurationPat  = `^(-?[0-9]+|forever|infinite|unlimited|([0-9]+(\.[0-9]+)? ?(ms|s|m|h|d|w))+)$`
	sizePattern       = `^([0-9]+(\.[0-9]+)? ?([kKmMgGtT][iI]?)?[bB]|-?[0-9]+|unlimited)$`
	throttlePattern   = `^[0-9]+(\.[0-9]+)? ?([kKmMgGtT][iI]?)?[bB](/s)?$`
	schemaID          = "https://github.com/avatar-project/avatar-sync/schema/avatar.schema.json"
	schemaDraft       = "http://json-schema.org/draft-07/schema#"
	schemaDescription = "avatar-sync's declarative description of the Avatar project's Kafka cluster (see docs/avatar-yaml.md)."
)

// JSONSchema returns the JSON Schema (draft-07) of avatar.yaml, generated from the same tables the
// loader checks against, so editors using yaml-language-server complete and check what avatar-sync
// accepts. schema/avatar.schema.json is this output; a test keeps it in sync. The schema checks shape
// and types; cross-field rules (replication within the broker count, unique ports, ...) are the
// loader's.
func JSONSchema() []byte {
	defs := map[string]any{
		"duration": map[string]any{
			"type": "string", "pattern": durationPattern,
			"description": "a duration with a unit: 90s, 10m, 1h, 7d, 1h30m",
		},
		"kafkaDuration": map[string]any{
			"description": "milliseconds, or a duration with a unit (90s, 10m, 1h, 7d), or forever (-1)",
			"anyOf": []any{
				map[string]any{"type": "integer"},
				map[string]any{"type": "string", "pattern": kafkaDurationPat},
			},
		},
		"size": map[string]any{
			"description": "bytes, or a size with a unit: 512KiB, 10MiB, 1GB (-1 or unlimited: no limit)",
			"anyOf": []any{
				map[string]any{"type": "integer"},
				map[string]any{"type": "string", "pattern": sizePattern},
			},
		},
		"topicConfig": topicConfigSchema(),
	}
	var walk func(o *object)
	walk = func(o *object) {
		if _, done := defs[o.name]; done || o == specObj {
			return
		}
		defs[o.name] = objectSchema(o)
		for _, f := range o.fields {
			if f.elem != nil {
				walk(f.elem)
			}
		}
	}
	for _, f := range specObj.fields {
		if f.elem != nil {
			walk(f.elem)
		}
	}
	root := objectSchema(specObj)
	root["$schema"] = schemaDraft
	root["$id"] = schemaID
	root["title"] = "avatar.yaml"
	root["description"] = schemaDescription
	root["definitions"] = defs
	out, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("spec: marshal JSON schema: %v", err)) // only plain maps and strings: cannot fail
	}
	return append(out, '\n')
}

// objectSchema describes one mapping: its known keys, required ones, and whether others may appear.
func objectSchema(o *object) map[string]any {
	props := map[string]any{}
	var required []string
	for _, f := range o.fields {
		props[f.key] = fieldSchema(f)
		if f.required {
			required = append(required, f.key)
		}
	}
	s := map[string]any{"type": "object", "description": o.doc, "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	if o.extra != "" {
		s["additionalProperties"] = map[string]any{
			"type":        []string{"string", "number", "boolean"},
			"description": "plugin parameter",
		}
		// Passwords never go in the file, even as plugin parameters.
		s["propertyNames"] = map[string]any{"pattern": "^(?!.*[pP][aA][sS][sS][wW][oO][rR][dD]$)"}
	} else {
		s["additionalProperties"] = false
	}
	return s
}

func fieldSchema(f field) map[string]any {
	desc := f.doc
	if f.def != "" {
		desc += " (default: " + f.def + ")"
	}
	var s map[string]any
	switch f.kind {
	case vInt:
		bounds := map[string]any{}
		if f.min != nil {
			bounds["minimum"] = *f.min
		}
		if f.max != nil {
			bounds["maximum"] = *f.max
		}
		s = numberSchema("integer", bounds)
	case vBool:
		s = boolSchema()
	case vDuration:
		s = map[string]any{"$ref": "#/definitions/duration"}
	case vDurationMs:
		s = map[string]any{"$ref": "#/definitions/kafkaDuration"}
	case vSize:
		s = map[string]any{"anyOf": []any{
			map[string]any{"type": "integer", "minimum": 0},
			map[string]any{"type": "string", "pattern": throttlePattern},
		}}
	case vStringList:
		s = map[string]any{"type": "array", "items": map[string]any{"type": "string"}}
	case vObject:
		s = map[string]any{"$ref": "#/definitions/" + f.elem.name}
	case vList:
		s = map[string]any{"type": "array", "items": map[string]any{"$ref": "#/definitions/" + f.elem.name}}
	case vMap:
		s = map[string]any{
			"type":                 "object",
			"propertyNames":        map[string]any{"pattern": dnsLabelPattern},
			"additionalProperties": map[string]any{"$ref": "#/definitions/" + f.elem.name},
		}
	case vTopicConfig:
		s = map[string]any{"$ref": "#/definitions/topicConfig"}
	case vString:
		switch {
		case len(f.enum) > 0:
			s = enumSchema(f.enum)
		case f.pattern != "":
			s = map[string]any{"type": "string", "pattern": f.pattern}
		default:
			// Unquoted YAML scalars such as 2 or 1.0 (limitsCpu: 2, imageTag: 3.9) are strings to the loader.
			s = map[string]any{"type": []string{"string", "number"}}
		}
		if f.required {
			s["minLength"] = 1 // the loader refuses host: "" as empty
		}
	}
	if _, isRef := s["$ref"]; isRef {
		// draft-07 ignores siblings of $ref; wrap it so the key's own description still shows.
		s = map[string]any{"allOf": []any{s}}
	}
	s["description"] = desc
	return s
}

// topicConfigSchema describes the Kafka topic configs: one property per key of the table.
func topicConfigSchema() map[string]any {
	props := map[string]any{}
	for _, d := range topicConfigs {
		props[d.Key] = configSchema(d)
	}
	return map[string]any{
		"type":                 "object",
		"description":          "Kafka 3.9 topic-level configs; durations and sizes may use units",
		"properties":           props,
		"additionalProperties": false,
	}
}

func configSchema(d TopicConfigDef) map[string]any {
	var s map[string]any
	bounds := func(m map[string]any) map[string]any {
		if d.Min != nil {
			m["minimum"] = *d.Min
		}
		if d.Max != nil {
			m["maximum"] = *d.Max
		}
		if len(d.Except) > 0 {
			m["not"] = map[string]any{"enum": d.Except}
		}
		return m
	}
	switch d.Type {
	case ConfigBool:
		s = boolSchema()
	case ConfigInt, ConfigLong:
		s = numberSchema("integer", bounds(map[string]any{}))
	case ConfigMs:
		s = map[string]any{"anyOf": []any{
			bounds(map[string]any{"type": "integer"}),
			map[string]any{"type": "string", "pattern": kafkaDurationPat},
		}}
	case ConfigBytes, ConfigIntBytes:
		s = map[string]any{"anyOf": []any{
			bounds(map[string]any{"type": "integer"}),
			map[string]any{"type": "string", "pattern": sizePattern},
		}}
	case ConfigDouble:
		s = numberSchema("number", bounds(map[string]any{}))
	case ConfigEnum:
		s = enumSchema(d.Enum)
	case ConfigEnumList:
		one := strings.TrimSuffix(strings.TrimPrefix(ciPattern(d.Enum), "^ *"), " *$")
		s = map[string]any{"anyOf": []any{
			map[string]any{"type": "string", "enum": d.Enum},
			map[string]any{"type": "string", "pattern": fmt.Sprintf("^ *%s( *, *%s)* *$", one, one)},
			map[string]any{"type": "array", "items": enumSchema(d.Enum), "minItems": 1},
		}}
	default:
		s = map[string]any{"type": []string{"string", "number"}}
	}
	desc := d.Doc + " (Kafka default: " + humanDefault(d) + ")"
	if d.Deprecated != "" {
		desc = "Deprecated: " + d.Deprecated + ". " + desc
	}
	s["description"] = desc
	return s
}

// The loader is lenient where it cannot be misread: enum values match case-insensitively, booleans
// and numbers may be quoted. The schema accepts the same, while listing the canonical spellings
// first so editors complete those.

// ciPattern matches any of values, ignoring case (ECMA regexes have no flag for it in JSON Schema).
func ciPattern(values []string) string {
	alts := make([]string, len(values))
	for i, v := range values {
		var b strings.Builder
		for _, r := range v {
			lo, up := strings.ToLower(string(r)), strings.ToUpper(string(r))
			switch {
			case lo != up:
				b.WriteString("[" + lo + up + "]")
			case strings.ContainsRune(`\.+*?()|[]{}^$/`, r):
				b.WriteString(`\` + string(r))
			default:
				b.WriteRune(r)
			}
		}
		alts[i] = b.String()
	}
	return "^ *(" + strings.Join(alts, "|") + ") *$"
}

// enumSchema lists the canonical values and also accepts them in any case.
func enumSchema(values []string) map[string]any {
	return map[string]any{"anyOf": []any{
		map[string]any{"type": "string", "enum": values},
		map[string]any{"type": "string", "pattern": ciPattern(values)},
	}}
}

// boolSchema accepts YAML booleans and the strings true/false in any case.
func boolSchema() map[string]any {
	return map[string]any{"anyOf": []any{
		map[string]any{"type": "boolean"},
		map[string]any{"type": "string", "pattern": ciPattern([]string{"true", "false"})},
	}}
}

// numberSchema accepts a YAML number (within bounds) or the same number quoted.
func numberSchema(typ string, bounded map[string]any) map[string]any {
	pattern := `^ *[-+]?[0-9]+ *$`
	if typ == "number" {
		pattern = `^ *[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)? *$`
	}
	bounded["type"] = typ
	return map[string]any{"anyOf": []any{bounded, map[string]any{"type": "string", "pattern": pattern}}}
}

// humanDefault shows Kafka's default with its unit where that helps ("604800000 (7d)").
func humanDefault(d TopicConfigDef) string {
	if d.Default == "" {
		return `""`
	}
	if h := HumanTopicConfig(d.Key, d.Default); h != d.Default {
		if n, err := strconv.ParseInt(d.Default, 10, 64); err == nil && n >= 0 {
			return d.Default + " (" + h + ")"
		}
	}
	return d.Default
}
