package topics

import (
	"slices"
	"testing"
)

func TestRestartBlockers(t *testing.T) {
	cases := map[string]struct {
		broker int32
		parts  []PartitionState
		want   []string
	}{
		"healthy, rf 3, min.insync 2": {1, []PartitionState{{Topic: "eeg", Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, MinISR: 2}}, nil},
		"under-replicated partition it follows": {1, []PartitionState{{Topic: "eeg", Partition: 2, Replicas: []int32{2, 1, 3}, ISR: []int32{2, 1}, MinISR: 1}},
			[]string{"eeg-2 is under-replicated (in sync [2 1] of replicas [2 1 3])"}},
		"would fall below min.insync": {3, []PartitionState{{Topic: "drone-commands", Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, MinISR: 3}},
			[]string{"drone-commands-0 would keep 2 in-sync replicas, below its min.insync.replicas=3"}},
		"partitions elsewhere do not count": {3, []PartitionState{{Topic: "eeg", Replicas: []int32{1, 2}, ISR: []int32{1}, MinISR: 2}}, nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := RestartBlockers(tc.broker, tc.parts); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
