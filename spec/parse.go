package spec

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

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
	return parseTree(file, data).decode(target)
}

// tree is a spec's YAML read once (one file, or a directory's files merged), to be decoded for as
// many targets as asked: merging a target's overrides builds new nodes and never changes the tree
// (mergeTarget), so validating every target, or annotating one target's messages against the spec
// as written, costs one parse rather than one per target (issue 23). The spec as written is decoded
// at most once for all the targets' annotations (issue 20).
type tree struct {
	file  string // what positions without a file of their own name
	size  int
	root  *yaml.Node  // nil when there is nothing to decode
	diags Diagnostics // what reading (and merging) the files found
	files []string    // a directory's files (decoder.files)
	base  string      // the directory relative paths are relative to

	// written is the set of diagnostics of the spec as written (target ""): a target's message
	// that is not among them names the target. Filled once (hasWritten), by the first decode of
	// the spec as written or the first target that needs it; a fleet may ask for targets
	// concurrently, hence mu.
	mu         sync.Mutex
	hasWritten bool
	written    map[Diagnostic]bool
}

// parseTree reads one file.
func parseTree(file string, data []byte) *tree {
	d := newDecoder(file, len(data))
	root := d.parseYAML(data)
	return &tree{file: file, size: len(data), root: root, diags: d.diags, base: filepath.Dir(file)}
}

// decode decodes and validates the tree for target ("" for the spec as written).
func (t *tree) decode(target string) (*Spec, Diagnostics, *decoder) {
	s, diags, d := t.decoder().decode(t.root, target, t.base)
	if target == "" {
		t.mu.Lock()
		if !t.hasWritten {
			t.written, t.hasWritten = diagnosticSet(diags), true
		}
		t.mu.Unlock()
	}
	return s, diags, d
}

// decoder is a fresh decoder of the tree, starting from what reading it found.
func (t *tree) decoder() *decoder {
	d := newDecoder(t.file, t.size)
	d.diags = slices.Clone(t.diags)
	d.files = t.files
	return d
}

// writtenDiagnostics is the set of the spec as written's diagnostics, decoding it only if it has
// not been decoded yet.
func (t *tree) writtenDiagnostics() map[Diagnostic]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.hasWritten {
		_, diags, _ := t.decoder().decode(t.root, "", t.base)
		t.written, t.hasWritten = diagnosticSet(diags), true
	}
	return t.written
}

// partial is ParsePartialTarget of the tree: a message only the target's merge has names the
// target.
func (t *tree) partial(target string) (*Spec, Diagnostics) {
	s, diags, _ := t.decode(target)
	if s == nil || s.Overridden == "" || len(diags) == 0 {
		return s, diags // nothing to annotate
	}
	annotateTarget(diags, t.writtenDiagnostics(), target)
	return s, diags
}

// parser is parse for target on t: the spec as written for "", else as target sees it.
func (t *tree) parser() func(target string) (*Spec, Diagnostics) {
	return func(target string) (*Spec, Diagnostics) {
		if target == "" {
			s, d, _ := t.decode("")
			return s, d
		}
		return t.partial(target)
	}
}

// newDecoder makes a decoder for a file of size bytes. The topics, the one part of a spec that grows
// with its size, keep their positions in decoder.topics rather than in the path map, so the map
// needs room for the other sections' keys only.
func newDecoder(file string, size int) *decoder {
	return &decoder{file: file, pos: make(map[string]Pos, min(size/32, 64)), bad: map[string]bool{}, used: map[*object][]bool{}}
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
	d.diags = append(d.diags, validate(s, d.at, d.topicAt)...)
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
	if i, key, ok := d.topicPath(path); ok {
		return d.topicAt(i, key)
	}
	l := loc{bad: d.bad[path]}
	if p, ok := d.pos[path]; ok {
		l.pos, l.written = p, p.Line > 0
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

// topicNodes is where one item of the topics list was written: the item, its keys and the config
// keys it sets itself. decoder.topicAt answers a topic path from it.
type topicNodes struct {
	item *yaml.Node
	// mapping is the topic's mapping: mapping.m holds its known keys (name, partitions, config,
	// ...), the first occurrence of each.
	mapping mapping
	// config are the config keys the topic sets itself, in file order (retention as retention.ms):
	// a window of decoder.topicConfig.
	config []configKey
}

// configKey is where a topic's own config key was set.
type configKey struct {
	key string
	pos Pos
}

// topicPath splits a path into the topics list ("topics[3].config.retention.ms") into the topic's
// index and the key below it ("config.retention.ms"; "" for the topic itself).
func (d *decoder) topicPath(path string) (int, string, bool) {
	rest, ok := strings.CutPrefix(path, "topics[")
	if !ok {
		return 0, "", false
	}
	end := strings.IndexByte(rest, ']')
	if end < 1 {
		return 0, "", false
	}
	i, err := strconv.Atoi(rest[:end])
	if err != nil || i < 0 || i >= len(d.topics) || strconv.Itoa(i) != rest[:end] {
		return 0, "", false
	}
	rest = rest[end+1:]
	if rest == "" {
		return i, "", true
	}
	key, ok := strings.CutPrefix(rest, ".")
	return i, key, ok && key != ""
}

// topicAt is at for key ("partitions", "config.retention.ms", "" for the topic itself) of
// topics[i]. It builds the path string only when the loader reported something malformed.
func (d *decoder) topicAt(i int, key string) loc {
	var l loc
	if len(d.bad) > 0 {
		l.bad = d.bad[topicKeyPath(i, key)]
	}
	if p, ok := d.topicPos(i, key); ok {
		l.pos, l.written = p, p.Line > 0
		return l
	}
	if p, ok := d.inheritedPos(key); ok {
		l.pos, l.written, l.inherited = p, p.Line > 0, true
		return l
	}
	for key != "" {
		key = key[:max(strings.LastIndexAny(key, ".["), 0)]
		if p, ok := d.topicPos(i, key); ok {
			l.pos = p
			return l
		}
	}
	return l
}

// topicPos is where topics[i] wrote key ("" is the topic itself), if it did.
func (d *decoder) topicPos(i int, key string) (Pos, bool) {
	t := &d.topics[i]
	if key == "" {
		return d.nodePos(t.item), true
	}
	if ck, ok := strings.CutPrefix(key, "config."); ok {
		for _, c := range t.config {
			if c.key == ck {
				return c.pos, true
			}
		}
	}
	if e, ok := t.mapping.m.get(key); ok {
		return d.nodePos(e.key), true
	}
	return Pos{}, false
}

// topicKeyPath is the path of key of topics[i]: "topics[3].partitions".
func topicKeyPath(i int, key string) string {
	if key == "" {
		return "topics[" + strconv.Itoa(i) + "]"
	}
	return "topics[" + strconv.Itoa(i) + "]." + key
}

// inheritedPos is where topicDefaults set a topic key ("partitions", "config.retention.ms") that
// the topic itself does not set (the caller checked).
func (d *decoder) inheritedPos(key string) (Pos, bool) {
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
	// Every topic that leaves a key to topicDefaults asks for the same few paths.
	p, ok := d.inherited[key]
	if !ok {
		if d.inherited == nil {
			d.inherited = map[string]Pos{}
		}
		p = d.pos[join(defs.path, key)]
		d.inherited[key] = p
	}
	return p, true
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
	s.Kafka.SASL = sasl(k)
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

	defs := d.topicFields(top.object("topicDefaults"), nil, nil)
	s.TopicDefaults = TopicDefaults{Partitions: defs.partitions, ReplicationFactor: defs.replicationFactor, Config: defs.config, Prune: defs.prune}
	d.defaults = defs
	items = top.items("topics")
	d.topics = make([]topicNodes, len(items))
	s.Topics = make([]Topic, len(items))
	for i, item := range items {
		d.topics[i].item = item
		s.Topics[i] = d.topic(i, item, &defs)
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

// sasl decodes the sasl mapping of m (kafka, or a target of clusters); nil when m has none.
func sasl(m *mapping) *SASL {
	if _, _, ok := m.get("sasl"); !ok {
		return nil
	}
	sm := m.object("sasl")
	out := &SASL{}
	sm.str("mechanism", &out.Mechanism)
	sm.str("username", &out.Username)
	sm.str("passwordEnv", &out.PasswordEnv)
	sm.str("passwordFile", &out.PasswordFile)
	return out
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
// Each config key's position is recorded under its path, unless own is given: a topic of the
// topics list collects its config keys there instead (see decoder.topics), and its config maps
// start as copies of inherit's, so the topic's own keys are written over topicDefaults' in place.
func (d *decoder) topicFields(m *mapping, inherit *topicFields, own *[]configKey) topicFields {
	tf := topicFields{path: m.path}
	if inherit != nil {
		tf.config, tf.configPos = maps.Clone(inherit.config), maps.Clone(inherit.configPos)
	} else {
		tf.config, tf.configPos = map[string]string{}, map[string]Pos{}
	}
	// set records that this mapping itself set key.
	set := func(key string, pos Pos) {
		if own != nil {
			*own = append(*own, configKey{key, pos})
		} else {
			d.pos[join(m.path, "config."+key)] = pos
		}
	}
	m.int("partitions", &tf.partitions)
	m.int("replicationFactor", &tf.replicationFactor)
	_, _, tf.pruneSet = m.get("prune")
	m.boolean("prune", &tf.prune)

	// Paths name keys in messages only: they are built when there is something to say.
	configPath := func() string { return join(m.path, "config") }
	keyPath := func(key string) string { return join(configPath(), key) }
	retentionInConfig := false
	if v, _, ok := m.get("config"); ok {
		if v.Kind != yaml.MappingNode {
			d.errorf(v, "%s must be a mapping of Kafka topic configs, not %s", configPath(), describe(v))
		} else {
			pairs := d.pairs(v)
			seen := newKeyLines(len(pairs))
			for _, e := range pairs {
				key := e.key.Value
				if line, dup := seen.first(key, lineOf(e.key)); dup {
					d.errorf(e.key, "%s is repeated (first set on line %d)", keyPath(key), line)
					continue
				}
				def, known := LookupTopicConfig(key)
				if !known {
					hint := d.splitHint(e.key)
					if hint == "" {
						hint = topicConfigHint(key)
					}
					msg := fmt.Sprintf("%s is not a Kafka topic config", join(configPath(), clip(key))) + hint
					d.errorf(e.key, "%s", msg)
					continue
				}
				if def.Deprecated != "" {
					d.warnf(e.key, "%s: %s", keyPath(key), def.Deprecated)
				}
				raw, ok := d.configValue(e.val, def, configPath, key)
				if !ok {
					continue
				}
				norm, err := def.Normalize(raw)
				if err != nil {
					d.errorf(e.val, "%s %v", keyPath(key), err)
					continue
				}
				if why := def.Unsupported(norm); why != "" {
					d.errorf(e.val, "%s %s: %s", keyPath(key), norm, why)
					continue
				}
				pos := d.nodePos(e.key)
				tf.config[key], tf.configPos[key] = norm, pos
				retentionInConfig = retentionInConfig || key == "retention.ms"
				set(key, pos)
			}
		}
	}

	if v, _, ok := m.scalar("retention", "a duration"); ok {
		if retentionInConfig {
			d.errorf(v, "%s and %s.config.retention.ms are both set; keep one", join(m.path, "retention"), m.path)
		} else if norm, err := topicConfigByKey("retention.ms").Normalize(v.Value); err != nil {
			d.errorf(v, "%s %v", join(m.path, "retention"), err)
		} else {
			pos := d.nodePos(v)
			tf.config["retention.ms"], tf.configPos["retention.ms"] = norm, pos
			set("retention.ms", pos)
		}
	}
	return tf
}

// keyLines remembers the line each key of a mapping was first set on. A topic's config mapping has
// a few keys, so up to a dozen are scanned in place rather than put in a set built for each topic.
type keyLines struct {
	few  [12]configLine
	n    int
	many map[string]int
}

type configLine struct {
	key  string
	line int
}

func newKeyLines(n int) *keyLines {
	k := &keyLines{}
	if n > len(k.few) {
		k.many = make(map[string]int, n)
	}
	return k
}

// first returns the line key was first set on, if it was, and otherwise records line for it.
func (k *keyLines) first(key string, line int) (int, bool) {
	if k.many != nil {
		if l, dup := k.many[key]; dup {
			return l, true
		}
		k.many[key] = line
		return 0, false
	}
	for _, c := range k.few[:k.n] {
		if c.key == key {
			return c.line, true
		}
	}
	k.few[k.n] = configLine{key, line}
	k.n++
	return 0, false
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

// configValue reads the value of config key as Kafka's string form; lists are allowed for list
// configs. config is the path of the config mapping, for messages.
func (d *decoder) configValue(n *yaml.Node, def TopicConfigDef, config func() string, key string) (string, bool) {
	path := func() string { return join(config(), key) }
	n = d.resolve(n)
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		d.errorf(n, "%s has no value", path())
		return "", false
	case n.Kind == yaml.ScalarNode:
		return n.Value, true
	case n.Kind == yaml.SequenceNode && (def.Type == ConfigEnumList || def.Type == ConfigReplicaList):
		parts := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			item = d.resolve(item)
			if item.Kind != yaml.ScalarNode {
				d.errorf(item, "%s items must be strings, not %s", path(), describe(item))
				return "", false
			}
			parts = append(parts, item.Value)
		}
		return strings.Join(parts, ","), true
	}
	d.errorf(n, "%s must be a single value (%s), not %s", path(), def.Type, describe(n))
	return "", false
}

// topic decodes topics[i], node n, and merges topicDefaults into it. Its positions go to
// d.topics[i], not to d.pos.
func (d *decoder) topic(i int, n *yaml.Node, defs *topicFields) Topic {
	tn := &d.topics[i]
	m := &tn.mapping
	d.unrecordedMapping(m, n, topicObj, topicKeyPath(i, ""))
	t := Topic{Pos: d.nodePos(m.node)}
	m.str("name", &t.Name)
	first := len(d.topicConfig)
	own := d.topicFields(m, defs, &d.topicConfig)
	tn.config = d.topicConfig[first:len(d.topicConfig):len(d.topicConfig)]
	t.Partitions, t.ReplicationFactor, t.Prune = own.partitions, own.replicationFactor, own.prune
	// What the topic leaves out comes from topicDefaults; decoder.at finds those positions.
	if _, set := m.m.get("partitions"); !set && defs.partitions != 0 {
		t.Partitions = defs.partitions
	}
	if _, set := m.m.get("replicationFactor"); !set && defs.replicationFactor != 0 {
		t.ReplicationFactor = defs.replicationFactor
	}
	if !own.pruneSet {
		t.Prune = defs.prune
	}
	t.Config, t.ConfigPos = own.config, own.configPos
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
			seen[name] = lineOf(e.key)
			d.pos[path] = d.nodePos(e.key)
			m := d.mapping(e.val, clusterObj, path)
			c := Cluster{Name: name, Pos: d.nodePos(e.key)}
			m.strings("bootstrap", &c.Bootstrap)
			m.str("security", &c.Security)
			m.str("caFile", &c.CAFile)
			m.str("certFile", &c.CertFile)
			m.str("keyFile", &c.KeyFile)
			c.SASL = sasl(m)
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
		if e, ok := m.m.get(k); ok {
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
