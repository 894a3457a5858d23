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
// empty inventory (nothing is managed yet: every topic is adopted on the next apply).
func (a *Admin) readInventory(ctx context.Context, md *sarama.MetadataResponse) ([]string, error) {
	exists := false
	for _, t := range md.Topics {
		if t.Name == InventoryTopic && t.Err == sarama.ErrNoError {
			exists = true
		}
	}
	if !exists {
		return nil, nil
	}
	end, err := call(ctx, func() (int64, error) {
		if err := a.client.RefreshMetadata(InventoryTopic); err != nil {
			return 0, err
		}
		return a.client.GetOffset(InventoryTopic, 0, sarama.OffsetNewest)
	})
	if err != nil {
		return nil, fmt.Errorf("read inventory %s: %w", InventoryTopic, err)
	}
	managed := map[string]bool{}
	if end > 0 {
		if err := a.replayInventory(ctx, end, managed); err != nil {
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

// replayInventory reads the partition from its oldest record up to (not including) end. It stops
// at end rather than waiting for more, so no fetch long-polls.
func (a *Admin) replayInventory(ctx context.Context, end int64, managed map[string]bool) error {
	c, err := sarama.NewConsumerFromClient(a.client)
	if err != nil {
		return fmt.Errorf("read inventory: %w", err)
	}
	defer c.Close()
	pc, err := c.ConsumePartition(InventoryTopic, 0, sarama.OffsetOldest)
	if err != nil {
		return fmt.Errorf("read inventory %s: %w", InventoryTopic, err)
	}
	defer pc.Close()
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	for {
		select {
		case m := <-pc.Messages():
			if m.Value == nil {
				delete(managed, string(m.Key))
			} else {
				managed[string(m.Key)] = true
			}
			if m.Offset >= end-1 {
				return nil
			}
		case err := <-pc.Errors():
			return fmt.Errorf("read inventory %s: %w", InventoryTopic, err)
		case <-ctx.Done():
			return fmt.Errorf("read inventory %s up to offset %d: %w", InventoryTopic, end, ctx.Err())
		}
	}
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
