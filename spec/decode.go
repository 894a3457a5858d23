package spec

// The generic field decoder: a YAML mapping checked against an object table (fields.go) and read
// key by key into Go values, collecting every problem with its position instead of stopping at the
// first. Nothing here knows the avatar.yaml model; parse.go walks the model with it (issue 9 split
// it out of parse.go).

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// entry is one key: value pair of a mapping.
type entry struct {
	key, val *yaml.Node
}

// mapping is a decoded mapping checked against an object's known keys.
type mapping struct {
	d     *decoder
	obj   *object
	path  string
	node  *yaml.Node
	m     fieldEntries
	extra []entry // keys beyond obj.fields when obj.extra is set, in file order
	used  []bool  // d.used[obj]
	// few holds m's entries for objects of up to len(few) fields (a topic has 6): one allocation
	// for the mapping instead of a map per topic (issue 23).
	few [8]entry
}

// fieldEntries are the known keys of a mapping: the entry of obj.fields[i] is e[i], with a nil key
// where the mapping does not set it.
type fieldEntries struct {
	obj *object
	e   []entry
}

// get returns the entry of the known key key, if the mapping sets it.
func (f fieldEntries) get(key string) (entry, bool) {
	for i := range f.e {
		if f.obj.fields[i].key == key {
			return f.e[i], f.e[i].key != nil
		}
	}
	return entry{}, false
}

// set records e as the entry of obj.fields[i].
func (f fieldEntries) set(i int, e entry) { f.e[i] = e }

// join builds child paths: "" + "kafka" = "kafka", "topics[1]" + "name" = "topics[1].name".
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapping reads n as a mapping of obj: unknown keys are reported with a suggestion, repeated keys
// too. A nil or null node is an empty mapping (so `embedded: {}` and `embedded:` mean the same).
// Where each key was written is recorded under its path.
func (d *decoder) mapping(n *yaml.Node, obj *object, path string) *mapping {
	return d.readMapping(nil, n, obj, path, true)
}

// unrecordedMapping is mapping for a topic of the topics list, read into mp: its key positions
// are found through mp.m (decoder.topics) rather than recorded under their paths.
func (d *decoder) unrecordedMapping(mp *mapping, n *yaml.Node, obj *object, path string) {
	d.readMapping(mp, n, obj, path, false)
}

func (d *decoder) readMapping(mp *mapping, n *yaml.Node, obj *object, path string, record bool) *mapping {
	if mp == nil {
		mp = &mapping{}
	}
	*mp = mapping{d: d, obj: obj, path: path, node: n}
	mp.m.obj = obj
	if len(obj.fields) <= len(mp.few) {
		mp.m.e = mp.few[:len(obj.fields)]
	} else {
		mp.m.e = make([]entry, len(obj.fields))
	}
	if n == nil {
		return mp
	}
	n = d.resolve(n)
	mp.node = n
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		// An empty list item ("- " alone) or "metadata:" with nothing under it still lacks the
		// required keys; without this a nameless topic would load as valid.
		d.missing(n, obj, path, mp.m)
		return mp
	}
	if n.Kind != yaml.MappingNode {
		d.bad[path] = true // validation skips what it never received, rather than piling on
		hint := ""
		if _, named := obj.lookup("name"); named && n.Kind == yaml.ScalarNode && strings.HasSuffix(path, "]") {
			hint = fmt.Sprintf("; for a list of names write - { name: %s }", clip(n.Value))
		}
		d.errorf(n, "%s must be a mapping of keys (%s), not %s%s", orTop(path), strings.Join(obj.keys(), ", "), describe(n), hint)
		return mp
	}
	for _, e := range d.pairs(n) {
		key := e.key.Value
		if prev, dup := mp.m.get(key); dup {
			d.errorf(e.key, "%s is repeated (first set on line %d)", join(path, key), lineOf(prev.key))
			continue
		}
		if i := obj.index(key); i >= 0 {
			mp.m.set(i, e)
			if record {
				d.pos[join(path, key)] = d.nodePos(e.key)
			}
			continue
		}
		if isSecretKey(key) {
			d.errorf(e.key, "%s: secrets never live in avatar.yaml; reference the password with passwordEnv (an environment variable) or passwordFile", join(path, key))
			continue
		}
		if obj.extra != "" {
			if s := Suggest(key, obj.keys()); s != "" && s != key && closeTypo(key, s) {
				// A near miss of a common key is far likelier a typo than a plugin parameter.
				d.errorf(e.key, "%s is not a known key; did you mean %q? (other keys are passed to the plugin, but this one is too close to %q)", join(path, key), s, s)
				continue
			}
			mp.extra = append(mp.extra, e)
			if record {
				d.pos[join(path, key)] = d.nodePos(e.key)
			}
			continue
		}
		msg := fmt.Sprintf("%s is not a known key", join(path, clip(key)))
		if h := d.splitHint(e.key); h != "" {
			msg += h
		} else if s, ok := keyAliases[strings.ToLower(key)]; ok && slices.Contains(obj.keys(), s) {
			msg += fmt.Sprintf("; did you mean %q?", s)
		} else if s := didYouMean(key, obj.keys()); s != "" {
			msg += s
		} else {
			msg += fmt.Sprintf(" (known keys: %s)", strings.Join(obj.keys(), ", "))
		}
		d.errorf(e.key, "%s", msg)
	}
	d.missing(n, obj, path, mp.m)
	return mp
}

// missing reports every required key of obj that m lacks, at n, and marks it as reported so that
// validation does not add a second message about its zero value (a missing id is not "id 0").
// A required key written with no value (name:, name: ~, name: null) is missing too, reported at the
// key (issue 10 item 8: a topic "name: null" loaded, planned "+ create topic " and created "").
func (d *decoder) missing(n *yaml.Node, obj *object, path string, m fieldEntries) {
	for i, f := range obj.fields {
		if !f.required {
			continue
		}
		e, ok := m.e[i], m.e[i].key != nil
		if !ok {
			d.bad[join(path, f.key)] = true
			d.errorf(n, "%s is missing (%s)", join(path, f.key), f.doc)
			continue
		}
		if v := d.resolve(e.val); v.Kind != yaml.ScalarNode || v.Tag != "!!null" || nestedRequired(f) {
			continue // a null object with required keys of its own reports those instead
		}
		d.bad[join(path, f.key)] = true
		d.errorf(e.key, "%s is missing: it is written with no value (%s)", join(path, f.key), f.doc)
	}
}

// nestedRequired reports whether f is a mapping with required keys of its own.
func nestedRequired(f field) bool {
	return f.kind == vObject && f.elem != nil && slices.ContainsFunc(f.elem.fields, func(g field) bool { return g.required })
}

// closeTypo reports whether key is so close to the common key s (case, or about one edit in four
// letters) that it cannot be a plugin parameter. Suggest's own limit is wider and would take the udp
// kind's documented "send" for a typo of "kind".
func closeTypo(key, s string) bool {
	return levenshtein(strings.ToLower(key), strings.ToLower(s)) <= max(1, len(key)/4)
}

// keyAliases maps the names other tools use (topicctl, kafka-topics.sh, Strimzi) to ours, for keys
// too far from ours for edit distance to suggest.
var keyAliases = map[string]string{
	"replicas":           "replicationFactor",
	"replication_factor": "replicationFactor",
	"replication-factor": "replicationFactor",
	"rf":                 "replicationFactor",
	"num_partitions":     "partitions",
	"numpartitions":      "partitions",
	"configs":            "config",
	"configentries":      "config",
	"settings":           "config",
	"retention_ms":       "retention",
	"retentionms":        "retention",
	"bootstrap_servers":  "bootstrap",
	"bootstrapservers":   "bootstrap",
	"brokerlist":         "bootstrap",
}

func orTop(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

// isSecretKey reports keys that would put a secret in the file (password, keystorePassword, ...).
func isSecretKey(key string) bool {
	k := strings.ToLower(key)
	return (strings.Contains(k, "password") || k == "secret" || k == "token") &&
		!strings.HasSuffix(k, "env") && !strings.HasSuffix(k, "file")
}

// pairs returns the key/value pairs of a mapping with YAML merge keys (<<: *anchor) expanded;
// explicit keys win over merged ones, as YAML specifies.
func (d *decoder) pairs(n *yaml.Node) []entry { return d.mappingPairs(n, true) }

// mappingPairs is pairs; with report false it reports nothing (the merger's walk: the decoder
// reports shape problems when it reads the merged tree), skipping what pairs reports.
func (d *decoder) mappingPairs(n *yaml.Node, report bool) []entry {
	out := make([]entry, 0, len(n.Content)/2)
	var merged []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := d.resolve(n.Content[i]), n.Content[i+1]
		if k.Tag == "!!merge" {
			v = d.resolve(v)
			srcs := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				srcs = v.Content
			}
			for _, src := range srcs {
				src = d.resolve(src)
				if src.Kind != yaml.MappingNode {
					if report {
						d.errorf(src, "a merge key (<<) needs a mapping or a list of mappings, not %s", describe(src))
					}
					continue
				}
				merged = append(merged, d.mappingPairs(src, report)...)
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			if report {
				d.errorf(k, "keys must be plain names, not %s", describe(k))
			}
			continue
		}
		if report {
			d.noteSplit(n, i, k, v)
		}
		out = append(out, entry{k, v})
	}
	return withMerged(out, merged)
}

// withMerged appends to a mapping's explicit pairs the merged pairs whose key is not there yet: an
// explicit key wins, then the first merged one (YAML's merge key). A set keeps a merge of large
// mappings linear.
func withMerged(out, merged []entry) []entry {
	if len(merged) == 0 {
		return out
	}
	have := make(map[string]bool, len(out)+len(merged))
	for _, e := range out {
		have[e.key.Value] = true
	}
	for _, m := range merged {
		if !have[m.key.Value] {
			have[m.key.Value] = true
			out = append(out, m)
		}
	}
	return out
}

// noteSplit remembers a key with no value that follows a plain value in a flow mapping: in
// { cleanup.policy: compact,delete } YAML reads "delete" as a key of its own, a mistake the
// reference invites (list configs are written "compact,delete"), so its message says so.
func (d *decoder) noteSplit(n *yaml.Node, i int, k, v *yaml.Node) {
	if n.Style&yaml.FlowStyle == 0 || i < 2 || v.Kind != yaml.ScalarNode || v.Tag != "!!null" || v.Value != "" {
		return
	}
	pk, pv := n.Content[i-2], n.Content[i-1]
	if pv.Kind != yaml.ScalarNode || pv.Tag == "!!null" || pv.Style != 0 {
		return
	}
	if k.Line != pv.Line || k.Column != pv.Column+len(pv.Value)+1 {
		// Only "value,key" with nothing between: "x, y:" is a key written with no value.
		return
	}
	if d.split == nil {
		d.split = map[*yaml.Node]string{}
	}
	d.split[k] = diagnosticf("; inside { } a comma separates entries, so %q was read as a key of its own; to keep it in the value, quote it: %s: %q",
		k.Value, pk.Value, pv.Value+","+k.Value)
}

// splitHint is noteSplit's hint for key node k, or "".
func (d *decoder) splitHint(k *yaml.Node) string {
	return d.split[k]
}

// fail reports a bad value of key and remembers the path, so validation does not pile a second
// message ("is not set") onto a value it never received.
func (mp *mapping) fail(key string, n *yaml.Node, format string, args ...any) {
	mp.d.bad[join(mp.path, key)] = true
	mp.d.errorf(n, format, args...)
}

// get returns the value node of a known key; asking for a key the object does not declare is a
// programming error, caught by the tests that load a file using every key.
func (mp *mapping) get(key string) (*yaml.Node, field, bool) {
	i := slices.IndexFunc(mp.obj.fields, func(f field) bool { return f.key == key })
	if i < 0 {
		panic(fmt.Sprintf("spec: %s has no field %q in its table", mp.obj.name, key))
	}
	f := mp.obj.fields[i]
	if mp.used == nil {
		if mp.used = mp.d.used[mp.obj]; mp.used == nil {
			mp.used = make([]bool, len(mp.obj.fields))
			mp.d.used[mp.obj] = mp.used
		}
	}
	mp.used[i] = true
	e := mp.m.e[i]
	if e.key == nil {
		return nil, f, false
	}
	v := mp.d.resolve(e.val)
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil, f, false
	}
	return v, f, true
}

// scalar returns the node if it is a scalar, reporting anything else.
func (mp *mapping) scalar(key, want string) (*yaml.Node, field, bool) {
	v, f, ok := mp.get(key)
	if !ok {
		return nil, f, false
	}
	if v.Kind != yaml.ScalarNode {
		mp.fail(key, v, "%s must be %s, not %s", join(mp.path, key), want, describe(v))
		return nil, f, false
	}
	return v, f, true
}

func (mp *mapping) str(key string, dst *string) {
	v, f, ok := mp.scalar(key, "a string")
	if !ok {
		if f.def != "" && *dst == "" && f.kind == vString {
			*dst = f.def
		}
		return
	}
	s := v.Value
	path := func() string { return join(mp.path, key) } // for messages only
	if f.required && strings.TrimSpace(s) == "" {
		mp.fail(key, v, "%s is empty (%s)", path(), f.doc)
		return
	}
	if len(f.enum) > 0 {
		i := slices.IndexFunc(f.enum, func(e string) bool { return strings.EqualFold(e, s) })
		if i < 0 && len(f.enum) == 1 {
			mp.fail(key, v, "%s %q must be %q", path(), s, f.enum[0])
			return
		}
		if i < 0 {
			mp.fail(key, v, "%s %q is not one of %s%s", path(), s, strings.Join(f.enum, ", "), didYouMean(s, f.enum))
			return
		}
		s = f.enum[i]
	}
	if f.pattern == dnsLabelPattern && len(s) > 63 {
		// Kubernetes object and label names: render would refuse it, so say so here.
		mp.fail(key, v, "%s %q is %d characters long; a DNS label has at most 63", path(), s, len(s))
		return
	}
	if f.pattern != "" && !matchPattern(f.pattern, s) {
		mp.fail(key, v, "%s %q %s", path(), s, patternHint(f.pattern))
		return
	}
	*dst = s
}

// patternHint explains a pattern in words.
func patternHint(p string) string {
	switch p {
	case dnsLabelPattern:
		return "is not a DNS label (lower-case letters, digits and '-', starting and ending with a letter or digit)"
	case topicNamePattern:
		return "is not a legal Kafka topic name (letters, digits, '.', '_' and '-' only)"
	case quantityPattern:
		return "is not a Kubernetes quantity (e.g. 500m, 2, 1Gi, 10Gi)"
	case kraftClusterIDPattern:
		return "is not a KRaft cluster id (22 characters of URL-safe base64, as `kafka-storage random-uuid` prints)"
	case imagePattern:
		return "is not a container image reference (e.g. apache/kafka:3.9.0 or registry.lab:5000/kafka:3.9.0)"
	case imageTagPattern:
		return "is not an image tag (letters, digits, '_', '.', '-', e.g. 3.9.0)"
	case dnsSubdomainPattern:
		return "is not a Kubernetes name (lower-case letters, digits, '-' and '.', e.g. microk8s-hostpath)"
	}
	return "does not match " + p
}

func (mp *mapping) integer(key string, dst *int64) bool {
	v, _, ok := mp.scalar(key, "an integer")
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(v.Value, "_", ""), 0, 64)
	if err != nil || (v.Tag != "!!int" && v.Tag != "!!str") {
		mp.fail(key, v, "%s %s is not an integer", join(mp.path, key), describe(v))
		return false
	}
	*dst = n
	return true
}

func (mp *mapping) int(key string, dst *int) {
	var n int64
	if mp.integer(key, &n) {
		if n != int64(int32(n)) {
			v, _, _ := mp.get(key)
			mp.fail(key, v, "%s %d is out of range", join(mp.path, key), n)
			return
		}
		*dst = int(n)
	}
}

// port reads a listener port. 0 is how the spec says "listener off" internally, so a 0 written in
// the file must be refused here, or "ssl: 0" would silently switch the SSL listener off.
func (mp *mapping) port(key string, dst *int) {
	mp.int(key, dst)
	if v, _, ok := mp.get(key); ok && *dst == 0 && !mp.d.bad[join(mp.path, key)] {
		mp.fail(key, v, "%s 0 is not a port (1-65535); leave the key out to turn that listener off", join(mp.path, key))
	}
}

func (mp *mapping) int32(key string, dst *int32) {
	var n int
	mp.int(key, &n)
	*dst = int32(n)
}

func (mp *mapping) boolean(key string, dst *bool) {
	v, _, ok := mp.scalar(key, "true or false")
	if !ok {
		return
	}
	switch strings.ToLower(v.Value) {
	case "true":
		*dst = true
	case "false":
		*dst = false
	default:
		mp.fail(key, v, "%s %s is not a boolean (true or false)", join(mp.path, key), describe(v))
	}
}

func (mp *mapping) duration(key string, dst *time.Duration) {
	v, f, ok := mp.scalar(key, "a duration")
	if !ok {
		if f.def != "" && *dst == 0 {
			*dst, _ = ParseDuration(f.def)
		}
		return
	}
	dur, err := ParseDuration(v.Value)
	if err != nil {
		if _, numErr := strconv.ParseFloat(strings.TrimSpace(v.Value), 64); numErr == nil {
			mp.fail(key, v, "%s %q has no unit (write e.g. %ss or %sd)", join(mp.path, key), v.Value, strings.TrimSpace(v.Value), strings.TrimSpace(v.Value))
			return
		}
		mp.fail(key, v, "%s %q is not a duration (write e.g. 30s, 10m, 1h, 825d)", join(mp.path, key), v.Value)
		return
	}
	if dur < 0 {
		mp.fail(key, v, "%s %s must not be negative", join(mp.path, key), v.Value)
		return
	}
	if dur == 0 {
		// Every duration here (validity, renewBefore, a device timeout) means "use the default"
		// when zero, so a written 0 would be silently replaced: say so instead.
		def := "the default"
		if f.def != "" {
			def += " " + f.def
		}
		mp.fail(key, v, "%s %s must be longer than 0; leave it out for %s", join(mp.path, key), v.Value, def)
		return
	}
	*dst = dur
}

// rate reads a throughput in bytes per second (ParseRate, shared with --throttle).
func (mp *mapping) rate(key string, dst *int64) {
	v, _, ok := mp.scalar(key, "a rate")
	if !ok {
		return
	}
	n, err := ParseRate(v.Value)
	if err != nil {
		mp.fail(key, v, "%s %v", join(mp.path, key), err)
		return
	}
	*dst = n
}

func (mp *mapping) strings(key string, dst *[]string) {
	v, _, ok := mp.get(key)
	if !ok {
		return
	}
	path := join(mp.path, key)
	if v.Kind != yaml.SequenceNode {
		mp.fail(key, v, "%s must be a list of strings, not %s", path, describe(v))
		return
	}
	for i, item := range v.Content {
		item = mp.d.resolve(item)
		p := fmt.Sprintf("%s[%d]", path, i)
		if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
			mp.fail(key, item, "%s must be a string, not %s", p, describe(item))
			continue
		}
		mp.d.pos[p] = mp.d.nodePos(item)
		*dst = append(*dst, item.Value)
	}
}

// list returns the items of a list of mappings with their paths, recording where each was written.
func (mp *mapping) list(key string) ([]*yaml.Node, []string) {
	v := mp.items(key)
	if v == nil {
		return nil, nil
	}
	path := join(mp.path, key)
	paths := make([]string, len(v))
	for i, item := range v {
		paths[i] = fmt.Sprintf("%s[%d]", path, i)
		mp.d.pos[paths[i]] = mp.d.nodePos(item)
	}
	return v, paths
}

// items returns the items of a list of mappings (list without the paths: see decoder.topics).
func (mp *mapping) items(key string) []*yaml.Node {
	v, _, ok := mp.get(key)
	if !ok {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		mp.fail(key, v, "%s must be a list, not %s", join(mp.path, key), describe(v))
		return nil
	}
	if f, _ := mp.obj.lookup(key); f.required && len(v.Content) == 0 {
		mp.fail(key, v, "%s is empty; declare at least one %s", join(mp.path, key), f.elem.name)
	}
	return v.Content
}

// object decodes a nested mapping. An explicit empty value (metadata: with nothing under it) is
// passed on, so its required keys are reported as missing.
func (mp *mapping) object(key string) *mapping {
	v, f, _ := mp.get(key)
	if e, ok := mp.m.get(key); ok && v == nil {
		v = mp.d.resolve(e.val)
	}
	return mp.d.mapping(v, f.elem, join(mp.path, key))
}
