package clusters

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/IBM/sarama"

	"github.com/avatar-project/avatar-sync/health"
	"github.com/avatar-project/avatar-sync/plans"
)

// Health reads what `avatar-sync status` reports (issue 13) in a number of requests that does not
// grow with topics or groups: one Metadata (every topic, with leaders, ISR and offline replicas),
// one DescribeConfigs for the managed topics' min.insync.replicas and retention, then per broker
// one ListGroups, one DescribeGroups and one OffsetFetch (v8 batches groups) for the groups it
// coordinates, one DescribeLogDirs for the sizes of its replicas, and one ListOffsets for the log
// ends of the partitions it leads. A broker that cannot be reached is reported as such in the
// snapshot, not as an error: status is for looking at a sick cluster.
func (a *Admin) Health(ctx context.Context, managed []string) (health.Snapshot, error) {
	b, err := a.anyBroker(ctx)
	if err != nil {
		return health.Snapshot{}, err
	}
	md, err := call(ctx, func() (*sarama.MetadataResponse, error) {
		return b.GetMetadata(sarama.NewMetadataRequest(a.conf.Version, nil))
	})
	if err != nil {
		return health.Snapshot{}, fmt.Errorf("read metadata of cluster %q: %w", a.name, err)
	}
	a.learn(md)
	snap := snapshotFromMetadata(md)
	if err := a.readTopicConfigs(ctx, b, managed, &snap); err != nil {
		snap.Errors = append(snap.Errors, err.Error())
	}
	a.readBrokers(ctx, managed, &snap)
	return snap, nil
}

// StatusRead is what `status` and the watch status page read in one go: the health snapshot and
// the live state the plan needs, from one Metadata and one DescribeConfigs (issue 23).
type StatusRead struct {
	Snapshot health.Snapshot
	Live     plans.Live
	// LiveErr is why the plan's part of the read failed after the Metadata (topic configs, the
	// inventory, access control); the snapshot is still valid and the plan reports it.
	LiveErr error
}

// Status is Health and Describe sharing their reads: the requests of Describe (one Metadata, one
// DescribeConfigs of every topic, the inventory and the access control) and then Health's per
// broker requests. A plan made from Live (PreRead) reads nothing more, so `status` costs the
// requests it needs once, not twice.
func (a *Admin) Status(ctx context.Context, managed []string) (StatusRead, error) {
	live, md, liveErr := a.describe(ctx)
	if md == nil {
		return StatusRead{}, liveErr
	}
	snap := snapshotFromMetadata(md)
	for _, name := range managed {
		t, ok := snap.Topics[name]
		lt, described := live.Topics[name]
		if !ok || !described {
			continue
		}
		for key, c := range lt.Config {
			applyTopicConfig(&t, key, c.Value)
		}
		snap.Topics[name] = t
	}
	if live.Topics == nil && liveErr != nil {
		snap.Errors = append(snap.Errors, liveErr.Error()) // not even the topic configs were read
	}
	a.readBrokers(ctx, managed, &snap)
	return StatusRead{Snapshot: snap, Live: live, LiveErr: liveErr}, nil
}

// PreRead is a reconcile.Cluster whose Describe answers with a read already made (Status's), so a
// plan made right after it does not read the cluster a second time. Every other call goes to the
// cluster. It serves one plan: a second Describe reads the cluster afresh.
type PreRead struct {
	*Admin
	mu   sync.Mutex
	read *StatusRead
}

// NewPreRead wraps a with the read r.
func NewPreRead(a *Admin, r StatusRead) *PreRead { return &PreRead{Admin: a, read: &r} }

// Describe returns the pre-read live state once, then reads the cluster.
func (p *PreRead) Describe(ctx context.Context) (plans.Live, error) {
	p.mu.Lock()
	r := p.read
	p.read = nil
	p.mu.Unlock()
	if r == nil {
		return p.Admin.Describe(ctx)
	}
	return r.Live, r.LiveErr
}

// readBrokers asks every broker, in parallel, for the groups it coordinates and the sizes of its
// replicas, then the leaders for the log ends: the part of the read that grows with brokers.
func (a *Admin) readBrokers(ctx context.Context, managed []string, snap *health.Snapshot) {
	brokers := a.allBrokers()
	groups := make([][]health.GroupState, len(brokers))
	errs := make([]error, len(brokers))
	reach := make([]error, len(brokers))
	dirs := make([]logDirs, len(brokers))
	var wg sync.WaitGroup
	for i, br := range brokers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := a.openBounded(ctx, br)
			if err != nil {
				reach[i] = err
				return
			}
			groups[i], errs[i] = brokerGroups(ctx, conn)
			dirs[i] = brokerLogDirs(ctx, conn)
		}()
	}
	wg.Wait()
	reachable := map[int32]error{}
	for i, br := range brokers {
		reachable[br.ID()] = reach[i]
		snap.Groups = append(snap.Groups, groups[i]...)
		if errs[i] != nil {
			snap.Errors = append(snap.Errors, fmt.Sprintf("consumer groups on broker %d: %v", br.ID(), errs[i]))
		}
	}
	for i, bs := range snap.Brokers {
		snap.Brokers[i].DiskUsed = -1
		err, known := reachable[bs.ID]
		snap.Brokers[i].Reachable = known && err == nil
		if err != nil {
			snap.Brokers[i].Err = connectCause(err, a.conf)
		} else if !known {
			snap.Brokers[i].Err = "not connected"
		}
	}
	for i, br := range brokers {
		if reach[i] == nil {
			applyLogDirs(snap, br.ID(), dirs[i])
		}
	}
	sort.Slice(snap.Groups, func(i, j int) bool { return snap.Groups[i].Name < snap.Groups[j].Name })

	a.readLogEnds(ctx, brokers, reachable, managed, snap)
}

// logDirs is one broker's DescribeLogDirs answer: the size of each replica it holds.
type logDirs struct {
	sizes map[string]map[int32]int64
	used  int64
	err   error
}

// brokerLogDirs asks one broker for the sizes of every replica it holds, in one DescribeLogDirs.
func brokerLogDirs(ctx context.Context, b *sarama.Broker) logDirs {
	resp, err := call(ctx, func() (*sarama.DescribeLogDirsResponse, error) {
		return b.DescribeLogDirs(&sarama.DescribeLogDirsRequest{Version: 1})
	})
	if err != nil {
		return logDirs{err: err}
	}
	return logDirsFrom(resp)
}

// logDirsFrom sums a DescribeLogDirs response; pure, so it is table-tested.
func logDirsFrom(resp *sarama.DescribeLogDirsResponse) logDirs {
	out := logDirs{sizes: map[string]map[int32]int64{}}
	var failed []string
	for _, d := range resp.LogDirs {
		if d.ErrorCode != sarama.ErrNoError {
			failed = append(failed, fmt.Sprintf("%s: %v", d.Path, d.ErrorCode))
			continue
		}
		for _, t := range d.Topics {
			for _, p := range t.Partitions {
				if p.IsTemporary {
					continue // a future replica being moved between directories
				}
				if out.sizes[t.Topic] == nil {
					out.sizes[t.Topic] = map[int32]int64{}
				}
				out.sizes[t.Topic][p.PartitionID] += p.Size
				out.used += p.Size
			}
		}
	}
	if len(failed) > 0 {
		out.err = fmt.Errorf("log directories %s", strings.Join(failed, ", "))
	}
	return out
}

// applyLogDirs records one broker's replica sizes in the snapshot. Only replicas the metadata
// places on the broker count: a directory listing that names others is not trusted with them.
func applyLogDirs(snap *health.Snapshot, broker int32, d logDirs) {
	if d.err != nil {
		snap.Warnings = append(snap.Warnings, fmt.Sprintf("disk use of broker %d not read: %v", broker, d.err))
		if d.sizes == nil {
			return
		}
	}
	for i := range snap.Brokers {
		if snap.Brokers[i].ID == broker {
			snap.Brokers[i].DiskUsed = d.used
		}
	}
	for name, parts := range d.sizes {
		t, ok := snap.Topics[name]
		if !ok {
			continue
		}
		for i, p := range t.Partitions {
			size, ok := parts[p.ID]
			if !ok || !slices.Contains(p.Replicas, broker) {
				continue
			}
			if t.Partitions[i].Sizes == nil {
				t.Partitions[i].Sizes = map[int32]int64{}
			}
			t.Partitions[i].Sizes[broker] = size
		}
	}
}

// snapshotFromMetadata converts a Metadata response; pure, so it is table-tested.
func snapshotFromMetadata(md *sarama.MetadataResponse) health.Snapshot {
	snap := health.Snapshot{Controller: md.ControllerID, Topics: map[string]health.TopicState{}}
	if md.ClusterID != nil {
		snap.ClusterID = *md.ClusterID
	}
	for _, b := range metadataBrokers(md) {
		snap.Brokers = append(snap.Brokers, health.BrokerState{ID: b.ID, Host: b.Host, Port: b.Port, Rack: b.Rack})
	}
	for _, t := range md.Topics {
		ts := health.TopicState{Name: t.Name, Internal: t.IsInternal}
		if !topicReadable(t.Err) {
			ts.Err = kafkaErr(t.Err, nil).Error()
		}
		for _, p := range t.Partitions {
			ps := health.PartitionState{
				ID: p.ID, Leader: p.Leader, LogEnd: -1,
				Replicas: append([]int32(nil), p.Replicas...),
				ISR:      append([]int32(nil), p.Isr...),
				Offline:  append([]int32(nil), p.OfflineReplicas...),
			}
			if errors.Is(p.Err, sarama.ErrLeaderNotAvailable) {
				ps.Leader = -1
			}
			ts.Partitions = append(ts.Partitions, ps)
		}
		snap.Topics[t.Name] = ts
	}
	return snap
}

// readTopicConfigs asks one broker for min.insync.replicas and retention of every managed topic,
// in one request.
func (a *Admin) readTopicConfigs(ctx context.Context, b *sarama.Broker, managed []string, snap *health.Snapshot) error {
	req := &sarama.DescribeConfigsRequest{Version: 4}
	for _, name := range managed {
		if _, ok := snap.Topics[name]; ok {
			req.Resources = append(req.Resources, &sarama.ConfigResource{Type: sarama.TopicResource, Name: name,
				ConfigNames: []string{"min.insync.replicas", "retention.ms", "retention.bytes"}})
		}
	}
	if len(req.Resources) == 0 {
		return nil
	}
	resp, err := call(ctx, func() (*sarama.DescribeConfigsResponse, error) { return b.DescribeConfigs(req) })
	if err != nil {
		return fmt.Errorf("describe min.insync.replicas on cluster %q: %w", a.name, err)
	}
	for _, r := range resp.Resources {
		t, ok := snap.Topics[r.Name]
		if !ok || r.ErrorCode != 0 {
			continue
		}
		for _, c := range r.Configs {
			applyTopicConfig(&t, c.Name, c.Value)
		}
		snap.Topics[r.Name] = t
	}
	return nil
}

// applyTopicConfig keeps the configs status shows: min.insync.replicas and retention.
func applyTopicConfig(t *health.TopicState, name, value string) {
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return
	}
	switch name {
	case "min.insync.replicas":
		t.MinISR = int(n)
	case "retention.ms":
		t.RetentionMs = n
	case "retention.bytes":
		t.RetentionBytes = n
	}
}

// brokerGroups lists the groups one broker coordinates, with state, members and committed
// offsets: three requests whatever the number of groups.
func brokerGroups(ctx context.Context, b *sarama.Broker) ([]health.GroupState, error) {
	return call(ctx, func() ([]health.GroupState, error) {
		lg, err := b.ListGroups(&sarama.ListGroupsRequest{Version: 3})
		if err != nil {
			return nil, err
		}
		if lg.Err != sarama.ErrNoError {
			return nil, kafkaErr(lg.Err, nil)
		}
		names := []string{}
		for name, protocolType := range lg.Groups {
			// Only consumer groups have offsets and lag; "" is a group that only commits offsets.
			if protocolType == "consumer" || protocolType == "" {
				names = append(names, name)
			}
		}
		if len(names) == 0 {
			return nil, nil
		}
		sort.Strings(names)
		dg, err := b.DescribeGroups(&sarama.DescribeGroupsRequest{Version: 4, Groups: names})
		if err != nil {
			return nil, fmt.Errorf("describe groups: %w", err)
		}
		byName := map[string]*health.GroupState{}
		out := make([]health.GroupState, 0, len(names))
		for _, name := range names {
			out = append(out, health.GroupState{Name: name, Committed: map[string]map[int32]int64{}})
		}
		for i := range out {
			byName[out[i].Name] = &out[i]
		}
		for _, d := range dg.Groups {
			if g := byName[d.GroupId]; g != nil && d.Err == sarama.ErrNoError {
				g.State, g.Members = d.State, len(d.Members)
			}
		}
		req := &sarama.OffsetFetchRequest{Version: 8}
		for _, name := range names {
			req.Groups = append(req.Groups, sarama.OffsetFetchRequestGroup{GroupId: name})
		}
		of, err := b.FetchOffset(req)
		if err != nil {
			return nil, fmt.Errorf("fetch committed offsets: %w", err)
		}
		for _, r := range of.Groups {
			g := byName[r.GroupId]
			if g == nil {
				continue
			}
			if r.Err != sarama.ErrNoError {
				return nil, fmt.Errorf("group %q: %w", r.GroupId, kafkaErr(r.Err, nil))
			}
			for topic, parts := range r.Blocks {
				for p, blk := range parts {
					if blk.Err != sarama.ErrNoError || blk.Offset < 0 {
						continue
					}
					if g.Committed[topic] == nil {
						g.Committed[topic] = map[int32]int64{}
					}
					g.Committed[topic][p] = blk.Offset
				}
			}
		}
		return out, nil
	})
}

// readLogEnds asks each leader, in one ListOffsets, for the log-end offsets of the partitions it
// leads among the managed topics and the topics some group committed offsets on.
func (a *Admin) readLogEnds(ctx context.Context, brokers []*sarama.Broker, reachable map[int32]error, managed []string, snap *health.Snapshot) {
	wanted := map[string]bool{}
	for _, t := range managed {
		wanted[t] = true
	}
	for _, g := range snap.Groups {
		for t := range g.Committed {
			wanted[t] = true
		}
	}
	reqs := map[int32]*sarama.OffsetRequest{}
	for name := range wanted {
		t, ok := snap.Topics[name]
		if !ok {
			continue
		}
		for _, p := range t.Partitions {
			if p.Leader < 0 {
				continue
			}
			if reqs[p.Leader] == nil {
				reqs[p.Leader] = &sarama.OffsetRequest{Version: 1}
			}
			reqs[p.Leader].AddBlock(name, p.ID, sarama.OffsetNewest, 1)
		}
	}
	byID := map[int32]*sarama.Broker{}
	for _, b := range brokers {
		byID[b.ID()] = b
	}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	ends := map[string]map[int32]int64{}
	for leader, req := range reqs {
		br := byID[leader]
		if br == nil || reachable[leader] != nil {
			continue // its partitions keep LogEnd -1; the broker is reported unreachable or missing
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := call(ctx, func() (*sarama.OffsetResponse, error) { return br.GetAvailableOffsets(req) })
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				snap.Errors = append(snap.Errors, fmt.Sprintf("log-end offsets from broker %d: %v", leader, err))
				return
			}
			for topic, parts := range resp.Blocks {
				for p, blk := range parts {
					if blk.Err != sarama.ErrNoError {
						continue
					}
					if ends[topic] == nil {
						ends[topic] = map[int32]int64{}
					}
					ends[topic][p] = blk.Offset
				}
			}
		}()
	}
	wg.Wait()
	for topic, parts := range ends {
		t := snap.Topics[topic]
		for i, p := range t.Partitions {
			if end, ok := parts[p.ID]; ok {
				t.Partitions[i].LogEnd = end
			}
		}
	}
	sort.Strings(snap.Errors)
	sort.Strings(snap.Warnings)
}
