package health

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/avatar-project/avatar-sync/spec"
)

var at = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func threeBrokers() []BrokerState {
	return []BrokerState{
		{ID: 1, Host: "b1", Port: 9092, Reachable: true},
		{ID: 2, Host: "b2", Port: 9092, Reachable: true},
		{ID: 3, Host: "b3", Port: 9092, Reachable: true},
	}
}

func expected3() []ExpectedBroker {
	return []ExpectedBroker{{ID: 1, Name: "broker 1"}, {ID: 2, Name: "broker 2"}, {ID: 3, Name: "broker 3"}}
}

func part(id, leader int32, replicas, isr []int32) PartitionState {
	return PartitionState{ID: id, Leader: leader, Replicas: replicas, ISR: isr, LogEnd: 0}
}

func TestAssessPartitions(t *testing.T) {
	tests := map[string]struct {
		parts   []PartitionState
		minISR  int
		healthy bool
		want    func(TopicReport) bool
		problem string
	}{
		"all in sync": {
			parts:   []PartitionState{part(0, 1, []int32{1, 2, 3}, []int32{1, 2, 3}), part(1, 2, []int32{2, 3, 1}, []int32{2, 3, 1})},
			minISR:  2,
			healthy: true,
			want: func(r TopicReport) bool {
				return len(r.UnderReplicated) == 0 && r.InSyncReplicas == 6 && r.Replicas == 6 && r.ReplicationFactor == 3
			},
		},
		"under-replicated but above min ISR is a warning": {
			parts:   []PartitionState{part(0, 1, []int32{1, 2, 3}, []int32{1, 2})},
			minISR:  2,
			healthy: true,
			want:    func(r TopicReport) bool { return cmp.Equal(r.UnderReplicated, []int32{0}) && len(r.UnderMinISR) == 0 },
		},
		"under min ISR is unhealthy": {
			parts:   []PartitionState{part(0, 1, []int32{1, 2, 3}, []int32{1})},
			minISR:  2,
			healthy: false,
			want:    func(r TopicReport) bool { return cmp.Equal(r.UnderMinISR, []int32{0}) },
			problem: "fewer in-sync replicas than min.insync.replicas 2",
		},
		"no leader is offline": {
			parts:   []PartitionState{part(0, -1, []int32{1, 2, 3}, []int32{})},
			minISR:  2,
			healthy: false,
			want:    func(r TopicReport) bool { return cmp.Equal(r.Offline, []int32{0}) && len(r.UnderMinISR) == 0 },
			problem: "partition(s) 0 offline",
		},
		"leader not the first replica": {
			parts:   []PartitionState{part(0, 2, []int32{1, 2, 3}, []int32{1, 2, 3})},
			healthy: true,
			want:    func(r TopicReport) bool { return cmp.Equal(r.NotPreferredLeader, []int32{0}) },
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			snap := Snapshot{Brokers: threeBrokers(), Topics: map[string]TopicState{"eeg": {Name: "eeg", Partitions: tc.parts, MinISR: tc.minISR}}}
			r := Assess(snap, Expectation{Brokers: expected3(), Topics: []string{"eeg"}}, at)
			if r.Healthy != tc.healthy {
				t.Errorf("healthy = %v, want %v; problems %v", r.Healthy, tc.healthy, r.Problems)
			}
			if !tc.want(r.Topics[0]) {
				t.Errorf("topic report %+v", r.Topics[0])
			}
			if tc.problem != "" && !strings.Contains(strings.Join(r.Problems, "\n"), tc.problem) {
				t.Errorf("problems %q lack %q", r.Problems, tc.problem)
			}
		})
	}
}

func TestAssessBrokers(t *testing.T) {
	tests := map[string]struct {
		live    []BrokerState
		healthy bool
		states  string
		problem string
	}{
		"all present": {live: threeBrokers(), healthy: true, states: "1:up 2:up 3:up"},
		"one missing is named": {
			live: threeBrokers()[:2], healthy: false, states: "1:up 2:up 3:missing",
			problem: "broker 3 is missing from the cluster (2 of 3 spec brokers present)",
		},
		"unreachable": {
			live:    []BrokerState{threeBrokers()[0], threeBrokers()[1], {ID: 3, Host: "b3", Port: 9092, Err: "connection refused"}},
			healthy: false, states: "1:up 2:up 3:unreachable",
			problem: "broker 3 at b3:9092 is unreachable: connection refused",
		},
		"extra broker is not a problem": {
			live: append(threeBrokers(), BrokerState{ID: 4, Host: "b4", Reachable: true}), healthy: true, states: "1:up 2:up 3:up 4:unexpected",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := Assess(Snapshot{Brokers: tc.live, Controller: 1}, Expectation{Brokers: expected3()}, at)
			var states []string
			for _, b := range r.Brokers {
				states = append(states, strings.Join([]string{itoa(b.ID), b.State}, ":"))
			}
			if got := strings.Join(states, " "); got != tc.states {
				t.Errorf("states %q, want %q", got, tc.states)
			}
			if !r.Brokers[0].Controller {
				t.Errorf("broker 1 is the controller: %+v", r.Brokers[0])
			}
			if r.Healthy != tc.healthy {
				t.Errorf("healthy = %v, want %v (%v)", r.Healthy, tc.healthy, r.Problems)
			}
			if tc.problem != "" && !strings.Contains(strings.Join(r.Problems, "\n"), tc.problem) {
				t.Errorf("problems %q lack %q", r.Problems, tc.problem)
			}
		})
	}
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }

func TestAssessLag(t *testing.T) {
	snap := Snapshot{
		Brokers: threeBrokers(),
		Topics: map[string]TopicState{"eeg": {Name: "eeg", Partitions: []PartitionState{
			{ID: 0, Leader: 1, Replicas: []int32{1}, ISR: []int32{1}, LogEnd: 10},
			{ID: 1, Leader: 2, Replicas: []int32{2}, ISR: []int32{2}, LogEnd: 7},
			{ID: 2, Leader: 3, Replicas: []int32{3}, ISR: []int32{3}, LogEnd: -1},
		}}},
		Groups: []GroupState{
			{Name: "prediction", State: "Stable", Members: 1, Committed: map[string]map[int32]int64{"eeg": {0: 4, 1: 7, 2: 3}}},
			{Name: "archiver", State: "Empty", Committed: map[string]map[int32]int64{"eeg": {0: 12}}},
		},
	}
	r := Assess(snap, Expectation{Brokers: expected3(), Topics: []string{"eeg"}}, at)
	want := []GroupReport{
		{Name: "archiver", State: "Empty", Lag: 0, Topics: []GroupTopicLag{{Topic: "eeg", Lag: 0, Partitions: []PartitionLag{{Partition: 0, Committed: 12, LogEnd: 10, Lag: 0}}}}},
		{Name: "prediction", State: "Stable", Members: 1, Lag: 6, Topics: []GroupTopicLag{{Topic: "eeg", Lag: 6, Partitions: []PartitionLag{
			{Partition: 0, Committed: 4, LogEnd: 10, Lag: 6},
			{Partition: 1, Committed: 7, LogEnd: 7, Lag: 0},
			{Partition: 2, Committed: 3, LogEnd: -1, Lag: 0},
		}}}},
	}
	if d := cmp.Diff(want, r.Groups); d != "" {
		t.Errorf("groups (-want +got):\n%s", d)
	}

	only := Assess(snap, Expectation{Topics: []string{"eeg"}, Group: "prediction"}, at)
	if len(only.Groups) != 1 || only.Groups[0].Name != "prediction" {
		t.Errorf("--group prediction: %+v", only.Groups)
	}
	none := Assess(snap, Expectation{Group: "nope"}, at)
	if none.Healthy || !strings.Contains(strings.Join(none.Problems, ""), `consumer group "nope" does not exist`) {
		t.Errorf("unknown --group: healthy=%v problems=%v", none.Healthy, none.Problems)
	}

	later := snap
	later.Groups = []GroupState{{Name: "prediction", Committed: map[string]map[int32]int64{"eeg": {0: 0, 1: 7, 2: 3}}}}
	next := WithRates(r, Assess(later, Expectation{}, at.Add(2*time.Second)))
	if next.Groups[0].LagRate == nil || *next.Groups[0].LagRate != 2 {
		t.Errorf("lag 6 -> 10 in 2s: rate %v, want 2/s", next.Groups[0].LagRate)
	}
}

func TestExpectedBrokersAreTheSpecs(t *testing.T) {
	s := &spec.Spec{Brokers: []spec.Broker{{ID: 1, Host: "kafka-broker-1"}, {ID: 2, Host: "kafka-broker-2", Rack: "lab-b"}}}
	if got := ExpectedBrokers(s); got[1] != (ExpectedBroker{ID: 2, Name: "broker 2 (kafka-broker-2)", Rack: "lab-b"}) {
		t.Errorf("expected brokers: %+v", got)
	}
}

func TestMissingManagedTopicIsAWarning(t *testing.T) {
	r := Assess(Snapshot{Brokers: threeBrokers()}, Expectation{Brokers: expected3(), Topics: []string{"drone-commands"}}, at)
	if !r.Healthy || !r.Topics[0].Missing || len(r.Warnings) != 1 {
		t.Errorf("missing topic: %+v", r)
	}
}

func TestProbeFinish(t *testing.T) {
	r := ProbeReport{Failures: []string{"could not delete the probe's consumer group"}, Results: []ProbeResult{
		{Topic: "b", Partition: 1, RoundTrip: 4 * time.Millisecond},
		{Topic: "a", Partition: 0, RoundTrip: 2 * time.Millisecond},
		{Topic: "b", Partition: 0, RoundTrip: 8 * time.Millisecond},
		{Topic: "a", Partition: 1, Offset: -1, Error: "produce: NOT_ENOUGH_REPLICAS"},
		{Topic: "c", Partition: -1, Offset: -1, Error: "topic does not exist"},
	}}.Finish()
	wantFailures := []string{`topic "a" partition 1: produce: NOT_ENOUGH_REPLICAS`, `topic "c": topic does not exist`, "could not delete the probe's consumer group"}
	if r.OK || !cmp.Equal(r.Failures, wantFailures) {
		t.Errorf("failures %q", r.Failures)
	}
	want := []ProbeTopic{
		{Topic: "a", Partitions: 2, Passed: 1, MaxRoundTrip: 2 * time.Millisecond, AvgRoundTrip: 2 * time.Millisecond},
		{Topic: "b", Partitions: 2, Passed: 2, MaxRoundTrip: 8 * time.Millisecond, AvgRoundTrip: 6 * time.Millisecond},
		{Topic: "c"},
	}
	if d := cmp.Diff(want, r.Topics); d != "" {
		t.Errorf("topics (-want +got):\n%s", d)
	}
}

func TestWithRatesTopics(t *testing.T) {
	topic := func(parts int, logEnd, logBytes int64) TopicReport {
		return TopicReport{Name: "eeg", Partitions: parts, LogEnd: logEnd, LogBytes: logBytes}
	}
	tests := map[string]struct {
		prev, cur      TopicReport
		msgs, bytesSec *float64
	}{
		"growth":                    {topic(3, 100, 1000), topic(3, 300, 5000), ptr(100.0), ptr(2000.0)},
		"retention deleted a log":   {topic(3, 100, 9000), topic(3, 120, 1000), ptr(10.0), ptr(0.0)},
		"partitions added":          {topic(3, 100, 1000), topic(6, 300, 5000), nil, nil},
		"a log end not read before": {topic(3, -1, 1000), topic(3, 300, 5000), nil, ptr(2000.0)},
		"sizes not read now":        {topic(3, 100, 1000), topic(3, 300, -1), ptr(100.0), nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := WithRates(Report{Time: at, Topics: []TopicReport{tc.prev}}, Report{Time: at.Add(2 * time.Second), Topics: []TopicReport{tc.cur}})
			got := r.Topics[0]
			if !cmp.Equal(got.MessagesPerSec, tc.msgs) || !cmp.Equal(got.BytesPerSec, tc.bytesSec) {
				t.Errorf("messages/s %v, bytes/s %v; want %v, %v", deref(got.MessagesPerSec), deref(got.BytesPerSec), deref(tc.msgs), deref(tc.bytesSec))
			}
		})
	}
}

func TestSizesOf(t *testing.T) {
	parts := []PartitionState{
		{ID: 0, Leader: 1, Replicas: []int32{1, 2}, LogEnd: 10, Sizes: map[int32]int64{1: 100, 2: 90}},
		{ID: 1, Leader: 2, Replicas: []int32{2, 1}, LogEnd: 5, Sizes: map[int32]int64{1: 40, 2: 50}},
	}
	if size, logBytes, logEnd := sizesOf(parts); size != 280 || logBytes != 150 || logEnd != 15 {
		t.Errorf("sizes %d, %d, %d; want 280, 150, 15", size, logBytes, logEnd)
	}
	parts[1].Sizes = map[int32]int64{1: 40} // broker 2 not read
	parts[0].LogEnd = -1
	if size, logBytes, logEnd := sizesOf(parts); size != -1 || logBytes != -1 || logEnd != -1 {
		t.Errorf("partly read: %d, %d, %d; want -1 each", size, logBytes, logEnd)
	}
}

func ptr(v float64) *float64 { return &v }

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
