package topics

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAssign(t *testing.T) {
	sixOnThree := []Broker{{ID: 1, Rack: "a"}, {ID: 2, Rack: "a"}, {ID: 3, Rack: "b"}, {ID: 4, Rack: "b"}, {ID: 5, Rack: "c"}, {ID: 6, Rack: "c"}}
	noRacks := []Broker{{ID: 1}, {ID: 2}, {ID: 3}}
	tests := map[string]struct {
		current    map[int32][]int32
		partitions int
		rf         int
		brokers    []Broker
		want       map[int32][]int32
	}{
		"rf 1 to 3 keeps the leader": {
			current: map[int32][]int32{0: {2}, 1: {3}, 2: {1}}, partitions: 3, rf: 3, brokers: threeRacks,
			want: map[int32][]int32{0: {2, 1, 3}, 1: {3, 2, 1}, 2: {1, 3, 2}},
		},
		"rf 1 to 2 balances": {
			current: map[int32][]int32{0: {1}, 1: {2}, 2: {3}}, partitions: 3, rf: 2, brokers: threeRacks,
			want: map[int32][]int32{0: {1, 2}, 1: {2, 3}, 2: {3, 1}},
		},
		"rf 3 to 2 keeps the leader": {
			current: map[int32][]int32{0: {1, 2, 3}, 1: {2, 3, 1}, 2: {3, 1, 2}}, partitions: 3, rf: 2, brokers: threeRacks,
			want: map[int32][]int32{0: {1, 2}, 1: {2, 3}, 2: {3, 1}},
		},
		"shrinking keeps distinct racks": {
			current: map[int32][]int32{0: {1, 2, 3}}, partitions: 1, rf: 2, brokers: sixOnThree,
			want: map[int32][]int32{0: {1, 3}},
		},
		"replicas on removed brokers are replaced": {
			current: map[int32][]int32{0: {9, 1}}, partitions: 1, rf: 2, brokers: threeRacks,
			want: map[int32][]int32{0: {1, 2}},
		},
		"fresh topic without racks spreads leaders": {
			current: nil, partitions: 3, rf: 1, brokers: noRacks,
			want: map[int32][]int32{0: {1}, 1: {2}, 2: {3}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Assign(tc.current, tc.partitions, tc.rf, tc.brokers)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Assign (-want +got):\n%s", d)
			}
			again, _ := Assign(tc.current, tc.partitions, tc.rf, tc.brokers)
			if !cmp.Equal(got, again) {
				t.Errorf("not deterministic: %v then %v", got, again)
			}
		})
	}
}

// TestAssignInvariants checks the properties every assignment must have on a larger cluster: rf
// distinct live replicas, one per rack while racks last, replica and leader counts balanced to
// within one, and current replicas kept.
func TestAssignInvariants(t *testing.T) {
	brokers := []Broker{{ID: 1, Rack: "a"}, {ID: 2, Rack: "a"}, {ID: 3, Rack: "b"}, {ID: 4, Rack: "b"}, {ID: 5, Rack: "c"}, {ID: 6, Rack: "c"}}
	rack := map[int32]string{}
	for _, b := range brokers {
		rack[b.ID] = b.Rack
	}
	for _, tc := range []struct {
		parts, rf int
		current   map[int32][]int32
	}{{12, 3, nil}, {12, 2, nil}, {6, 3, map[int32][]int32{0: {1}, 1: {2}, 2: {3}, 3: {4}, 4: {5}, 5: {6}}}} {
		got, err := Assign(tc.current, tc.parts, tc.rf, brokers)
		if err != nil {
			t.Fatal(err)
		}
		load, leaders := map[int32]int{}, map[int32]int{}
		for p := int32(0); p < int32(tc.parts); p++ {
			reps := got[p]
			if len(reps) != tc.rf {
				t.Fatalf("partition %d: %v, want %d replicas", p, reps, tc.rf)
			}
			racks := map[string]bool{}
			for _, id := range reps {
				if racks[rack[id]] {
					t.Errorf("partition %d: %v puts two replicas on rack %s", p, reps, rack[id])
				}
				racks[rack[id]] = true
				load[id]++
			}
			leaders[reps[0]]++
			if cur := tc.current[p]; len(cur) > 0 && reps[0] != cur[0] {
				t.Errorf("partition %d: leader %d moved from %d", p, reps[0], cur[0])
			}
		}
		spread := func(m map[int32]int) int {
			lo, hi := 1<<30, 0
			for _, b := range brokers {
				lo, hi = min(lo, m[b.ID]), max(hi, m[b.ID])
			}
			return hi - lo
		}
		if s := spread(load); s > 1 {
			t.Errorf("%d partitions rf %d: replica load %v spread %d", tc.parts, tc.rf, load, s)
		}
		if s := spread(leaders); tc.current == nil && s > 1 {
			t.Errorf("%d partitions rf %d: leader load %v spread %d", tc.parts, tc.rf, leaders, s)
		}
	}
}

func TestAssignErrors(t *testing.T) {
	if _, err := Assign(nil, 3, 0, threeRacks); err == nil {
		t.Error("rf 0 accepted")
	}
	if _, err := Assign(nil, 3, 4, threeRacks); err == nil {
		t.Error("rf 4 on 3 brokers accepted")
	}
}
