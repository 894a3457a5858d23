package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/avatar-project/avatar-sync/spec"
	"github.com/avatar-project/avatar-sync/topics"
)

// Action is what a Change does. It is a closed set: renderers, Apply and the JSON schema all
// switch over it exhaustively.
type Action int

// Actions.
const (
	NoOp Action = iota // nothing changes; the change is shown for information (drift, unmanaged topics)
	Create
	Update
	Delete
	// Unsupported is a difference Kafka cannot resolve (shrinking partitions, more replicas than
	// brokers); it is shown with what to do instead, and Apply refuses a plan holding one.
	Unsupported
)

var actionNames = []string{"no-op", "create", "update", "delete", "unsupported"}

// String is the action's name in plans and JSON.
func (a Action) String() string { return enumName(actionNames, int(a)) }

// MarshalText makes the JSON form the name, so the schema does not leak iota values.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses a name written by MarshalText.
func (a *Action) UnmarshalText(b []byte) error { return enumParse(actionNames, "action", b, (*int)(a)) }

// Kind is what a Change is about.
type Kind int

// Kinds.
const (
	KindTopic       Kind = iota // a whole topic: create, delete, unmanaged
	KindPartitions              // partition count
	KindConfig                  // dynamic topic configs
	KindReplication             // replication factor, via replica reassignment
	KindCert                    // TLS material; appended to plans by cmd from the certs package
)

var kindNames = []string{"topic", "partitions", "config", "replication", "cert"}

// String is the kind's name in plans and JSON.
func (k Kind) String() string { return enumName(kindNames, int(k)) }

// MarshalText makes the JSON form the name.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText parses a name written by MarshalText.
func (k *Kind) UnmarshalText(b []byte) error { return enumParse(kindNames, "kind", b, (*int)(k)) }

// Risk grades what can go wrong when a Change is applied. Apply refuses RiskDataLoss without
// ApplyOptions.AllowDataLoss.
type Risk int

// Risks.
const (
	RiskNone Risk = iota
	// RiskDataLoss: records are destroyed (retention lowered, compaction enabled, topic deleted).
	RiskDataLoss
	// RiskHeavy: the change moves data between brokers (replica reassignment) and takes time.
	RiskHeavy
	// RiskUnsupported: Kafka cannot do it; see the change's Reason.
	RiskUnsupported
)

var riskNames = []string{"none", "data-loss", "heavy", "unsupported"}

// String is the risk's name in JSON ("data-loss"); Label is the human form.
func (r Risk) String() string { return enumName(riskNames, int(r)) }

// Label is the phrase plans print next to a risky change.
func (r Risk) Label() string {
	switch r {
	case RiskDataLoss:
		return "DATA LOSS"
	case RiskHeavy:
		return "HEAVY"
	case RiskUnsupported:
		return "UNSUPPORTED"
	}
	return ""
}

// MarshalText makes the JSON form the name.
func (r Risk) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses a name written by MarshalText.
func (r *Risk) UnmarshalText(b []byte) error { return enumParse(riskNames, "risk", b, (*int)(r)) }

func enumName(names []string, i int) string {
	if i < 0 || i >= len(names) {
		return fmt.Sprintf("unknown(%d)", i)
	}
	return names[i]
}

func enumParse(names []string, what string, b []byte, dst *int) error {
	i := slices.Index(names, string(b))
	if i < 0 {
		return fmt.Errorf("unknown %s %q (want one of %s)", what, b, strings.Join(names, ", "))
	}
	*dst = i
	return nil
}

// Keys used in Change.Before/After besides topic config names (which never contain these).
const (
	KeyPartitions        = "partitions"
	KeyReplicationFactor = "replication.factor"
	// KeyPartitionPrefix + partition id holds a replica list "1,2,3" (leader first).
	KeyPartitionPrefix = "partition."
)

// Change is one step of a Plan. It is self-contained (a saved plan is applied from its Changes
// alone): Before holds the live values of the fields it touches, After the desired ones; a key in
// Before but not in After is removed.
type Change struct {
	Kind   Kind              `json:"kind"`
	Name   string            `json:"name"`
	Action Action            `json:"action"`
	Before map[string]string `json:"before,omitempty"`
	After  map[string]string `json:"after,omitempty"`
	Risk   Risk              `json:"risk"`
	// Reason explains the change, or for Unsupported/NoOp why nothing will happen and what to do.
	Reason string `json:"reason,omitempty"`
	// Notes explain single keys: where a live value comes from, why a key is risky.
	Notes map[string]string `json:"notes,omitempty"`
}

// Pending reports whether the change asks for something to happen (everything but NoOp).
func (c Change) Pending() bool { return c.Action != NoOp }

// Plan is the ordered list of changes that takes a cluster from its live state to the spec. It is a
// value: computing it (Diff) does no I/O, and Apply is the only thing that acts on it.
type Plan struct {
	// Cluster is the target's name in the spec; ClusterID the live id the plan was computed against.
	Cluster   string `json:"cluster"`
	ClusterID string `json:"clusterId"`
	// Fingerprint identifies the live state the plan was computed against (see Fingerprint); Apply
	// refuses the plan once the live state no longer matches it.
	Fingerprint string `json:"fingerprint"`
	// AllowDelete records whether deletions were allowed when planning (--allow-delete).
	AllowDelete bool     `json:"allowDelete"`
	Changes     []Change `json:"changes"`
}

// Summary counts a plan's changes by action.
type Summary struct {
	Create      int `json:"create"`
	Update      int `json:"update"`
	Delete      int `json:"delete"`
	Unsupported int `json:"unsupported"`
	NoOp        int `json:"noOp"`
}

// Summary counts the plan's changes.
func (p Plan) Summary() Summary {
	var s Summary
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			s.Create++
		case Update:
			s.Update++
		case Delete:
			s.Delete++
		case Unsupported:
			s.Unsupported++
		default:
			s.NoOp++
		}
	}
	return s
}

// HasChanges reports whether anything differs that is not only informational.
func (p Plan) HasChanges() bool {
	return slices.ContainsFunc(p.Changes, Change.Pending)
}

// DiffOptions tune Diff.
type DiffOptions struct {
	// Cluster is the target's name, recorded in the plan.
	Cluster string
	// AllowDelete is --allow-delete: with the spec's `deletion: prune`, unmanaged topics are deleted.
	AllowDelete bool
}

// Diff computes the plan that takes have to want. It is pure. Every topic is examined, whatever
// the others hold, so the plan shows all differences at once.
func Diff(want *spec.Spec, have Live, opts DiffOptions) Plan {
	p := Plan{Cluster: opts.Cluster, ClusterID: have.ClusterID, Fingerprint: Fingerprint(have), AllowDelete: opts.AllowDelete}
	wantTopics := slices.Clone(want.Topics)
	sort.SliceStable(wantTopics, func(i, j int) bool { return wantTopics[i].Name < wantTopics[j].Name })
	for _, t := range wantTopics {
		var obs *topics.Observed
		if o, ok := have.Topics[t.Name]; ok {
			obs = &o
		}
		if topics.IsInternal(t.Name, topics.Observed{Internal: obs != nil && obs.Internal}) {
			p.Changes = append(p.Changes, Change{Kind: KindTopic, Name: t.Name, Action: Unsupported, Risk: RiskUnsupported,
				Reason: "internal topic: avatar-sync never changes Kafka's or the platform's own topics; remove it from the spec"})
			continue
		}
		var current map[int32][]int32
		if obs != nil {
			current = obs.Replicas
		}
		p.Changes = append(p.Changes, topicChanges(t, topics.DiffTopic(t, obs, have.Brokers), current, len(have.Brokers))...)
	}
	for _, name := range topics.Unmanaged(want.Topics, have.Topics) {
		p.Changes = append(p.Changes, unmanagedChange(name, have.Topics[name], want.Deletion, opts.AllowDelete))
	}
	sortChanges(p.Changes)
	return p
}

func topicChanges(t spec.Topic, d topics.Diff, obsReplicas map[int32][]int32, brokers int) []Change {
	if d.Create {
		after := map[string]string{KeyPartitions: strconv.Itoa(t.Partitions), KeyReplicationFactor: strconv.Itoa(t.ReplicationFactor)}
		maps.Copy(after, t.Config)
		c := Change{Kind: KindTopic, Name: t.Name, Action: Create, After: after}
		if brokers > 0 && t.ReplicationFactor > brokers {
			c.Action, c.Risk = Unsupported, RiskUnsupported
			c.Reason = fmt.Sprintf("replication factor %d needs %d brokers, the cluster has %d: lower replicationFactor or add brokers", t.ReplicationFactor, t.ReplicationFactor, brokers)
		}
		return []Change{c}
	}
	var out []Change
	if pd := d.Partitions; pd != nil {
		c := Change{Kind: KindPartitions, Name: t.Name, Action: Update,
			Before: map[string]string{KeyPartitions: strconv.Itoa(pd.From)}, After: map[string]string{KeyPartitions: strconv.Itoa(pd.To)},
			Reason: "adds partitions: records with a key may land in a different partition from now on"}
		if pd.Unsupported {
			c.Action, c.Risk = Unsupported, RiskUnsupported
			c.Reason = fmt.Sprintf("Kafka cannot remove partitions: to shrink the topic, recreate it (delete it, then apply; its records are lost), or keep partitions: %d in the spec", pd.From)
		}
		out = append(out, c)
	}
	if rd := d.Replication; rd != nil {
		c := Change{Kind: KindReplication, Name: t.Name, Action: Update, Risk: RiskHeavy,
			Before: map[string]string{KeyReplicationFactor: strconv.Itoa(rd.From)}, After: map[string]string{KeyReplicationFactor: strconv.Itoa(rd.To)},
			Reason: "replica reassignment copies partition data between brokers under a replication throttle"}
		if rd.Unsupported {
			c.Action, c.Risk = Unsupported, RiskUnsupported
			c.Reason = fmt.Sprintf("cannot change the replication factor: %v", rd.Err)
		} else {
			for p, reps := range rd.Assignment {
				key := KeyPartitionPrefix + strconv.Itoa(int(p))
				c.After[key] = joinIDs(reps)
				if cur := obsReplicas[p]; len(cur) > 0 {
					c.Before[key] = joinIDs(cur)
				}
			}
		}
		out = append(out, c)
	}
	update := Change{Kind: KindConfig, Name: t.Name, Action: Update, Before: map[string]string{}, After: map[string]string{}, Notes: map[string]string{}}
	drift := Change{Kind: KindConfig, Name: t.Name, Action: NoOp, Before: map[string]string{}, After: map[string]string{},
		Reason: "drift: set on the topic but not in the spec; left alone because the topic does not have prune: true (add it, or add the keys to the spec)"}
	var losses []string
	for _, cd := range d.Config {
		// Kafka hides sensitive live values; never print what it returned. After comes from the
		// spec and must stay intact: it is what apply sends.
		before, after := cd.Before, cd.After
		if cd.Sensitive {
			before = maskSensitive(before)
		}
		if cd.Op == topics.ConfigDrift {
			drift.Before[cd.Key], drift.After[cd.Key] = before, before
			continue
		}
		if cd.Before != "" || cd.Op != topics.ConfigSet {
			update.Before[cd.Key] = before
		}
		if cd.Op != topics.ConfigRemove {
			update.After[cd.Key] = after
		}
		// Say where the live value comes from: a value set on the topic by hand reads differently
		// from a broker default the spec now overrides (issue #3).
		switch {
		case cd.Op == topics.ConfigSet && cd.Before != "":
			update.Notes[cd.Key] = fmt.Sprintf("live value: %s (not set on the topic)", cd.BeforeSource)
		case cd.Op == topics.ConfigChange:
			update.Notes[cd.Key] = "live value: set on the topic"
		case cd.Op == topics.ConfigRemove:
			update.Notes[cd.Key] = "set on the topic, not in the spec; removed (prune: true)"
		}
		if loss := topics.DataLoss(cd.Key, cd.Before, cd.After, cd.Op); loss != "" {
			losses = append(losses, loss)
			update.Risk = RiskDataLoss
		}
	}
	if len(update.After) > 0 || len(update.Before) > 0 {
		if len(update.Notes) == 0 {
			update.Notes = nil
		}
		update.Reason = "topic configs differ from the spec"
		if len(losses) > 0 {
			update.Reason = strings.Join(losses, "; ")
		}
		out = append(out, update)
	}
	if len(drift.Before) > 0 {
		out = append(out, drift)
	}
	return out
}

func unmanagedChange(name string, o topics.Observed, deletion string, allowDelete bool) Change {
	c := Change{Kind: KindTopic, Name: name, Action: NoOp,
		Before: map[string]string{KeyPartitions: strconv.Itoa(o.Partitions()), KeyReplicationFactor: strconv.Itoa(o.ReplicationFactor())}}
	switch {
	case deletion == spec.DeletionPrune && allowDelete:
		c.Action, c.Risk = Delete, RiskDataLoss
		c.Reason = "not in the spec, and the spec says deletion: prune and --allow-delete was given: the topic and its records are deleted"
	case deletion == spec.DeletionPrune:
		c.Reason = "unmanaged: not in the spec; the spec says deletion: prune, but deleting also needs --allow-delete"
	default:
		c.Reason = "unmanaged: not in the spec; kept (deleting needs deletion: prune in the spec and --allow-delete)"
	}
	return c
}

// phase orders changes the way Apply executes them: topics are created before their partitions and
// configs change, replicas move after that, deletions come last; informational changes close the list.
func phase(c Change) int {
	switch {
	case c.Action == NoOp:
		return 9
	case c.Action == Delete:
		return 8
	case c.Action == Unsupported:
		return 7
	case c.Kind == KindTopic:
		return 0
	case c.Kind == KindPartitions:
		return 1
	case c.Kind == KindConfig:
		return 2
	case c.Kind == KindReplication:
		return 3
	default:
		return 6
	}
}

func sortChanges(cs []Change) {
	sort.SliceStable(cs, func(i, j int) bool {
		if pi, pj := phase(cs[i]), phase(cs[j]); pi != pj {
			return pi < pj
		}
		if cs[i].Name != cs[j].Name {
			return cs[i].Name < cs[j].Name
		}
		return cs[i].Kind < cs[j].Kind
	})
}

func maskSensitive(v string) string {
	if v == "" {
		return ""
	}
	return "(sensitive)"
}

func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}

func parseIDs(s string) ([]int32, error) {
	var out []int32
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("replica list %q: %w", s, err)
		}
		out = append(out, int32(n))
	}
	return out, nil
}

// Fingerprint hashes the parts of the live state a plan depends on: the cluster id, brokers and
// their racks, and every non-internal topic's replicas and configs (value and source). Internal
// topics are left out so the apply lock, consumer offsets and the like do not make plans stale.
func Fingerprint(l Live) string {
	h := sha256.New()
	// One reused buffer and length-prefixed fields: unambiguous, and cheap at 10,000 topics.
	var buf []byte
	field := func(s string) {
		buf = strconv.AppendInt(buf, int64(len(s)), 10)
		buf = append(buf, ':')
		buf = append(buf, s...)
	}
	num := func(n int64) {
		buf = strconv.AppendInt(buf, n, 10)
		buf = append(buf, ',')
	}
	flush := func() {
		h.Write(buf)
		buf = buf[:0]
	}
	buf = append(buf, "cluster "...)
	field(l.ClusterID)
	bs := slices.Clone(l.Brokers)
	sort.Slice(bs, func(i, j int) bool { return bs[i].ID < bs[j].ID })
	for _, b := range bs {
		buf = append(buf, "\nbroker "...)
		num(int64(b.ID))
		field(b.Rack)
	}
	flush()
	names := make([]string, 0, len(l.Topics))
	for name, o := range l.Topics {
		if !topics.IsInternal(name, o) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var keys []string
	var parts []int32
	for _, name := range names {
		o := l.Topics[name]
		buf = append(buf, "\ntopic "...)
		field(name)
		parts = parts[:0]
		for p := range o.Replicas {
			parts = append(parts, p)
		}
		slices.Sort(parts)
		for _, p := range parts {
			buf = append(buf, "\np "...)
			num(int64(p))
			for _, r := range o.Replicas[p] {
				num(int64(r))
			}
		}
		keys = keys[:0]
		for k := range o.Config {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := o.Config[k]
			buf = append(buf, "\nc "...)
			field(k)
			field(v.Value)
			num(int64(v.Source))
		}
		flush()
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
