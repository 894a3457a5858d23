package reconcile

import (
	"slices"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

func TestMissingTopics(t *testing.T) {
	p := Plan{Changes: []Change{
		{Kind: KindTopic, Action: Create, Name: "b"},
		{Kind: KindTopic, Action: Update, Name: "c"},
		{Kind: KindTopic, Action: Create, Name: "a"},
		{Kind: KindTopic, Action: Create, Name: "not-in-spec"},
	}}
	topics := []spec.Topic{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	if got := MissingTopics(p, topics); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("got %v, want the spec's order [a b]", got)
	}
	if got := MissingTopics(Plan{}, topics); got != nil {
		t.Errorf("nothing to create: %v", got)
	}
}
