package clusters

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/IBM/sarama"

	"github.com/avatar-project/avatar-sync/topics"
)

// SafeToRestart reports, for the Kubernetes plane's broker rolls (issue 11), whether broker may be
// restarted now: it fails while a partition the broker leads or follows is under-replicated or
// would fall below its topic's min.insync.replicas without it. Two requests: one Metadata (replicas
// and in-sync replicas of every partition) and one DescribeConfigs for the affected topics.
func (a *Admin) SafeToRestart(ctx context.Context, broker int32) error {
	b, err := a.anyBroker(ctx)
	if err != nil {
		return err
	}
	md, err := call(ctx, func() (*sarama.MetadataResponse, error) {
		return b.GetMetadata(sarama.NewMetadataRequest(a.conf.Version, nil))
	})
	if err != nil {
		return fmt.Errorf("read metadata of cluster %q: %w", a.name, err)
	}
	var parts []topics.PartitionState
	hosted := map[string]bool{}
	for _, t := range md.Topics {
		if !topicReadable(t.Err) {
			continue
		}
		for _, p := range t.Partitions {
			if slices.Contains(p.Replicas, broker) {
				hosted[t.Name] = true
				parts = append(parts, topics.PartitionState{Topic: t.Name, Partition: p.ID, Replicas: p.Replicas, ISR: p.Isr})
			}
		}
	}
	if len(parts) == 0 {
		return nil
	}
	minISR, err := a.minInsyncReplicas(ctx, b, sortedKeys(hosted))
	if err != nil {
		return err
	}
	for i := range parts {
		parts[i].MinISR = minISR[parts[i].Topic]
	}
	if blockers := topics.RestartBlockers(broker, parts); len(blockers) > 0 {
		if len(blockers) > 5 {
			blockers = append(blockers[:5], fmt.Sprintf("and %d more", len(blockers)-5))
		}
		return fmt.Errorf("cluster %q: broker %d must not restart now: %s", a.name, broker, strings.Join(blockers, "; "))
	}
	return nil
}

// minInsyncReplicas reads min.insync.replicas of the named topics in one request (1, Kafka's
// default, where a topic does not report it).
func (a *Admin) minInsyncReplicas(ctx context.Context, b *sarama.Broker, names []string) (map[string]int, error) {
	req := &sarama.DescribeConfigsRequest{Version: 4}
	for _, n := range names {
		req.Resources = append(req.Resources, &sarama.ConfigResource{Type: sarama.TopicResource, Name: n, ConfigNames: []string{"min.insync.replicas"}})
	}
	resp, err := call(ctx, func() (*sarama.DescribeConfigsResponse, error) { return b.DescribeConfigs(req) })
	if err != nil {
		return nil, fmt.Errorf("describe min.insync.replicas in cluster %q: %w", a.name, err)
	}
	out := make(map[string]int, len(names))
	var errs []error
	for _, n := range names {
		out[n] = 1
	}
	for _, r := range resp.Resources {
		if r.ErrorCode != 0 {
			msg := r.ErrorMsg
			errs = append(errs, fmt.Errorf("topic %q: %w", r.Name, kafkaErr(sarama.KError(r.ErrorCode), &msg)))
			continue
		}
		for _, e := range r.Configs {
			if e.Name == "min.insync.replicas" {
				if v, err := strconv.Atoi(e.Value); err == nil {
					out[r.Name] = v
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("describe min.insync.replicas in cluster %q: %w", a.name, err)
	}
	return out, nil
}
