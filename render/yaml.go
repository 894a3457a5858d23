package render

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// omap is a YAML mapping that keeps the order it was built in: Kubernetes readers expect apiVersion,
// kind and metadata first, and a stable order is what makes re-renders byte-identical.
type omap []kv

type kv struct {
	k string
	v any
}

// MarshalYAML implements yaml.Marshaler.
func (o omap) MarshalYAML() (any, error) { return toNode(o) }

// toNode builds the YAML node tree directly: yaml.v3's Node.Encode re-parses every nested value,
// which made rendering quadratic in the nesting depth.
func toNode(v any) (*yaml.Node, error) {
	switch v := v.(type) {
	case omap:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, e := range v {
			c, err := toNode(e.v)
			if err != nil {
				return nil, fmt.Errorf("encode %q: %w", e.k, err)
			}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: e.k}, c)
		}
		return n, nil
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range v {
			c, err := toNode(e)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, c)
		}
		return n, nil
	case []string:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range v {
			c, _ := toNode(e)
			n.Content = append(n.Content, c)
		}
		return n, nil
	case string:
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
		if strings.Contains(v, "\n") {
			n.Style = yaml.LiteralStyle
		}
		return n, nil
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(v)}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}, nil
	default:
		var n yaml.Node
		if err := n.Encode(v); err != nil {
			return nil, err
		}
		return &n, nil
	}
}

// set returns o with key k set to v (appended when absent).
func (o omap) set(k string, v any) omap {
	for i := range o {
		if o[i].k == k {
			o[i].v = v
			return o
		}
	}
	return append(o, kv{k, v})
}

// strMap turns a Go map into an omap with sorted keys.
func strMap(m map[string]string) omap {
	out := make(omap, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, kv{k, m[k]})
	}
	return out
}

// yamlDocs renders documents separated by "---", after a header comment.
func yamlDocs(header string, docs ...any) (string, error) {
	var buf bytes.Buffer
	buf.WriteString(header)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return "", err
		}
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return buf.String(), nil
}
