package spec

import (
	"fmt"
	"slices"

	"gopkg.in/yaml.v3"
)

// Per-target overrides (issue 15), kustomize-style: a target under clusters: may carry its own
// brokers, topicDefaults and topic settings. Loading the spec for that target merges them over the
// spec's on the YAML tree, before decoding, so everything after works on the merged result as if it
// had been written that way: topicDefaults inheritance, validation (replicationFactor within the
// target's brokers) and every position, which still points at the line of this file where the value
// was written — in the target's overrides or in the spec's own sections.

// Overrides are a target's own settings as written (for display; ParseTarget merges the YAML).
type Overrides struct {
	// Brokers, when set, replace the spec's brokers for the target.
	Brokers []Broker `yaml:"brokers"`
	// TopicDefaults, when set, are merged over the spec's key by key (config key by key).
	TopicDefaults *TopicOverride `yaml:"topicDefaults"`
	// Topics are merged over the spec's topics of the same name.
	Topics []TopicOverride `yaml:"topics"`
	Pos    Pos             `yaml:"-"`
}

// TopicOverride is what an override sets of a topic (or of topicDefaults, without Name): a zero
// Partitions or ReplicationFactor and a nil Prune are not overridden.
type TopicOverride struct {
	Name              string            `yaml:"name"`
	Partitions        int               `yaml:"partitions"`
	ReplicationFactor int               `yaml:"replicationFactor"`
	Config            map[string]string `yaml:"config"`
	Prune             *bool             `yaml:"prune"`
	Pos               Pos               `yaml:"-"`
}

// ParseTarget is Parse for one target: the spec with the overrides of clusters.<target> merged in,
// validated as a whole. A target without overrides (or one the spec does not declare) gives what
// Parse gives. Diagnostics that only the merged spec has end with "(target NAME)", so a message
// about a value written once for every target says for which target it is wrong.
func ParseTarget(file string, data []byte, target string) (*Spec, Diagnostics) {
	s, diags := ParsePartialTarget(file, data, target)
	if len(diags.Errors()) > 0 {
		return nil, diags
	}
	return s, diags
}

// ParsePartialTarget is ParsePartial for one target (see ParseTarget).
func ParsePartialTarget(file string, data []byte, target string) (*Spec, Diagnostics) {
	return parseTree(file, data).partial(target)
}

// ValidateTargets returns the diagnostics of every target with overrides that the spec alone does
// not have: what `validate` without --cluster reports beyond Parse, so CI catches a target whose
// merged spec is invalid.
func ValidateTargets(file string, data []byte) Diagnostics {
	return validateTargets(parseTree(file, data).parser())
}

// overrides decodes clusters.<name>.overrides (keys and types; merging is mergeTarget's).
func (d *decoder) overrides(m *mapping) *Overrides {
	o := &Overrides{Pos: d.nodePos(m.node)}
	if _, _, ok := m.get("brokers"); ok {
		items, paths := m.list("brokers")
		o.Brokers = []Broker{}
		for i, item := range items {
			o.Brokers = append(o.Brokers, d.broker(item, paths[i]))
		}
	}
	if _, _, ok := m.get("topicDefaults"); ok {
		td := m.object("topicDefaults")
		o.TopicDefaults = topicOverride(d.topicFields(td, nil, nil), "", d.nodePos(td.node))
	}
	items, paths := m.list("topics")
	for i, item := range items {
		tm := d.mapping(item, topicOverrideObj, paths[i])
		var name string
		tm.str("name", &name)
		o.Topics = append(o.Topics, *topicOverride(d.topicFields(tm, nil, nil), name, d.nodePos(tm.node)))
	}
	return o
}

func topicOverride(tf topicFields, name string, pos Pos) *TopicOverride {
	t := &TopicOverride{Name: name, Partitions: tf.partitions, ReplicationFactor: tf.replicationFactor, Config: tf.config, Pos: pos}
	if tf.pruneSet {
		t.Prune = &tf.prune
	}
	return t
}

// mergeTarget returns root with the overrides of clusters.<target> merged in, or root itself when
// the target has none. It builds new mapping and sequence nodes and never changes root's, so the
// same tree can be merged for several targets. Shape errors inside overrides are the decoder's to
// report (overridesObj); mergeTarget reports only what merging finds: a topic override naming no
// topic of the spec, or one topic overridden twice.
func (d *decoder) mergeTarget(root *yaml.Node, target string) (*yaml.Node, bool) {
	m := &merger{d: d}
	return m.target(root, target)
}

func (d *merger) target(root *yaml.Node, target string) (*yaml.Node, bool) {
	root = d.resolve(root)
	if root.Kind != yaml.MappingNode {
		return root, false
	}
	clusters := valueOf(d, root, "clusters")
	if clusters == nil || clusters.Kind != yaml.MappingNode {
		return root, false
	}
	tgt := valueOf(d, clusters, target)
	if tgt == nil || tgt.Kind != yaml.MappingNode {
		return root, false
	}
	ov := valueOf(d, tgt, "overrides")
	if ov == nil || ov.Kind != yaml.MappingNode {
		return root, false
	}
	out := d.d.derive(&yaml.Node{Kind: yaml.MappingNode, Tag: root.Tag}, root)
	for _, e := range d.pairs(root) {
		out.Content = append(out.Content, e.key, e.val)
	}
	for _, e := range d.pairs(ov) {
		v := d.resolve(e.val)
		switch e.key.Value {
		case "brokers":
			if v.Kind == yaml.SequenceNode {
				setValue(d, out, e.key, v)
			}
		case "topicDefaults":
			if v.Kind == yaml.MappingNode {
				setValue(d, out, e.key, d.mergeTopic(valueOf(d, out, "topicDefaults"), v))
			}
		case "topics":
			if v.Kind != yaml.SequenceNode {
				break
			}
			base := valueOf(d, out, "topics")
			if base == nil || base.Kind != yaml.SequenceNode {
				// No topics to override: every override names a topic the spec lacks.
				d.mergeTopics(&yaml.Node{Kind: yaml.SequenceNode}, v, "clusters."+target+".overrides.topics")
				break
			}
			setValue(d, out, e.key, d.mergeTopics(base, v, "clusters."+target+".overrides.topics"))
		}
	}
	return out, true
}

// mergeTopics merges each override over the spec's topic of the same name, keeping the spec's order.
func (d *merger) mergeTopics(base, over *yaml.Node, path string) *yaml.Node {
	index := map[string]int{}
	var names []string
	for i, item := range base.Content {
		if n := valueOf(d, d.resolve(item), "name"); n != nil && n.Kind == yaml.ScalarNode {
			if _, dup := index[n.Value]; !dup {
				index[n.Value] = i
				names = append(names, n.Value)
			}
		}
	}
	out := d.d.derive(&yaml.Node{Kind: yaml.SequenceNode, Tag: base.Tag, Content: slices.Clone(base.Content)}, base)
	seen := map[string]int{}
	for j, item := range over.Content {
		item = d.resolve(item)
		n := valueOf(d, item, "name")
		if item.Kind != yaml.MappingNode || n == nil || n.Kind != yaml.ScalarNode || n.Value == "" {
			continue // reported by the decoder: the name is required
		}
		p := fmt.Sprintf("%s[%d].name", path, j)
		if line, dup := seen[n.Value]; dup {
			d.errorf(n, "%s %q is already overridden on line %d; merge the two", p, n.Value, line)
			continue
		}
		seen[n.Value] = lineOf(n)
		i, ok := index[n.Value]
		if !ok {
			d.errorf(n, "%s %q is not a topic of the spec%s; a target overrides topics, it does not add them", p, n.Value, didYouMean(n.Value, names))
			continue
		}
		out.Content[i] = d.mergeTopic(d.resolve(base.Content[i]), item)
	}
	return out
}

// mergeTopic merges the keys of over into base (a topic or topicDefaults): a key over sets replaces
// the spec's, config is merged key by key, and the retention shorthand replaces config.retention.ms
// (and the reverse), so a target can change a retention written either way. A topic override's name
// only selects the topic.
func (d *merger) mergeTopic(base, over *yaml.Node) *yaml.Node {
	if base == nil || base.Kind != yaml.MappingNode {
		return over
	}
	overKeys := map[string]*yaml.Node{}
	for _, e := range d.pairs(over) {
		overKeys[e.key.Value] = d.resolve(e.val)
	}
	overConfig := overKeys["config"]
	if overConfig != nil && overConfig.Kind != yaml.MappingNode {
		overConfig = nil // reported by the decoder
	}
	_, overRetention := overKeys["retention"]
	overRetentionMs := overConfig != nil && valueOf(d, overConfig, "retention.ms") != nil

	out := d.d.derive(&yaml.Node{Kind: yaml.MappingNode, Tag: base.Tag}, base)
	for _, e := range d.pairs(base) {
		k := e.key.Value
		switch {
		case k == "config" && overConfig != nil:
			continue // written below, merged
		case k == "retention" && overRetentionMs:
			continue
		case k == "name":
		case overKeys[k] != nil:
			continue
		}
		out.Content = append(out.Content, e.key, e.val)
	}
	for _, e := range d.pairs(over) {
		k := e.key.Value
		switch {
		case k == "name":
			continue
		case k == "config" && overConfig != nil:
			out.Content = append(out.Content, e.key, d.mergeConfig(valueOf(d, base, "config"), overConfig, overRetention))
			continue
		}
		out.Content = append(out.Content, e.key, e.val)
	}
	if overRetention && overConfig == nil {
		// The shorthand replaces a config.retention.ms the spec wrote.
		if c := valueOf(d, out, "config"); c != nil && c.Kind == yaml.MappingNode && valueOf(d, c, "retention.ms") != nil {
			setValue(d, out, &yaml.Node{Kind: yaml.ScalarNode, Value: "config"}, d.mergeConfig(c, &yaml.Node{Kind: yaml.MappingNode}, true))
		}
	}
	return out
}

// mergeConfig is base's config with over's keys replacing or adding, dropping retention.ms when the
// override sets the retention shorthand.
func (d *merger) mergeConfig(base, over *yaml.Node, dropRetention bool) *yaml.Node {
	from := over
	if base != nil && base.Kind == yaml.MappingNode {
		from = base
	}
	out := d.d.derive(&yaml.Node{Kind: yaml.MappingNode}, from)
	overKeys := map[string]bool{}
	for _, e := range d.pairs(over) {
		overKeys[e.key.Value] = true
	}
	if base != nil && base.Kind == yaml.MappingNode {
		for _, e := range d.pairs(base) {
			if overKeys[e.key.Value] || dropRetention && e.key.Value == "retention.ms" {
				continue
			}
			out.Content = append(out.Content, e.key, e.val)
		}
	}
	for _, e := range d.pairs(over) {
		out.Content = append(out.Content, e.key, e.val)
	}
	return out
}

// valueOf is the resolved value of key in mapping m (nil when absent or m is not a mapping).
func valueOf(d *merger, m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	var v *yaml.Node
	for _, e := range d.pairs(m) {
		if e.key.Value == key {
			v = d.resolve(e.val) // the first, as the decoder reads a repeated key (and reports the repeat)
			break
		}
	}
	return v
}

// setValue replaces the value of key in m (a mapping this file built), or appends key: v.
func setValue(d *merger, m *yaml.Node, key, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if d.resolve(m.Content[i]).Value == key.Value {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, key, v)
}

// merger walks the YAML tree for mergeTarget. It expands aliases and merge keys as the decoder does,
// but reports nothing (the decoder reports shape problems when it reads the merged tree). The
// file's expansion was bounded before (boundExpansion), so merging walks no more than decoding.
type merger struct {
	d *decoder
}

func (d *merger) resolve(n *yaml.Node) *yaml.Node { return d.d.resolve(n) }

func (d *merger) errorf(n *yaml.Node, format string, args ...any) { d.d.errorf(n, format, args...) }

// pairs is decoder.pairs without diagnostics: explicit keys first, then merged ones they lack.
func (d *merger) pairs(n *yaml.Node) []entry {
	if n == nil {
		return nil
	}
	return d.d.mappingPairs(n, false)
}
