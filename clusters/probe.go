package clusters

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
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
	// Timeout bounds reading every record back (0 = 30s).
	Timeout time.Duration
}

// probeFetchWait is how long one Fetch of the probe's reader waits for a record at the broker. The
// broker answers as soon as a record arrives; the wait only bounds how often an idle reader asks.
const probeFetchWait = 100 * time.Millisecond

// Probe proves each topic carries data end to end (issue 13, `avatar-sync verify`). Its requests
// grow with the brokers, not the partitions (issue 23: it was a consumer-group claim, OffsetFetch
// and ListOffsets per partition, 7,014 requests for 3,000 partitions):
//
//  1. read the topics' partitions (one Metadata);
//  2. unless ProduceOnly, ask each leader for the log end of its partitions (one ListOffsets per
//     broker) and start one reader per leader on a connection of its own, fetching all of that
//     leader's partitions from there in one Fetch at a time;
//  3. produce one record marked with the health.ProbeHeader header to every partition, acks=all,
//     with one producer (one batch per leader);
//  4. wait for each record to come back to the readers, recording the round trip;
//  5. the offset-commit check: commit the offset after each record read back to the run's own
//     group, named for the run, read the commits back (one OffsetCommit and one OffsetFetch at its
//     coordinator), and delete the group, also after a failure or an interrupt. It never names
//     another group, so no other group's offsets can change.
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
	leaders := map[probePartition]int32{}
	for _, t := range md.Topics {
		if !topicReadable(t.Err) {
			rep.Results = append(rep.Results, health.ProbeResult{Topic: t.Name, Partition: -1, Offset: -1, Error: kafkaErr(t.Err, nil).Error()})
			continue
		}
		for _, p := range t.Partitions {
			parts[t.Name] = append(parts[t.Name], p.ID)
			leaders[probePartition{t.Name, p.ID}] = p.Leader
		}
	}
	if len(parts) == 0 {
		return rep.Finish(), nil
	}

	conf := *a.conf
	conf.ClientID = a.conf.ClientID + "-verify"
	conf.Metadata.Retry.Max = 3
	conf.Metadata.Retry.Backoff = 100 * time.Millisecond
	client, err := sarama.NewClient(a.bootstrap, &conf)
	if err != nil {
		return rep, unreachable(a.name, a.bootstrap, a.conf, err)
	}
	defer client.Close()
	// One Metadata for every topic, for the leaders' addresses.
	if _, err := call(ctx, func() (struct{}, error) { return struct{}{}, client.RefreshMetadata(sortedKeys(parts)...) }); err != nil {
		return rep, fmt.Errorf("read metadata of cluster %q: %w", a.name, err)
	}

	runID := probeGroupName()
	var reader *probeReader
	if !o.ProduceOnly {
		rep.Group = runID
		reader = startProbeReader(ctx, client, &conf, parts, leaders, runID)
		defer reader.stop()
	}
	results, start := produceProbes(ctx, client, &conf, parts, leaders, runID)
	if reader != nil {
		reader.await(ctx, results, start, o.Timeout)
		reader.stop()
		checkErr, deleteErr := a.checkOffsetCommit(ctx, client, rep.Group, results)
		if checkErr != nil {
			rep.Failures = append(rep.Failures, checkErr.Error())
		}
		if deleteErr != nil {
			rep.GroupDeleted = false
			rep.Failures = append(rep.Failures, deleteErr.Error())
		}
	}
	rep.Results = append(rep.Results, results...)
	if err := ctx.Err(); err != nil {
		// issue 21: an interrupt is not a finding about the cluster, and says so.
		rep.Failures = append(rep.Failures, fmt.Sprintf("verify was interrupted (%v) before every probe record came back", err))
	}
	return rep.Finish(), nil
}

// probePartition names one partition.
type probePartition struct {
	topic string
	id    int32
}

// probeGroupName is unique per run: a lab member can tell whose probe a leftover group was.
func probeGroupName() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("avatar-sync-verify-%s-%s", host, hex.EncodeToString(b[:]))
}

// produceProbes writes one marked record to every partition, acks=all, in one Produce request per
// leader, all leaders at once, and returns a result per partition and when the produce started.
// (sarama's producer sent a request per partition unless told to wait for more records.)
func produceProbes(ctx context.Context, client sarama.Client, conf *sarama.Config, parts map[string][]int32, leaders map[probePartition]int32, runID string) ([]health.ProbeResult, time.Time) {
	var results []health.ProbeResult
	byLeader := map[int32]*sarama.ProduceRequest{}
	sent := map[int32][]probePartition{}
	index := map[probePartition]int{}
	now := time.Now()
	for _, topic := range sortedKeys(parts) {
		for _, p := range parts[topic] {
			tp := probePartition{topic, p}
			index[tp] = len(results)
			results = append(results, health.ProbeResult{Topic: topic, Partition: p, Offset: -1})
			leader := leaders[tp]
			if leader < 0 {
				results[index[tp]].Error = "produce: the partition has no leader"
				continue
			}
			req := byLeader[leader]
			if req == nil {
				req = &sarama.ProduceRequest{Version: 7, RequiredAcks: sarama.WaitForAll, Timeout: int32(conf.Producer.Timeout / time.Millisecond)}
				byLeader[leader] = req
			}
			sent[leader] = append(sent[leader], tp)
			req.AddBatch(topic, p, &sarama.RecordBatch{
				Version: 2, FirstTimestamp: now, MaxTimestamp: now, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
				Records: []*sarama.Record{{
					Headers: []*sarama.RecordHeader{{Key: []byte(health.ProbeHeader), Value: []byte(runID)}},
					Value:   []byte(fmt.Sprintf(`{"avatarSyncProbe":%q,"topic":%q,"partition":%d}`, runID, topic, p)),
				}},
			})
		}
	}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	start := time.Now()
	for leader, req := range byLeader {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := call(ctx, func() (*sarama.ProduceResponse, error) {
				b, err := client.Broker(leader)
				if err != nil {
					return nil, err
				}
				if err := b.Open(conf); err != nil && !errors.Is(err, sarama.ErrAlreadyConnected) {
					return nil, err
				}
				return b.Produce(req)
			})
			took := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			for _, tp := range sent[leader] {
				res := &results[index[tp]]
				res.Produce = took
				var blk *sarama.ProduceResponseBlock
				if err == nil {
					blk = resp.GetBlock(tp.topic, tp.id)
				}
				switch {
				case err != nil:
					res.Error = fmt.Sprintf("produce: broker %d: %v", leader, err)
				case blk == nil:
					res.Error = fmt.Sprintf("produce: broker %d did not answer for the partition", leader)
				case blk.Err != sarama.ErrNoError:
					res.Error = "produce: " + kafkaErr(blk.Err, nil).Error()
				default:
					res.Offset = blk.Offset
				}
			}
		}()
	}
	wg.Wait()
	return results, start
}

// probeReader reads the probe records back: one goroutine per leader, each fetching every
// partition that leader leads in one Fetch request at a time, on a connection of its own (a broker
// answers one connection's requests in order, so a waiting Fetch must not hold up the produce).
type probeReader struct {
	runID   string
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	arrived map[probePartition]time.Time // arrival of the run's record
	// errs is the last error reading each partition (positioning or fetching), for the report.
	errs map[probePartition]error
}

// startProbeReader positions a reader at the log end of every partition (one ListOffsets per
// leader) and starts fetching. A partition that cannot be positioned keeps its error in r.errs.
func startProbeReader(ctx context.Context, client sarama.Client, conf *sarama.Config, parts map[string][]int32, leaders map[probePartition]int32, runID string) *probeReader {
	rctx, cancel := context.WithCancel(ctx)
	r := &probeReader{runID: runID, cancel: cancel, arrived: map[probePartition]time.Time{}, errs: map[probePartition]error{}}
	byLeader := map[int32][]probePartition{}
	for _, topic := range sortedKeys(parts) {
		for _, p := range parts[topic] {
			tp := probePartition{topic, p}
			byLeader[leaders[tp]] = append(byLeader[leaders[tp]], tp)
		}
	}
	var positioned sync.WaitGroup
	for leader, tps := range byLeader {
		positioned.Add(1)
		r.wg.Add(1)
		ready := func() { positioned.Done() }
		go func() {
			defer r.wg.Done()
			r.readLeader(rctx, client, conf, leader, tps, ready)
		}()
	}
	positioned.Wait()
	return r
}

// fail records err for every partition of tps.
func (r *probeReader) fail(tps []probePartition, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, tp := range tps {
		r.errs[tp] = err
	}
}

// readLeader positions tps at their log ends on leader, calls ready, and fetches until every
// partition's probe record arrived or ctx ends.
func (r *probeReader) readLeader(ctx context.Context, client sarama.Client, conf *sarama.Config, leader int32, tps []probePartition, ready func()) {
	once := sync.OnceFunc(ready)
	defer once()
	if leader < 0 {
		r.fail(tps, errors.New("the partition has no leader"))
		return
	}
	known, err := client.Broker(leader)
	if err != nil {
		r.fail(tps, fmt.Errorf("leader %d: %w", leader, err))
		return
	}
	lreq := &sarama.OffsetRequest{Version: 1}
	for _, tp := range tps {
		lreq.AddBlock(tp.topic, tp.id, sarama.OffsetNewest, 1)
	}
	lresp, err := call(ctx, func() (*sarama.OffsetResponse, error) {
		if err := known.Open(conf); err != nil && !errors.Is(err, sarama.ErrAlreadyConnected) {
			return nil, err
		}
		return known.GetAvailableOffsets(lreq)
	})
	if err != nil {
		r.fail(tps, fmt.Errorf("log-end offsets from broker %d: %w", leader, err))
		return
	}
	next := map[probePartition]int64{}
	for _, tp := range tps {
		blk := lresp.GetBlock(tp.topic, tp.id)
		switch {
		case blk == nil:
			r.fail([]probePartition{tp}, fmt.Errorf("broker %d did not answer for its log end", leader))
		case blk.Err != sarama.ErrNoError:
			r.fail([]probePartition{tp}, fmt.Errorf("log end: %w", kafkaErr(blk.Err, nil)))
		default:
			next[tp] = blk.Offset
		}
	}
	if len(next) == 0 {
		return
	}
	// A connection of the reader's own to the leader.
	b := sarama.NewBroker(known.Addr())
	if err := b.Open(conf); err != nil {
		r.fail(tps, fmt.Errorf("connect to broker %d: %w", leader, err))
		return
	}
	defer b.Close()
	once()
	for len(next) > 0 && ctx.Err() == nil {
		req := &sarama.FetchRequest{Version: 4, MaxWaitTime: int32(probeFetchWait / time.Millisecond), MinBytes: 1, MaxBytes: 16 << 20, Isolation: sarama.ReadUncommitted}
		for _, tp := range sortedProbePartitions(next) {
			req.AddBlock(tp.topic, tp.id, next[tp], 64<<10, -1)
		}
		resp, err := call(ctx, func() (*sarama.FetchResponse, error) { return b.Fetch(req) })
		if err != nil {
			if ctx.Err() == nil {
				r.fail(tps, fmt.Errorf("fetch from broker %d: %w", leader, err))
			}
			return
		}
		now := time.Now()
		for tp, offset := range next {
			blk := resp.GetBlock(tp.topic, tp.id)
			if blk == nil {
				continue
			}
			if blk.Err != sarama.ErrNoError {
				r.fail([]probePartition{tp}, fmt.Errorf("fetch: %w", kafkaErr(blk.Err, nil)))
				continue
			}
			pos, found := r.scan(blk, offset)
			if found {
				r.mu.Lock()
				r.arrived[tp] = now
				r.mu.Unlock()
				delete(next, tp)
				continue
			}
			next[tp] = pos
		}
	}
}

// scan looks through a fetched block from offset on for the run's probe record, returning where
// the next fetch starts.
func (r *probeReader) scan(blk *sarama.FetchResponseBlock, offset int64) (int64, bool) {
	next := offset
	for _, rs := range blk.RecordsSet {
		if rs == nil || rs.RecordBatch == nil {
			continue
		}
		rb := rs.RecordBatch
		for _, rec := range rb.Records {
			if off := rb.FirstOffset + rec.OffsetDelta; off < offset || rb.Control {
				continue
			}
			for _, h := range rec.Headers {
				if h != nil && string(h.Key) == health.ProbeHeader && string(h.Value) == r.runID {
					return next, true
				}
			}
		}
		next = max(next, rb.FirstOffset+int64(rb.LastOffsetDelta)+1)
	}
	return next, false
}

// sortedProbePartitions orders a fetch's partitions (Fetch v3+ answers them in request order).
func sortedProbePartitions(m map[probePartition]int64) []probePartition {
	out := make([]probePartition, 0, len(m))
	for tp := range m {
		out = append(out, tp)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].topic != out[j].topic {
			return out[i].topic < out[j].topic
		}
		return out[i].id < out[j].id
	})
	return out
}

// stop ends the readers and waits for them (each Fetch waits at most probeFetchWait at the broker).
func (r *probeReader) stop() {
	r.cancel()
	r.wg.Wait()
}

// await waits until every produced record came back, or timeout, and fills in round trips and
// failures. A round trip runs from the start of the produce request, as a reader may see a record
// before the producer has its acknowledgement.
func (r *probeReader) await(ctx context.Context, results []health.ProbeResult, start time.Time, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		r.mu.Lock()
		missing := 0
		for _, res := range results {
			tp := probePartition{res.Topic, res.Partition}
			if res.Error == "" && r.arrived[tp].IsZero() && r.errs[tp] == nil {
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
		tp := probePartition{res.Topic, res.Partition}
		at := r.arrived[tp]
		switch {
		case !at.IsZero():
			results[i].RoundTrip = at.Sub(start)
		case ctx.Err() != nil:
			// Interrupted: not a finding about the cluster (issue 21).
			results[i].Error = fmt.Sprintf("produced at offset %d; verify was interrupted before it came back", res.Offset)
		case r.errs[tp] != nil:
			results[i].Error = fmt.Sprintf("produced at offset %d but not read back: %v", res.Offset, r.errs[tp])
		default:
			results[i].Error = fmt.Sprintf("produced at offset %d but not consumed back within %s", res.Offset, timeout)
		}
	}
}

// checkOffsetCommit is the probe's consumer-group check: it commits, in the run's own group, the
// offset after each record read back (one OffsetCommit at the group's coordinator, as a consumer
// that has processed it would), reads the commits back (one OffsetFetch), and deletes the group.
// The group is deleted whatever happened before, with a context of its own when ctx was
// interrupted, so Ctrl-C leaves no group behind.
func (a *Admin) checkOffsetCommit(ctx context.Context, client sarama.Client, group string, results []health.ProbeResult) (checkErr, deleteErr error) {
	commit := &sarama.OffsetCommitRequest{Version: 2, ConsumerGroup: group, ConsumerGroupGeneration: -1, RetentionTime: -1}
	want := map[probePartition]int64{}
	for _, res := range results {
		if res.Error == "" && res.RoundTrip > 0 {
			commit.AddBlock(res.Topic, res.Partition, res.Offset+1, 0, "")
			want[probePartition{res.Topic, res.Partition}] = res.Offset + 1
		}
	}
	if len(want) == 0 {
		return nil, nil // nothing was read back: no group was created
	}
	coord, err := call(ctx, func() (*sarama.Broker, error) {
		if err := client.RefreshCoordinator(group); err != nil {
			return nil, err
		}
		return client.Coordinator(group)
	})
	if err == nil {
		checkErr = commitAndReadBack(ctx, coord, commit, group, want)
	} else {
		checkErr = fmt.Errorf("offset-commit check: the coordinator of group %q: %w", group, err)
	}
	// The commit may have landed even when its answer did not: always delete, on a fresh context
	// bounded by cleanupTimeout, so that after Ctrl-C the group still goes (issue 21).
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cleanupTimeout())
	defer cancel()
	return checkErr, a.deleteProbeGroup(cctx, client, group)
}

// commitAndReadBack commits at coord and checks that an OffsetFetch returns every commit.
func commitAndReadBack(ctx context.Context, coord *sarama.Broker, commit *sarama.OffsetCommitRequest, group string, want map[probePartition]int64) error {
	cresp, err := call(ctx, func() (*sarama.OffsetCommitResponse, error) { return coord.CommitOffset(commit) })
	if err != nil {
		return fmt.Errorf("offset-commit check: commit in group %q: %w", group, err)
	}
	fetch := &sarama.OffsetFetchRequest{Version: 1, ConsumerGroup: group}
	for tp := range want {
		if kerr := cresp.Errors[tp.topic][tp.id]; kerr != sarama.ErrNoError {
			return fmt.Errorf("offset-commit check: commit of topic %q partition %d in group %q: %w", tp.topic, tp.id, group, kafkaErr(kerr, nil))
		}
		fetch.AddPartition(tp.topic, tp.id)
	}
	fresp, err := call(ctx, func() (*sarama.OffsetFetchResponse, error) { return coord.FetchOffset(fetch) })
	if err != nil {
		return fmt.Errorf("offset-commit check: read back group %q: %w", group, err)
	}
	for tp, off := range want {
		blk := fresp.GetBlock(tp.topic, tp.id)
		if blk == nil || blk.Err != sarama.ErrNoError || blk.Offset != off {
			got := "no answer"
			if blk != nil {
				got = fmt.Sprintf("offset %d (%v)", blk.Offset, blk.Err)
			}
			return fmt.Errorf("offset-commit check: group %q committed offset %d on topic %q partition %d but reads back %s", group, off, tp.topic, tp.id, got)
		}
	}
	return nil
}

// cleanupTimeout bounds deleting the probe group.
func (a *Admin) cleanupTimeout() time.Duration {
	if a.timeout <= 0 {
		return 20 * time.Second
	}
	return 2 * a.timeout
}

// deleteProbeGroup deletes the probe's group at its coordinator. A group that is already gone is
// fine.
func (a *Admin) deleteProbeGroup(ctx context.Context, client sarama.Client, group string) error {
	how := fmt.Sprintf("delete it with: kafka-consumer-groups --delete --group %s", group)
	resp, err := call(ctx, func() (*sarama.DeleteGroupsResponse, error) {
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
