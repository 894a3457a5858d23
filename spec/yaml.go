package spec

// Reading YAML: bytes to a yaml.v3 node tree, with positioned messages for syntax and encoding
// errors and a bound on alias expansion. The decoder type is shared by the field decoder
// (decode.go) and the avatar.yaml model (parse.go).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// A file may expand, aliases followed, to at most minExpansion nodes plus expansionPerByte nodes for
// every byte read (expansionLimit). Without aliases a file never comes near it: even the densest
// YAML ({a,b,c}) needs a byte per node. So aliases can make the loader walk at most about what a
// file of three times the size would cost, whatever they nest to ("billion laughs" is refused
// before anything is decoded), while the number of topics is bounded only by MaxFileBytes (a fixed
// cap of 100,000 nodes used to stop a spec at about 16,600 topics; issue 23).
const (
	minExpansion     = 100000
	expansionPerByte = 2
)

// expansionLimit is how many nodes a file of size bytes may expand to.
func expansionLimit(size int) int { return minExpansion + expansionPerByte*size }

// decoder walks yaml.v3 nodes into a Spec, collecting diagnostics instead of stopping at the first.
type decoder struct {
	file  string
	diags Diagnostics
	// pos records where each path ("brokers[1].host") was written; validation uses it to anchor
	// messages. The topics list is not in it: topics holds each topic's nodes, and at finds a topic
	// path there, so decoding a topic builds no path strings and writes no map (a string-keyed
	// position per topic key was a fifth of the parse of 10,000 topics; issue 23). A topic key
	// inherited from topicDefaults is not recorded per topic either: at works it out from defaults
	// (recording it cost half the parse of 10,000 topics, issue 9).
	pos      map[string]Pos
	defaults topicFields
	// inherited caches inheritedPos's answers by topic key.
	inherited map[string]Pos
	topics    []topicNodes
	// topicConfig holds the config keys of every topic, each topic's a window of it.
	topicConfig []configKey
	// bad marks paths whose value was reported as malformed.
	bad map[string]bool
	// used records each object.key the decoder read, so a test can prove the tables and the decoder
	// agree (a key in a table that nothing reads would be accepted and silently ignored).
	// used[obj][i] is whether obj.fields[i] was read (a slice per object: a map write per key read
	// was a tenth of the parse of 10,000 topics; issue 23).
	used map[*object][]bool
	// split maps a key node that is probably the tail of a value split at a comma inside { } to the
	// hint explaining it (see pairs).
	split map[*yaml.Node]string
	// files names the files of a spec directory (issue 15): a node of files[k-1] has k*lineStride
	// added to its line (recordFile). Nil for one file, whose nodes are all d.file's.
	files []string
}

// lineStride is more lines than a file can have (MaxFileBytes+1): the lines of a spec directory's
// k-th file are numbered from k*lineStride, so a node's line names its file. A map from every node
// to its file cost a quarter of the parse of a directory of 100,000 topics (issue 23).
const lineStride = 1 << 25

// lineOf is the line of n in its own file.
func lineOf(n *yaml.Node) int { return n.Line % lineStride }

// sameFile reports whether a and b come from the same file.
func sameFile(a, b *yaml.Node) bool { return a.Line/lineStride == b.Line/lineStride }

func (d *decoder) nodePos(n *yaml.Node) Pos {
	if n == nil || lineOf(n) == 0 {
		return Pos{File: d.file, Line: 1, Col: 1}
	}
	file := d.file
	if k := n.Line / lineStride; k > 0 {
		file = d.files[k-1]
	}
	return Pos{File: file, Line: lineOf(n), Col: n.Column}
}

// derive records that a node built while merging stands where from does, in from's file.
func (d *decoder) derive(n, from *yaml.Node) *yaml.Node {
	n.Line, n.Column = from.Line, from.Column
	return n
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.diags = append(d.diags, Diagnostic{Pos: d.nodePos(n), Severity: SeverityError, Message: diagnosticf(format, args...)})
}

func (d *decoder) warnf(n *yaml.Node, format string, args ...any) {
	d.diags = append(d.diags, Diagnostic{Pos: d.nodePos(n), Severity: SeverityWarning, Message: diagnosticf(format, args...)})
}

var yamlLineRE = lazyRegexp(`(?s)^yaml: line (\d+): (.*)$`)

// MaxFileBytes bounds the file (or a directory's files together) the loader parses: yaml.v3 builds
// the whole node tree before anything can be checked, so a log or dump passed to -f by mistake costs
// CPU and memory in proportion. 16 MiB holds 100,000 topics with a few config lines each (a topic
// written in two lines takes ~45 bytes; issue 23); a hand-written spec is a few KiB.
const MaxFileBytes = 16 << 20

// parseYAML parses data into the document's root mapping, or reports why it cannot.
func (d *decoder) parseYAML(data []byte) (root *yaml.Node) {
	if len(data) > MaxFileBytes {
		d.errorf(nil, "the file is %.1f MiB, more than a spec can sensibly be (limit %s); is -f pointing at the right file?",
			float64(len(data))/(1<<20), FormatBytes(MaxFileBytes))
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
	if !d.boundExpansion(&doc, len(data)) {
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
	if strings.Contains(msg, "UTF-8") {
		// yaml.v3 gives no line for encoding errors; find the byte (issue 10 item 17: invalid UTF-8
		// on line 15 was reported at 1:1).
		if pos, b, ok := firstInvalidUTF8(data); ok {
			pos.File = d.file
			d.diags = append(d.diags, Diagnostic{Pos: pos, Severity: SeverityError,
				Message: fmt.Sprintf("invalid YAML: byte 0x%02x is not valid UTF-8 (%s); save the file as UTF-8", b, msg)})
			return
		}
	}
	n := 1
	if m := yamlLineRE().FindStringSubmatch(strings.TrimSpace(err.Error())); m != nil {
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

// firstInvalidUTF8 is the line and column (in characters) of the first byte of data that is not
// valid UTF-8, and that byte.
func firstInvalidUTF8(data []byte) (Pos, byte, bool) {
	line, lineStart := 1, 0
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return Pos{Line: line, Col: utf8.RuneCount(data[lineStart:i]) + 1}, data[i], true
		}
		if r == '\n' {
			line, lineStart = line+1, i+1
		}
		i += size
	}
	return Pos{}, 0, false
}

// resolve follows aliases. boundExpansion made sure they end and how far they expand.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// boundExpansion reports, before anything is decoded, a document whose aliases expand it past
// expansionLimit(size) nodes or refer back into their own anchor (which would expand forever).
// Counting is linear in the nodes yaml.v3 built: each anchored node's expansion is counted once.
func (d *decoder) boundExpansion(doc *yaml.Node, size int) bool {
	x := expansion{limit: expansionLimit(size), memo: map[*yaml.Node]int{}}
	n := x.count(doc)
	switch {
	case x.cycle:
		d.errorf(x.at, "this alias (*%s) refers to a node that contains it, which would expand forever; avatar-sync stops reading here", x.at.Value)
		return false
	case n > x.limit:
		d.errorf(x.at, "aliases expand the file to more than %d YAML nodes (at most %d plus %d per byte read; the file is %d bytes); avatar-sync stops reading here",
			x.limit, minExpansion, expansionPerByte, size)
		return false
	}
	return true
}

// expansion counts the nodes of a tree with aliases followed.
type expansion struct {
	limit int
	// memo holds the expanded size of every anchored node counted so far, -1 while it is counted.
	memo map[*yaml.Node]int
	// at is the alias (or node) that took the count past limit, or the alias of a cycle.
	at    *yaml.Node
	cycle bool
}

// count is the number of nodes n expands to, or any number above limit once it is past it.
func (x *expansion) count(n *yaml.Node) int {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		c, counted := x.memo[n.Alias]
		if !counted {
			c = x.count(n.Alias)
		}
		if c < 0 && x.at == nil {
			x.cycle, x.at = true, n
		}
		if c < 0 || c > x.limit {
			if x.at == nil {
				x.at = n
			}
			return x.limit + 1
		}
		return c
	}
	if n.Anchor != "" {
		x.memo[n] = -1
	}
	total := 1
	for _, c := range n.Content {
		if total += x.count(c); total > x.limit {
			if x.at == nil {
				x.at = c
			}
			total = x.limit + 1
			break
		}
	}
	if n.Anchor != "" {
		x.memo[n] = total
	}
	return total
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
		return diagnosticf("%q", n.Value)
	}
	return "this value"
}
