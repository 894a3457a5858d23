package spec

import (
	"slices"
	"testing"
)

func TestMergedDocument(t *testing.T) {
	sp := &Spec{
		TopicDefaults: TopicDefaults{Partitions: 3},
		Clusters: []Cluster{
			{Name: EmbeddedCluster},
			{Name: "dev", Bootstrap: []string{"localhost:9092"}, Overrides: &Overrides{}},
			{Name: "lab", Bootstrap: []string{"10.0.0.5:9092"}, Overrides: &Overrides{}},
		},
		Overridden: "dev",
	}
	doc := MergedDocument(sp, "avatar.yaml", "dev")
	var names []string
	for _, c := range doc.Spec.Clusters {
		names = append(names, c.Name)
		if (c.Overrides == nil) != (c.Name == "dev") {
			t.Errorf("%s: overrides %v; only the merged target's are taken out", c.Name, c.Overrides)
		}
	}
	if !slices.Equal(names, []string{"dev", "lab"}) {
		t.Errorf("targets %v: the implicit embedded target is left out", names)
	}
	if doc.Spec.TopicDefaults.Partitions != 0 || sp.TopicDefaults.Partitions != 3 || len(sp.Clusters) != 3 {
		t.Errorf("topicDefaults are folded into the copy only: copy %+v, spec %+v", doc.Spec.TopicDefaults, sp.TopicDefaults)
	}
	want := []string{"avatar.yaml as --cluster dev sees it: clusters.dev.overrides merged in.", "Topics show their effective values (topicDefaults merged in)."}
	if !slices.Equal(doc.Header, want) {
		t.Errorf("header %q", doc.Header)
	}
	sp.Overridden = ""
	if h := MergedDocument(sp, "avatar.yaml", "lab").Header[0]; h != "avatar.yaml as --cluster lab sees it: no overrides of target lab." {
		t.Errorf("header %q", h)
	}
}
