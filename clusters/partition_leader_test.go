package clusters

import (
	"testing"

	"github.com/IBM/sarama"
)

// TestPartitionLeader: the one lookup of a single-partition topic's leader that the inventory read
// and the apply lock share (issue 20).
func TestPartitionLeader(t *testing.T) {
	topic := func(name string, err sarama.KError, leaders ...int32) *sarama.TopicMetadata {
		tm := &sarama.TopicMetadata{Name: name, Err: err}
		for i, l := range leaders {
			tm.Partitions = append(tm.Partitions, &sarama.PartitionMetadata{ID: int32(len(leaders) - 1 - i), Leader: l})
		}
		return tm
	}
	for name, tc := range map[string]struct {
		topics []*sarama.TopicMetadata
		leader int32
		ok     bool
	}{
		"not listed":                {[]*sarama.TopicMetadata{topic("orders", sarama.ErrNoError, 1)}, -1, false},
		"unknown topic":             {[]*sarama.TopicMetadata{topic(LockTopic, sarama.ErrUnknownTopicOrPartition)}, -1, false},
		"leader":                    {[]*sarama.TopicMetadata{topic("orders", sarama.ErrNoError, 1), topic(LockTopic, sarama.ErrNoError, 3)}, 3, true},
		"partition 0 of several":    {[]*sarama.TopicMetadata{topic(LockTopic, sarama.ErrNoError, 2, 1)}, 1, true},
		"no leader elected":         {[]*sarama.TopicMetadata{topic(LockTopic, sarama.ErrNoError, -1)}, -1, true},
		"listed without partitions": {[]*sarama.TopicMetadata{topic(LockTopic, sarama.ErrNoError)}, -1, true},
	} {
		leader, ok := partitionLeader(&sarama.MetadataResponse{Topics: tc.topics}, LockTopic)
		if leader != tc.leader || ok != tc.ok {
			t.Errorf("%s: leader %d, ok %t; want %d, %t", name, leader, ok, tc.leader, tc.ok)
		}
	}
}
