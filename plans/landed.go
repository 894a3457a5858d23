package plans

import (
	"slices"

	"github.com/avatar-project/avatar-sync/spec"
	"github.com/avatar-project/avatar-sync/topics"
)

// topicLanded: a created topic exists, a deleted one does not.
func topicLanded(c Change, live Live) bool {
	_, exists := live.Topics[c.Name]
	return exists == (c.Action != Delete)
}

func inventoryLanded(c Change, live Live) bool { return slices.Contains(live.Inventory, c.Name) }

func partitionsLanded(c Change, live Live) bool {
	obs, exists := live.Topics[c.Name]
	return exists && obs.Partitions() >= c.Partitions.To
}

func configLanded(c Change, live Live) bool {
	obs, exists := live.Topics[c.Name]
	if !exists {
		return false
	}
	for k, e := range c.Config.Keys {
		lv, set := obs.Config[k]
		set = set && lv.Source == topics.SourceTopic
		if e.Delete == set {
			return false
		}
		if !e.Delete {
			t := spec.Topic{Name: c.Name, Config: map[string]string{k: e.After}}
			if len(topics.DiffTopic(t, &topics.Observed{Replicas: obs.Replicas, Config: map[string]topics.ConfigValue{k: lv}}, nil).Config) > 0 {
				return false
			}
		}
	}
	return true
}

func replicationLanded(c Change, live Live) bool {
	obs, exists := live.Topics[c.Name]
	for p, m := range c.Replication.Partitions {
		if !exists || !slices.Equal(obs.Replicas[p], m.After) {
			return false
		}
	}
	return exists
}
