package spec

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadFile reads (see Read) and parses one avatar.yaml. Read and LoadFile are the only functions in
// spec that touch the file system; everything else works on bytes so tests and fuzzing need no files.
func LoadFile(path string) (*Spec, Diagnostics) {
	data, diags := Read(context.Background(), path, nil)
	if diags != nil {
		return nil, diags
	}
	return Parse(path, data)
}

// Parse decodes avatar.yaml from data and validates it; file names the source in positions. The
// returned *Spec is non-nil only when there are no error diagnostics; warnings may accompany it.
// All problems are reported at once, in file order, each with its line and column.
func Parse(file string, data []byte) (*Spec, Diagnostics) {
	s, diags, _ := parse(file, data)
	return s, diags
}

// ParsePartial is Parse for callers that add checks of their own (validate runs the device
// plugins' parameter checks): it returns what it decoded even when there are errors, so one run can
// report every problem. A spec with errors is good for more diagnostics only, never for acting on;
// it is nil when the file is not a YAML mapping at all.
func ParsePartial(file string, data []byte) (*Spec, Diagnostics) {
	s, diags, _ := parsePartial(file, data)
	return s, diags
}

// parse is Parse, also returning the decoder so tests can see which keys it read.
func parse(file string, data []byte) (*Spec, Diagnostics, *decoder) {
	s, diags, d := parsePartial(file, data)
	if len(diags.Errors()) > 0 {
		return nil, diags, d
	}
	return s, diags, d
}

func parsePartial(file string, data []byte) (*Spec, Diagnostics, *decoder) {
	return parsePartialTarget(file, data, "")
}

// parsePartialTarget decodes and validates the spec with the overrides of target merged in (none
// when target is "").
func parsePartialTarget(file string, data []byte, target string) (*Spec, Diagnostics, *decoder) {
	d := newDecoder(file, len(data))
	return d.decode(d.parseYAML(data), target, filepath.Dir(file))
}

// newDecoder sizes the position map: about one recorded position per 30 bytes of a topic list;
// sizing it up front saves the rehashing that showed in the profile of a 10,000-topic spec (issue 9).
func newDecoder(file string, size int) *decoder {
	return &decoder{file: file, pos: make(map[string]Pos, size/30), bad: map[string]bool{}, used: map[*object][]bool{}}
}

// decode turns the root mapping into a validated Spec, merging target's overrides first; base is
// the directory the spec's relative paths are relative to.
func (d *decoder) decode(root *yaml.Node, target, base string) (*Spec, Diagnostics, *decoder) {
	if root == nil {
		d.diags = uniqueSorted(d.diags)
		return nil, d.diags, d
	}
	merged := false
	if target != "" {
		root, merged = d.mergeTarget(root, target)
	}
	s := d.spec(root)
	s.File = d.file
	if merged {
		s.Overridden = target
	}
	d.diags = append(d.diags, validate(s, d.at)...)
	resolve(s, base)
	markSecretEnv(s)
	d.diags = uniqueSorted(d.diags)
	return s, d.diags, d
}

// uniqueSorted orders diagnostics by position (stable, so one key's messages keep their order) and
// drops exact repeats, which arise when one topicDefaults value is wrong for several topics.
func uniqueSorted(ds Diagnostics) Diagnostics {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		if a.Pos.File != b.Pos.File {
			// A spec directory (issue 15): one file after the other.
			return strings.Compare(a.Pos.File, b.Pos.File)
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		return a.Pos.Col - b.Pos.Col
	})
	return slices.Compact(ds)
}

// at returns where path was written, falling back to the nearest enclosing path that was recorded.
// A topic key the topic leaves to topicDefaults is where topicDefaults wrote it, marked inherited.
func (d *decoder) at(path string) loc {
	l := loc{bad: d.bad[path]}
	if p, ok := d.pos[path]; ok {
		l.pos, l.written = p, p.Line > 0
		return l
	}
	if p, ok := d.inheritedPos(path); ok {
		l.pos, l.written, l.inherited = p, p.Line > 0, true
		return l
	}
	for {
		if p, ok := d.pos[path]; ok {
			l.pos = p
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			l.pos = d.pos[""]
			if l.pos.Line == 0 {
				l.pos = Pos{File: d.file, Line: 1, Col: 1}
			}
			return l
		}
		path = path[:i]
	}
}

// inheritedPos is where topicDefaults set the key of a topic path ("topics[3].partitions",
// "topics[3].config.retention.ms") that the topic itself does not set (the caller checked d.pos).
func (d *decoder) inheritedPos(path string) (Pos, bool) {
	var i int
	if !scanIndex(path, "topics[", &i) || i < 0 || i >= d.topics {
		return Pos{}, false
	}
	key, ok := strings.CutPrefix(path[strings.IndexByte(path, ']')+1:], ".")
	if !ok {
		return Pos{}, false
	}
	defs := d.defaults
	switch {
	case key == "partitions" && defs.partitions != 0, key == "replicationFactor" && defs.replicationFactor != 0:
	case strings.HasPrefix(key, "config."):
		if _, set := defs.config[key[len("config."):]]; !set {
			return Pos{}, false
		}
	default:
		return Pos{}, false
	}
	return d.pos[join(defs.path, key)], true
}

// spec decodes the root mapping.
func (d *decoder) spec(root *yaml.Node) *Spec {
	s := &Spec{}
	d.pos[""] = d.nodePos(root)
	top := d.mapping(root, specObj, "")
	top.str("apiVersion", &s.APIVersion)
	top.str("kind", &s.Kind)

	md := top.object("metadata")
	md.str("name", &s.Metadata.Name)
	md.str("namespace", &s.Metadata.Namespace)
	s.Metadata.Pos = d.nodePos(md.node)

	k := top.object("kafka")
	k.str("image", &s.Kafka.Image)
	k.str("storageSize", &s.Kafka.StorageSize)
	d.resources(k.object("resources"), &s.Kafka.Resources)
	k.boolean("ui", &s.Kafka.UI)
	k.str("clusterId", &s.Kafka.ClusterID)
	k.strings("superUsers", &s.Kafka.SuperUsers)
	if _, _, ok := k.get("sasl"); ok {
		sm := k.object("sasl")
		s.Kafka.SASL = &SASL{}
		sm.str("mechanism", &s.Kafka.SASL.Mechanism)
		sm.str("username", &s.Kafka.SASL.Username)
		sm.str("passwordEnv", &s.Kafka.SASL.PasswordEnv)
		sm.str("passwordFile", &s.Kafka.SASL.PasswordFile)
	}
	s.Kafka.Pos = d.nodePos(k.node)

	items, paths := top.list("brokers")
	for i, item := range items {
		s.Brokers = append(s.Brokers, d.broker(item, paths[i]))
	}

	t := top.object("tls")
	t.boolean("enabled", &s.TLS.Enabled)
	t.str("dir", &s.TLS.Dir)
	t.str("keystoreType", &s.TLS.KeystoreType)
	t.str("passwordEnv", &s.TLS.PasswordEnv)
	t.str("passwordFile", &s.TLS.PasswordFile)
	t.duration("validity", &s.TLS.Validity)
	t.duration("renewBefore", &s.TLS.RenewBefore)
	t.strings("extraSANs", &s.TLS.ExtraSANs)
	t.strings("clients", &s.TLS.Clients)
	if _, _, ok := t.get("ca"); ok {
		ca := t.object("ca")
		s.TLS.CA = &CARef{}
		ca.str("certFile", &s.TLS.CA.CertFile)
		ca.str("keyFile", &s.TLS.CA.KeyFile)
	}
	t.boolean("internal", &s.TLS.Internal)
	s.TLS.Pos = d.nodePos(t.node)

	defs := d.topicFields(top.object("topicDefaults"))
	s.TopicDefaults = TopicDefaults{Partitions: defs.partitions, ReplicationFactor: defs.replicationFactor, Config: defs.config, Prune: defs.prune}
	d.defaults = defs
	items, paths = top.list("topics")
	d.topics = len(items)
	s.Topics = make([]Topic, 0, len(items))
	for i, item := range items {
		s.Topics = append(s.Topics, d.topic(item, paths[i], defs))
	}

	top.str("deletion", &s.Deletion)
	r := top.object("reassignment")
	r.rate("throttle", &s.Reassignment.ThrottleBytesPerSec)

	s.Clusters = d.clusters(top)

	items, paths = top.list("devices")
	for i, item := range items {
		s.Devices = append(s.Devices, d.device(item, paths[i]))
	}
	d.access(top, s)
	return s
}

// broker decodes one broker (of brokers, or of a target's overrides.brokers).
func (d *decoder) broker(item *yaml.Node, path string) Broker {
	b := d.mapping(item, brokerObj, path)
	var br Broker
	b.int32("id", &br.ID)
	b.str("host", &br.Host)
	b.str("rack", &br.Rack)
	p := b.object("ports")
	p.port("plaintext", &br.Ports.Plaintext)
	p.port("ssl", &br.Ports.SSL)
	p.port("sasl", &br.Ports.SASL)
	p.port("internal", &br.Ports.Internal)
	p.port("controller", &br.Ports.Controller)
	br.Pos = d.nodePos(b.node)
	return br
}

func (d *decoder) resources(m *mapping, r *Resources) {
	m.str("requestsCpu", &r.RequestsCPU)
	m.str("requestsMemory", &r.RequestsMemory)
	m.str("limitsCpu", &r.LimitsCPU)
	m.str("limitsMemory", &r.LimitsMemory)
}

// topicFields are the keys topics and topicDefaults share, with where each was set.
type topicFields struct {
	partitions, replicationFactor int
	config                        map[string]string
	configPos                     map[string]Pos
	prune, pruneSet               bool
	path                          string // "topicDefaults" or "topics[i]"
}

// topicFields decodes partitions, replicationFactor, retention, config and prune of one mapping.
func (d *decoder) topicFields(m *mapping) topicFields {
	tf := topicFields{config: map[string]string{}, configPos: map[string]Pos{}, path: m.path}
	m.int("partitions", &tf.partitions)
	m.int("replicationFactor", &tf.replicationFactor)
	_, _, tf.pruneSet = m.get("prune")
	m.boolean("prune", &tf.prune)

	if v, _, ok := m.get("config"); ok {
		path := join(m.path, "config")
		if v.Kind != yaml.MappingNode {
			d.errorf(v, "%s must be a mapping of Kafka topic configs, not %s", path, describe(v))
		} else {
			seen := map[string]int{}
			for _, e := range d.pairs(v) {
				key := e.key.Value
				kp := join(path, key)
				if line, dup := seen[key]; dup {
					d.errorf(e.key, "%s is repeated (first set on line %d)", kp, line)
					continue
				}
				seen[key] = e.key.Line
				def, known := LookupTopicConfig(key)
				if !known {
					hint := d.splitHint(e.key)
					if hint == "" {
						hint = topicConfigHint(key)
					}
					msg := fmt.Sprintf("%s is not a Kafka topic config", join(path, clip(key))) + hint
					d.errorf(e.key, "%s", msg)
					continue
				}
				if def.Deprecated != "" {
					d.warnf(e.key, "%s: %s", kp, def.Deprecated)
				}
				raw, ok := d.configValue(e.val, def, kp)
				if !ok {
					continue
				}
				norm, err := def.Normalize(raw)
				if err != nil {
					d.errorf(e.val, "%s %v", kp, err)
					continue
				}
				if why := def.Unsupported(norm); why != "" {
					d.errorf(e.val, "%s %s: %s", kp, norm, why)
					continue
				}
				tf.config[key] = norm
				tf.configPos[key] = d.nodePos(e.key)
				d.pos[kp] = d.nodePos(e.key)
			}
		}
	}

	if v, _, ok := m.scalar("retention", "a duration"); ok {
		if _, both := tf.config["retention.ms"]; both {
			d.errorf(v, "%s and %s.config.retention.ms are both set; keep one", join(m.path, "retention"), m.path)
		} else if norm, err := topicConfigByKey("retention.ms").Normalize(v.Value); err != nil {
			d.errorf(v, "%s %v", join(m.path, "retention"), err)
		} else {
			tf.config["retention.ms"] = norm
			tf.configPos["retention.ms"] = d.nodePos(v)
			d.pos[join(m.path, "config.retention.ms")] = d.nodePos(v)
		}
	}
	return tf
}

// topicConfigHint says what was probably meant by an unknown topic config key: the topic-level name
// of a broker default (log.retention.ms), the .ms config for hours/minutes variants, or a near miss.
func topicConfigHint(key string) string {
	if key == "retention" {
		return "; retention is a topic key (next to config), or write retention.ms here"
	}
	for _, suffix := range []string{".hours", ".minutes"} {
		if base, ok := strings.CutSuffix(strings.TrimPrefix(key, "log."), suffix); ok {
			if _, known := LookupTopicConfig(base + ".ms"); known {
				return fmt.Sprintf("; write %s.ms here, it takes units (e.g. 7d, 12h)", base)
			}
		}
	}
	if topic, ok := strings.CutPrefix(key, "log."); ok {
		if _, known := LookupTopicConfig(topic); known {
			return fmt.Sprintf("; %s is the broker-wide default, the topic config is %q", key, topic)
		}
	}
	return didYouMean(key, topicConfigKeys())
}

func topicConfigByKey(key string) TopicConfigDef {
	def, _ := LookupTopicConfig(key)
	return def
}

// configValue reads a config value as Kafka's string form; lists are allowed for list configs.
func (d *decoder) configValue(n *yaml.Node, def TopicConfigDef, path string) (string, bool) {
	n = d.resolve(n)
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		d.errorf(n, "%s has no value", path)
		return "", false
	case n.Kind == yaml.ScalarNode:
		return n.Value, true
	case n.Kind == yaml.SequenceNode && (def.Type == ConfigEnumList || def.Type == ConfigReplicaList):
		parts := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			item = d.resolve(item)
			if item.Kind != yaml.ScalarNode {
				d.errorf(item, "%s items must be strings, not %s", path, describe(item))
				return "", false
			}
			parts = append(parts, item.Value)
		}
		return strings.Join(parts, ","), true
	}
	d.errorf(n, "%s must be a single value (%s), not %s", path, def.Type, describe(n))
	return "", false
}

// topic decodes one topic and merges topicDefaults into it.
func (d *decoder) topic(n *yaml.Node, path string, defs topicFields) Topic {
	m := d.mapping(n, topicObj, path)
	t := Topic{Pos: d.nodePos(m.node)}
	m.str("name", &t.Name)
	own := d.topicFields(m)
	t.Partitions, t.ReplicationFactor, t.Prune = own.partitions, own.replicationFactor, own.prune
	// What the topic leaves out comes from topicDefaults; decoder.at finds those positions.
	if _, set := m.m["partitions"]; !set && defs.partitions != 0 {
		t.Partitions = defs.partitions
	}
	if _, set := m.m["replicationFactor"]; !set && defs.replicationFactor != 0 {
		t.ReplicationFactor = defs.replicationFactor
	}
	if !own.pruneSet {
		t.Prune = defs.prune
	}
	t.Config = make(map[string]string, len(defs.config)+len(own.config))
	t.ConfigPos = make(map[string]Pos, len(defs.config)+len(own.config))
	for k, v := range defs.config {
		t.Config[k], t.ConfigPos[k] = v, defs.configPos[k]
	}
	for k, v := range own.config {
		t.Config[k], t.ConfigPos[k] = v, own.configPos[k]
	}
	return t
}

// clusters decodes the clusters mapping in file order and adds the implicit embedded target.
func (d *decoder) clusters(top *mapping) []Cluster {
	var out []Cluster
	v, _, ok := top.get("clusters")
	if ok && v.Kind != yaml.MappingNode {
		d.errorf(v, "clusters must be a mapping of target name → settings, not %s", describe(v))
		ok = false
	}
	if ok {
		seen := map[string]int{}
		for _, e := range d.pairs(v) {
			name := e.key.Value
			path := "clusters." + name
			if line, dup := seen[name]; dup {
				d.errorf(e.key, "%s is repeated (first set on line %d)", path, line)
				continue
			}
			seen[name] = e.key.Line
			d.pos[path] = d.nodePos(e.key)
			m := d.mapping(e.val, clusterObj, path)
			c := Cluster{Name: name, Pos: d.nodePos(e.key)}
			m.strings("bootstrap", &c.Bootstrap)
			m.str("security", &c.Security)
			m.str("caFile", &c.CAFile)
			m.str("certFile", &c.CertFile)
			m.str("keyFile", &c.KeyFile)
			if _, _, ok := m.get("sasl"); ok {
				sm := m.object("sasl")
				c.SASL = &SASL{}
				sm.str("mechanism", &c.SASL.Mechanism)
				sm.str("username", &c.SASL.Username)
				sm.str("passwordEnv", &c.SASL.PasswordEnv)
				sm.str("passwordFile", &c.SASL.PasswordFile)
			}
			m.str("clusterId", &c.ClusterID)
			m.boolean("preflight", &c.Preflight)
			if _, _, ok := m.get("kubernetes"); ok {
				km := m.object("kubernetes")
				c.Kubernetes = &Kubernetes{}
				km.str("context", &c.Kubernetes.Context)
				km.str("namespace", &c.Kubernetes.Namespace)
				km.str("storageClass", &c.Kubernetes.StorageClass)
				km.str("imageTag", &c.Kubernetes.ImageTag)
				d.resources(km.object("resources"), &c.Kubernetes.Resources)
				km.str("externalHost", &c.Kubernetes.ExternalHost)
				if wn, _, ok := km.get("watch"); ok {
					wm := km.object("watch")
					w := &KubernetesWatch{Pos: d.nodePos(wn)}
					wm.boolean("enabled", &w.Enabled)
					wm.str("image", &w.Image)
					wm.str("git", &w.Git)
					wm.str("branch", &w.Branch)
					wm.str("path", &w.Path)
					wm.duration("gitInterval", &w.GitInterval)
					wm.str("mode", &w.Mode)
					wm.str("cluster", &w.Cluster)
					wm.port("metricsPort", &w.MetricsPort)
					if w.MetricsPort == 0 {
						w.MetricsPort = 9464
					}
					c.Kubernetes.Watch = w
				}
			}
			if _, _, ok := m.get("overrides"); ok {
				c.Overrides = d.overrides(m.object("overrides"))
			}
			out = append(out, c)
		}
	}
	if !slices.ContainsFunc(out, func(c Cluster) bool { return c.Name == EmbeddedCluster }) {
		// --cluster defaults to embedded, so that target exists even in a spec that lists only remote ones.
		out = append(out, Cluster{Name: EmbeddedCluster, Security: SecurityPlaintext})
	}
	return out
}

// EmbeddedCluster is the name of the in-process target; every loaded spec has it.
const EmbeddedCluster = "embedded"

// device decodes one device; keys beyond the common ones become plugin parameters.
func (d *decoder) device(n *yaml.Node, path string) Device {
	m := d.mapping(n, deviceObj, path)
	dev := Device{Pos: d.nodePos(m.node)}
	m.str("name", &dev.Name)
	m.str("kind", &dev.Kind)
	m.str("address", &dev.Address)
	m.boolean("required", &dev.Required)
	m.duration("timeout", &dev.Timeout)
	m.str("plugin", &dev.Plugin)
	m.strings("env", &dev.Env)
	for _, k := range []string{"name", "kind", "address", "required", "timeout", "plugin", "env"} {
		if e, ok := m.m[k]; ok {
			if dev.KeyPos == nil {
				dev.KeyPos = map[string]Pos{}
			}
			dev.KeyPos[k] = d.nodePos(e.key)
		}
	}
	for _, e := range m.extra {
		v := d.resolve(e.val)
		kp := join(path, e.key.Value)
		if h := d.splitHint(e.key); h != "" {
			d.errorf(e.key, "%s has no value%s", kp, h)
			continue
		}
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			d.errorf(v, "%s must be a single value (plugin parameters are scalars), not %s", kp, describe(v))
			continue
		}
		if dev.Params == nil {
			dev.Params, dev.ParamsPos = map[string]string{}, map[string]Pos{}
		}
		dev.Params[e.key.Value] = v.Value
		dev.ParamsPos[e.key.Value] = d.nodePos(e.key)
	}
	return dev
}
