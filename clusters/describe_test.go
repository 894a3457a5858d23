package clusters

import (
	"testing"

	"github.com/IBM/sarama"

	"github.com/avatar-project/avatar-sync/topics"
)

func TestConfigSource(t *testing.T) {
	tests := map[string]struct {
		in   sarama.ConfigSource
		want topics.ConfigSource
	}{
		"dynamic topic config":  {sarama.SourceTopic, topics.SourceTopic},
		"dynamic broker config": {sarama.SourceDynamicBroker, topics.SourceDynamicBroker},
		"cluster-wide default":  {sarama.SourceDynamicDefaultBroker, topics.SourceDynamicDefaultBroker},
		"static broker config":  {sarama.SourceStaticBroker, topics.SourceStaticBroker},
		"kafka default":         {sarama.SourceDefault, topics.SourceDefault},
		"unknown stays unknown": {sarama.SourceUnknown, topics.SourceUnknown},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := configSource(&sarama.ConfigEntry{Source: tc.in}); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLiveFromMetadata(t *testing.T) {
	id := "abc"
	md := &sarama.MetadataResponse{Version: 5, ClusterID: &id, ControllerID: 2}
	md.AddBroker("b2:9093", 2)
	md.AddBroker("b1:9092", 1)
	md.AddTopicPartition("eeg", 0, 1, []int32{1, 2}, nil, nil, sarama.ErrNoError)
	md.AddTopicPartition("eeg", 1, 2, []int32{2, 1}, nil, nil, sarama.ErrNoError)
	md.AddTopic("gone", sarama.ErrUnknownTopicOrPartition)
	md.AddTopicPartition("creating", 0, -1, []int32{1, 2}, nil, nil, sarama.ErrNoError)
	md.Topics[len(md.Topics)-1].Err = sarama.ErrLeaderNotAvailable
	live := liveFromMetadata(md)
	if live.ClusterID != "abc" || live.Controller != 2 {
		t.Errorf("cluster %q controller %d", live.ClusterID, live.Controller)
	}
	if len(live.Brokers) != 2 || live.Brokers[0] != (topics.Broker{ID: 1, Host: "b1", Port: 9092}) {
		t.Errorf("brokers = %+v, want sorted by id with host and port", live.Brokers)
	}
	if _, ok := live.Topics["gone"]; ok {
		t.Error("a topic with an error is listed as live")
	}
	if c := live.Topics["creating"]; c.Partitions() != 1 {
		t.Errorf("a topic without a leader yet must still be listed: %+v", c)
	}
	if eeg := live.Topics["eeg"]; eeg.Partitions() != 2 || eeg.ReplicationFactor() != 2 || eeg.Replicas[1][0] != 2 {
		t.Errorf("eeg = %+v", eeg)
	}
}
