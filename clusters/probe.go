package clusters

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/avatar-project/avatar-sync/health"
)

// ProbeOptions tune Probe.
type ProbeOptions struct {
	// ProduceOnly writes the probe records and reads nothing back (topics whose consumers must
	// not see probes cannot be read back without them seeing it either).
	ProduceOnly bool
	// Timeout bounds joining the probe group and reading every record back (0 = 30s).
	Timeout time.Duration
}

// Probe proves each topic carries data end to end (issue 13, `avatar-sync verify`):
//
//  1. read the topics' partitions (one Metadata);
//  2. unless ProduceOnly, join a dedicated, uniquely named consumer group subscribed to the topics
//     and wait until it owns every partition, positioned at the log end;
//  3. produce one record marked with the health.ProbeHeader header to every partition, acks=all,
//     in one batch per leader;
//  4. wait for each record to come back to the group, recording the round trip;
//  5. leave and delete the group. The probe never commits an offset, and it names no other group,
//     so no other group's offsets can change.
func (a *Admin) Probe(ctx context.Context, names []string, o ProbeOptions) (health.ProbeReport, error) {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	rep := health.ProbeReport{Version: health.ProbeVersion, Cluster: a.name, ProduceOnly: o.ProduceOnly, GroupDeleted: true}
	md, err := a.topicMetadata(ctx, names)
	if err != nil {
		return rep, err
	}
	parts := map[string][]int32{}
	for _, t := range md.Topics {
		if !topicReadable(t.Err) {
			rep.Results = append(rep.Results, health.ProbeResult{Topic: t.Name, Partition: -1, Offset: -1, Error: kafkaErr(t.Err, nil).Error()})
			continue
		}
		for _, p := range t.Partitions {
			parts[t.Name] = append(parts[t.Name], p.ID)
		}
	}
	if len(parts) == 0 {
		return rep.Finish(), nil
	}

	conf := *a.conf
	conf.ClientID = a.conf.ClientID + "-verify"
	conf.Producer.Partitioner = sarama.NewManualPartitioner
	conf.Producer.Return.Successes = true
	conf.Producer.Return.Errors = true
	conf.Producer.RequiredAcks = sarama.WaitForAll
	conf.Consumer.Offsets.Initial = sarama.OffsetNewest
	// The probe group never commits: it has no offsets to leave behind on any topic.
	conf.Consumer.Offsets.AutoCommit.Enable = false
	conf.Consumer.Return.Errors = true
	// A short fetch wait, so the round trip measures the cluster rather than the client's poll.
	conf.Consumer.MaxWaitTime = 10 * time.Millisecond
	conf.Metadata.Retry.Max = 3
	conf.Metadata.Retry.Backoff = 100 * time.Millisecond
	client, err := sarama.NewClient(a.bootstrap, &conf)
	if err != nil {
		return rep, unreachable(a.name, a.bootstrap, a.conf, err)
	}
	defer client.Close()

	var reader *probeReader
	if !o.ProduceOnly {
		rep.Group = probeGroupName()
		reader, err = startProbeReader(ctx, client, rep.Group, parts, o.Timeout)
		if err != nil {
			rep.Failures = append(rep.Failures, err.Error())
			return a.finishProbe(ctx, client, reader, rep), nil
		}
	}
	runID := rep.Group
	if runID == "" {
		runID = probeGroupName()
	}
	results, start := produceProbes(client, parts, runID)
	if reader != nil {
		reader.await(ctx, results, start, o.Timeout)
	}
	rep.Results = append(rep.Results, results...)
	return a.finishProbe(ctx, client, reader, rep), nil
}

// finishProbe deletes the probe group (whatever happened before) and completes the report. The
// delete runs on a fresh context bounded by cleanupTimeout: after Ctrl-C (ctx cancelled) the group
// must still go, or every interrupted verify leaves one behind (issue 21). An interrupted probe says
// so in its failures.
func (a *Admin) finishProbe(ctx context.Context, client sarama.Client, reader *probeReader, rep health.ProbeReport) health.ProbeReport {
	if err := ctx.Err(); err != nil {
		rep.Failures = append(rep.Failures, fmt.Sprintf("verify was interrupted (%v) before every probe record came back", err))
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cleanupTimeout())
	defer cancel()
	if err := a.deleteProbeGroup(dctx, client, rep.Group, reader); err != nil {
		rep.GroupDeleted = false
		rep.Failures = append(rep.Failures, err.Error())
	}
	return rep.Finish()
}

// cleanupTimeout bounds deleting the probe group: the member's leave plus the delete request.
func (a *Admin) cleanupTimeout() time.Duration {
	if a.timeout <= 0 {
		return 20 * time.Second
	}
	return 2 * a.timeout
}

// probeGroupName is unique per run: a lab member can tell whose probe a leftover group was.
func probeGroupName() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("avatar-sync-verify-%s-%s", host, hex.EncodeToString(b[:]))
}

// produceProbes writes one marked record to every partition in one SendMessages call (sarama
// batches per leader) and returns a result per partition.
func produceProbes(client sarama.Client, parts map[string][]int32, runID string) ([]health.ProbeResult, time.Time) {
	var msgs []*sarama.ProducerMessage
	for _, topic := range sortedKeys(parts) {
		for _, p := range parts[topic] {
			msgs = append(msgs, &sarama.ProducerMessage{
				Topic: topic, Partition: p,
				Headers: []sarama.RecordHeader{{Key: []byte(health.ProbeHeader), Value: []byte(runID)}},
				Value:   sarama.StringEncoder(fmt.Sprintf(`{"avatarSyncProbe":%q,"topic":%q,"partition":%d}`, runID, topic, p)),
			})
		}
	}
	results := make([]health.ProbeResult, len(msgs))
	start := time.Now()
	producer, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		for i, m := range msgs {
			results[i] = health.ProbeResult{Topic: m.Topic, Partition: m.Partition, Offset: -1, Error: "produce: " + err.Error()}
		}
		return results, start
	}
	defer producer.Close()
	start = time.Now()
	err = producer.SendMessages(msgs)
	took := time.Since(start)
	failed := map[*sarama.ProducerMessage]error{}
	var perrs sarama.ProducerErrors
	if errors.As(err, &perrs) {
		for _, pe := range perrs {
			failed[pe.Msg] = pe.Err
		}
	} else if err != nil {
		for _, m := range msgs {
			failed[m] = err
		}
	}
	for i, m := range msgs {
		results[i] = health.ProbeResult{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Produce: took}
		if ferr := failed[m]; ferr != nil {
			results[i].Offset = -1
			results[i].Error = "produce: " + ferr.Error()
		}
	}
	return results, start
}

// probeReader is the probe's consumer-group member.
type probeReader struct {
	group   sarama.ConsumerGroup
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	arrived map[string]time.Time // "topic/partition" → arrival of the run's record
	runID   string
	errs    []error
}

// startProbeReader joins the group and returns once it consumes every expected partition from
// the log end, or fails after timeout.
func startProbeReader(ctx context.Context, client sarama.Client, group string, parts map[string][]int32, timeout time.Duration) (*probeReader, error) {
	cg, err := sarama.NewConsumerGroupFromClient(group, client)
	if err != nil {
		return nil, fmt.Errorf("consumer group %q: %w", group, err)
	}
	want := 0
	for _, ps := range parts {
		want += len(ps)
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &probeReader{group: cg, cancel: cancel, done: make(chan struct{}), arrived: map[string]time.Time{}, runID: group}
	h := &probeHandler{r: r, claimed: make(chan string, want)}
	go func() {
		defer close(r.done)
		for rctx.Err() == nil {
			if err := cg.Consume(rctx, sortedKeys(parts), h); err != nil && rctx.Err() == nil {
				r.mu.Lock()
				r.errs = append(r.errs, err)
				r.mu.Unlock()
				return
			}
		}
	}()
	go func() {
		for err := range cg.Errors() {
			r.mu.Lock()
			r.errs = append(r.errs, err)
			r.mu.Unlock()
		}
	}()
	seen := map[string]bool{}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for len(seen) < want {
		select {
		case tp := <-h.claimed:
			seen[tp] = true
		case <-r.done:
			return r, fmt.Errorf("consumer group %q stopped before owning every partition: %w", group, errors.Join(r.errs...))
		case <-deadline.C:
			return r, fmt.Errorf("consumer group %q did not get all %d partitions within %s (got %d)", group, want, timeout, len(seen))
		case <-ctx.Done():
			return r, ctx.Err()
		}
	}
	// sarama starts a claimed partition's fetches in batches every 100 ms; a record produced
	// before the first fetch would make the round trip measure that start-up, not the cluster.
	select {
	case <-time.After(150 * time.Millisecond):
	case <-ctx.Done():
		return r, ctx.Err()
	}
	return r, nil
}

// await waits until every produced record came back, or timeout, and fills in round trips and
// failures. A round trip runs from the start of the produce request, as the consumer may see a
// record before the producer has its acknowledgement.
func (r *probeReader) await(ctx context.Context, results []health.ProbeResult, start time.Time, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		r.mu.Lock()
		missing := 0
		for _, res := range results {
			if res.Error == "" && r.arrived[fmt.Sprintf("%s/%d", res.Topic, res.Partition)].IsZero() {
				missing++
			}
		}
		r.mu.Unlock()
		if missing == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, res := range results {
		if res.Error != "" {
			continue
		}
		at := r.arrived[fmt.Sprintf("%s/%d", res.Topic, res.Partition)]
		switch {
		case at.IsZero() && ctx.Err() != nil:
			// Interrupted: not a finding about the cluster (issue 21).
			results[i].Error = fmt.Sprintf("produced at offset %d; verify was interrupted before it came back", res.Offset)
			continue
		case at.IsZero():
			results[i].Error = fmt.Sprintf("produced at offset %d but not consumed back within %s", res.Offset, timeout)
			continue
		}
		results[i].RoundTrip = at.Sub(start)
	}
}

// probeHandler is the sarama.ConsumerGroupHandler of the probe group.
type probeHandler struct {
	r       *probeReader
	claimed chan string
}

func (h *probeHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *probeHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim runs once the partition consumer is positioned (at the log end: the group has no
// offsets), so a record produced after every claim started is seen.
func (h *probeHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	key := fmt.Sprintf("%s/%d", claim.Topic(), claim.Partition())
	select {
	case h.claimed <- key:
	default:
	}
	for {
		select {
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			for _, hd := range m.Headers {
				if string(hd.Key) == health.ProbeHeader {
					h.r.mu.Lock()
					if string(hd.Value) == h.r.runID && h.r.arrived[key].IsZero() {
						h.r.arrived[key] = time.Now()
					}
					h.r.mu.Unlock()
				}
			}
		case <-sess.Context().Done():
			return nil
		}
	}
}

// deleteProbeGroup stops the member (it leaves the group) and deletes the group at its
// coordinator. A group that is already gone is fine.
func (a *Admin) deleteProbeGroup(ctx context.Context, client sarama.Client, group string, r *probeReader) error {
	if r == nil {
		return nil
	}
	r.cancel()
	_ = r.group.Close()
	select {
	case <-r.done:
	case <-time.After(a.timeout):
	}
	how := fmt.Sprintf("delete it with: kafka-consumer-groups --delete --group %s", group)
	resp, err := call(ctx, func() (*sarama.DeleteGroupsResponse, error) {
		if err := client.RefreshCoordinator(group); err != nil {
			return nil, err
		}
		coord, err := client.Coordinator(group)
		if err != nil {
			return nil, err
		}
		return coord.DeleteGroups(&sarama.DeleteGroupsRequest{Version: 1, Groups: []string{group}})
	})
	if err != nil {
		return fmt.Errorf("could not delete the probe's consumer group %q: %w; %s", group, err, how)
	}
	if kerr, ok := resp.GroupErrorCodes[group]; ok && kerr != sarama.ErrNoError && !errors.Is(kerr, sarama.ErrGroupIDNotFound) {
		return fmt.Errorf("could not delete the probe's consumer group %q: %w; %s", group, kafkaErr(kerr, nil), how)
	}
	return nil
}
