package reconcile

import (
	"slices"
	"testing"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
)

func TestMissingTopics(t *testing.T) {
	p := plans.Plan{Parts: []plans.Part{kafkaPart("x", []plans.Change{
		{Kind: plans.KindTopic, Action: plans.Create, Name: "b"},
		{Kind: plans.KindTopic, Action: plans.Update, Name: "c"},
		{Kind: plans.KindTopic, Action: plans.Create, Name: "a"},
		{Kind: plans.KindTopic, Action: plans.Create, Name: "not-in-spec"},
	}...)}}
	topics := []spec.Topic{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	if got := MissingTopics(p, topics); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("got %v, want the spec's order [a b]", got)
	}
	if got := MissingTopics(plans.Plan{}, topics); got != nil {
		t.Errorf("nothing to create: %v", got)
	}
}
