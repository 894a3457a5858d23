package clusters

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/IBM/sarama"

	"github.com/avatar-project/avatar-sync/spec"
)

// InventoryTopic records which topics avatar-sync manages (created or adopted), in the cluster
// itself, so `deletion: prune` deletes only those and never a topic another team made by hand
// (issue 9; docs/plan-apply.md, "Inventory"). One record per topic, keyed by its name: value
// "managed" adds it, a tombstone (null value) removes it; the last record of a key wins. The topic
// is compacted, so it stays as small as the set of managed topics.
const InventoryTopic = "__avatar_sync_inventory"

const inventoryManaged = "managed"

// readInventory replays the inventory topic up to its end. A cluster without the topic has an
// empty inventory (nothing is managed yet: every topic is adopted on the next apply). The Metadata
// Describe just read names the partition's leader, so the read is one ListOffsets and the Fetch
// rounds on that leader's connection, while Describe reads the topic configs on the bootstrap
// connection; only a leader that Metadata does not know (none elected, or not leading any more by
// the time it is asked) costs a metadata refresh, as every read did before (issue 23).
func (a *Admin) readInventory(ctx context.Context, md *sarama.MetadataResponse) ([]string, error) {
	leaderID, exists := partitionLeader(md, InventoryTopic) // leaderID -1 when none is elected
	if !exists {
		return nil, nil
	}
	leader, end, err := a.inventoryEnd(ctx, leaderID)
	if err != nil {
		return nil, fmt.Errorf("read inventory %s: %w", InventoryTopic, err)
	}
	managed := map[string]bool{}
	if end > 0 {
		if err := a.replayInventory(ctx, leader, end, managed); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(managed))
	for n := range managed {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// inventoryEnd returns the inventory partition's leader, connected, and the partition's end offset.
// It asks the leader the Metadata named (leaderID, -1 when none was), and refreshes the metadata
// only when that leader is unknown or answers that it leads no more.
func (a *Admin) inventoryEnd(ctx context.Context, leaderID int32) (*sarama.Broker, int64, error) {
	if leaderID >= 0 {
		leader, err := a.broker(ctx, leaderID)
		if err != nil {
			return nil, 0, fmt.Errorf("leader: %w", err)
		}
		end, err := listEnd(ctx, leader, a.conf.Version)
		if !errors.Is(err, sarama.ErrNotLeaderForPartition) && !errors.Is(err, sarama.ErrLeaderNotAvailable) {
			return leader, end, err
		}
	}
	type found struct {
		leader *sarama.Broker
		end    int64
	}
	f, err := call(ctx, func() (found, error) {
		if err := a.client.RefreshMetadata(InventoryTopic); err != nil {
			return found{}, err
		}
		leader, err := a.client.Leader(InventoryTopic, 0)
		if err != nil {
			return found{}, fmt.Errorf("leader: %w", err)
		}
		end, err := listEnd(ctx, leader, a.conf.Version)
		return found{leader, end}, err
	})
	return f.leader, f.end, err
}

// listEnd asks leader for the inventory partition's end offset (one ListOffsets).
func listEnd(ctx context.Context, leader *sarama.Broker, version sarama.KafkaVersion) (int64, error) {
	req := sarama.NewOffsetRequest(version)
	req.AddBlock(InventoryTopic, 0, sarama.OffsetNewest, 1)
	resp, err := call(ctx, func() (*sarama.OffsetResponse, error) { return leader.GetAvailableOffsets(req) })
	if err != nil {
		return 0, err
	}
	block := resp.GetBlock(InventoryTopic, 0)
	switch {
	case block == nil:
		return 0, sarama.ErrIncompleteResponse
	case block.Err != sarama.ErrNoError:
		return 0, block.Err
	case len(block.Offsets) != 1: // sarama fills Offsets from every version's answer
		return 0, sarama.ErrOffsetOutOfRange
	}
	return block.Offsets[0], nil
}

// replayInventory reads the partition from its start up to (not including) end with plain Fetch
// requests to its leader that never wait (MaxWaitTime 0): sarama's consumer keeps a long-poll
// fetch in flight and its Close waits for it, which cost every plan ~0.5 s.
func (a *Admin) replayInventory(ctx context.Context, leader *sarama.Broker, end int64, managed map[string]bool) error {
	offset := int64(0)
	for offset < end {
		req := &sarama.FetchRequest{Version: 4, MaxWaitTime: 0, MinBytes: 1, MaxBytes: 32 << 20, Isolation: sarama.ReadUncommitted}
		req.AddBlock(InventoryTopic, 0, offset, 32<<20, -1)
		resp, err := call(ctx, func() (*sarama.FetchResponse, error) { return leader.Fetch(req) })
		if err != nil {
			return fmt.Errorf("read inventory %s at offset %d: %w", InventoryTopic, offset, err)
		}
		block := resp.GetBlock(InventoryTopic, 0)
		if block == nil {
			return fmt.Errorf("read inventory %s at offset %d: no data in the answer", InventoryTopic, offset)
		}
		if block.Err == sarama.ErrOffsetOutOfRange && offset < block.LogStartOffset {
			// Compaction or retention removed the start of the log: continue where it begins.
			offset = block.LogStartOffset
			continue
		}
		if block.Err != sarama.ErrNoError {
			return fmt.Errorf("read inventory %s at offset %d: %w", InventoryTopic, offset, block.Err)
		}
		next := offset
		for _, rs := range block.RecordsSet {
			if rs == nil || rs.RecordBatch == nil {
				continue
			}
			rb := rs.RecordBatch
			for _, r := range rb.Records {
				off := rb.FirstOffset + r.OffsetDelta
				if off < offset || off >= end || rb.Control {
					continue
				}
				if r.Value == nil {
					delete(managed, string(r.Key))
				} else {
					managed[string(r.Key)] = true
				}
			}
			next = max(next, rb.FirstOffset+int64(rb.LastOffsetDelta)+1)
		}
		if next == offset {
			return fmt.Errorf("read inventory %s: no progress at offset %d of %d", InventoryTopic, offset, end)
		}
		offset = next
	}
	return nil
}

// RecordInventory adds topics to the inventory and removes others, in one produce request.
func (a *Admin) RecordInventory(ctx context.Context, add, remove []string) error {
	if len(add)+len(remove) == 0 {
		return nil
	}
	if err := a.ensureInventoryTopic(ctx); err != nil {
		return err
	}
	var msgs []*sarama.ProducerMessage
	for _, n := range add {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: InventoryTopic, Partition: 0, Key: sarama.StringEncoder(n), Value: sarama.StringEncoder(inventoryManaged)})
	}
	for _, n := range remove {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: InventoryTopic, Partition: 0, Key: sarama.StringEncoder(n)})
	}
	_, err := call(ctx, func() (struct{}, error) {
		p, err := sarama.NewSyncProducerFromClient(a.client)
		if err != nil {
			return struct{}{}, err
		}
		defer p.Close()
		return struct{}{}, p.SendMessages(msgs)
	})
	if err != nil {
		return fmt.Errorf("record inventory in %s: %w", InventoryTopic, err)
	}
	return nil
}

// ensureInventoryTopic creates the inventory topic once: one partition (one order of records),
// compacted, as many replicas as the cluster allows up to 3.
func (a *Admin) ensureInventoryTopic(ctx context.Context) error {
	md, err := a.topicMetadata(ctx, []string{InventoryTopic})
	if err != nil {
		return err
	}
	for _, t := range md.Topics {
		if t.Name == InventoryTopic && t.Err == sarama.ErrNoError {
			return nil
		}
	}
	rf := min(3, len(md.Brokers))
	out, err := a.CreateTopics(ctx, []spec.Topic{{
		Name: InventoryTopic, Partitions: 1, ReplicationFactor: rf,
		Config: map[string]string{"cleanup.policy": "compact"},
	}})
	if err != nil {
		return fmt.Errorf("create inventory topic: %w", err)
	}
	if err := out[InventoryTopic]; err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		return fmt.Errorf("create inventory topic %s: %w", InventoryTopic, err)
	}
	return a.awaitTopics(ctx, []string{InventoryTopic}, true)
}
