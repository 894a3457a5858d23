package spec

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const dirBase = `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar }
brokers:
  - { id: 1, host: kafka-1, ports: { plaintext: 9092 } }
  - { id: 2, host: kafka-2, ports: { plaintext: 9093 } }
topicDefaults: { partitions: 3, replicationFactor: 2 }
clusters:
  microk8s: { bootstrap: ["kafka-1:9092"] }
`

const dirEEG = `apiVersion: avatar-sync/v1
kind: KafkaCluster
topics:
  - { name: eeg-raw, retention: 1h }
  - { name: eeg-features }
`

const dirDrone = `topics:
  - name: drone-commands
    replicationFactor: 3
clusters:
  dev: { overrides: { topics: [{ name: eeg-raw, partitions: 1 }] } }
`

func dirSources(files ...string) []Source {
	var out []Source
	for i := 0; i+1 < len(files); i += 2 {
		out = append(out, Source{Name: "team/" + files[i], Data: []byte(files[i+1])})
	}
	return out
}

// TestDirectoryMerge: one team per file, read as one spec; positions name each value's file; a
// target's overrides in one file apply to topics of another (issue 15).
func TestDirectoryMerge(t *testing.T) {
	srcs := dirSources("00-base.yaml", dirBase, "drone.yaml", dirDrone, "eeg.yaml", dirEEG)
	s, diags := ParsePartialSources("team", srcs, "")
	var names []string
	for _, tp := range s.Topics {
		names = append(names, tp.Name)
	}
	if d := cmp.Diff([]string{"drone-commands", "eeg-raw", "eeg-features"}, names); d != "" {
		t.Errorf("topics (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"team/drone.yaml:3:5: topics[0].replicationFactor 3 exceeds the 2 brokers"}, errorsOnlyFull(diags)); d != "" {
		t.Errorf("errors (-want +got):\n%s", d)
	}
	if p := s.Topics[1].ConfigPos["retention.ms"]; p.File != "team/eeg.yaml" || p.Line != 4 {
		t.Errorf("eeg-raw retention at %v, want team/eeg.yaml:4", p)
	}
	if s.File != "team" || len(s.Clusters) != 3 {
		t.Errorf("file %q, %d clusters (microk8s, dev, embedded)", s.File, len(s.Clusters))
	}
	dev, diags := ParsePartialSources("team", srcs, "dev")
	if dev == nil || dev.Topics[1].Partitions != 1 || dev.Overridden != "dev" {
		t.Errorf("dev's override from drone.yaml did not reach eeg.yaml's topic: %v", diags)
	}
}

// TestDirectoryDuplicates: what two files both declare is an error naming both files and lines.
func TestDirectoryDuplicates(t *testing.T) {
	tests := map[string]struct {
		srcs []Source
		want []string
	}{
		"a topic in two files": {
			srcs: dirSources("00-base.yaml", dirBase, "eeg.yaml", dirEEG, "more.yaml", "topics:\n  - { name: eeg-features, partitions: 1 }\n"),
			want: []string{`team/more.yaml:2:13: topic "eeg-features" is also declared in team/eeg.yaml:5:13; declare it in one file`},
		},
		"a target in two files": {
			srcs: dirSources("00-base.yaml", dirBase, "eeg.yaml", dirEEG, "x.yaml", "clusters:\n  microk8s: {}\n"),
			want: []string{`team/x.yaml:2:3: clusters.microk8s is also declared in team/00-base.yaml:9:3; declare a target in one file`},
		},
		"a section only one file may set": {
			srcs: dirSources("00-base.yaml", dirBase, "eeg.yaml", dirEEG, "x.yaml", "topicDefaults: { partitions: 1 }\n"),
			want: []string{`team/x.yaml:1:1: topicDefaults is also set in team/00-base.yaml:7:1; in a spec directory only one file may set it (lists such as topics and the clusters mapping are joined)`},
		},
		"a different apiVersion": {
			srcs: dirSources("00-base.yaml", dirBase, "eeg.yaml", strings.Replace(dirEEG, "v1", "v2", 1)),
			want: []string{`team/eeg.yaml:1:1: apiVersion differs from the one in team/00-base.yaml:1:1; every file of a spec directory has the same apiVersion`},
		},
		"a broker in two files": {
			srcs: dirSources("00-base.yaml", dirBase, "eeg.yaml", dirEEG, "x.yaml", "brokers: [{ id: 2, host: kafka-9, ports: { plaintext: 9099 } }]\n"),
			want: []string{`team/x.yaml:1:17: broker id 2 is also declared in team/00-base.yaml:6:11; declare it in one file`},
		},
		"a syntax error names its file": {
			srcs: dirSources("00-base.yaml", dirBase, "eeg.yaml", dirEEG, "x.yaml", "topics: [\n"),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, diags := ParseSources("team", tc.srcs, "")
			if s != nil {
				t.Fatal("loaded; want errors")
			}
			got := errorsOnlyFull(diags)
			if tc.want == nil {
				if len(got) != 1 || !strings.HasPrefix(got[0], "team/x.yaml:") {
					t.Errorf("errors %v; want one in team/x.yaml", got)
				}
				return
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("errors (-want +got):\n%s", d)
			}
		})
	}
}

func errorsOnlyFull(ds Diagnostics) []string {
	var out []string
	for _, d := range ds.Errors() {
		out = append(out, d.String())
	}
	return out
}

// TestReadSources: -f DIR reads the *.yaml files in it, in name order, and nothing else.
func TestReadSources(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"b.yaml": dirEEG, "a.yaml": dirBase, "notes.md": "x", "c.yml": "x"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	srcs, diags := ReadSources(context.Background(), dir, nil)
	if diags != nil {
		t.Fatal(diags)
	}
	var names []string
	for _, s := range srcs {
		names = append(names, filepath.Base(s.Name))
	}
	if d := cmp.Diff([]string{"a.yaml", "b.yaml"}, names); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	s, diags := ParseSources(dir, srcs, "")
	if s == nil || len(s.Topics) != 2 || s.TLS.Dir != filepath.Join(dir, DefaultTLSDir) {
		t.Errorf("spec from the directory: %v %+v", diags, s)
	}
	if _, diags := ReadSources(context.Background(), t.TempDir(), nil); diags == nil || !strings.Contains(diags.Err().Error(), "without *.yaml files") {
		t.Errorf("empty directory: %v", diags)
	}
}

// BenchmarkParseDirectory is BenchmarkParseTopics for a spec directory: the header and 10,000
// topics in each of ten files (issue 23: a directory cost a third more than one file, naming the
// file of every node).
func BenchmarkParseDirectory(b *testing.B) {
	srcs := []Source{{Name: "dir/00-base.yaml", Data: manyTopicsSpec(10000)}}
	for f := 1; f < 10; f++ {
		var t strings.Builder
		t.WriteString("topics:\n")
		for i := range 10000 {
			fmt.Fprintf(&t, "  - name: avatar.topic-%d-%05d\n    config: { retention.ms: 7d }\n", f, i)
		}
		srcs = append(srcs, Source{Name: fmt.Sprintf("dir/%02d-topics.yaml", f), Data: []byte(t.String())})
	}
	b.ReportAllocs()
	for b.Loop() {
		if s, diags := ParsePartialSources("dir", srcs, ""); s == nil || len(s.Topics) != 100000 || len(diags.Errors()) > 0 {
			b.Fatal(diags)
		}
	}
}

// TestDirectoryLinesPerFile: in a spec directory every position and every "first set on line" names
// the line in the node's own file (issue 23 numbers each file's lines from a stride of its own
// instead of mapping every node to its file).
func TestDirectoryLinesPerFile(t *testing.T) {
	srcs := dirSources("00-base.yaml", dirBase, "eeg.yaml", `topics:
  - name: eeg-raw
    config:
      retention.ms: 1h
      retention.ms: 2h
  - name: eeg-raw
`)
	_, diags := ParsePartialSources("team", srcs, "")
	want := []string{
		"team/eeg.yaml:5:7: topics[0].config.retention.ms is repeated (first set on line 4)",
		"team/eeg.yaml:6:5: topics[1].name \"eeg-raw\" is already declared by topics[0] (line 2)",
	}
	if d := cmp.Diff(want, errorsOnlyFull(diags)); d != "" {
		t.Errorf("diagnostics (-want +got):\n%s", d)
	}
}

// TestParseFilesInOrder: a spec directory's files are parsed side by side (issue 23), yet each
// result, and each file's syntax error with its own name and line, is where a parse of one file
// after the other puts it.
func TestParseFilesInOrder(t *testing.T) {
	var srcs []Source
	for i := range 9 {
		data := fmt.Sprintf("topics:\n  - name: t%d\n", i)
		if i%3 == 1 {
			data += "  - name: [broken\n" // a syntax error on line 3
		}
		srcs = append(srcs, Source{Name: fmt.Sprintf("team/%02d.yaml", i), Data: []byte(data)})
	}
	got := parseFiles(srcs)
	for i, src := range srcs {
		fd := newDecoder(src.Name, 0)
		root := fd.parseYAML(src.Data)
		if (root == nil) != (got[i].root == nil) || cmp.Diff(fd.diags, got[i].diags) != "" {
			t.Errorf("%s: parsed alone %v %v, with the others %v %v", src.Name, root != nil, fd.diags, got[i].root != nil, got[i].diags)
		}
		if root != nil && got[i].root.Content[1].Content[0].Content[1].Value != fmt.Sprintf("t%d", i) {
			t.Errorf("%s: its result holds another file's topics", src.Name)
		}
		if i%3 == 1 && (len(got[i].diags) != 1 || got[i].diags[0].Pos.File != src.Name) {
			t.Errorf("%s: want its own syntax error, got %v", src.Name, got[i].diags)
		}
	}
}
