package plans

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/avatar-project/avatar-sync/topics"
)

// The kind table (issue 20): everything avatar-sync knows about one kind of change, read by every
// place that used to switch over kinds on its own (names, payload check, ordering, risk, headline,
// what a deletion removes, how a change is recognised as landed). Adding a kind touches four
// places (docs/architecture.md): its Kind constant, its payload type and Change field, its row
// here, and its adapter code (the executor phase in reconcile's apply, or its plane) and view
// (report).

// Removal is what deleting a change of a kind removes; the views count deletions by it, one way.
type Removal int

// Removals.
const (
	// RemovesRecords: a topic and its records (--allow-delete; the mass-delete guard counts it).
	RemovesRecords Removal = iota
	// RemovesAccess: an ACL binding, a SCRAM credential or a quota.
	RemovesAccess
	// RemovesObject: a Kubernetes object (its volumes stay).
	RemovesObject
	// RemovesNothing: the kind is never deleted (inventory records, per-topic settings).
	RemovesNothing
)

// kindInfo is one row of the kind table.
type kindInfo struct {
	name  string
	plane PlaneID
	// wave orders a pending, supported, non-delete change among the others (see phase): lower
	// first, the order apply executes them in.
	wave func(c Change) int
	// deleteWave orders the kind's deletions the same way: after every other change, topics
	// first, then ACLs, quotas and credentials (a credential last: nothing refers to it then).
	deleteWave int
	// payload reports whether the change carries this kind's payload.
	payload func(c Change) bool
	// removes is what a Delete of the kind removes.
	removes Removal
	// risk grades a pending, supported, non-delete change from its payload and the live state,
	// and says why; nil = RiskNone.
	risk func(c Change, live Live) (Risk, string)
	// headline is the change's title, given the action's verb ("update topic x config").
	headline func(verb string, c Change) string
	// Landed reports whether the live state shows the change (apply's settle after a time-out);
	// nil for a kind whose plane proves convergence by re-planning (Kubernetes objects).
	landed func(c Change, live Live) bool
}

// kinds is the kind table, indexed by Kind.
var kinds = [...]kindInfo{
	KindTopic: {name: "topic", plane: PlaneKafka, wave: constWave(1), deleteWave: 9, payload: func(c Change) bool { return c.Topic != nil },
		removes: RemovesRecords, headline: func(verb string, c Change) string { return verb + " topic " + c.Name }, landed: topicLanded},
	KindPartitions: {name: "partitions", plane: PlaneKafka, wave: constWave(2), deleteWave: 9, payload: func(c Change) bool { return c.Partitions != nil },
		removes: RemovesNothing, headline: topicHeadline("partitions"), landed: partitionsLanded},
	KindConfig: {name: "config", plane: PlaneKafka, wave: constWave(3), deleteWave: 9, payload: func(c Change) bool { return c.Config != nil },
		removes: RemovesNothing, risk: configRisk, headline: topicHeadline("config"), landed: configLanded},
	KindReplication: {name: "replication", plane: PlaneKafka, wave: constWave(4), deleteWave: 9, payload: func(c Change) bool { return c.Replication != nil },
		removes: RemovesNothing, risk: func(Change, Live) (Risk, string) { return RiskHeavy, "replicas move between brokers" },
		headline: topicHeadline("replication"), landed: replicationLanded},
	KindInventory: {name: "inventory", plane: PlaneKafka, wave: constWave(0), deleteWave: 9, payload: func(c Change) bool { return c.Adopt != nil },
		removes: RemovesNothing, headline: inventoryHeadline, landed: inventoryLanded},
	KindObject: {name: "object", plane: PlaneKubernetes, wave: constWave(-1), deleteWave: -1, payload: func(c Change) bool { return c.Object != nil },
		removes: RemovesObject, risk: objectRisk, headline: func(verb string, c Change) string { return verb + " " + c.Name }},
	KindACL: {name: "acl", plane: PlaneKafka, wave: constWave(6), deleteWave: 10, payload: func(c Change) bool { return c.ACL != nil },
		removes: RemovesAccess, risk: accessRisk, headline: accessHeadline, landed: aclLanded},
	KindUser: {name: "user", plane: PlaneKafka, wave: constWave(5), deleteWave: 12, payload: func(c Change) bool { return c.User != nil },
		removes: RemovesAccess, risk: accessRisk, headline: accessHeadline, landed: userLanded},
	KindQuota: {name: "quota", plane: PlaneKafka, wave: constWave(7), deleteWave: 11, payload: func(c Change) bool { return c.Quota != nil },
		removes: RemovesAccess, risk: accessRisk, headline: accessHeadline, landed: quotaLanded},
}

// info is the kind's row; a kind outside the table has an empty one (no payload, no headline).
func (k Kind) info() kindInfo {
	if k < 0 || int(k) >= len(kinds) {
		return kindInfo{name: fmt.Sprintf("unknown(%d)", int(k)), payload: func(Change) bool { return false },
			wave: constWave(7), deleteWave: 9, headline: func(verb string, c Change) string { return verb + " " + c.Name }}
	}
	return kinds[k]
}

// Plane is the plane a kind's changes belong to.
func (k Kind) Plane() PlaneID { return k.info().plane }

// Removes is what deleting a change of the kind removes.
func (k Kind) Removes() Removal { return k.info().removes }

func constWave(n int) func(Change) int { return func(Change) int { return n } }

func topicHeadline(what string) func(string, Change) string {
	return func(verb string, c Change) string { return verb + " topic " + c.Name + " " + what }
}

// accessHeadline is "create acl User:gui5 allow Write on topic x" (the kind's name, read from the
// table without recursion).
func accessHeadline(verb string, c Change) string {
	return verb + " " + map[Kind]string{KindACL: "acl", KindUser: "user", KindQuota: "quota"}[c.Kind] + " " + c.Name
}

// inventoryHeadline names what is adopted; an adoption has no other verb.
func inventoryHeadline(_ string, c Change) string {
	if strings.HasPrefix(c.Name, "User:") {
		return fmt.Sprintf("adopt principal %s into the inventory", c.Name)
	}
	return fmt.Sprintf("adopt topic %s into the inventory", c.Name)
}

// phase is the one ordering of changes (issue 20), the order apply executes them in and plans
// list them: the Kubernetes objects first, in their plane's own order (namespace, secrets and
// config, services, workloads by broker id; the objects phase runs before the topics need the
// brokers); then by the kind table's waves — inventory records (a created topic is recorded before
// it exists, so a crash never leaves a topic avatar-sync made but does not know), topic creates,
// partitions, configs, reassignments, users, ACLs and quotas; then unsupported changes (never
// executed); then the deletions by the table's delete waves — topics, ACLs, quotas, credentials;
// and informational changes last. reconcile's executor runs its phases in this order
// (TestApplyExecutesInThePlansOrder).
func phase(c Change) int {
	info := c.Kind.info()
	switch {
	case info.plane == PlaneKubernetes:
		return -1
	case c.Action == NoOp:
		return 13
	case c.Action == Delete:
		return info.deleteWave
	case c.Action == Unsupported:
		return 8
	}
	return info.wave(c)
}

// SortChanges puts changes in phase order; within a phase by name, then kind. Kubernetes objects
// keep the order their plane gave them.
func SortChanges(cs []Change) {
	sort.SliceStable(cs, func(i, j int) bool {
		if pi, pj := phase(cs[i]), phase(cs[j]); pi != pj {
			return pi < pj
		}
		if cs[i].Kind.Plane() == PlaneKubernetes {
			return false
		}
		if cs[i].Name != cs[j].Name {
			return cs[i].Name < cs[j].Name
		}
		return cs[i].Kind < cs[j].Kind
	})
}

// Headline is the one-line title of a change ("update topic x config"), shared by the views, by
// apply's progress lines and by its errors.
func Headline(c Change) string {
	verb := c.Action.String()
	if c.Action == NoOp {
		verb = "keep"
	}
	return c.Kind.info().headline(verb, c)
}

// DeriveRisk grades a change from its typed payload and the live state alone, and says why.
func DeriveRisk(c Change, live Live) (Risk, string) {
	info := c.Kind.info()
	switch {
	case c.Action == Unsupported:
		return RiskUnsupported, "Kafka cannot do it"
	case c.Action == NoOp:
		return RiskNone, ""
	case c.Action == Delete && info.removes == RemovesRecords:
		return RiskDataLoss, "the topic and its records are deleted"
	case c.Action == Delete:
		return RiskNone, "no records are destroyed"
	case info.risk != nil:
		return info.risk(c, live)
	}
	return RiskNone, "nothing is destroyed"
}

// Landed reports whether the live state shows a change's payload (apply's settle after a
// time-out), by the kind's row; false for a kind that proves convergence by re-planning, and for a
// change without its kind's payload.
func Landed(c Change, live Live) bool {
	info := c.Kind.info()
	if info.landed == nil || !info.payload(c) {
		return false
	}
	return info.landed(c, live)
}

// Deletes counts the plan's deletions whose kind removes r: the one count of deletions, by the
// kind table (issue 20: deletions were counted three ways, and a plan that lowered a retention and
// deleted an ACL lost its "apply needs --allow-data-loss" line).
func (p Plan) Deletes(r Removal) int {
	n := 0
	for _, pt := range p.Parts {
		for _, c := range pt.Changes {
			if c.Action == Delete && c.Kind.Removes() == r {
				n++
			}
		}
	}
	return n
}

// IsAccess reports whether a kind is access control (ACLs, credentials, quotas).
func IsAccess(k Kind) bool { return k.Removes() == RemovesAccess }

func accessRisk(Change, Live) (Risk, string) {
	// Access changes destroy no records; a deletion has its own opt-in (--allow-delete).
	return RiskNone, "no records are destroyed"
}

// configRisk grades a config change: data loss when a key it sets or removes can destroy records
// against the live value (retention lowered, compaction switched).
func configRisk(c Change, live Live) (Risk, string) {
	obs := live.Topics[c.Name]
	var losses []string
	for _, k := range slices.Sorted(maps.Keys(c.Config.Keys)) {
		e := c.Config.Keys[k]
		lv, ok := obs.Config[k]
		before := ""
		op := topics.ConfigSet
		switch {
		case e.Delete:
			op, before = topics.ConfigRemove, lv.Value
		case ok && lv.Source == topics.SourceTopic:
			op, before = topics.ConfigChange, lv.Value
		case ok:
			before = lv.Value
		}
		if loss := topics.DataLoss(k, before, e.After, op); loss != "" {
			losses = append(losses, loss)
		}
	}
	if len(losses) > 0 {
		return RiskDataLoss, strings.Join(losses, "; ")
	}
	return RiskNone, "nothing is destroyed"
}
