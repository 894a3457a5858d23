package plans

import (
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"

	"github.com/avatar-project/avatar-sync/spec"
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
	// Replace is a change that cannot be made in place: the thing is deleted and created again
	// (a StatefulSet's volumeClaimTemplates, orphaning pods and volumes so they survive; needs
	// reconcile.ApplyOptions.AllowReplace).
	Replace
)

var actionNames = []string{"no-op", "create", "update", "delete", "unsupported", "replace"}

// String is the action's name in plans and JSON.
func (a Action) String() string { return enumName(actionNames, int(a)) }

// MarshalText makes the JSON form the name, so the schema does not leak iota values.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses a name written by MarshalText.
func (a *Action) UnmarshalText(b []byte) error { return enumParse(actionNames, "action", b, (*int)(a)) }

// Kind is what a Change is about. Each kind has exactly one payload type in Change.
type Kind int

// Kinds. The next planes add theirs here (Kubernetes objects, ACLs, users, quotas), each with its
// payload field in Change (issue 9).
const (
	KindTopic       Kind = iota // a whole topic: create, delete, unmanaged; payload Topic
	KindPartitions              // partition count; payload Partitions
	KindConfig                  // dynamic topic configs; payload Config
	KindReplication             // replication factor, via replica reassignment; payload Replication
	KindInventory               // a topic (or principal) recorded in avatar-sync's inventory; payload Adopt
	KindObject                  // a Kubernetes object (issue 11); payload Object, see objects.go
	KindACL                     // one ACL binding; payload ACL (issue 14), see access.go
	KindUser                    // one SCRAM credential; payload User
	KindQuota                   // one client-quota entity; payload Quota
)

// String is the kind's name in plans and JSON (the kind table's).
func (k Kind) String() string { return k.info().name }

// MarshalText makes the JSON form the name.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText parses a name written by MarshalText.
func (k *Kind) UnmarshalText(b []byte) error { return enumParse(kindNames(), "kind", b, (*int)(k)) }

// kindNames lists the kind table's names, by Kind.
func kindNames() []string {
	out := make([]string, len(kinds))
	for i, info := range kinds {
		out[i] = info.name
	}
	return out
}

// Risk grades what can go wrong when a Change is applied. Apply refuses RiskDataLoss without
// reconcile.ApplyOptions.AllowDataLoss. A risk is always derived from the typed change and the
// live state (DeriveRisk); a saved plan's risk is checked, never trusted (issue 10).
type Risk int

// Risks.
const (
	RiskNone Risk = iota
	// RiskDataLoss: records are destroyed (retention lowered, compaction turned on or off, topic deleted).
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

// TopicPayload is a whole topic: what a create makes, or what a delete (or an unmanaged topic
// left alone) removes or keeps, as read live.
type TopicPayload struct {
	Partitions        int               `json:"partitions"`
	ReplicationFactor int               `json:"replicationFactor"`
	Configs           map[string]string `json:"configs,omitempty"`
}

// PartitionsPayload is a partition-count increase (or, Unsupported, a decrease).
type PartitionsPayload struct {
	From int `json:"from"`
	To   int `json:"to"`
}

// ConfigEdit is one config key of a topic. Before is the live value ("" = none; masked when Kafka
// marks it sensitive), After the desired one; Delete removes the key from the topic. A drift
// (NoOp) entry has only Before.
type ConfigEdit struct {
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	Delete bool   `json:"delete,omitempty"`
}

// ConfigPayload is a set of config keys to set or delete on one topic, by key.
type ConfigPayload struct {
	Keys map[string]ConfigEdit `json:"keys"`
}

// ReplicaMove is one partition's replica list before and after a reassignment (leader first).
type ReplicaMove struct {
	Before []int32 `json:"before,omitempty"`
	After  []int32 `json:"after"`
}

// ReplicationPayload is a replication-factor change and the reassignment that carries it out.
type ReplicationPayload struct {
	From       int                   `json:"from"`
	To         int                   `json:"to"`
	Partitions map[int32]ReplicaMove `json:"partitions,omitempty"`
}

// AdoptPayload records an existing topic that the spec names in avatar-sync's inventory, so
// `deletion: prune` may delete it once it leaves the spec (issue 9: migration without a flag day).
type AdoptPayload struct{}

// Change is one step of a Plan. It carries exactly one typed payload, the one of its Kind, and Apply
// executes that payload as it is: nothing is re-parsed, so a plan cannot turn out malformed in the
// middle of an apply (issue 9).
type Change struct {
	Kind   Kind   `json:"kind"`
	Name   string `json:"name"`
	Action Action `json:"action"`
	Risk   Risk   `json:"risk"`
	// Reason explains the change, or for Unsupported/NoOp why nothing will happen and what to do.
	Reason string `json:"reason,omitempty"`
	// Notes explain single keys: where a live value comes from, why a key is risky.
	Notes map[string]string `json:"notes,omitempty"`

	Topic       *TopicPayload       `json:"topic,omitempty"`
	Partitions  *PartitionsPayload  `json:"partitions,omitempty"`
	Config      *ConfigPayload      `json:"config,omitempty"`
	Replication *ReplicationPayload `json:"replication,omitempty"`
	Adopt       *AdoptPayload       `json:"adopt,omitempty"`
	Object      *ObjectPayload      `json:"object,omitempty"`
	ACL         *ACLPayload         `json:"acl,omitempty"`
	User        *UserPayload        `json:"user,omitempty"`
	Quota       *QuotaPayload       `json:"quota,omitempty"`
	// One field per kind, checked by PayloadErr.
}

// Pending reports whether the change asks for something to happen (everything but NoOp).
func (c Change) Pending() bool { return c.Action != NoOp }

// PayloadErr reports a change whose payload does not match its kind (none, or more than one).
func (c Change) PayloadErr() error {
	n, own := 0, false
	for k, info := range kinds {
		if info.payload(c) {
			n++
			own = own || Kind(k) == c.Kind
		}
	}
	if n != 1 || !own {
		return fmt.Errorf("%s: a %s change must carry exactly one payload, its %q", Headline(c), c.Kind, c.Kind)
	}
	if c.Kind == KindConfig && len(c.Config.Keys) == 0 {
		return fmt.Errorf("%s: no config keys", Headline(c))
	}
	if c.Action == Replace && c.Kind != KindObject {
		return fmt.Errorf("%s: only Kubernetes objects are replaced", Headline(c))
	}
	return nil
}

// DesiredTopic is one topic of the desired state as a plan records it.
type DesiredTopic struct {
	Name              string            `json:"name"`
	Partitions        int               `json:"partitions"`
	ReplicationFactor int               `json:"replicationFactor"`
	Config            map[string]string `json:"config,omitempty"`
	Prune             bool              `json:"prune,omitempty"`
}

// Desired is the snapshot of the spec a plan was computed from: everything Diff reads. A plan
// carries it so apply checks convergence, and re-verifies a saved plan, against what was reviewed
// rather than against today's file (issue 9).
type Desired struct {
	Topics   []DesiredTopic `json:"topics"`
	Deletion string         `json:"deletion"`
	// Access is the users, ACLs and quotas the spec declares; nil = the spec manages no access
	// control, and the plan leaves the cluster's alone (issue 14).
	Access *DesiredAccess `json:"access,omitempty"`
	// Objects is the Kubernetes half: the exact manifests the plan applies (issue 20); nil = the
	// target has no kubernetes: block.
	Objects *DesiredObjects `json:"objects,omitempty"`
}

// DesiredOf snapshots the parts of a validated spec that plans depend on.
func DesiredOf(s *spec.Spec) Desired {
	d := Desired{Topics: make([]DesiredTopic, 0, len(s.Topics)), Deletion: s.Deletion}
	if d.Deletion == "" {
		d.Deletion = spec.DeletionRetain
	}
	for _, t := range s.Topics {
		d.Topics = append(d.Topics, DesiredTopic{Name: t.Name, Partitions: t.Partitions, ReplicationFactor: t.ReplicationFactor,
			Config: maps.Clone(t.Config), Prune: t.Prune})
	}
	slices.SortStableFunc(d.Topics, func(a, b DesiredTopic) int { return strings.Compare(a.Name, b.Name) })
	d.Access = DesiredAccessOf(s, "")
	return d
}

// Has reports whether the snapshot declares the topic.
func (d Desired) Has(name string) bool {
	return slices.ContainsFunc(d.Topics, func(t DesiredTopic) bool { return t.Name == name })
}

// Advisory is something a person should do that apply does not: renew a certificate, generate
// missing TLS material. Advisories are shown apart from the changes, never counted as changes and
// never make --detailed-exitcode exit 2 (issue 9).
type Advisory struct {
	// Subject names what the advisory is about: "certificate kafka-broker-1", "tls".
	Subject string `json:"subject"`
	// Status is a short state: missing, expiring, expired, mismatch.
	Status string `json:"status,omitempty"`
	// Reason says what is wrong and the command that fixes it.
	Reason string `json:"reason"`
}

// Plan is what takes a target from its live state to the desired state, one part per plane. It is
// self-contained: the snapshot it was computed from and, per plane, the live state's fingerprint
// and the typed changes, so a saved plan is applied and verified from the plan alone.
type Plan struct {
	// Cluster is the target's name in the spec; ClusterID the live id the plan was computed against.
	Cluster   string `json:"cluster"`
	ClusterID string `json:"clusterId"`
	// AllowDelete records whether deletions were allowed when planning (--allow-delete).
	AllowDelete bool `json:"allowDelete"`
	// ManagedTopics counts the live topics in avatar-sync's inventory: the base of the mass-delete
	// guard (issue 10).
	ManagedTopics int `json:"managedTopics"`
	// Desired is the snapshot of the spec the plan was computed from.
	Desired Desired `json:"desired"`
	// Parts holds one part per plane of the target, in the target's plane order (the order apply
	// executes them in: the Kubernetes objects, then the Kafka cluster), each with its plane's
	// fingerprint and changes, or its deferral (issue 20).
	Parts []Part `json:"parts"`
	// Advisories are shown apart and never applied (certificates: `avatar-sync certs generate`).
	Advisories []Advisory `json:"advisories,omitempty"`
}

// Part is one plane's share of a plan: the fingerprint of the plane's live state the changes were
// computed against (apply refuses the part as stale once the live state no longer matches it) and
// the changes, in the order apply executes them, all of kinds the kind table places in the plane.
// A plane that could not be planned is a part with its Deferral and neither fingerprint nor
// changes.
type Part struct {
	Plane PlaneID `json:"plane"`
	// Fingerprint identifies the plane's live state (the Kafka cluster's: reconcile.Fingerprint;
	// the Kubernetes objects': every object examined and the salted digest of its live version).
	Fingerprint string   `json:"fingerprint,omitempty"`
	Changes     []Change `json:"changes"`
	// Deferral says why the plane was not planned; nil when it was.
	Deferral *Deferral `json:"deferred,omitempty"`
}

// Part is the plan's part for plane k; a zero part of k (no fingerprint, no changes) when the plan
// has none.
func (p Plan) Part(k PlaneID) Part {
	if i := p.partIndex(k); i >= 0 {
		return p.Parts[i]
	}
	return Part{Plane: k}
}

func (p Plan) partIndex(k PlaneID) int {
	return slices.IndexFunc(p.Parts, func(pt Part) bool { return pt.Plane == k })
}

// SetPart records pt as the plan's part for its plane: in place of the plane's part when the plan
// has one, else after the others (a planner records its planes in the target's order).
func (p *Plan) SetPart(pt Part) {
	if i := p.partIndex(pt.Plane); i >= 0 {
		p.Parts[i] = pt
		return
	}
	p.Parts = append(p.Parts, pt)
}

// EachChange walks every part's changes, in the parts' order (AllChanges without the copy a
// plan of two parts makes): for callers that only read them, as a watch pass does several times.
func (p Plan) EachChange() iter.Seq[Change] {
	return func(yield func(Change) bool) {
		for _, pt := range p.Parts {
			for _, c := range pt.Changes {
				if !yield(c) {
					return
				}
			}
		}
	}
}

// AllChanges is every part's changes, in the parts' order: the plan's changes in the order apply
// executes them. With one part it is that part's slice (10,000 topic changes are not copied): the
// caller reads it and changes a plan through its Parts.
func (p Plan) AllChanges() []Change {
	switch len(p.Parts) {
	case 0:
		return nil
	case 1:
		return p.Parts[0].Changes
	}
	n := 0
	for _, pt := range p.Parts {
		n += len(pt.Changes)
	}
	out := make([]Change, 0, n)
	for _, pt := range p.Parts {
		out = append(out, pt.Changes...)
	}
	return out
}

// Deferred reports whether the plan deferred plane k.
func (p Plan) Deferred(k PlaneID) bool { return p.Part(k).Deferral != nil }

// Deferrals lists the plan's deferred parts, in order.
func (p Plan) Deferrals() []Part {
	var out []Part
	for _, pt := range p.Parts {
		if pt.Deferral != nil {
			out = append(out, pt)
		}
	}
	return out
}

// PlaneID names one half of a target: the Kafka cluster (topics, access) or its Kubernetes objects.
// It is the plane as plans record it; reconcile's Plane is the interface that observes and
// changes one.
type PlaneID int

// Planes.
const (
	PlaneKafka PlaneID = iota
	PlaneKubernetes
)

var planeNames = []string{"kafka", "kubernetes"}

// String is the plane's name in plans and JSON.
func (pl PlaneID) String() string { return enumName(planeNames, int(pl)) }

// MarshalText makes the JSON form the name.
func (pl PlaneID) MarshalText() ([]byte, error) { return []byte(pl.String()), nil }

// UnmarshalText parses a name written by MarshalText.
func (pl *PlaneID) UnmarshalText(b []byte) error {
	return enumParse(planeNames, "plane", b, (*int)(pl))
}

// Deferral is why a plane's part of a plan was not planned: data, never a bypass (issue 20).
// Apply plans a deferred Kafka plane once the brokers answer, under the apply lock it takes before
// any object changes, and reports it; it never applies what was not reviewed. The plane is the
// part's.
type Deferral struct {
	Reason string `json:"reason"`
}

// TopicsDeferred reports whether the Kafka plane was deferred: the plan holds no topic or access
// changes, and no Kafka fingerprint.
func (p Plan) TopicsDeferred() bool { return p.Deferred(PlaneKafka) }

// Summary counts a plan's changes by action.
type Summary struct {
	Create int `json:"create"`
	Update int `json:"update"`
	// Replace counts Kubernetes objects recreated because they cannot change in place (not
	// counted in Update).
	Replace int `json:"replace"`
	// Adopt counts existing topics and principals recorded in the inventory (not counted in
	// Update: nothing on the cluster changes, issue 21); absent when zero.
	Adopt       int `json:"adopt,omitempty"`
	Delete      int `json:"delete"`
	Unsupported int `json:"unsupported"`
	NoOp        int `json:"noOp"`
}

// Summary counts the plan's changes.
func (p Plan) Summary() Summary {
	var s Summary
	for _, pt := range p.Parts {
		s.add(pt.Changes)
	}
	return s
}

// add counts cs into s.
func (s *Summary) add(cs []Change) {
	for _, c := range cs {
		switch c.Action {
		case Update:
			if c.Adopt != nil {
				s.Adopt++
			} else {
				s.Update++
			}
		case Replace:
			s.Replace++
		case Create:
			s.Create++
		case Delete:
			s.Delete++
		case Unsupported:
			s.Unsupported++
		default:
			s.NoOp++
		}
	}
}

// HasChanges reports whether anything differs that is not only informational. Advisories do not
// count.
func (p Plan) HasChanges() bool {
	return slices.ContainsFunc(p.Parts, func(pt Part) bool { return slices.ContainsFunc(pt.Changes, Change.Pending) })
}

// Topic is the snapshot's topic as the spec declares it.
func (dt DesiredTopic) Topic() spec.Topic {
	return spec.Topic{Name: dt.Name, Partitions: dt.Partitions, ReplicationFactor: dt.ReplicationFactor, Config: dt.Config, Prune: dt.Prune}
}
