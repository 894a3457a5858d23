package health

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/avatar-project/avatar-sync/spec"
)

// ReportVersion is the version of the JSON document `status -o json` writes (docs/status.md).
// It changes only when a field is removed or changes meaning.
const ReportVersion = 1

// ExpectedBroker is a broker the spec declares, under the id the cluster reports it by.
type ExpectedBroker struct {
	ID   int32  `json:"id"`
	Name string `json:"name"` // how the spec names it, e.g. "broker 1 (kafka-broker-1)"
	Rack string `json:"rack,omitempty"`
}

// ExpectedBrokers lists the spec's brokers as the target reports them: under the spec's ids, on
// a real cluster and on the embedded one alike (its brokers carry the spec's ids and racks since
// issue 22).
func ExpectedBrokers(s *spec.Spec) []ExpectedBroker {
	out := make([]ExpectedBroker, 0, len(s.Brokers))
	for _, b := range s.Brokers {
		out = append(out, ExpectedBroker{ID: b.ID, Name: fmt.Sprintf("broker %d (%s)", b.ID, b.Host), Rack: b.Rack})
	}
	return out
}

// Expectation is what the spec and the command line say status should look at.
type Expectation struct {
	Cluster string
	Brokers []ExpectedBroker
	// Topics are the managed topics (the spec's), in spec order.
	Topics []string
	// Group narrows the consumer groups to one (--group); "" = every group.
	Group string
}

// SpecAgreement is the one-line answer to "does the cluster match avatar.yaml": the same plan
// as `avatar-sync plan`.
type SpecAgreement struct {
	InSync         bool   `json:"inSync"`
	PendingChanges int    `json:"pendingChanges"`
	Error          string `json:"error,omitempty"`
}

// Report is the status of one cluster: the `status -o json` document.
type Report struct {
	Version   int       `json:"version"`
	Cluster   string    `json:"cluster"`
	ClusterID string    `json:"clusterId"`
	Time      time.Time `json:"time"`
	// Healthy is false when a spec broker is missing, a broker is unreachable, a managed
	// partition is offline or under its min.insync.replicas, or part of the read failed.
	Healthy  bool           `json:"healthy"`
	Problems []string       `json:"problems"`
	Warnings []string       `json:"warnings"`
	Spec     *SpecAgreement `json:"spec,omitempty"`
	Brokers  []BrokerReport `json:"brokers"`
	Summary  PartitionTotal `json:"partitions"`
	Topics   []TopicReport  `json:"topics"`
	Groups   []GroupReport  `json:"groups"`
	// Kubernetes is the Kubernetes plane, for a target with kubernetes: (nil otherwise).
	Kubernetes *KubeReport `json:"kubernetes,omitempty"`
}

// BrokerReport is one broker, live or expected.
type BrokerReport struct {
	ID         int32  `json:"id"`
	Name       string `json:"name,omitempty"`
	Address    string `json:"address,omitempty"`
	Rack       string `json:"rack,omitempty"`
	Controller bool   `json:"controller"`
	// State is "up", "unreachable", "missing" (in the spec, not in the cluster) or "unexpected"
	// (in the cluster, not in the spec).
	State string `json:"state"`
	Error string `json:"error,omitempty"`
	// Leaders counts the managed partitions this broker leads.
	Leaders int `json:"leaders"`
	// DiskUsedBytes is the size of every replica the broker holds (DescribeLogDirs); -1 = not read.
	DiskUsedBytes int64 `json:"diskUsedBytes"`
}

// PartitionTotal sums the managed topics' partitions.
type PartitionTotal struct {
	Topics          int `json:"topics"`
	Partitions      int `json:"partitions"`
	UnderReplicated int `json:"underReplicated"`
	Offline         int `json:"offline"`
	UnderMinISR     int `json:"underMinIsr"`
	// NotPreferredLeader counts partitions led by a broker other than their first replica.
	NotPreferredLeader int `json:"notPreferredLeader"`
}

// TopicReport is one managed topic.
type TopicReport struct {
	Name string `json:"name"`
	// Missing: the spec names it but the cluster has no such topic (plan creates it).
	Missing           bool    `json:"missing,omitempty"`
	Partitions        int     `json:"partitions"`
	ReplicationFactor int     `json:"replicationFactor"`
	Replicas          int     `json:"replicas"`
	InSyncReplicas    int     `json:"inSyncReplicas"`
	MinInSyncReplicas int     `json:"minInSyncReplicas,omitempty"`
	UnderReplicated   []int32 `json:"underReplicated"`
	Offline           []int32 `json:"offline"`
	UnderMinISR       []int32 `json:"underMinIsr"`
	// NotPreferredLeader lists partitions not led by their first replica.
	NotPreferredLeader []int32 `json:"notPreferredLeader"`
	Error              string  `json:"error,omitempty"`
	// RetentionMs and RetentionBytes are retention.ms and retention.bytes (-1 = unlimited, 0 = not read).
	RetentionMs    int64 `json:"retentionMs"`
	RetentionBytes int64 `json:"retentionBytes"`
	// SizeBytes is the topic's size on disk over all its replicas; LogBytes one copy of its log
	// (the leaders' replicas), whose growth is the bytes/s in. -1 = not (fully) read.
	SizeBytes int64 `json:"sizeBytes"`
	LogBytes  int64 `json:"logBytes"`
	// LogEnd sums the partitions' log-end offsets (-1 = not all read); its growth is messages/s in.
	LogEnd int64 `json:"logEnd"`
	// MessagesPerSec and BytesPerSec are the rates in since the previous sample (status --watch,
	// the status page); nil for a single sample.
	MessagesPerSec *float64 `json:"messagesPerSecond,omitempty"`
	BytesPerSec    *float64 `json:"bytesPerSecond,omitempty"`
}

// GroupReport is one consumer group with its lag.
type GroupReport struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Members int    `json:"members"`
	// Lag is the sum over Topics.
	Lag    int64           `json:"lag"`
	Topics []GroupTopicLag `json:"topics"`
	// LagRate is the change of Lag per second since the previous sample (status --watch, the
	// status page); nil for a single sample.
	LagRate *float64 `json:"lagRatePerSecond,omitempty"`
}

// GroupTopicLag is a group's lag on one topic.
type GroupTopicLag struct {
	Topic      string         `json:"topic"`
	Lag        int64          `json:"lag"`
	Partitions []PartitionLag `json:"partitions"`
}

// PartitionLag is committed offset against log-end offset on one partition. LogEnd is -1 and
// Lag 0 when the log end could not be read.
type PartitionLag struct {
	Partition int32 `json:"partition"`
	Committed int64 `json:"committed"`
	LogEnd    int64 `json:"logEnd"`
	Lag       int64 `json:"lag"`
}

// Assess turns a snapshot into a report. It decides health: the rules are the ones docs/status.md
// lists, so a cron job or CI gate can rely on the exit code.
func Assess(snap Snapshot, exp Expectation, at time.Time) Report {
	r := Report{
		Version: ReportVersion, Cluster: exp.Cluster, ClusterID: snap.ClusterID, Time: at.UTC(),
		Problems: []string{}, Warnings: []string{}, Brokers: []BrokerReport{}, Topics: []TopicReport{}, Groups: []GroupReport{},
	}
	leaders := map[int32]int{}
	for _, name := range exp.Topics {
		t, ok := snap.Topics[name]
		if !ok {
			r.Topics = append(r.Topics, assessMissingTopic(name))
			r.Warnings = append(r.Warnings, fmt.Sprintf("topic %q is in the spec but not on the cluster (apply creates it)", name))
			continue
		}
		tr := assessTopic(t, leaders)
		r.Topics = append(r.Topics, tr)
		r.Summary.Topics++
		r.Summary.Partitions += tr.Partitions
		r.Summary.UnderReplicated += len(tr.UnderReplicated)
		r.Summary.Offline += len(tr.Offline)
		r.Summary.UnderMinISR += len(tr.UnderMinISR)
		r.Summary.NotPreferredLeader += len(tr.NotPreferredLeader)
		if tr.Error != "" {
			r.Problems = append(r.Problems, fmt.Sprintf("topic %q: %s", name, tr.Error))
		}
		if len(tr.Offline) > 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("topic %q: partition(s) %s offline (no leader)", name, ids(tr.Offline)))
		}
		if len(tr.UnderMinISR) > 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("topic %q: partition(s) %s with fewer in-sync replicas than min.insync.replicas %d (producers with acks=all fail)", name, ids(tr.UnderMinISR), tr.MinInSyncReplicas))
		}
		if len(tr.UnderReplicated) > 0 {
			r.Warnings = append(r.Warnings, fmt.Sprintf("topic %q: partition(s) %s under-replicated", name, ids(tr.UnderReplicated)))
		}
	}
	r.Brokers, r.Problems = assessBrokers(snap, exp.Brokers, leaders, r.Problems)
	if r.Summary.NotPreferredLeader > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d partition(s) not led by their preferred replica (leader balance)", r.Summary.NotPreferredLeader))
	}
	r.Groups = assessGroups(snap, exp.Group)
	if exp.Group != "" && len(r.Groups) == 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("consumer group %q does not exist on the cluster", exp.Group))
	}
	r.Problems = append(r.Problems, snap.Errors...)
	r.Warnings = append(r.Warnings, snap.Warnings...)
	r.Healthy = len(r.Problems) == 0
	return r
}

func assessMissingTopic(name string) TopicReport {
	return TopicReport{Name: name, Missing: true, UnderReplicated: []int32{}, Offline: []int32{}, UnderMinISR: []int32{}, NotPreferredLeader: []int32{},
		SizeBytes: -1, LogBytes: -1, LogEnd: -1}
}

// assessTopic classifies each partition. Offline: no leader, or no in-sync replica left.
// Under-min-ISR: fewer in-sync replicas than min.insync.replicas (acks=all producers are
// refused). Under-replicated: fewer in-sync replicas than replicas.
func assessTopic(t TopicState, leaders map[int32]int) TopicReport {
	tr := TopicReport{Name: t.Name, Partitions: len(t.Partitions), MinInSyncReplicas: t.MinISR, Error: t.Err,
		UnderReplicated: []int32{}, Offline: []int32{}, UnderMinISR: []int32{}, NotPreferredLeader: []int32{},
		RetentionMs: t.RetentionMs, RetentionBytes: t.RetentionBytes}
	parts := slices.Clone(t.Partitions)
	sort.Slice(parts, func(i, j int) bool { return parts[i].ID < parts[j].ID })
	tr.SizeBytes, tr.LogBytes, tr.LogEnd = sizesOf(parts)
	for _, p := range parts {
		tr.ReplicationFactor = max(tr.ReplicationFactor, len(p.Replicas))
		tr.Replicas += len(p.Replicas)
		tr.InSyncReplicas += len(p.ISR)
		offline := p.Leader < 0 || len(p.ISR) == 0
		if offline {
			tr.Offline = append(tr.Offline, p.ID)
		} else {
			leaders[p.Leader]++
			if len(p.Replicas) > 0 && p.Replicas[0] != p.Leader {
				tr.NotPreferredLeader = append(tr.NotPreferredLeader, p.ID)
			}
		}
		if len(p.ISR) < len(p.Replicas) {
			tr.UnderReplicated = append(tr.UnderReplicated, p.ID)
		}
		if !offline && t.MinISR > 0 && len(p.ISR) < t.MinISR {
			tr.UnderMinISR = append(tr.UnderMinISR, p.ID)
		}
	}
	return tr
}

// sizesOf sums a topic's replica sizes (all replicas, and the leaders' only) and log-end
// offsets; each is -1 when a part of it was not read.
func sizesOf(parts []PartitionState) (size, logBytes, logEnd int64) {
	for _, p := range parts {
		if size >= 0 {
			for _, r := range p.Replicas {
				n, ok := p.Sizes[r]
				if !ok {
					size = -1
					break
				}
				size += n
			}
		}
		if logBytes >= 0 {
			if n, ok := p.Sizes[p.Leader]; ok && p.Leader >= 0 {
				logBytes += n
			} else {
				logBytes = -1
			}
		}
		if logEnd >= 0 {
			if p.LogEnd >= 0 {
				logEnd += p.LogEnd
			} else {
				logEnd = -1
			}
		}
	}
	return size, logBytes, logEnd
}

// assessBrokers compares the live brokers with the spec's, by id. A spec broker absent from the
// metadata is missing; a live one that no connection reached is unreachable; both are problems.
func assessBrokers(snap Snapshot, expected []ExpectedBroker, leaders map[int32]int, problems []string) ([]BrokerReport, []string) {
	live := map[int32]BrokerState{}
	for _, b := range snap.Brokers {
		live[b.ID] = b
	}
	inSpec := map[int32]ExpectedBroker{}
	for _, e := range expected {
		inSpec[e.ID] = e
	}
	ids := []int32{}
	for id := range live {
		ids = append(ids, id)
	}
	for id := range inSpec {
		if _, ok := live[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := []BrokerReport{}
	for _, id := range ids {
		e, wanted := inSpec[id]
		b, up := live[id]
		br := BrokerReport{ID: id, Name: e.Name, Rack: e.Rack, Controller: up && id == snap.Controller, Leaders: leaders[id], DiskUsedBytes: -1}
		switch {
		case !up:
			br.State = "missing"
			problems = append(problems, fmt.Sprintf("%s is missing from the cluster (%d of %d spec brokers present)", e.Name, countPresent(expected, live), len(expected)))
		case !b.Reachable:
			br.State = "unreachable"
			br.Error = b.Err
			problems = append(problems, fmt.Sprintf("broker %d at %s:%d is unreachable: %s", id, b.Host, b.Port, b.Err))
		case !wanted && len(expected) > 0:
			br.State = "unexpected"
		default:
			br.State = "up"
		}
		if up {
			br.DiskUsedBytes = b.DiskUsed
			br.Address = fmt.Sprintf("%s:%d", b.Host, b.Port)
			if b.Rack != "" {
				br.Rack = b.Rack
			}
		}
		out = append(out, br)
	}
	return out, problems
}

func countPresent(expected []ExpectedBroker, live map[int32]BrokerState) int {
	n := 0
	for _, e := range expected {
		if _, ok := live[e.ID]; ok {
			n++
		}
	}
	return n
}

// assessGroups computes lag per group, topic and partition: log-end offset minus committed
// offset, never negative (a commit can overtake a log end read a moment earlier).
func assessGroups(snap Snapshot, only string) []GroupReport {
	out := []GroupReport{}
	for _, g := range snap.Groups {
		if only != "" && g.Name != only {
			continue
		}
		gr := GroupReport{Name: g.Name, State: g.State, Members: g.Members, Topics: []GroupTopicLag{}}
		for _, topic := range sortedTopics(g.Committed) {
			tl := GroupTopicLag{Topic: topic, Partitions: []PartitionLag{}}
			logEnd := map[int32]int64{}
			for _, p := range snap.Topics[topic].Partitions {
				logEnd[p.ID] = p.LogEnd
			}
			parts := []int32{}
			for p := range g.Committed[topic] {
				parts = append(parts, p)
			}
			slices.Sort(parts)
			for _, p := range parts {
				pl := PartitionLag{Partition: p, Committed: g.Committed[topic][p], LogEnd: -1}
				if end, ok := logEnd[p]; ok && end >= 0 {
					pl.LogEnd = end
					pl.Lag = max(0, end-pl.Committed)
				}
				tl.Lag += pl.Lag
				tl.Partitions = append(tl.Partitions, pl)
			}
			gr.Lag += tl.Lag
			gr.Topics = append(gr.Topics, tl)
		}
		out = append(out, gr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func sortedTopics(m map[string]map[int32]int64) []string {
	out := make([]string, 0, len(m))
	for t := range m {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// WithRates sets the rates between the previous report and this one: each group's LagRate
// (positive when the group falls behind, negative when it catches up) and each topic's messages/s
// and bytes/s in, from the growth of its log-end offsets and of its log's size. Groups and topics
// new since prev, or not fully read in either, get none. Bytes/s is never negative: retention
// deleting a segment is not traffic.
func WithRates(prev, cur Report) Report {
	secs := cur.Time.Sub(prev.Time).Seconds()
	if secs <= 0 {
		return cur
	}
	before := map[string]int64{}
	for _, g := range prev.Groups {
		before[g.Name] = g.Lag
	}
	for i, g := range cur.Groups {
		if lag, ok := before[g.Name]; ok {
			rate := float64(g.Lag-lag) / secs
			cur.Groups[i].LagRate = &rate
		}
	}
	topics := map[string]TopicReport{}
	for _, t := range prev.Topics {
		topics[t.Name] = t
	}
	for i, t := range cur.Topics {
		p, ok := topics[t.Name]
		if !ok || p.Partitions != t.Partitions {
			continue // new, or partitions added: the sums are not comparable
		}
		if p.LogEnd >= 0 && t.LogEnd >= 0 {
			rate := max(0, float64(t.LogEnd-p.LogEnd)/secs)
			cur.Topics[i].MessagesPerSec = &rate
		}
		if p.LogBytes >= 0 && t.LogBytes >= 0 {
			rate := max(0, float64(t.LogBytes-p.LogBytes)/secs)
			cur.Topics[i].BytesPerSec = &rate
		}
	}
	return cur
}

func ids(ps []int32) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ",")
}
