package spec

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// A spec directory (issue 15): `-f DIR` merges every *.yaml file in DIR, one team per file. The files
// are read as one spec: lists (brokers, topics, devices) and the clusters mapping are joined, every
// other top-level key may be set by one file only (apiVersion and kind may repeat with the same
// value), and a topic, broker, device or target declared in two files is an error naming both files
// and lines. Positions keep naming the file each value was written in.

// Source is one file of a spec.
type Source struct {
	Name string
	Data []byte
}

// ReadSources reads the spec at path: the file (or standard input for Stdin) as Read does, or,
// when path is a directory, every regular *.yaml file directly in it, in name order, each through
// Read's limits and all together within the same 16 MiB.
func ReadSources(ctx context.Context, path string, stdin io.Reader) ([]Source, Diagnostics) {
	if path != Stdin {
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			return readDir(ctx, path)
		}
	}
	data, diags := Read(ctx, path, stdin)
	if diags != nil {
		return nil, diags
	}
	name := path
	if path == Stdin {
		name = StdinName
	}
	return []Source{{Name: name, Data: data}}, nil
}

func readDir(ctx context.Context, dir string) ([]Source, Diagnostics) {
	names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, readFailure(dir, fmt.Sprintf("cannot list the spec directory: %v", err))
	}
	slices.Sort(names)
	var out []Source
	total := 0
	for _, name := range names {
		if fi, err := os.Lstat(name); err == nil && !fi.Mode().IsRegular() && fi.Mode()&os.ModeSymlink == 0 {
			continue // a directory called x.yaml, a FIFO: not a team's file
		}
		data, diags := Read(ctx, name, nil)
		if diags != nil {
			return nil, diags
		}
		if total += len(data); total > MaxFileBytes {
			return nil, readFailure(dir, fmt.Sprintf("the *.yaml files hold more than %s together, more than a spec can sensibly be; is -f pointing at the right directory?", FormatBytes(MaxFileBytes)))
		}
		out = append(out, Source{Name: name, Data: data})
	}
	if len(out) == 0 {
		return nil, readFailure(dir, "is a directory without *.yaml files; point -f/--file at avatar.yaml or at a directory of spec files")
	}
	return out, nil
}

// ParseSources is ParseTarget for a spec read by ReadSources: name is what -f named (the directory).
// One source is exactly ParseTarget of that file.
func ParseSources(name string, srcs []Source, target string) (*Spec, Diagnostics) {
	s, diags := ParsePartialSources(name, srcs, target)
	if len(diags.Errors()) > 0 {
		return nil, diags
	}
	return s, diags
}

// ParsePartialSources is ParsePartialTarget for a spec read by ReadSources.
func ParsePartialSources(name string, srcs []Source, target string) (*Spec, Diagnostics) {
	return sourcesTree(name, srcs).partial(target)
}

// ValidateSources is ValidateTargets for a spec read by ReadSources.
func ValidateSources(name string, srcs []Source) Diagnostics {
	return validateTargets(sourcesParser(name, srcs))
}

// ParsePartialAllTargets is ParsePartialSources of the spec as written together with what
// ValidateSources adds: what `validate` without --cluster reports, with the spec as written parsed
// once (issue 23: it was parsed twice, once for each).
func ParsePartialAllTargets(name string, srcs []Source) (*Spec, Diagnostics) {
	parse := sourcesParser(name, srcs)
	s, diags := parse("")
	return s, append(diags, targetDiagnostics(s, diags, parse)...)
}

// SourcesParser is ParsePartialSources for each target asked ("" for the spec as written), reading
// the YAML once for all of them: a fleet (--cluster dev,lab) parses it once, not once per target
// (issue 23).
func SourcesParser(name string, srcs []Source) func(target string) (*Spec, Diagnostics) {
	return sourcesParser(name, srcs)
}

// sourcesParser parses the spec as written (target "") or as a target sees it, reading the YAML
// once for all.
func sourcesParser(name string, srcs []Source) func(target string) (*Spec, Diagnostics) {
	return sourcesTree(name, srcs).parser()
}

// sourcesTree reads the sources of a spec: one file as itself (relative paths relative to its
// directory), several as a spec directory, their roots merged (relative paths relative to name).
func sourcesTree(name string, srcs []Source) *tree {
	if len(srcs) == 1 {
		return parseTree(srcs[0].Name, srcs[0].Data)
	}
	size := 0
	for _, src := range srcs {
		size += len(src.Data)
	}
	d := newDecoder(name, size)
	if len(srcs) >= math.MaxInt/lineStride {
		// Only where int has 32 bits: lines are numbered per file (see lineStride).
		d.errorf(nil, "the spec directory has %d files; at most %d can be read together here", len(srcs), math.MaxInt/lineStride-1)
		return &tree{file: name, size: size, diags: d.diags, base: name}
	}
	var roots []*yaml.Node
	for i, f := range parseFiles(srcs) {
		d.diags = append(d.diags, f.diags...)
		if f.root == nil {
			continue
		}
		d.files = append(d.files, srcs[i].Name)
		d.recordFile(f.root, len(d.files))
		roots = append(roots, f.root)
	}
	t := &tree{file: name, size: size, files: d.files, base: name}
	if len(roots) > 0 {
		t.root = d.mergeFiles(roots)
	}
	t.diags = d.diags
	return t
}

// parsedFile is one file of a spec directory read into its root mapping, with its syntax errors
// (each carrying the file's own name).
type parsedFile struct {
	root  *yaml.Node
	diags Diagnostics
}

// parseFiles parses the files of a spec directory, as many at a time as the process has CPUs: the
// files are independent until merged, and yaml.v3 building each one's node tree is most of the
// load of a large directory (issue 23). A panic in one is raised again here, as if the files had
// been parsed one after the other.
func parseFiles(srcs []Source) []parsedFile {
	out := make([]parsedFile, len(srcs))
	parse := func(i int) {
		fd := newDecoder(srcs[i].Name, 0)
		out[i] = parsedFile{root: fd.parseYAML(srcs[i].Data), diags: fd.diags}
	}
	workers := min(runtime.GOMAXPROCS(0), len(srcs))
	if workers <= 1 {
		for i := range srcs {
			parse(i)
		}
		return out
	}
	next := make(chan int)
	panics := make([]any, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					panics[w] = r
					for range next { // let the feeder finish
					}
				}
			}()
			for i := range next {
				parse(i)
			}
		})
	}
	for i := range srcs {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, r := range panics {
		if r != nil {
			panic(r)
		}
	}
	return out
}

// recordFile marks n and everything under it as nodes of d.files[k-1], numbering their lines from
// k*lineStride. A node already marked was visited (an alias's target, or the anchor of a cycle):
// each file is a tree of its own, so no node is marked twice.
func (d *decoder) recordFile(n *yaml.Node, k int) {
	if n == nil || n.Line >= lineStride {
		return
	}
	n.Line += k * lineStride
	for _, c := range n.Content {
		d.recordFile(c, k)
	}
	d.recordFile(n.Alias, k)
}

// identities say what makes an item of a joined list the same across files.
var identities = map[string]string{"brokers": "id", "topics": "name", "devices": "name"}

// mergeFiles joins the files' root mappings into one (see the package comment above).
func (d *decoder) mergeFiles(roots []*yaml.Node) *yaml.Node {
	m := &merger{d: d}
	out := d.derive(&yaml.Node{Kind: yaml.MappingNode}, roots[0])
	type first struct{ key, val *yaml.Node }
	firsts := map[string]first{}
	// seen remembers, per joined list (or the clusters mapping), where each identity was declared.
	seen := map[string]map[string]*yaml.Node{}
	where := func(n *yaml.Node) string {
		p := d.nodePos(n)
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
	for _, root := range roots {
		for _, e := range m.pairs(root) {
			key := e.key.Value
			v := m.resolve(e.val)
			f, again := firsts[key]
			_, joined := identities[key]
			switch {
			case !again:
				val := v
				if joined && v.Kind == yaml.SequenceNode || key == "clusters" && v.Kind == yaml.MappingNode {
					// A fresh node to join into, so the file's own list is never changed.
					val = d.derive(&yaml.Node{Kind: v.Kind, Tag: v.Tag, Style: v.Style}, v)
				}
				firsts[key] = first{e.key, val}
				out.Content = append(out.Content, e.key, val)
				f = firsts[key]
			case key == "apiVersion" || key == "kind":
				if v.Kind == yaml.ScalarNode && f.val.Kind == yaml.ScalarNode && v.Value == f.val.Value {
					continue
				}
				d.errorf(e.key, "%s differs from the one in %s; every file of a spec directory has the same %s", key, where(f.key), key)
				continue
			case (joined && (v.Kind != yaml.SequenceNode || f.val.Kind != yaml.SequenceNode)) ||
				(key == "clusters" && (v.Kind != yaml.MappingNode || f.val.Kind != yaml.MappingNode)) ||
				(!joined && key != "clusters"):
				d.errorf(e.key, "%s is also set in %s; in a spec directory only one file may set it (lists such as topics and the clusters mapping are joined)", key, where(f.key))
				continue
			}
			switch {
			case joined && v.Kind == yaml.SequenceNode:
				ids := seen[key]
				if ids == nil {
					ids = map[string]*yaml.Node{}
					seen[key] = ids
				}
				for _, item := range v.Content {
					id := m.resolve(item)
					if idv := valueOf(m, id, identities[key]); idv != nil && idv.Kind == yaml.ScalarNode {
						if prev, dup := ids[idv.Value]; dup && !sameFile(prev, idv) {
							label := fmt.Sprintf("%s %q", strings.TrimSuffix(key, "s"), idv.Value)
							if key == "brokers" {
								label = "broker id " + idv.Value
							}
							d.errorf(idv, "%s is also declared in %s; declare it in one file", label, where(prev))
							continue
						}
						if _, dup := ids[idv.Value]; !dup {
							ids[idv.Value] = idv
						}
					}
					f.val.Content = append(f.val.Content, item)
				}
			case key == "clusters" && v.Kind == yaml.MappingNode:
				ids := seen[key]
				if ids == nil {
					ids = map[string]*yaml.Node{}
					seen[key] = ids
				}
				for _, c := range m.pairs(v) {
					if prev, dup := ids[c.key.Value]; dup && !sameFile(prev, c.key) {
						d.errorf(c.key, "clusters.%s is also declared in %s; declare a target in one file", c.key.Value, where(prev))
						continue
					}
					if _, dup := ids[c.key.Value]; !dup {
						ids[c.key.Value] = c.key
					}
					f.val.Content = append(f.val.Content, c.key, c.val)
				}
			}
		}
	}
	return out
}

// validateTargets is ValidateTargets over any parser: target "" parses the spec as written.
func validateTargets(parse func(target string) (*Spec, Diagnostics)) Diagnostics {
	s, base := parse("")
	return targetDiagnostics(s, base, parse)
}

// targetDiagnostics is validateTargets for the spec as written already parsed: s with diagnostics
// base.
func targetDiagnostics(s *Spec, base Diagnostics, parse func(target string) (*Spec, Diagnostics)) Diagnostics {
	if s == nil {
		return nil
	}
	seen := make(map[Diagnostic]bool, len(base))
	for _, d := range base {
		seen[d] = true
	}
	var out Diagnostics
	for _, c := range s.Clusters {
		if c.Overrides == nil {
			continue
		}
		_, diags := parse(c.Name)
		for _, d := range diags {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	return uniqueSorted(out)
}

// diagnosticSet is ds as a set (nil, which reads as empty, when ds is: a spec without diagnostics
// allocates nothing for it).
func diagnosticSet(ds Diagnostics) map[Diagnostic]bool {
	if len(ds) == 0 {
		return nil
	}
	set := make(map[Diagnostic]bool, len(ds))
	for _, d := range ds {
		set[d] = true
	}
	return set
}

// annotateTarget marks the diagnostics only the target's merge has, those not in inBase (the spec
// as written's), with the target's name.
func annotateTarget(diags Diagnostics, inBase map[Diagnostic]bool, target string) {
	for i, d := range diags {
		if !inBase[d] && !strings.HasSuffix(d.Message, " (target "+target+")") {
			diags[i].Message += fmt.Sprintf(" (target %s)", target)
		}
	}
}
