package clusters

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/IBM/sarama"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/topics"
)

// This file holds the reads; write.go holds the requests that change the cluster (issue 9).

// Describe reads the whole live state in a fixed number of requests, whatever the number of
// topics up to 10,000: one Metadata for every topic (brokers, racks, controller, cluster id,
// replicas), one DescribeConfigs carrying every topic as a resource (one per 10,000 topics beyond,
// the next asked while the last is read), and, once avatar-sync recorded any, the inventory of
// managed topics (ListOffsets and Fetch of InventoryTopic, on the leader that Metadata names), and
// the access control (DescribeAcls, DescribeUserScramCredentials, DescribeClientQuotas). Once an
// inventory exists, its read and the access control's run on its leader's connection beside the
// topic configs: the plan waits for the longer read, not for their sum (issue 23). Topic configs
// may be asked of any broker, so a single request is the protocol's minimum.
func (a *Admin) Describe(ctx context.Context) (plans.Live, error) {
	live, _, err := a.describe(ctx)
	return live, err
}

// describeConfigsBatch is the most topics one DescribeConfigs asks about. Every config of a topic
// comes back, defaults included (about 1.4 KB a topic from kfake): 100,000 topics in one request
// answered 141 MB, past the 100 MB sarama accepts (sarama.MaxResponseSize), so a cluster that large
// could not be planned (issue 23). Up to 10,000 topics it is still one request.
var describeConfigsBatch = 10000

// describe is Describe that also returns the Metadata response it read (nil when that read
// failed), so status builds its health snapshot from the same read (issue 23).
func (a *Admin) describe(ctx context.Context) (plans.Live, *sarama.MetadataResponse, error) {
	return a.read(ctx, nil)
}

// read is Describe (scope nil: every topic with every config, the inventory and the access
// control) and DescribeScope (only what scope names) in one path (issue 20): one open of the
// bootstrap connection, which carries the Metadata and the DescribeConfigs batches; the inventory
// and the access control, when read, beside them; the topic configs folded by one configDecoder.
// It also returns the Metadata response (nil when that read failed).
func (a *Admin) read(ctx context.Context, scope *reconcile.ReadScope) (plans.Live, *sarama.MetadataResponse, error) {
	whole := scope == nil
	b, err := a.anyBroker(ctx)
	if err != nil {
		return plans.Live{}, nil, err
	}
	var names []string // nil: every topic
	if !whole {
		// The inventory topic is always asked for: a Metadata request naming no topic would list
		// every topic of the cluster.
		names = append(sortedKeys(scope.Topics), InventoryTopic)
	}
	md, err := call(ctx, func() (*sarama.MetadataResponse, error) {
		return b.GetMetadata(sarama.NewMetadataRequest(a.conf.Version, names))
	})
	if err != nil {
		return plans.Live{}, nil, fmt.Errorf("read metadata of cluster %q: %w", a.name, err)
	}
	a.learn(md)
	live := liveFromMetadata(md)
	if !whole {
		if _, named := scope.Topics[InventoryTopic]; !named {
			delete(live.Topics, InventoryTopic)
		}
	}

	var errs []error
	for _, t := range md.Topics {
		if !topicReadable(t.Err) && !errors.Is(t.Err, sarama.ErrUnknownTopicOrPartition) {
			errs = append(errs, fmt.Errorf("topic %q: %w", t.Name, kafkaErr(t.Err, nil)))
		}
	}
	// The inventory and the access control depend on nothing but the Metadata above: they are
	// read while the topic configs are, so a read waits for the longer of them, not for their sum
	// (issue 23). They need a connection of their own: a sarama Broker holds its lock from a
	// request to its answer, so requests on one connection go one after another. Both use the
	// inventory leader's connection, one after the other, which the inventory read opens anyway.
	// A cluster without an inventory (or a read that does not ask for it) opens no other
	// connection (a cluster reachable only through its bootstrap address stays plannable): the
	// access requests follow the configs on the bootstrap connection, as they do when the
	// leader's cannot be opened. An early return cancels the reads.
	readInventory, readAccess := whole || scope.Inventory, whole || scope.Access
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type sideReads struct {
		inventory         []string
		access            plans.LiveAccess
		invErr, accessErr error
	}
	side := goCall(rctx, func() (sideReads, error) {
		var r sideReads
		ab := b
		if readInventory {
			r.inventory, r.invErr = a.readInventory(rctx, md)
			if id, ok := partitionLeader(md, InventoryTopic); ok && id >= 0 {
				if lb, err := a.broker(rctx, id); err == nil {
					ab = lb
				}
			}
		}
		if readAccess {
			r.access, r.accessErr = a.readAccess(rctx, ab)
		}
		return r, nil
	})

	// Which topics' configs to ask for, and which keys (all of them, nil, for a whole read).
	ask := sortedKeys(live.Topics)
	keys := func(string) []string { return nil }
	if !whole {
		ask = slices.DeleteFunc(ask, func(name string) bool { return len(scope.Topics[name]) == 0 })
		keys = func(name string) []string { return scope.Topics[name] }
	}
	configs := newConfigDecoder()
	fold := func(resp *sarama.DescribeConfigsResponse) {
		for _, r := range resp.Resources {
			t, ok := live.Topics[r.Name]
			switch {
			case !ok:
			case errors.Is(sarama.KError(r.ErrorCode), sarama.ErrUnknownTopicOrPartition):
				delete(live.Topics, r.Name) // deleted between the two requests: gone, not an error
			case r.ErrorCode != 0:
				msg := r.ErrorMsg
				errs = append(errs, fmt.Errorf("describe configs of topic %q: %w", r.Name, kafkaErr(sarama.KError(r.ErrorCode), &msg)))
			default:
				t.Config = configs.config(r.Configs)
				live.Topics[r.Name] = t
			}
		}
	}
	if err := describeConfigBatches(ctx, b, ask, keys, fold); err != nil {
		return plans.Live{}, md, fmt.Errorf("describe topic configs of cluster %q: %w", a.name, err)
	}
	r, err := side()
	if err != nil { // ctx ended while waiting
		r.invErr, r.accessErr = err, err
	}
	if r.invErr != nil {
		errs = append(errs, r.invErr)
	}
	live.Inventory = r.inventory
	if live.Access = r.access; r.accessErr != nil {
		errs = append(errs, fmt.Errorf("read access control: %w", r.accessErr))
	}
	if err := errors.Join(errs...); err != nil {
		return live, md, fmt.Errorf("cluster %q: %w", a.name, err)
	}
	return live, md, nil
}

// describeConfigBatches asks b for the configs of the named topics (keys(name) nil: every key),
// describeConfigsBatch topics a request, and hands each answer to fold in order. The next batch
// is asked for while fold reads this one: the broker answers (and sarama decodes) one while the
// other is folded in, two answers held at most (issue 23).
func describeConfigBatches(ctx context.Context, b *sarama.Broker, names []string, keys func(string) []string, fold func(*sarama.DescribeConfigsResponse)) error {
	batches := slices.Collect(slices.Chunk(names, describeConfigsBatch))
	request := func(names []string) func() (*sarama.DescribeConfigsResponse, error) {
		req := &sarama.DescribeConfigsRequest{Version: 4, Resources: make([]*sarama.ConfigResource, 0, len(names))}
		for _, name := range names {
			req.Resources = append(req.Resources, &sarama.ConfigResource{Type: sarama.TopicResource, Name: name, ConfigNames: keys(name)})
		}
		return goCall(ctx, func() (*sarama.DescribeConfigsResponse, error) { return b.DescribeConfigs(req) })
	}
	var next func() (*sarama.DescribeConfigsResponse, error)
	if len(batches) > 0 {
		next = request(batches[0])
	}
	for i := range batches {
		resp, err := next()
		if err != nil {
			return err
		}
		if i+1 < len(batches) {
			next = request(batches[i+1])
		}
		fold(resp)
	}
	return nil
}

// partitionLeader is the leader of topic's partition 0 as md names it, -1 when none is elected;
// ok is false when md does not list the topic (it does not exist, or md was not asked about it).
// The inventory and the apply lock are single-partition topics found this way (issue 20: one
// function for both).
func partitionLeader(md *sarama.MetadataResponse, topic string) (leader int32, ok bool) {
	for _, t := range md.Topics {
		if t.Name != topic || t.Err != sarama.ErrNoError {
			continue
		}
		for _, p := range t.Partitions {
			if p.ID == 0 {
				return p.Leader, true
			}
		}
		return -1, true
	}
	return -1, false
}

// metadataBrokers lists a Metadata response's brokers by ID; plan (Live) and status (Snapshot) both
// start from it.
func metadataBrokers(md *sarama.MetadataResponse) []topics.Broker {
	out := make([]topics.Broker, 0, len(md.Brokers))
	for _, b := range md.Brokers {
		host, port := splitHostPort(b.Addr())
		out = append(out, topics.Broker{ID: b.ID(), Host: host, Port: port, Rack: b.Rack()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// liveFromMetadata converts a Metadata response; pure, so it is table-tested.
func liveFromMetadata(md *sarama.MetadataResponse) plans.Live {
	live := plans.Live{Controller: md.ControllerID, Topics: map[string]topics.Observed{}}
	if md.ClusterID != nil {
		live.ClusterID = *md.ClusterID
	}
	live.Brokers = metadataBrokers(md)
	for _, t := range md.Topics {
		if !topicReadable(t.Err) {
			continue
		}
		o := topics.Observed{
			Name:     t.Name,
			Replicas: make(map[int32][]int32, len(t.Partitions)),
			Config:   map[string]topics.ConfigValue{},
			Internal: t.IsInternal || topics.IsInternalName(t.Name),
		}
		for _, p := range t.Partitions {
			o.Replicas[p.ID] = append([]int32(nil), p.Replicas...)
		}
		live.Topics[t.Name] = o
	}
	return live
}

// topicReadable: the topic exists and its partitions are listed. LEADER_NOT_AVAILABLE (a topic
// still being created, or a broker restarting) still lists them; treating it as absent would make
// plan propose creating a topic that exists.
func topicReadable(err sarama.KError) bool {
	return errors.Is(err, sarama.ErrNoError) || errors.Is(err, sarama.ErrLeaderNotAvailable)
}

// configDecoder turns the DescribeConfigs answers of one Describe into topic configs, holding each
// distinct name, value and set of entries once (issue 23). A topic answers about 35 entries, nearly
// all the same for every topic (the defaults, and the topicDefaults a spec gives them all): at
// 100,000 topics a map and two strings per entry and topic were 450 MB of a plan's live state.
// Names and values are interned, and topics whose entries are equal (names, values, sources, in the
// broker's order) share one map. Every described entry is kept with where its value comes from;
// only a dynamic topic config counts as "set on the topic", so broker or Kafka defaults never look
// like drift. Live's config maps are read only, as they always were: nothing changes a described
// topic's map.
type configDecoder struct {
	strs map[string]string
	sets map[uint64][]configSet // by the hash of their entries; at most maxConfigSets
	n    int                    // sets remembered
	seed maphash.Seed
	last configSet     // the previous topic's: the next topic's entries are nearly always the same
	buf  []configEntry // this topic's entries
}

// maxConfigSets bounds the sets a Describe remembers beyond the previous topic's (each costs its
// entries, about 1.4 KB): a cluster whose topics all differ shares nothing and must not pay for
// trying.
const maxConfigSets = 1000

// configEntry is one described entry, its strings interned.
type configEntry struct {
	name string
	v    topics.ConfigValue
}

// configSet is the entries of a topic and the map every topic with exactly these entries shares.
type configSet struct {
	entries []configEntry
	config  map[string]topics.ConfigValue
}

func newConfigDecoder() *configDecoder {
	return &configDecoder{strs: map[string]string{}, sets: map[uint64][]configSet{}, seed: maphash.MakeSeed()}
}

// intern returns s, or the equal string met before; at is what the previous topic had at the same
// position, compared first, so the common case needs no map.
func (d *configDecoder) intern(s, at string) string {
	if s == at {
		return at
	}
	if v, ok := d.strs[s]; ok {
		return v
	}
	d.strs[s] = s
	return s
}

// config is the topic config of one resource's entries.
func (d *configDecoder) config(entries []*sarama.ConfigEntry) map[string]topics.ConfigValue {
	cur := d.buf[:0]
	for i, e := range entries {
		var at configEntry
		if i < len(d.last.entries) {
			at = d.last.entries[i]
		}
		cur = append(cur, configEntry{name: d.intern(e.Name, at.name),
			v: topics.ConfigValue{Value: d.intern(e.Value, at.v.Value), Source: configSource(e), Sensitive: e.Sensitive}})
	}
	d.buf = cur
	if d.last.config != nil && slices.Equal(cur, d.last.entries) {
		return d.last.config
	}
	var h maphash.Hash
	h.SetSeed(d.seed)
	for _, c := range cur {
		h.WriteString(c.name)
		h.WriteByte(0)
		h.WriteString(c.v.Value)
		h.WriteByte(0)
		h.WriteByte(byte(c.v.Source))
		if c.v.Sensitive {
			h.WriteByte(1)
		}
	}
	sum := h.Sum64()
	for _, set := range d.sets[sum] {
		if slices.Equal(cur, set.entries) {
			d.last = set
			return set.config
		}
	}
	set := configSet{entries: slices.Clone(cur), config: make(map[string]topics.ConfigValue, len(cur))}
	for _, c := range cur {
		set.config[c.name] = c.v
	}
	if d.n < maxConfigSets {
		d.sets[sum] = append(d.sets[sum], set)
		d.n++
	}
	d.last = set
	return set.config
}

func configSource(e *sarama.ConfigEntry) topics.ConfigSource {
	switch e.Source {
	case sarama.SourceTopic:
		return topics.SourceTopic
	case sarama.SourceDynamicBroker:
		return topics.SourceDynamicBroker
	case sarama.SourceDynamicDefaultBroker:
		return topics.SourceDynamicDefaultBroker
	case sarama.SourceStaticBroker:
		return topics.SourceStaticBroker
	case sarama.SourceDefault:
		return topics.SourceDefault
	}
	return topics.SourceUnknown
}

func splitHostPort(addr string) (string, int32) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return addr, 0
	}
	var port int32
	_, _ = fmt.Sscan(addr[i+1:], &port)
	return addr[:i], port
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ReassignmentsInProgress asks the controller, in one request, which of the topics still move.
// ListPartitionReassignments needs partition ids, which one Metadata request supplies.
func (a *Admin) ReassignmentsInProgress(ctx context.Context, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	md, err := a.topicMetadata(ctx, names)
	if err != nil {
		return nil, err
	}
	req := &sarama.ListPartitionReassignmentsRequest{TimeoutMs: int32(a.timeout.Milliseconds())}
	for _, t := range md.Topics {
		if t.Err != sarama.ErrNoError {
			continue
		}
		ps := make([]int32, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			ps = append(ps, p.ID)
		}
		req.AddBlock(t.Name, ps)
	}
	b, err := a.controller(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := call(ctx, func() (*sarama.ListPartitionReassignmentsResponse, error) { return b.ListPartitionReassignments(req) })
	if err != nil {
		return nil, fmt.Errorf("list reassignments on cluster %q: %w", a.name, err)
	}
	if resp.ErrorCode != sarama.ErrNoError {
		return nil, fmt.Errorf("list reassignments on cluster %q: %w", a.name, kafkaErr(resp.ErrorCode, resp.ErrorMessage))
	}
	var moving []string
	for _, name := range names {
		for _, st := range resp.TopicStatus[name] {
			if len(st.AddingReplicas) > 0 || len(st.RemovingReplicas) > 0 {
				moving = append(moving, name)
				break
			}
		}
	}
	return moving, nil
}

func (a *Admin) topicMetadata(ctx context.Context, names []string) (*sarama.MetadataResponse, error) {
	b, err := a.anyBroker(ctx)
	if err != nil {
		return nil, err
	}
	md, err := call(ctx, func() (*sarama.MetadataResponse, error) {
		return b.GetMetadata(sarama.NewMetadataRequest(a.conf.Version, names))
	})
	if err != nil {
		return nil, fmt.Errorf("read metadata of cluster %q: %w", a.name, err)
	}
	return md, nil
}

// GroupsWithOffsets finds the consumer groups holding committed offsets on the topics. Each broker
// lists the groups it coordinates (ListGroups) and answers one OffsetFetch for all of them (v8
// batches groups), so the cost is two requests per broker whatever the number of groups or topics.
func (a *Admin) GroupsWithOffsets(ctx context.Context, names []string) (map[string][]string, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string][]string{}
	if len(names) == 0 {
		return out, nil
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, br := range a.allBrokers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			found, err := a.brokerGroupOffsets(ctx, br, want)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("broker %d: %w", br.ID(), err))
				return
			}
			for topic, groups := range found {
				out[topic] = append(out[topic], groups...)
			}
		}()
	}
	wg.Wait()
	for t := range out {
		sort.Strings(out[t])
	}
	if err := errors.Join(errs...); err != nil {
		return out, fmt.Errorf("read consumer group offsets on cluster %q: %w", a.name, err)
	}
	return out, nil
}

func (a *Admin) brokerGroupOffsets(ctx context.Context, br *sarama.Broker, want map[string]bool) (map[string][]string, error) {
	b, err := a.openBounded(ctx, br)
	if err != nil {
		return nil, err
	}
	return call(ctx, func() (map[string][]string, error) {
		lg, err := b.ListGroups(&sarama.ListGroupsRequest{Version: 3})
		if err != nil {
			return nil, err
		}
		if lg.Err != sarama.ErrNoError {
			return nil, kafkaErr(lg.Err, nil)
		}
		if len(lg.Groups) == 0 {
			return nil, nil
		}
		req := &sarama.OffsetFetchRequest{Version: 8}
		for _, g := range sortedKeys(lg.Groups) {
			// nil partitions = every topic the group has offsets for.
			req.Groups = append(req.Groups, sarama.OffsetFetchRequestGroup{GroupId: g})
		}
		of, err := b.FetchOffset(req)
		if err != nil {
			return nil, err
		}
		found := map[string][]string{}
		for _, g := range of.Groups {
			if g.Err != sarama.ErrNoError {
				return nil, fmt.Errorf("group %q: %w", g.GroupId, kafkaErr(g.Err, nil))
			}
			for topic, parts := range g.Blocks {
				if !want[topic] {
					continue
				}
				for _, blk := range parts {
					if blk.Err == sarama.ErrNoError && blk.Offset >= 0 {
						found[topic] = append(found[topic], g.GroupId)
						break
					}
				}
			}
		}
		return found, nil
	})
}
