// Package health computes what `avatar-sync status` and the watch status page report (issue 13):
// broker presence against the spec, partition health of the managed topics, leader balance and
// consumer-group lag. It is pure: the clusters package reads a Snapshot in a fixed number of
// requests, Assess turns it into a Report, and report/ and statuspage/ render that. Nothing here
// does I/O, so every rule is table-tested.
package health

import "time"

// Snapshot is the live state status needs, as the clusters package reads it.
type Snapshot struct {
	ClusterID  string
	Controller int32
	// Brokers are the brokers the cluster's metadata names, with whether a connection to each
	// succeeded.
	Brokers []BrokerState
	// Topics holds every topic the metadata named (managed or not), by name.
	Topics map[string]TopicState
	// Groups are the consumer groups every broker coordinates.
	Groups []GroupState
	// Errors are parts of the read that failed (one broker's groups, one topic's offsets); the
	// rest of the snapshot is still valid and the report marks the cluster unhealthy.
	Errors []string
	// Warnings are parts of the read that only add detail (a broker's disk use): shown, never
	// unhealthy.
	Warnings []string
}

// BrokerState is one broker of the metadata.
type BrokerState struct {
	ID        int32
	Host      string
	Port      int32
	Rack      string
	Reachable bool
	// Err says why a connection failed ("" when Reachable).
	Err string
	// DiskUsed is the bytes of every replica the broker holds (DescribeLogDirs); -1 = not read.
	DiskUsed int64
}

// TopicState is one live topic.
type TopicState struct {
	Name       string
	Partitions []PartitionState
	// MinISR is the topic's min.insync.replicas (0 = not read).
	MinISR int
	// RetentionMs and RetentionBytes are the topic's retention.ms and retention.bytes (-1 =
	// unlimited, 0 = not read).
	RetentionMs    int64
	RetentionBytes int64
	Internal       bool
	// Err is the metadata error of the topic ("" = none).
	Err string
}

// PartitionState is one live partition.
type PartitionState struct {
	ID int32
	// Leader is the leader broker id; -1 when the partition has none (offline).
	Leader   int32
	Replicas []int32
	ISR      []int32
	// Offline are replicas on brokers that are down (Metadata v5+).
	Offline []int32
	// LogEnd is the partition's log-end offset (high watermark); -1 when it was not read.
	LogEnd int64
	// Sizes maps broker id → bytes of this partition's replica on it (DescribeLogDirs); brokers
	// not read are absent.
	Sizes map[int32]int64
}

// GroupState is one consumer group.
type GroupState struct {
	Name    string
	State   string
	Members int
	// Committed maps topic → partition → committed offset (only offsets >= 0).
	Committed map[string]map[int32]int64
}

// Sample is a snapshot with the time it was taken, for lag rates between two samples.
type Sample struct {
	At       time.Time
	Snapshot Snapshot
}
