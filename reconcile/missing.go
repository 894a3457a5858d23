package reconcile

import (
	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
)

// MissingTopics are the spec's topics p creates, in the spec's order (as the user wrote them):
// those the cluster p was planned against lacks.
func MissingTopics(p plans.Plan, topics []spec.Topic) []string {
	creates := map[string]bool{}
	for _, c := range p.Part(plans.PlaneKafka).Changes {
		if c.Kind == plans.KindTopic && c.Action == plans.Create {
			creates[c.Name] = true
		}
	}
	var missing []string
	for _, t := range topics {
		if creates[t.Name] {
			missing = append(missing, t.Name)
		}
	}
	return missing
}
