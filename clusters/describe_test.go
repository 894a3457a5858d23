package clusters

import (
	"maps"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unsafe"

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

func TestConfigDecoderSharesEqualConfigs(t *testing.T) {
	entry := func(name, value string, src sarama.ConfigSource) *sarama.ConfigEntry {
		return &sarama.ConfigEntry{Name: name, Value: value, Source: src}
	}
	// Every answer is decoded from its own strings, as sarama gives them.
	answer := func(retention string, extra ...*sarama.ConfigEntry) []*sarama.ConfigEntry {
		return append([]*sarama.ConfigEntry{
			entry(strings.Clone("cleanup.policy"), strings.Clone("delete"), sarama.SourceDefault),
			entry(strings.Clone("retention.ms"), strings.Clone(retention), sarama.SourceTopic),
		}, extra...)
	}
	same := func(a, b map[string]topics.ConfigValue) bool {
		return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
	}
	d := newConfigDecoder()
	week, day, week2 := d.config(answer("604800000")), d.config(answer("86400000")), d.config(answer("604800000"))
	weekAgain := d.config(answer("604800000"))
	if !same(week, week2) || !same(week, weekAgain) {
		t.Error("topics with equal entries do not share one map (after another set, and right after)")
	}
	if same(week, day) {
		t.Fatal("topics with different retention share a map")
	}
	want := map[string]topics.ConfigValue{
		"cleanup.policy": {Value: "delete", Source: topics.SourceDefault},
		"retention.ms":   {Value: "86400000", Source: topics.SourceTopic},
	}
	if !maps.Equal(day, want) {
		t.Errorf("day = %v, want %v", day, want)
	}
	var name, value string
	for k, v := range week {
		if k == "cleanup.policy" {
			name, value = k, v.Value
		}
	}
	for k, v := range day {
		if k == "cleanup.policy" && (unsafe.StringData(k) != unsafe.StringData(name) || unsafe.StringData(v.Value) != unsafe.StringData(value)) {
			t.Error("equal names and values of two topics are held twice")
		}
	}

	// What tells sets apart: the source, sensitivity, an entry more, the order.
	for what, other := range map[string][]*sarama.ConfigEntry{
		"source": {entry("cleanup.policy", "delete", sarama.SourceDefault), entry("retention.ms", "604800000", sarama.SourceDynamicBroker)},
		"sensitive": {entry("cleanup.policy", "delete", sarama.SourceDefault),
			{Name: "retention.ms", Value: "604800000", Source: sarama.SourceTopic, Sensitive: true}},
		"an entry more": answer("604800000", entry("segment.ms", "1", sarama.SourceTopic)),
		"order":         {entry("retention.ms", "604800000", sarama.SourceTopic), entry("cleanup.policy", "delete", sarama.SourceDefault)},
	} {
		got := d.config(other)
		if what == "order" {
			if !maps.Equal(got, week) {
				t.Errorf("the same entries in another order: %v, want %v", got, week)
			}
			continue
		}
		if same(got, week) || maps.Equal(got, week) {
			t.Errorf("%s: %v taken for %v", what, got, week)
		}
	}

	// Past maxConfigSets remembered sets, topics still get their own entries.
	d = newConfigDecoder()
	first := d.config(answer("0"))
	for i := range maxConfigSets + 10 {
		r := strconv.Itoa(i + 1)
		if got := d.config(answer(r)); got["retention.ms"].Value != r {
			t.Fatalf("set %d: retention %q", i, got["retention.ms"].Value)
		}
	}
	if again := d.config(answer("0")); !same(again, first) {
		t.Error("a remembered set is not shared")
	}
	if late := d.config(answer(strconv.Itoa(maxConfigSets + 5))); late["retention.ms"].Value != strconv.Itoa(maxConfigSets+5) {
		t.Errorf("a set past the bound: %v", late)
	}
}
