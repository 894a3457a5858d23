package topics

import (
	"fmt"
	"slices"
	"sort"
)

// PartitionState is one partition as the cluster reports it: its replicas, the replicas in sync,
// and its topic's min.insync.replicas.
type PartitionState struct {
	Topic     string
	Partition int32
	Replicas  []int32
	ISR       []int32
	MinISR    int
}

// RestartBlockers lists why broker must not be restarted now (issue 11, as Strimzi's rolling
// updates check): a partition it leads or follows is under-replicated (restarting would take away
// a copy that may be the only current one), or taking it out of the in-sync set would leave fewer
// than min.insync.replicas, so producers with acks=all would fail. Empty means safe.
func RestartBlockers(broker int32, parts []PartitionState) []string {
	var out []string
	for _, p := range parts {
		if !slices.Contains(p.Replicas, broker) {
			continue
		}
		name := fmt.Sprintf("%s-%d", p.Topic, p.Partition)
		switch {
		case len(p.ISR) < len(p.Replicas):
			out = append(out, fmt.Sprintf("%s is under-replicated (in sync %v of replicas %v)", name, p.ISR, p.Replicas))
		case slices.Contains(p.ISR, broker) && len(p.ISR)-1 < p.MinISR:
			out = append(out, fmt.Sprintf("%s would keep %d in-sync replicas, below its min.insync.replicas=%d", name, len(p.ISR)-1, p.MinISR))
		}
	}
	sort.Strings(out)
	return out
}
