package kfake

// avatar-sync patch tests (PATCHES.md); the end-to-end tests of the patches are in the root
// module's clusters package.

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestValidateTopicConfigAsKafka(t *testing.T) {
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		k   string
		v   *string
		err *kerr.Error
		msg string
	}{
		{"retention.ms", s("-1"), nil, ""},
		{"retention.ms", s("-2"), kerr.InvalidConfig, "Invalid value -2 for configuration retention.ms: Value must be at least -1"},
		{"retention.ms", s("7d"), kerr.InvalidConfig, "Invalid value 7d for configuration retention.ms: Not a number of type LONG"},
		{"segment.bytes", s("2147483648"), kerr.InvalidConfig, "Invalid value 2147483648 for configuration segment.bytes: Not a number of type INT"},
		{"compression.gzip.level", s("0"), kerr.InvalidConfig, "Invalid value 0 for configuration compression.gzip.level: Value must be between 1 and 9 or equal to -1"},
		{"compression.gzip.level", s("-1"), nil, ""},
		{"compression.type", s("LZ4"), kerr.InvalidConfig, "Invalid value LZ4 for configuration compression.type: String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer"},
		{"cleanup.policy", s("compact, delete"), nil, ""},
		{"cleanup.policy", s("delete,bogus"), kerr.InvalidConfig, "Invalid value bogus for configuration cleanup.policy: String must be one of: compact, delete"},
		{"unclean.leader.election.enable", s(" TRUE "), nil, ""},
		{"preallocate", s("yes"), kerr.InvalidConfig, "Invalid value yes for configuration preallocate: Expected value to be either true or false"},
		{"min.cleanable.dirty.ratio", s("1.01"), kerr.InvalidConfig, "Invalid value 1.01 for configuration min.cleanable.dirty.ratio: Value must be no more than 1"},
		{"leader.replication.throttled.replicas", s("0:1, 1:2"), nil, ""},
		{"leader.replication.throttled.replicas", s("*"), nil, ""},
		{"follower.replication.throttled.replicas", s("0-1"), kerr.InvalidConfig, "Invalid value 0-1 for configuration follower.replication.throttled.replicas: follower.replication.throttled.replicas must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],..."},
		{"message.format.version", s("2.8.1"), nil, ""},
		{"message.format.version", s("0.10.2"), nil, ""},
		{"message.format.version", s("4.0"), kerr.InvalidConfig, "Invalid value 4.0 for configuration message.format.version: Version 4.0 is not a valid version"},
		{"message.format.version", s("4.0-IV1"), nil, ""},
		{"remote.storage.enable", s("true"), kerr.InvalidConfig, "Invalid value true for configuration remote.storage.enable: Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage."},
		{"retention.bytes", s("-5"), nil, ""},
		{"retention.milliseconds", s("1"), kerr.InvalidConfig, "Unknown topic config name: retention.milliseconds"},
		{"kfake.is_internal", s("true"), nil, ""},
	} {
		err, msg := validateTopicConfig(tc.k, tc.v)
		if !errors.Is(err, tc.err) && err != tc.err || msg != tc.msg {
			t.Errorf("%s=%q: %v %q, want %v %q", tc.k, *tc.v, err, msg, tc.err, tc.msg)
		}
	}
}

func TestCheckBrokerIDs(t *testing.T) {
	for _, tc := range []struct {
		ids   []int32
		racks []string
		ok    bool
	}{
		{[]int32{1, 2, 3}, []string{"a", "b", "c"}, true},
		{[]int32{1, 2, 3}, nil, true},
		{[]int32{1, 1}, nil, false},
		{[]int32{-1}, nil, false},
		{[]int32{1, 2}, []string{"a"}, false},
	} {
		err := checkBrokerIDs(cfg{brokerIDs: tc.ids, brokerRacks: tc.racks, nbrokers: len(tc.ids)})
		if (err == nil) != tc.ok {
			t.Errorf("ids %v racks %v: %v", tc.ids, tc.racks, err)
		}
	}
	if err := checkBrokerIDs(cfg{brokerIDs: []int32{1, 2, 3}, nbrokers: 4}); err == nil {
		t.Error("3 ids for 4 brokers accepted")
	}
}
