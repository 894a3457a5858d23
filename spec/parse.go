package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// LoadFile reads and parses one avatar.yaml. It is the only function in spec that touches the file
// system; everything else works on bytes so tests and fuzzing need no files.
func LoadFile(path string) (*Spec, Diagnostics) {
	data, err := os.ReadFile(path)
	if err != nil {
		msg := fmt.Sprintf("cannot read the spec: %v", err)
		if errors.Is(err, fs.ErrNotExist) {
			msg = "no such file"
		}
		return nil, Diagnostics{{Pos: Pos{File: path, Line: 1, Col: 1}, Message: msg}}
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
	d := &decoder{file: file, pos: map[string]Pos{}, inherited: map[string]bool{}, bad: map[string]bool{}, used: map[string]bool{}}
	root := d.parseYAML(data)
	if root == nil {
		return nil, d.diags, d
	}
	s := d.spec(root)
	s.File = file
	if !d.aborted {
		d.diags = append(d.diags, validate(s, d.at)...)
	}
	d.diags = uniqueSorted(d.diags)
	return s, d.diags, d
}

// uniqueSorted orders diagnostics by position (stable, so one key's messages keep their order) and
// drops exact repeats, which arise when one topicDefaults value is wrong for several topics.
func uniqueSorted(ds Diagnostics) Diagnostics {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		return a.Pos.Col - b.Pos.Col
	})
	return slices.Compact(ds)
}

// maxNodes bounds how many YAML nodes one file may expand to, so aliases cannot make the loader
// walk an exponential tree ("billion laughs"); real specs use a few hundred.
const maxNodes = 100000

// decoder walks yaml.v3 nodes into a Spec, collecting diagnostics instead of stopping at the first.
type decoder struct {
	file  string
	diags Diagnostics
	// pos records where each path ("topics[1].replicationFactor") was written; validation uses it to
	// anchor messages. inherited marks topic paths whose value came from topicDefaults.
	pos       map[string]Pos
	inherited map[string]bool
	// bad marks paths whose value was reported as malformed.
	bad map[string]bool
	// used records each object.key the decoder read, so a test can prove the tables and the decoder
	// agree (a key in a table that nothing reads would be accepted and silently ignored).
	used    map[string]bool
	nodes   int
	aborted bool
	// split maps a key node that is probably the tail of a value split at a comma inside { } to the
	// hint explaining it (see pairs).
	split map[*yaml.Node]string
}

func (d *decoder) nodePos(n *yaml.Node) Pos {
	if n == nil || n.Line == 0 {
		return Pos{File: d.file, Line: 1, Col: 1}
	}
	return Pos{File: d.file, Line: n.Line, Col: n.Column}
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.diags = append(d.diags, Diagnostic{Pos: d.nodePos(n), Severity: SeverityError, Message: fmt.Sprintf(format, args...)})
}

func (d *decoder) warnf(n *yaml.Node, format string, args ...any) {
	d.diags = append(d.diags, Diagnostic{Pos: d.nodePos(n), Severity: SeverityWarning, Message: fmt.Sprintf(format, args...)})
}

// at returns where path was written, falling back to the nearest enclosing path that was recorded.
func (d *decoder) at(path string) loc {
	l := loc{written: d.pos[path].Line > 0, inherited: d.inherited[path], bad: d.bad[path]}
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

var yamlLineRE = regexp.MustCompile(`(?s)^yaml: line (\d+): (.*)$`)

// maxFileBytes bounds the file the loader parses. yaml.v3 builds the whole node tree before
// maxNodes can stop anything, so a multi-megabyte file (a log or dump passed to -f by mistake) would
// take seconds of CPU and a lot of memory; real specs are a few KiB.
const maxFileBytes = 4 << 20

// parseYAML parses data into the document's root mapping, or reports why it cannot.
func (d *decoder) parseYAML(data []byte) (root *yaml.Node) {
	if len(data) > maxFileBytes {
		d.errorf(nil, "the file is %.1f MiB, more than a spec can sensibly be (limit %s); is -f pointing at the right file?",
			float64(len(data))/(1<<20), FormatBytes(maxFileBytes))
		return nil
	}
	if len(bytes.TrimSpace(data)) == 0 {
		d.errorf(nil, "the file is empty; start it with apiVersion: %s and kind: %s", APIVersion, Kind)
		return nil
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	err := func() (err error) {
		// yaml.v3 has panicked on pathological input before; a broken file must still get a message.
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("yaml: cannot parse this file (%v)", r)
			}
		}()
		return dec.Decode(&doc)
	}()
	if errors.Is(err, io.EOF) {
		d.errorf(nil, "the file is empty; start it with apiVersion: %s and kind: %s", APIVersion, Kind)
		return nil
	}
	if err != nil {
		d.yamlError(err, data)
		return nil
	}
	var extra yaml.Node
	if err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("yaml: cannot parse this file (%v)", r)
			}
		}()
		return dec.Decode(&extra)
	}(); err == nil {
		d.errorf(&extra, "a second YAML document starts here; avatar.yaml holds exactly one (remove the '---')")
	} else if !errors.Is(err, io.EOF) {
		d.yamlError(err, data)
	}
	if len(doc.Content) == 0 {
		d.errorf(&doc, "the file has no content; start it with apiVersion: %s and kind: %s", APIVersion, Kind)
		return nil
	}
	root = d.resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "the top level must be a mapping of keys (apiVersion, kind, brokers, ...), not %s", describe(root))
		return nil
	}
	return root
}

// yamlError turns a yaml.v3 syntax error into a positioned diagnostic. yaml.v3 reports only a line,
// and for parser errors ("did not find expected ...") a 0-based one; the column is taken as the
// first character of that line, or the offending tab for tab-indentation errors.
func (d *decoder) yamlError(err error, data []byte) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	n := 1
	if m := yamlLineRE.FindStringSubmatch(strings.TrimSpace(err.Error())); m != nil {
		n, _ = strconv.Atoi(m[1])
		msg = m[2]
		if strings.HasPrefix(msg, "did not find expected") {
			// These name where the enclosing block or flow collection starts, not the bad line.
			n++
			msg += " in the block that starts here (check the lines below it: indentation, a missing '-', ',' or closing bracket)"
		}
	}
	lines := strings.Split(string(data), "\n")
	n = min(max(n, 1), len(lines))
	col := len(lines[n-1]) - len(strings.TrimLeft(lines[n-1], " ")) + 1
	if strings.Contains(msg, "tab character") || strings.Contains(msg, "cannot start any token") {
		for i := n - 1; i < len(lines) && i <= n; i++ {
			indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " \t"))]
			if t := strings.IndexByte(indent, '\t'); t >= 0 {
				n, col = i+1, t+1
				msg += "; indent with spaces, not tabs"
				break
			}
		}
	}
	if col > len(lines[n-1]) {
		col = 1
	}
	d.diags = append(d.diags, Diagnostic{Pos: Pos{File: d.file, Line: n, Col: col}, Severity: SeverityError, Message: "invalid YAML: " + msg})
}

// resolve follows aliases and counts nodes against maxNodes.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	d.nodes++
	if d.nodes > maxNodes && !d.aborted {
		d.aborted = true
		d.errorf(n, "the file expands to more than %d YAML nodes (through aliases?); avatar-sync stops reading here", maxNodes)
	}
	return n
}

// describe names a node's shape for error messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty (null)"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "this value"
}

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
	m     map[string]entry
	extra []entry // keys beyond obj.fields when obj.extra is set, in file order
}

// join builds child paths: "" + "kafka" = "kafka", "topics[1]" + "name" = "topics[1].name".
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapping reads n as a mapping of obj: unknown keys are reported with a suggestion, repeated keys
// too. A nil or null node is an empty mapping (so `embedded: {}` and `embedded:` mean the same).
func (d *decoder) mapping(n *yaml.Node, obj *object, path string) *mapping {
	mp := &mapping{d: d, obj: obj, path: path, node: n, m: map[string]entry{}}
	if n == nil || d.aborted {
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
			hint = fmt.Sprintf("; for a list of names write - { name: %s }", n.Value)
		}
		d.errorf(n, "%s must be a mapping of keys (%s), not %s%s", orTop(path), strings.Join(obj.keys(), ", "), describe(n), hint)
		return mp
	}
	for _, e := range d.pairs(n) {
		key := e.key.Value
		if prev, dup := mp.m[key]; dup {
			d.errorf(e.key, "%s is repeated (first set on line %d)", join(path, key), prev.key.Line)
			continue
		}
		if _, known := obj.lookup(key); known {
			mp.m[key] = e
			d.pos[join(path, key)] = d.nodePos(e.key)
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
			d.pos[join(path, key)] = d.nodePos(e.key)
			continue
		}
		msg := fmt.Sprintf("%s is not a known key", join(path, key))
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
func (d *decoder) missing(n *yaml.Node, obj *object, path string, m map[string]entry) {
	for _, f := range obj.fields {
		if _, ok := m[f.key]; f.required && !ok {
			d.bad[join(path, f.key)] = true
			d.errorf(n, "%s is missing (%s)", join(path, f.key), f.doc)
		}
	}
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
func (d *decoder) pairs(n *yaml.Node) []entry {
	var out, merged []entry
	if d.aborted {
		return nil
	}
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
					d.errorf(src, "a merge key (<<) needs a mapping or a list of mappings, not %s", describe(src))
					continue
				}
				merged = append(merged, d.pairs(src)...)
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "keys must be plain names, not %s", describe(k))
			continue
		}
		d.noteSplit(n, i, k, v)
		out = append(out, entry{k, v})
	}
	for _, m := range merged {
		if !slices.ContainsFunc(out, func(e entry) bool { return e.key.Value == m.key.Value }) {
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
	d.split[k] = fmt.Sprintf("; inside { } a comma separates entries, so %q was read as a key of its own; to keep it in the value, quote it: %s: %q",
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
	f, known := mp.obj.lookup(key)
	if !known {
		panic(fmt.Sprintf("spec: %s has no field %q in its table", mp.obj.name, key))
	}
	mp.d.used[mp.obj.name+"."+key] = true
	e, ok := mp.m[key]
	if !ok {
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
	path := join(mp.path, key)
	if f.required && strings.TrimSpace(s) == "" {
		mp.fail(key, v, "%s is empty (%s)", path, f.doc)
		return
	}
	if len(f.enum) > 0 {
		i := slices.IndexFunc(f.enum, func(e string) bool { return strings.EqualFold(e, s) })
		if i < 0 && len(f.enum) == 1 {
			mp.fail(key, v, "%s %q must be %q", path, s, f.enum[0])
			return
		}
		if i < 0 {
			mp.fail(key, v, "%s %q is not one of %s%s", path, s, strings.Join(f.enum, ", "), didYouMean(s, f.enum))
			return
		}
		s = f.enum[i]
	}
	if f.pattern == dnsLabelPattern && len(s) > 63 {
		// Kubernetes object and label names: render would refuse it, so say so here.
		mp.fail(key, v, "%s %q is %d characters long; a DNS label has at most 63", path, s, len(s))
		return
	}
	if f.pattern != "" && !patterns[f.pattern].MatchString(s) {
		mp.fail(key, v, "%s %q %s", path, s, patternHint(f.pattern))
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

func (mp *mapping) size(key string, dst *int64) {
	v, _, ok := mp.scalar(key, "a size")
	if !ok {
		return
	}
	s := strings.TrimSuffix(strings.TrimSpace(v.Value), "/s")
	n, err := ParseBytes(s)
	if err != nil {
		mp.fail(key, v, "%s %q is not a size (bytes, or e.g. 512KiB, 10MiB, 1GB)", join(mp.path, key), v.Value)
		return
	}
	if n < 0 {
		mp.fail(key, v, "%s %s must not be negative", join(mp.path, key), v.Value)
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

// list returns the items of a list of mappings with their paths.
func (mp *mapping) list(key string) ([]*yaml.Node, []string) {
	v, _, ok := mp.get(key)
	if !ok {
		return nil, nil
	}
	path := join(mp.path, key)
	if v.Kind != yaml.SequenceNode {
		mp.fail(key, v, "%s must be a list, not %s", path, describe(v))
		return nil, nil
	}
	if f, _ := mp.obj.lookup(key); f.required && len(v.Content) == 0 {
		mp.fail(key, v, "%s is empty; declare at least one %s", path, f.elem.name)
	}
	paths := make([]string, len(v.Content))
	for i, item := range v.Content {
		paths[i] = fmt.Sprintf("%s[%d]", path, i)
		mp.d.pos[paths[i]] = mp.d.nodePos(item)
	}
	return v.Content, paths
}

// object decodes a nested mapping. An explicit empty value (metadata: with nothing under it) is
// passed on, so its required keys are reported as missing.
func (mp *mapping) object(key string) *mapping {
	v, f, _ := mp.get(key)
	if e, ok := mp.m[key]; ok && v == nil {
		v = mp.d.resolve(e.val)
	}
	return mp.d.mapping(v, f.elem, join(mp.path, key))
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
	s.Kafka.Pos = d.nodePos(k.node)

	items, paths := top.list("brokers")
	for i, item := range items {
		b := d.mapping(item, brokerObj, paths[i])
		var br Broker
		b.int32("id", &br.ID)
		b.str("host", &br.Host)
		b.str("rack", &br.Rack)
		p := b.object("ports")
		p.port("plaintext", &br.Ports.Plaintext)
		p.port("ssl", &br.Ports.SSL)
		p.port("internal", &br.Ports.Internal)
		p.port("controller", &br.Ports.Controller)
		br.Pos = d.nodePos(b.node)
		s.Brokers = append(s.Brokers, br)
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
	s.TLS.Pos = d.nodePos(t.node)

	defs := d.topicFields(top.object("topicDefaults"))
	s.TopicDefaults = TopicDefaults{Partitions: defs.partitions, ReplicationFactor: defs.replicationFactor, Config: defs.config, Prune: defs.prune}
	items, paths = top.list("topics")
	for i, item := range items {
		s.Topics = append(s.Topics, d.topic(item, paths[i], defs))
	}

	top.str("deletion", &s.Deletion)
	r := top.object("reassignment")
	r.size("throttle", &s.Reassignment.ThrottleBytesPerSec)

	s.Clusters = d.clusters(top)

	items, paths = top.list("devices")
	for i, item := range items {
		s.Devices = append(s.Devices, d.device(item, paths[i]))
	}
	return s
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
					msg := fmt.Sprintf("%s is not a Kafka topic config", kp) + hint
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
	inherit := func(key string) {
		d.pos[join(path, key)] = d.pos[join(defs.path, key)]
		d.inherited[join(path, key)] = true
	}
	if _, set := m.m["partitions"]; !set && defs.partitions != 0 {
		t.Partitions = defs.partitions
		inherit("partitions")
	}
	if _, set := m.m["replicationFactor"]; !set && defs.replicationFactor != 0 {
		t.ReplicationFactor = defs.replicationFactor
		inherit("replicationFactor")
	}
	if !own.pruneSet {
		t.Prune = defs.prune
	}
	t.Config = map[string]string{}
	t.ConfigPos = map[string]Pos{}
	for k, v := range defs.config {
		t.Config[k], t.ConfigPos[k] = v, defs.configPos[k]
		inherit("config." + k)
	}
	for k, v := range own.config {
		t.Config[k], t.ConfigPos[k] = v, own.configPos[k]
		d.pos[join(path, "config."+k)] = own.configPos[k]
		delete(d.inherited, join(path, "config."+k))
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
