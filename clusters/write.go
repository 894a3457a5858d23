package clusters

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// errNoResult marks a topic that a batched response left out.
var errNoResult = errors.New("the cluster returned no result for this topic")

// outcome turns one batched response into per-topic results: lookup says whether the response
// holds the topic and the error it carries (nil = done). It also returns the topics that
// succeeded, in the order given.
func outcome(names []string, lookup func(name string) (found bool, err error)) (reconcile.Outcome, []string) {
	out := make(reconcile.Outcome, len(names))
	var succeeded []string
	for _, name := range names {
		found, err := lookup(name)
		switch {
		case !found:
			out[name] = errNoResult
		case err != nil:
			out[name] = err
		default:
			out[name] = nil
			succeeded = append(succeeded, name)
		}
	}
	return out, succeeded
}

func topicNames(ts []spec.Topic) []string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return names
}

// CreateTopics creates every topic, with its configs, in one CreateTopics request to the
// controller, then waits (bounded) until metadata shows them so a re-read right after apply sees
// what was created.
func (a *Admin) CreateTopics(ctx context.Context, create []spec.Topic) (reconcile.Outcome, error) {
	if len(create) == 0 {
		return reconcile.Outcome{}, nil
	}
	details := make(map[string]*sarama.TopicDetail, len(create))
	for _, t := range create {
		d := &sarama.TopicDetail{NumPartitions: -1, ReplicationFactor: -1, ConfigEntries: map[string]*string{}}
		if t.Partitions > 0 {
			d.NumPartitions = int32(t.Partitions)
		}
		if t.ReplicationFactor > 0 {
			d.ReplicationFactor = int16(t.ReplicationFactor)
		}
		for k, v := range t.Config {
			d.ConfigEntries[k] = &v
		}
		details[t.Name] = d
	}
	b, err := a.controller(ctx)
	if err != nil {
		return nil, err
	}
	req := sarama.NewCreateTopicsRequest(a.conf.Version, details, a.timeout, false)
	resp, err := call(ctx, func() (*sarama.CreateTopicsResponse, error) { return b.CreateTopics(req) })
	if err != nil {
		return nil, fmt.Errorf("create topics on cluster %q: %w", a.name, err)
	}
	out, created := outcome(topicNames(create), func(name string) (bool, error) {
		te, ok := resp.TopicErrors[name]
		if !ok {
			return false, nil
		}
		return true, kafkaErr(te.Err, te.ErrMsg)
	})
	return out, a.awaitTopics(ctx, created, true)
}

// CreatePartitions raises partition counts in one request to the controller.
func (a *Admin) CreatePartitions(ctx context.Context, totals map[string]int) (reconcile.Outcome, error) {
	if len(totals) == 0 {
		return reconcile.Outcome{}, nil
	}
	req := &sarama.CreatePartitionsRequest{Version: 1, Timeout: a.timeout, TopicPartitions: map[string]*sarama.TopicPartition{}}
	for name, n := range totals {
		req.TopicPartitions[name] = &sarama.TopicPartition{Count: int32(n)}
	}
	b, err := a.controller(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := call(ctx, func() (*sarama.CreatePartitionsResponse, error) { return b.CreatePartitions(req) })
	if err != nil {
		return nil, fmt.Errorf("create partitions on cluster %q: %w", a.name, err)
	}
	names := make([]string, 0, len(totals))
	for name := range totals {
		names = append(names, name)
	}
	out, _ := outcome(names, func(name string) (bool, error) {
		te, ok := resp.TopicPartitionErrors[name]
		if !ok {
			return false, nil
		}
		return true, kafkaErr(te.Err, te.ErrMsg)
	})
	return out, nil
}

// maxConfigRecords is how many metadata records one IncrementalAlterConfigs request may make
// Kafka's controller write. KRaft bounds every user operation to 10,000 records
// (QuorumController.MAX_RECORDS_PER_USER_OP) and refuses a larger request as a whole with
// POLICY_VIOLATION ("Unable to perform excessively large batch operation."). A var for tests.
var maxConfigRecords = 10000

// configRecords is the most records one topic's change makes the controller write: a ConfigRecord
// per key set or deleted, and for min.insync.replicas a ClearElrRecord after it when the cluster
// has eligible leader replicas enabled.
func configRecords(c reconcile.ConfigChange) int {
	n := len(c.Set) + len(c.Delete)
	if _, ok := c.Set[minInsyncReplicas]; ok || slices.Contains(c.Delete, minInsyncReplicas) {
		n++
	}
	return n
}

const minInsyncReplicas = "min.insync.replicas"

// configBatches splits the changes, in order, into requests of at most maxConfigRecords records;
// a topic's change is never split (Kafka applies or refuses one resource's keys together). Kafka's
// own tools (kafka-configs.sh, kadm) send a change as one request, and a real cluster answers it
// in one round trip; 10,000 keys are far below Kafka's 100 MiB request limit
// (socket.request.max.bytes). Until issue 23 this sent at most ten requests of at least 100 topics
// because the embedded cluster rewrote its whole state once per request (issue 10 item 3); it now
// appends each request's changes to its state (third_party/kfake's seventh patch), so a request of
// 10,000 topics takes it about 0.1 s.
func configBatches(changes []reconcile.ConfigChange) [][]reconcile.ConfigChange {
	var batches [][]reconcile.ConfigChange
	start, records := 0, 0
	for i, c := range changes {
		n := configRecords(c)
		if i > start && records+n > maxConfigRecords {
			batches = append(batches, changes[start:i])
			start, records = i, 0
		}
		records += n
	}
	if start < len(changes) {
		batches = append(batches, changes[start:])
	}
	return batches
}

// AlterTopicConfigs applies the changes with IncrementalAlterConfigs, in as few requests as
// Kafka's per-request bound on metadata records allows (configBatches: one for up to 10,000 keys).
// Incremental (Kafka 2.3+, and avatar-sync needs 3.0) means keys the plan does not mention stay as
// they are, which the legacy AlterConfigs cannot promise; so there is no AlterConfigs fallback.
// When a request fails as a whole, its topics carry that error (it may or may not have been
// applied) and the topics of later requests are not sent.
func (a *Admin) AlterTopicConfigs(ctx context.Context, changes []reconcile.ConfigChange) (reconcile.Outcome, error) {
	out := make(reconcile.Outcome, len(changes))
	if len(changes) == 0 {
		return out, nil
	}
	b, err := a.anyBroker(ctx)
	if err != nil {
		return nil, err
	}
	sent := 0
	for _, batch := range configBatches(changes) {
		if err := a.alterTopicConfigsOnce(ctx, b, batch, out); err != nil {
			for _, c := range batch {
				out[c.Topic] = fmt.Errorf("%w (the change may or may not have been applied)", err)
			}
			for _, c := range changes[sent+len(batch):] {
				out[c.Topic] = fmt.Errorf("not sent: an earlier alter topic configs request failed: %w", err)
			}
			return out, nil
		}
		sent += len(batch)
	}
	return out, nil
}

// alterTopicConfigsOnce sends one IncrementalAlterConfigs request and records per-topic results
// in out; its error is the request failing as a whole.
func (a *Admin) alterTopicConfigsOnce(ctx context.Context, b *sarama.Broker, changes []reconcile.ConfigChange, out reconcile.Outcome) error {
	req := &sarama.IncrementalAlterConfigsRequest{Version: 1}
	for _, c := range changes {
		req.Resources = append(req.Resources, topicConfigResource(c.Topic, c.Set, c.Delete))
	}
	resp, err := call(ctx, func() (*sarama.IncrementalAlterConfigsResponse, error) { return b.IncrementalAlterConfigs(req) })
	if err != nil {
		return fmt.Errorf("alter topic configs on cluster %q: %w", a.name, err)
	}
	results := make(map[string]error, len(resp.Resources))
	for _, r := range resp.Resources {
		msg := r.ErrorMsg
		results[r.Name] = kafkaErr(sarama.KError(r.ErrorCode), &msg)
	}
	names := make([]string, len(changes))
	for i, c := range changes {
		names[i] = c.Topic
	}
	chunkOut, _ := outcome(names, func(name string) (bool, error) {
		err, ok := results[name]
		return ok, err
	})
	for name, err := range chunkOut {
		out[name] = err
	}
	return nil
}

func topicConfigResource(topic string, set map[string]string, del []string) *sarama.IncrementalAlterConfigsResource {
	r := &sarama.IncrementalAlterConfigsResource{Type: sarama.TopicResource, Name: topic, ConfigEntries: map[string]sarama.IncrementalAlterConfigsEntry{}}
	for k, v := range set {
		r.ConfigEntries[k] = sarama.IncrementalAlterConfigsEntry{Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &v}
	}
	for _, k := range del {
		r.ConfigEntries[k] = sarama.IncrementalAlterConfigsEntry{Operation: sarama.IncrementalAlterConfigsOperationDelete}
	}
	return r
}

// DeleteTopics deletes the topics in one request to the controller and waits (bounded) until
// metadata no longer lists them.
func (a *Admin) DeleteTopics(ctx context.Context, names []string) (reconcile.Outcome, error) {
	if len(names) == 0 {
		return reconcile.Outcome{}, nil
	}
	b, err := a.controller(ctx)
	if err != nil {
		return nil, err
	}
	req := sarama.NewDeleteTopicsRequest(a.conf.Version, names, a.timeout)
	resp, err := call(ctx, func() (*sarama.DeleteTopicsResponse, error) { return b.DeleteTopics(req) })
	if err != nil {
		return nil, fmt.Errorf("delete topics on cluster %q: %w", a.name, err)
	}
	out, deleted := outcome(names, func(name string) (bool, error) {
		code, ok := resp.TopicErrorCodes[name]
		return ok, kafkaErr(code, nil)
	})
	return out, a.awaitTopics(ctx, deleted, false)
}

// awaitTopics polls one Metadata request for the named topics until they are all present (or all
// gone), because a controller acknowledges before every broker's metadata cache has caught up.
// Bounded by the request timeout and ctx.
func (a *Admin) awaitTopics(ctx context.Context, names []string, present bool) error {
	if len(names) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	wait := 20 * time.Millisecond
	for {
		b, err := a.anyBroker(ctx)
		if err != nil {
			return err
		}
		md, err := call(ctx, func() (*sarama.MetadataResponse, error) {
			return b.GetMetadata(sarama.NewMetadataRequest(a.conf.Version, names))
		})
		if err == nil {
			done := true
			for _, t := range md.Topics {
				exists := t.Err == sarama.ErrNoError
				if exists != present {
					done = false
				}
			}
			if done {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			state := "appear in"
			if !present {
				state = "disappear from"
			}
			return fmt.Errorf("topics %s did not %s metadata of cluster %q in %s", strings.Join(names, ", "), state, a.name, a.timeout)
		case <-time.After(wait):
			wait = min(wait*2, time.Second)
		}
	}
}

// ReassignPartitions submits every move in one AlterPartitionReassignments request.
func (a *Admin) ReassignPartitions(ctx context.Context, moves []reconcile.Reassignment) (reconcile.Outcome, error) {
	if len(moves) == 0 {
		return reconcile.Outcome{}, nil
	}
	req := &sarama.AlterPartitionReassignmentsRequest{TimeoutMs: int32(a.timeout.Milliseconds())}
	for _, m := range moves {
		for p, replicas := range m.Replicas {
			req.AddBlock(m.Topic, p, replicas)
		}
	}
	b, err := a.controller(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := call(ctx, func() (*sarama.AlterPartitionReassignmentsResponse, error) { return b.AlterPartitionReassignments(req) })
	if err != nil {
		return nil, fmt.Errorf("reassign partitions on cluster %q: %w", a.name, err)
	}
	out := reconcile.Outcome{}
	for _, m := range moves {
		if resp.ErrorCode != sarama.ErrNoError {
			out[m.Topic] = kafkaErr(resp.ErrorCode, resp.ErrorMessage)
			continue
		}
		var errs []error
		for _, p := range sortedPartitions(resp.Errors[m.Topic]) {
			if err := reassignmentBlockErr(resp.Errors[m.Topic][p]); err != nil {
				errs = append(errs, fmt.Errorf("partition %d: %w", p, err))
			}
		}
		out[m.Topic] = errors.Join(errs...)
	}
	return out, nil
}

// reassignmentBlockErr reads a per-partition result. sarama keeps that type's fields unexported
// (it only folds them into one joined error in its own admin), so reflection is the only way to
// report per-partition outcomes without one request per topic.
func reassignmentBlockErr(block any) error {
	v := reflect.ValueOf(block)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return nil
	}
	v = v.Elem()
	code := v.FieldByName("errorCode")
	if !code.IsValid() || code.Int() == 0 {
		return nil
	}
	var msg *string
	if m := v.FieldByName("errorMessage"); m.IsValid() && !m.IsNil() {
		s := m.Elem().String()
		msg = &s
	}
	return kafkaErr(sarama.KError(code.Int()), msg)
}

func sortedPartitions[V any](m map[int32]V) []int32 {
	ps := make([]int32, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

// Replication throttle configs, as kafka-reassign-partitions.sh sets them.
const (
	leaderRate       = "leader.replication.throttled.rate"
	followerRate     = "follower.replication.throttled.rate"
	leaderReplicas   = "leader.replication.throttled.replicas"
	followerReplicas = "follower.replication.throttled.replicas"
)

// throttlePlan is the config a throttled move needs; pure, computed from current replicas.
type throttlePlan struct {
	topics  map[string][2]string // topic → {leader list, follower list}
	brokers []int32              // brokers whose rates are set
}

// planThrottle throttles, like Kafka's reassignment tool, the current replicas as leaders and the
// replicas being added as followers, and sets rates on every broker involved.
func planThrottle(current map[string]map[int32][]int32, moves []reconcile.Reassignment) throttlePlan {
	tp := throttlePlan{topics: map[string][2]string{}}
	involved := map[int32]bool{}
	for _, m := range moves {
		var leaders, followers []string
		for _, p := range sortedPartitions(m.Replicas) {
			cur := current[m.Topic][p]
			for _, r := range cur {
				leaders = append(leaders, fmt.Sprintf("%d:%d", p, r))
				involved[r] = true
			}
			for _, r := range m.Replicas[p] {
				involved[r] = true
				if !containsInt32(cur, r) {
					followers = append(followers, fmt.Sprintf("%d:%d", p, r))
				}
			}
		}
		tp.topics[m.Topic] = [2]string{strings.Join(leaders, ","), strings.Join(followers, ",")}
	}
	for id := range involved {
		tp.brokers = append(tp.brokers, id)
	}
	sort.Slice(tp.brokers, func(i, j int) bool { return tp.brokers[i] < tp.brokers[j] })
	return tp
}

func containsInt32(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// SetReplicationThrottle sets the topic throttle lists (one request) and the per-broker rates
// (one request per involved broker: a broker's dynamic config is altered on that broker).
func (a *Admin) SetReplicationThrottle(ctx context.Context, bytesPerSec int64, moves []reconcile.Reassignment) error {
	if len(moves) == 0 || bytesPerSec <= 0 {
		return nil
	}
	names := make([]string, 0, len(moves))
	for _, m := range moves {
		names = append(names, m.Topic)
	}
	md, err := a.topicMetadata(ctx, names)
	if err != nil {
		return err
	}
	current := map[string]map[int32][]int32{}
	for _, t := range md.Topics {
		current[t.Name] = map[int32][]int32{}
		for _, p := range t.Partitions {
			current[t.Name][p.ID] = p.Replicas
		}
	}
	tp := planThrottle(current, moves)
	req := &sarama.IncrementalAlterConfigsRequest{Version: 1}
	for _, name := range sortedKeys(tp.topics) {
		lists := tp.topics[name]
		set := map[string]string{leaderReplicas: lists[0]}
		if lists[1] != "" {
			set[followerReplicas] = lists[1]
		}
		req.Resources = append(req.Resources, topicConfigResource(name, set, nil))
	}
	if err := a.alterConfigs(ctx, nil, req, "set replication throttle"); err != nil {
		return err
	}
	rate := strconv.FormatInt(bytesPerSec, 10)
	return a.alterBrokers(ctx, tp.brokers, map[string]string{leaderRate: rate, followerRate: rate}, nil, "set replication throttle")
}

// ClearReplicationThrottle removes the topic lists of the moved topics and the rates on every
// broker (deleting a config that is not set is a no-op, so clearing is idempotent).
func (a *Admin) ClearReplicationThrottle(ctx context.Context, moves []reconcile.Reassignment) error {
	if len(moves) == 0 {
		return nil
	}
	req := &sarama.IncrementalAlterConfigsRequest{Version: 1}
	for _, m := range moves {
		req.Resources = append(req.Resources, topicConfigResource(m.Topic, nil, []string{leaderReplicas, followerReplicas}))
	}
	if err := a.alterConfigs(ctx, nil, req, "clear replication throttle"); err != nil {
		return err
	}
	var ids []int32
	for _, b := range a.allBrokers() {
		ids = append(ids, b.ID())
	}
	return a.alterBrokers(ctx, ids, nil, []string{leaderRate, followerRate}, "clear replication throttle")
}

// alterBrokers alters the same dynamic configs on each broker, in parallel, one request each.
func (a *Admin) alterBrokers(ctx context.Context, ids []int32, set map[string]string, del []string, what string) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &sarama.IncrementalAlterConfigsResource{Type: sarama.BrokerResource, Name: strconv.Itoa(int(id)), ConfigEntries: map[string]sarama.IncrementalAlterConfigsEntry{}}
			for k, v := range set {
				r.ConfigEntries[k] = sarama.IncrementalAlterConfigsEntry{Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &v}
			}
			for _, k := range del {
				r.ConfigEntries[k] = sarama.IncrementalAlterConfigsEntry{Operation: sarama.IncrementalAlterConfigsOperationDelete}
			}
			b, err := a.broker(ctx, id)
			if err == nil {
				err = a.alterConfigs(ctx, b, &sarama.IncrementalAlterConfigsRequest{Version: 1, Resources: []*sarama.IncrementalAlterConfigsResource{r}}, what)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("broker %d: %w", id, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// alterConfigs sends req (to b, or any broker when nil) and joins every per-resource error.
func (a *Admin) alterConfigs(ctx context.Context, b *sarama.Broker, req *sarama.IncrementalAlterConfigsRequest, what string) error {
	if len(req.Resources) == 0 {
		return nil
	}
	if b == nil {
		var err error
		if b, err = a.anyBroker(ctx); err != nil {
			return err
		}
	}
	resp, err := call(ctx, func() (*sarama.IncrementalAlterConfigsResponse, error) { return b.IncrementalAlterConfigs(req) })
	if err != nil {
		return fmt.Errorf("%s on cluster %q: %w", what, a.name, err)
	}
	var errs []error
	for _, r := range resp.Resources {
		msg := r.ErrorMsg
		if err := kafkaErr(sarama.KError(r.ErrorCode), &msg); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", resourceKind(r.Type), r.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s on cluster %q: %w", what, a.name, err)
	}
	return nil
}

func resourceKind(t sarama.ConfigResourceType) string {
	if t == sarama.BrokerResource {
		return "broker"
	}
	return "topic"
}
