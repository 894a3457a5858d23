package clusters

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/IBM/sarama"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
)

// DescribeScope reads back only part of the live state: what an apply changed (reconcile's
// settle, issue 23). One Metadata request for the named topics (and the inventory topic), one
// DescribeConfigs asking each topic for only the named config keys (up to describeConfigsBatch
// topics a request), and the inventory and access control when the scope asks for them. A named
// topic that does not exist is left out of Live.Topics. Describe reads everything; at 10,000
// topics a config change's settle read now carries two config entries a topic instead of ~35.
func (a *Admin) DescribeScope(ctx context.Context, scope reconcile.ReadScope) (plans.Live, error) {
	b, err := a.anyBroker(ctx)
	if err != nil {
		return plans.Live{}, err
	}
	// The inventory topic is always asked for: a Metadata request naming no topic would list
	// every topic of the cluster.
	names := append(sortedKeys(scope.Topics), InventoryTopic)
	md, err := a.topicMetadata(ctx, names)
	if err != nil {
		return plans.Live{}, err
	}
	a.learn(md)
	live := liveFromMetadata(md)
	if _, ok := scope.Topics[InventoryTopic]; !ok {
		delete(live.Topics, InventoryTopic)
	}
	var errs []error
	for _, t := range md.Topics {
		if !topicReadable(t.Err) && !errors.Is(t.Err, sarama.ErrUnknownTopicOrPartition) {
			errs = append(errs, fmt.Errorf("topic %q: %w", t.Name, kafkaErr(t.Err, nil)))
		}
	}
	var ask []string
	for _, name := range sortedKeys(live.Topics) {
		if len(scope.Topics[name]) > 0 {
			ask = append(ask, name)
		}
	}
	dec := newConfigDecoder()
	for chunk := range slices.Chunk(ask, describeConfigsBatch) {
		req := &sarama.DescribeConfigsRequest{Version: 4, Resources: make([]*sarama.ConfigResource, 0, len(chunk))}
		for _, name := range chunk {
			req.Resources = append(req.Resources, &sarama.ConfigResource{Type: sarama.TopicResource, Name: name, ConfigNames: scope.Topics[name]})
		}
		resp, err := call(ctx, func() (*sarama.DescribeConfigsResponse, error) { return b.DescribeConfigs(req) })
		if err != nil {
			return plans.Live{}, fmt.Errorf("describe topic configs of cluster %q: %w", a.name, err)
		}
		for _, r := range resp.Resources {
			t, ok := live.Topics[r.Name]
			switch {
			case !ok:
			case errors.Is(sarama.KError(r.ErrorCode), sarama.ErrUnknownTopicOrPartition):
				delete(live.Topics, r.Name) // deleted between the two requests
			case r.ErrorCode != 0:
				msg := r.ErrorMsg
				errs = append(errs, fmt.Errorf("describe configs of topic %q: %w", r.Name, kafkaErr(sarama.KError(r.ErrorCode), &msg)))
			default:
				t.Config = dec.config(r.Configs)
				live.Topics[r.Name] = t
			}
		}
	}
	if scope.Inventory {
		if live.Inventory, err = a.readInventory(ctx, md); err != nil {
			errs = append(errs, err)
		}
	}
	if scope.Access {
		if live.Access, err = a.readAccess(ctx, b); err != nil {
			errs = append(errs, fmt.Errorf("read access control: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return live, fmt.Errorf("cluster %q: %w", a.name, err)
	}
	return live, nil
}
