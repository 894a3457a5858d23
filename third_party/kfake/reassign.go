package kfake

// avatar-sync patch (third_party/kfake/PATCHES.md, "Brokers with ids and
// racks, replicas that move"): brokers carry configured node ids and racks,
// every partition has its own replica assignment and ISR, and
// AlterPartitionReassignments moves replicas.

import (
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"strconv"
	"time"
)

const defReassignDelay = 250 * time.Millisecond

// reassignment is a partition reassignment in progress: the replica set is
// target plus the removing replicas until it completes, the reassignment
// delay after it started.
type reassignment struct {
	target   []int32
	orig     []int32
	adding   []int32
	removing []int32
	started  time.Time
}

func checkBrokerIDs(cfg cfg) error {
	if len(cfg.brokerIDs) > 0 && len(cfg.brokerIDs) != cfg.nbrokers {
		return fmt.Errorf("%d broker ids for %d brokers (NumBrokers after BrokerIDs?)", len(cfg.brokerIDs), cfg.nbrokers)
	}
	if len(cfg.brokerIDs) > 0 {
		seen := make(map[int32]bool, len(cfg.brokerIDs))
		for _, id := range cfg.brokerIDs {
			if id < 0 {
				return fmt.Errorf("broker id %d is negative", id)
			}
			if seen[id] {
				return fmt.Errorf("broker id %d is repeated", id)
			}
			seen[id] = true
		}
	}
	if len(cfg.brokerRacks) > 0 && len(cfg.brokerRacks) != cfg.nbrokers {
		return fmt.Errorf("%d broker racks for %d brokers", len(cfg.brokerRacks), cfg.nbrokers)
	}
	return nil
}

func (c *Cluster) brokerByNode(node int32) *broker {
	for _, b := range c.bs {
		if b.node == node {
			return b
		}
	}
	return nil
}

// defaultReplicas is upstream's placement: n brokers starting at the
// leader, in broker order.
func (c *Cluster) defaultReplicas(leader *broker, n int) []int32 {
	if n > len(c.bs) {
		n = len(c.bs)
	}
	if leader == nil || leader.node < 0 || len(c.bs) == 0 {
		return nil
	}
	replicas := make([]int32, 0, n)
	for i := 0; i < n; i++ {
		replicas = append(replicas, c.bs[(leader.bsIdx+i)%len(c.bs)].node)
	}
	return replicas
}

// isr is the partition's in-sync replicas: its live replicas that are not
// marked out of sync (SetOutOfSync) nor being added by a reassignment.
func (c *Cluster) isr(pd *partData) []int32 {
	isr := make([]int32, 0, len(pd.replicas))
	for _, r := range pd.replicas {
		if pd.outOfSync[r] || c.brokerByNode(r) == nil {
			continue
		}
		if pd.reassign != nil && slices.Contains(pd.reassign.adding, r) {
			continue
		}
		isr = append(isr, r)
	}
	return isr
}

// offline is the partition's replicas on brokers the cluster does not have.
func (c *Cluster) offline(pd *partData) []int32 {
	var off []int32
	for _, r := range pd.replicas {
		if c.brokerByNode(r) == nil {
			off = append(off, r)
		}
	}
	return off
}

// startReassignment moves a partition toward target: while in progress the
// replica set is target followed by the replicas being removed, the adding
// replicas are out of the ISR, and ListPartitionReassignments lists it.
func (c *Cluster) startReassignment(pd *partData, target []int32) {
	orig := pd.replicas
	if pd.reassign != nil {
		orig = pd.reassign.orig
	}
	r := &reassignment{
		target:  append([]int32(nil), target...),
		orig:    append([]int32(nil), orig...),
		started: time.Now(),
	}
	for _, t := range target {
		if !slices.Contains(orig, t) {
			r.adding = append(r.adding, t)
		}
	}
	for _, o := range orig {
		if !slices.Contains(target, o) {
			r.removing = append(r.removing, o)
		}
	}
	pd.replicas = append(append([]int32(nil), target...), r.removing...)
	if len(r.adding) == 0 && len(r.removing) == 0 {
		pd.reassign = nil
		c.finishReassignment(pd, target)
		return
	}
	pd.reassign = r
}

// cancelReassignment reverts a partition to its replicas before the
// reassignment; it reports whether one was in progress.
func (c *Cluster) cancelReassignment(pd *partData) bool {
	if pd.reassign == nil {
		return false
	}
	orig := pd.reassign.orig
	pd.reassign = nil
	c.finishReassignment(pd, orig)
	return true
}

// finishReassignment sets the final replicas; leadership follows the
// preferred (first) replica, as Kafka's automatic preferred leader
// election (auto.leader.rebalance.enable, on by default) does.
func (c *Cluster) finishReassignment(pd *partData, replicas []int32) {
	pd.replicas = append([]int32(nil), replicas...)
	for r := range pd.outOfSync {
		if !slices.Contains(replicas, r) {
			delete(pd.outOfSync, r)
		}
	}
	if b := c.brokerByNode(replicas[0]); b != nil && b != pd.leader {
		pd.leader = b
		pd.epoch++
	}
}

// minInsync is the topic's min.insync.replicas, else the broker's, else 1.
func (c *Cluster) minInsync(topic string) int {
	for _, v := range []*string{c.data.tcfgs[topic]["min.insync.replicas"], c.bcfgs["min.insync.replicas"]} {
		if v != nil {
			if n, err := strconv.Atoi(*v); err == nil {
				return n
			}
		}
	}
	return 1
}

func (c *Cluster) reassignDelay() time.Duration {
	if c.cfg.reassignDelay > 0 {
		return c.cfg.reassignDelay
	}
	return defReassignDelay
}

// SetReassignmentDelay changes how long reassignments take, also those in
// progress (measured from their start). (avatar-sync patch)
func (c *Cluster) SetReassignmentDelay(d time.Duration) {
	c.admin(func() { c.cfg.reassignDelay = d })
}

// progressReassignments completes every reassignment whose adding replicas
// have caught up. It runs before each request, so a reassignment completes
// no later than the first request after its delay: nobody can tell.
func (c *Cluster) progressReassignments() {
	if c.reassigning == 0 {
		return
	}
	now := time.Now()
	changed := false
	c.data.tps.each(func(t string, _ int32, pd *partData) {
		if pd.reassign == nil || now.Before(pd.reassign.started.Add(c.reassignDelay())) {
			return
		}
		target := pd.reassign.target
		pd.reassign = nil
		c.reassigning--
		c.finishReassignment(pd, target)
		c.data.treplicas[t] = len(target)
		changed = true
	})
	if changed {
		c.persistTopicsState()
	}
}

// SetOutOfSync marks replicas of a partition as fallen behind: they leave
// the ISR (Metadata, DescribeTopicPartitions) until SetOutOfSync is called
// again without them. A partition whose ISR is smaller than its
// min.insync.replicas refuses acks=all produce requests with
// NOT_ENOUGH_REPLICAS, as Kafka does. (avatar-sync patch)
func (c *Cluster) SetOutOfSync(topic string, partition int32, nodes ...int32) error {
	var err error
	c.admin(func() {
		pd, ok := c.data.tps.getp(topic, partition)
		if !ok {
			err = errors.New("topic/partition not found")
			return
		}
		for _, n := range nodes {
			if n == pd.leader.node {
				err = fmt.Errorf("node %d leads %s-%d; a leader is always in sync", n, topic, partition)
				return
			}
			if !slices.Contains(pd.replicas, n) {
				err = fmt.Errorf("node %d is not a replica of %s-%d (replicas %v)", n, topic, partition, pd.replicas)
				return
			}
		}
		pd.outOfSync = make(map[int32]bool, len(nodes))
		for _, n := range nodes {
			pd.outOfSync[n] = true
		}
	})
	return err
}

func (c *Cluster) nodeIDs() []int32 {
	ids := make([]int32, 0, len(c.bs))
	for _, b := range c.bs {
		ids = append(ids, b.node)
	}
	return ids
}

// checkSavedBrokers decides how state saved by brokers saved maps onto this
// cluster's brokers. State saved before broker ids were recorded (saved ==
// nil) was saved by brokers 0..n-1 in position order, so its node k is this
// cluster's k-th broker (legacyNode). State that names its brokers is
// loaded only by a cluster with the same broker ids: anything else would
// silently give partitions to other brokers.
func (c *Cluster) checkSavedBrokers(saved []int32) error {
	if saved == nil {
		c.legacyIDs = true
		return nil
	}
	now := c.nodeIDs()
	a, b := slices.Clone(saved), slices.Clone(now)
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		return fmt.Errorf("%w: the state was saved by brokers %v, this cluster has brokers %v", ErrBrokersChanged, a, b)
	}
	return nil
}

// ErrBrokersChanged is returned (wrapped) by NewCluster when the data
// directory was saved by brokers with other node ids. (avatar-sync patch)
var ErrBrokersChanged = errors.New("data directory belongs to other broker ids")

// restoreLeader gives a loaded partition its saved leader, a node id (a
// broker position in legacy state). An unknown node keeps the leader the
// partition has.
func (c *Cluster) restoreLeader(pd *partData, node int32) {
	if c.legacyIDs {
		if node < 0 || int(node) >= len(c.bs) {
			return
		}
		node = c.bs[node].node
		// Legacy state has no assignment: upstream derived the
		// replicas from the leader, and so does this.
		pd.leader = c.bs[c.brokerByNode(node).bsIdx]
		pd.replicas = c.defaultReplicas(pd.leader, len(pd.replicas))
		return
	}
	if b := c.brokerByNode(node); b != nil && slices.Contains(pd.replicas, node) {
		pd.leader = b
	}
}

// failOver moves leadership of the partitions a removed broker led to their
// first live in-sync replica (none: no leader), as Kafka's controller does
// when a broker dies. The replicas stay: the removed one is offline and
// out of the ISR until a broker with its id comes back.
func (c *Cluster) failOver(removed int32) {
	c.data.tps.each(func(_ string, _ int32, pd *partData) {
		if pd.leader.node != removed {
			return
		}
		pd.leader = c.noLeader()
		for _, r := range c.isr(pd) {
			if b := c.brokerByNode(r); b != nil {
				pd.leader = b
				break
			}
		}
		pd.epoch++
	})
}

// placeLeaders gives partitions [from, to) of t their leaders as Kafka places them (avatar-sync
// patch): in turn over the brokers from one starting broker — partition 0's preferred replica for
// a topic that has one (CreatePartitions continues the turn), a random broker for a new topic — so
// a topic with as many partitions as brokers leads once on each. Upstream picks a random broker per
// partition, and two of three brokers could lead every partition of a small topic.
func (c *Cluster) placeLeaders(t string, from, to int32) {
	if len(c.bs) == 0 {
		return
	}
	start := rand.Intn(len(c.bs))
	if pd, ok := c.data.tps.getp(t, 0); ok && from > 0 && len(pd.replicas) > 0 {
		if b := c.brokerByNode(pd.replicas[0]); b != nil {
			start = b.bsIdx
		}
	}
	for p := from; p < to; p++ {
		pd, ok := c.data.tps.getp(t, p)
		if !ok {
			continue
		}
		pd.leader = c.bs[(start+int(p))%len(c.bs)]
		pd.replicas = c.defaultReplicas(pd.leader, len(pd.replicas))
	}
}
