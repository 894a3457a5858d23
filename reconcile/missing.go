package reconcile

import "github.com/avatar-project/avatar-sync/spec"

// MissingTopics are the spec's topics p creates, in the spec's order (as the user wrote them):
// those the cluster p was planned against lacks.
func MissingTopics(p Plan, topics []spec.Topic) []string {
	creates := map[string]bool{}
	for _, c := range p.Changes {
		if c.Kind == KindTopic && c.Action == Create {
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
