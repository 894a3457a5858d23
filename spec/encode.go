package spec

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Document is a spec to write as avatar.yaml, with the comments that explain it to the person who
// will commit it (issue 15: `import` says where each value came from and what it left out;
// `config --cluster` says which target's overrides it merged).
type Document struct {
	Spec *Spec
	// Header is written above everything, one comment line per entry.
	Header []string
	// Comments are written above the item a path names, in validation's path syntax: "brokers",
	// "brokers[0]", "topicDefaults", "topics[2]", "topics[2].config.retention.ms", "clusters.lab".
	Comments map[string][]string
	// Footer is written below everything (what was left out and why).
	Footer []string
}

// Encode writes doc as avatar.yaml. It is pure: the same document always gives the same bytes, and
// Parse reads them back to the same Spec (topic configs are written in human units through
// HumanTopicConfig, which NormalizeTopicConfig reads back exactly). Zero values are left out, so a
// Spec built with only what differs from the defaults stays short.
func Encode(doc Document) []byte {
	e := encoder{comments: doc.Comments}
	root := e.spec(doc.Spec)
	// yaml.v3's emitter keeps every event of a document until the document ends, so one encoder
	// costs memory and copying in proportion to the whole spec (issue 23: 237 MB to write 10,000
	// topics). A long topics list is written in chunks, each by an encoder of its own, and spliced
	// in where a placeholder stands; the bytes are the same (TestEncodeChunkedIsIdentical).
	var topics *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "topics" && len(root.Content[i+1].Content) > encodeChunk {
			topics = root.Content[i+1]
			root.Content[i+1] = str(topicsPlaceholder)
		}
	}
	out := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}
	out.HeadComment = strings.Join(doc.Header, "\n")
	out.FootComment = strings.Join(doc.Footer, "\n")
	b := encodeYAML(out)
	if topics == nil {
		return b
	}
	var list bytes.Buffer
	list.WriteByte('\n')
	for start := 0; start < len(topics.Content); start += encodeChunk {
		chunk := &yaml.Node{Kind: yaml.SequenceNode, Content: topics.Content[start:min(start+encodeChunk, len(topics.Content))]}
		// Written on its own, the list starts at column 0; under topics: it is indented by two
		// (yaml.v3 wraps no line, so indenting changes nothing else).
		for line := range bytes.Lines(encodeYAML(chunk)) {
			if len(line) > 1 {
				list.WriteString("  ")
			}
			list.Write(line)
		}
	}
	return bytes.Replace(b, []byte(" "+topicsPlaceholder+"\n"), list.Bytes(), 1)
}

// encodeChunk is how many topics one yaml.v3 encoder writes.
const encodeChunk = 256

// topicsPlaceholder stands for the topics list while the rest of the spec is encoded: a plain
// scalar no spec value can be (topic names are [a-zA-Z0-9._-]).
const topicsPlaceholder = "avatar-sync/topics-placeholder"

// encodeYAML writes n with two-space indentation.
func encodeYAML(n *yaml.Node) []byte {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		// Only a node tree yaml.v3 cannot represent fails here, and encoder builds none.
		panic(fmt.Sprintf("spec.Encode: %v", err))
	}
	_ = enc.Close()
	return b.Bytes()
}

// encoder builds the yaml.v3 node tree of a Spec.
type encoder struct {
	comments map[string][]string
}

// node is a mapping under construction.
type node struct {
	e    *encoder
	n    *yaml.Node
	path string
}

func (e *encoder) mapping(path string) *node {
	return &node{e: e, n: &yaml.Node{Kind: yaml.MappingNode}, path: path}
}

// add appends key: v, with the comments recorded for the key's path.
func (m *node) add(key string, v *yaml.Node) {
	k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}
	k.HeadComment = strings.Join(m.e.comments[join(m.path, key)], "\n")
	m.n.Content = append(m.n.Content, k, v)
}

func (m *node) str(key, v string) {
	if v != "" {
		m.add(key, str(v))
	}
}

func (m *node) integer(key string, v int64) {
	if v != 0 {
		m.add(key, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v, 10)})
	}
}

func (m *node) boolean(key string, v bool) {
	if v {
		m.add(key, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	}
}

func (m *node) strings(key string, vs []string) {
	if len(vs) == 0 {
		return
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, v := range vs {
		seq.Content = append(seq.Content, str(v))
	}
	m.add(key, seq)
}

// sub adds key: mapping when the mapping has any content.
func (m *node) sub(key string, child *node) {
	if len(child.n.Content) > 0 {
		m.add(key, child.n)
	}
}

func (m *node) child(key string) *node { return m.e.mapping(join(m.path, key)) }

// sasl adds the sasl mapping (kafka's, or a target's) when a is set.
func (m *node) sasl(a *SASL) {
	if a == nil {
		return
	}
	sm := m.child("sasl")
	sm.str("mechanism", a.Mechanism)
	sm.str("username", a.Username)
	sm.str("passwordEnv", a.PasswordEnv)
	sm.str("passwordFile", a.PasswordFile)
	m.sub("sasl", sm)
}

// str is a string scalar, quoted by yaml.v3 only where a plain one would read as something else.
func str(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

// configScalar writes a topic config value as plain as it reads back: numbers unquoted, the rest as
// strings (Parse takes every config value as Kafka's string form whatever its YAML type).
func configScalar(v string) *yaml.Node {
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: v}
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && strconv.FormatFloat(f, 'f', -1, 64) == v {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: v}
	}
	return str(v)
}

func (e *encoder) spec(s *Spec) *yaml.Node {
	top := e.mapping("")
	top.str("apiVersion", cmp.Or(s.APIVersion, APIVersion))
	top.str("kind", cmp.Or(s.Kind, Kind))
	md := top.child("metadata")
	md.str("name", s.Metadata.Name)
	md.str("namespace", s.Metadata.Namespace)
	top.sub("metadata", md)

	k := top.child("kafka")
	k.str("image", s.Kafka.Image)
	k.str("storageSize", s.Kafka.StorageSize)
	k.sub("resources", e.resources(join(k.path, "resources"), s.Kafka.Resources))
	k.boolean("ui", s.Kafka.UI)
	k.str("clusterId", s.Kafka.ClusterID)
	k.strings("superUsers", s.Kafka.SuperUsers)
	k.sasl(s.Kafka.SASL)
	top.sub("kafka", k)

	if len(s.Brokers) > 0 {
		top.add("brokers", e.brokers("brokers", s.Brokers))
	}

	t := top.child("tls")
	t.boolean("enabled", s.TLS.Enabled)
	t.str("dir", s.TLS.Dir)
	t.str("keystoreType", s.TLS.KeystoreType)
	t.str("passwordEnv", s.TLS.PasswordEnv)
	t.str("passwordFile", s.TLS.PasswordFile)
	if s.TLS.Validity != 0 {
		t.str("validity", formatDuration(s.TLS.Validity))
	}
	if s.TLS.RenewBefore != 0 {
		t.str("renewBefore", formatDuration(s.TLS.RenewBefore))
	}
	t.strings("extraSANs", s.TLS.ExtraSANs)
	t.strings("clients", s.TLS.Clients)
	if s.TLS.CA != nil {
		ca := t.child("ca")
		ca.str("certFile", s.TLS.CA.CertFile)
		ca.str("keyFile", s.TLS.CA.KeyFile)
		t.sub("ca", ca)
	}
	t.boolean("internal", s.TLS.Internal)
	top.sub("tls", t)

	d := top.child("topicDefaults")
	e.topicFields(d, s.TopicDefaults.Partitions, s.TopicDefaults.ReplicationFactor, s.TopicDefaults.Config, s.TopicDefaults.Prune)
	top.sub("topicDefaults", d)

	if len(s.Topics) > 0 {
		top.add("topics", e.topics("topics", s.Topics))
	}

	top.str("deletion", s.Deletion)
	r := top.child("reassignment")
	if s.Reassignment.ThrottleBytesPerSec != 0 {
		r.str("throttle", FormatBytes(s.Reassignment.ThrottleBytesPerSec))
	}
	top.sub("reassignment", r)

	cl := top.child("clusters")
	for _, c := range s.Clusters {
		cm := cl.child(c.Name)
		cm.strings("bootstrap", c.Bootstrap)
		cm.str("security", c.Security)
		cm.str("caFile", c.CAFile)
		cm.str("certFile", c.CertFile)
		cm.str("keyFile", c.KeyFile)
		cm.sasl(c.SASL)
		cm.str("clusterId", c.ClusterID)
		cm.boolean("preflight", c.Preflight)
		if k := c.Kubernetes; k != nil {
			km := cm.child("kubernetes")
			km.str("context", k.Context)
			km.str("namespace", k.Namespace)
			km.str("storageClass", k.StorageClass)
			km.str("imageTag", k.ImageTag)
			km.sub("resources", e.resources(join(km.path, "resources"), k.Resources))
			km.str("externalHost", k.ExternalHost)
			if w := k.Watch; w != nil {
				wm := km.child("watch")
				wm.boolean("enabled", w.Enabled)
				wm.str("image", w.Image)
				wm.str("git", w.Git)
				wm.str("branch", w.Branch)
				wm.str("path", w.Path)
				if w.GitInterval != 0 {
					wm.str("gitInterval", formatDuration(w.GitInterval))
				}
				wm.str("mode", w.Mode)
				wm.str("cluster", w.Cluster)
				wm.integer("metricsPort", int64(w.MetricsPort))
				km.sub("watch", wm)
			}
			cm.sub("kubernetes", km)
		}
		if o := c.Overrides; o != nil {
			om := cm.child("overrides")
			if o.Brokers != nil {
				om.add("brokers", e.brokers(join(om.path, "brokers"), o.Brokers))
			}
			if o.TopicDefaults != nil {
				d := om.child("topicDefaults")
				e.topicOverride(d, *o.TopicDefaults)
				om.add("topicDefaults", d.n)
			}
			if len(o.Topics) > 0 {
				seq := &yaml.Node{Kind: yaml.SequenceNode}
				for i, to := range o.Topics {
					tm := om.e.mapping(fmt.Sprintf("%s[%d]", join(om.path, "topics"), i))
					tm.str("name", to.Name)
					e.topicOverride(tm, to)
					seq.Content = append(seq.Content, tm.n)
				}
				om.add("topics", seq)
			}
			cm.sub("overrides", om)
		}
		if len(cm.n.Content) == 0 {
			cm.n.Style = yaml.FlowStyle // `embedded: {}`
		}
		cl.add(c.Name, cm.n)
	}
	top.sub("clusters", cl)

	if len(s.Devices) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for i, dv := range s.Devices {
			dm := e.mapping(fmt.Sprintf("devices[%d]", i))
			dm.str("name", dv.Name)
			dm.str("kind", dv.Kind)
			dm.str("address", dv.Address)
			dm.boolean("required", dv.Required)
			if dv.Timeout != 0 {
				dm.str("timeout", formatDuration(dv.Timeout))
			}
			dm.str("plugin", dv.Plugin)
			dm.strings("env", dv.Env)
			for _, key := range slices.Sorted(maps.Keys(dv.Params)) {
				dm.add(key, str(dv.Params[key]))
			}
			e.itemComment(dm)
			seq.Content = append(seq.Content, dm.n)
		}
		top.add("devices", seq)
	}
	e.access(top, s)
	return top.n
}

// brokers is a list of brokers; path is where it stands ("brokers", "clusters.dev.overrides.brokers").
func (e *encoder) brokers(path string, brokers []Broker) *yaml.Node {
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for i, b := range brokers {
		bm := e.mapping(fmt.Sprintf("%s[%d]", path, i))
		bm.add("id", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(int(b.ID))})
		bm.str("host", b.Host)
		bm.str("rack", b.Rack)
		p := bm.child("ports")
		p.integer("plaintext", int64(b.Ports.Plaintext))
		p.integer("ssl", int64(b.Ports.SSL))
		p.integer("sasl", int64(b.Ports.SASL))
		p.integer("internal", int64(b.Ports.Internal))
		p.integer("controller", int64(b.Ports.Controller))
		bm.sub("ports", p)
		e.itemComment(bm)
		seq.Content = append(seq.Content, bm.n)
	}
	return seq
}

// topics is a list of topics (or of a target's topic overrides).
func (e *encoder) topics(path string, topics []Topic) *yaml.Node {
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for i, tp := range topics {
		tm := e.mapping(fmt.Sprintf("%s[%d]", path, i))
		tm.str("name", tp.Name)
		e.topicFields(tm, tp.Partitions, tp.ReplicationFactor, tp.Config, tp.Prune)
		e.itemComment(tm)
		seq.Content = append(seq.Content, tm.n)
	}
	return seq
}

// topicOverride writes what an override sets; an explicit prune: false is kept.
func (e *encoder) topicOverride(m *node, t TopicOverride) {
	e.topicFields(m, t.Partitions, t.ReplicationFactor, t.Config, false)
	if t.Prune != nil {
		m.add("prune", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(*t.Prune)})
	}
}

// itemComment puts the comment recorded for a list item's own path ("topics[2]") above it.
func (e *encoder) itemComment(m *node) {
	m.n.HeadComment = strings.Join(e.comments[m.path], "\n")
}

func (e *encoder) resources(path string, r Resources) *node {
	m := e.mapping(path)
	m.str("requestsCpu", r.RequestsCPU)
	m.str("requestsMemory", r.RequestsMemory)
	m.str("limitsCpu", r.LimitsCPU)
	m.str("limitsMemory", r.LimitsMemory)
	return m
}

// topicFields writes the keys topics and topicDefaults share; configs are sorted and in human units.
func (e *encoder) topicFields(m *node, partitions, rf int, config map[string]string, prune bool) {
	m.integer("partitions", int64(partitions))
	m.integer("replicationFactor", int64(rf))
	if len(config) > 0 {
		c := m.child("config")
		for _, key := range slices.Sorted(maps.Keys(config)) {
			c.add(key, configScalar(HumanTopicConfig(key, config[key])))
		}
		m.add("config", c.n)
	}
	m.boolean("prune", prune)
}
