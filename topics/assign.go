package topics

import (
	"fmt"
	"slices"
	"sort"
)

// Assign computes a replica assignment for a topic with the given partition count and replication
// factor. It is what a replication-factor change is planned with (issue #3), so it:
//   - keeps every current replica it can (a replica that stays does not copy data), preferred
//     leader first, dropping replicas on brokers that no longer exist;
//   - places added replicas on racks the partition does not use yet, then on the least-loaded
//     broker, so a rack failure takes out as few copies as possible and load stays even;
//   - spreads preferred leaders across brokers for new partitions;
//   - is deterministic: the same input always gives the same assignment (plans are reviewed, then
//     applied, and must not change in between).
//
// current maps partition id to its replicas (leader first); partitions missing from it (created by
// a partition increase) get a fresh assignment. It fails when rf exceeds the number of brokers.
func Assign(current map[int32][]int32, partitions, rf int, brokers []Broker) (map[int32][]int32, error) {
	if rf < 1 {
		return nil, fmt.Errorf("replication factor %d: must be at least 1", rf)
	}
	if rf > len(brokers) {
		return nil, fmt.Errorf("replication factor %d needs %d brokers, the cluster has %d", rf, rf, len(brokers))
	}
	bs := slices.Clone(brokers)
	sort.Slice(bs, func(i, j int) bool { return bs[i].ID < bs[j].ID })
	rack := map[int32]string{}
	for _, b := range bs {
		rack[b.ID] = b.Rack
	}
	order := rackAlternated(bs)

	// Pass 1: decide which current replicas stay, and count the load they leave on each broker,
	// so pass 2 balances against the final picture, not the partial one.
	keep := make(map[int32][]int32, partitions)
	load := map[int32]int{}
	leaders := map[int32]int{}
	for p := int32(0); p < int32(partitions); p++ {
		var kept []int32
		racks := map[string]bool{}
		cur := current[p]
		// First keep replicas on distinct racks (in leader order), then fill with the rest: when
		// shrinking, this drops the copies that add the least fault tolerance.
		for _, distinctOnly := range []bool{true, false} {
			for _, id := range cur {
				if len(kept) == rf {
					break
				}
				if _, ok := rack[id]; !ok || slices.Contains(kept, id) {
					continue
				}
				if distinctOnly && rack[id] != "" && racks[rack[id]] {
					continue
				}
				kept = append(kept, id)
				racks[rack[id]] = true
			}
		}
		// Keep the current preferred leader first when it survives.
		if len(cur) > 0 {
			if i := slices.Index(kept, cur[0]); i > 0 {
				kept[0], kept[i] = kept[i], kept[0]
			}
		}
		keep[p] = kept
		for i, id := range kept {
			load[id]++
			if i == 0 {
				leaders[id]++
			}
		}
	}

	// Pass 2: fill each partition up to rf.
	out := make(map[int32][]int32, partitions)
	for p := int32(0); p < int32(partitions); p++ {
		reps := slices.Clone(keep[p])
		fresh := len(reps) == 0
		for len(reps) < rf {
			best, bestKey := int32(-1), [3]int{}
			for i, b := range order {
				if slices.Contains(reps, b.ID) {
					continue
				}
				usedRack := 0
				if b.Rack != "" && slices.ContainsFunc(reps, func(id int32) bool { return rack[id] == b.Rack }) {
					usedRack = 1
				}
				// Rotate the tie-break start by partition so equal loads still spread.
				pos := (i - int(p)%len(order) + len(order)) % len(order)
				key := [3]int{usedRack, load[b.ID], pos}
				if best < 0 || less(key, bestKey) {
					best, bestKey = b.ID, key
				}
			}
			reps = append(reps, best)
			load[best]++
		}
		if fresh {
			// A new partition's leader goes to the replica leading the fewest partitions.
			li := 0
			for i, id := range reps {
				if leaders[id] < leaders[reps[li]] {
					li = i
				}
			}
			reps[0], reps[li] = reps[li], reps[0]
			leaders[reps[0]]++
		}
		out[p] = reps
	}
	return out, nil
}

func less(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// rackAlternated orders brokers so consecutive ones sit on different racks (Kafka's own
// rack-aware assignment does the same), keeping id order within a rack.
func rackAlternated(bs []Broker) []Broker {
	byRack := map[string][]Broker{}
	var racks []string
	for _, b := range bs {
		if _, ok := byRack[b.Rack]; !ok {
			racks = append(racks, b.Rack)
		}
		byRack[b.Rack] = append(byRack[b.Rack], b)
	}
	sort.Strings(racks)
	out := make([]Broker, 0, len(bs))
	for i := 0; len(out) < len(bs); i++ {
		for _, r := range racks {
			if i < len(byRack[r]) {
				out = append(out, byRack[r][i])
			}
		}
	}
	return out
}
