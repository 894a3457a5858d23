package reconcile

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
	"github.com/avatar-project/avatar-sync/topics"
)

// DiffOptions tune Diff.
type DiffOptions struct {
	// Cluster is the target's name, recorded in the plan.
	Cluster string
	// AllowDelete is --allow-delete: with the snapshot's `deletion: prune`, managed topics that
	// left the spec are deleted.
	AllowDelete bool
}

// Diff computes the plan that takes have to want. It is pure. Every topic is examined, whatever
// the others hold, so the plan shows all differences at once.
func Diff(want plans.Desired, have plans.Live, opts DiffOptions) plans.Plan {
	// The hash and the diff only read have: on a second core the hash costs no wall time (at
	// 10,000 topics each is about a tenth of a no-op plan's CPU; issue 23).
	fp := make(chan string, 1)
	go func() { fp <- Fingerprint(have, want) }()
	p := diff(want, have, opts)
	p.Parts[0].Fingerprint = <-fp
	return p
}

// diff is Diff without the fingerprint, for the callers that have hashed the live state already or
// need only the changes (Verify, the convergence check): at 10,000 topics the hash is a third of a
// Diff. The plan has one part, the Kafka plane's.
func diff(want plans.Desired, have plans.Live, opts DiffOptions) plans.Plan {
	p := plans.Plan{Cluster: opts.Cluster, ClusterID: have.ClusterID, AllowDelete: opts.AllowDelete, Desired: want}
	var changes []plans.Change
	inventory := make(map[string]bool, len(have.Inventory))
	for _, name := range have.Inventory {
		inventory[name] = true
	}
	for name, o := range have.Topics {
		if inventory[name] && !topics.IsInternal(name, o) {
			p.ManagedTopics++
		}
	}
	wantTopics := make([]spec.Topic, 0, len(want.Topics))
	for _, dt := range want.Topics {
		wantTopics = append(wantTopics, dt.Topic())
	}
	slices.SortStableFunc(wantTopics, func(a, b spec.Topic) int { return strings.Compare(a.Name, b.Name) })
	for _, t := range wantTopics {
		var obs *topics.Observed
		if o, ok := have.Topics[t.Name]; ok {
			obs = &o
		}
		if topics.IsInternal(t.Name, topics.Observed{Internal: obs != nil && obs.Internal}) {
			changes = append(changes, plans.Change{Kind: plans.KindTopic, Name: t.Name, Action: plans.Unsupported, Risk: plans.RiskUnsupported,
				Topic:  &plans.TopicPayload{Partitions: t.Partitions, ReplicationFactor: t.ReplicationFactor},
				Reason: "internal topic: avatar-sync never changes Kafka's or the platform's own topics; remove it from the spec"})
			continue
		}
		var current map[int32][]int32
		if obs != nil {
			current = obs.Replicas
			if !inventory[t.Name] {
				changes = append(changes, plans.Change{Kind: plans.KindInventory, Name: t.Name, Action: plans.Update, Adopt: &plans.AdoptPayload{},
					Reason: "exists on the cluster and is named in the spec: recorded in avatar-sync's inventory, so deletion: prune may delete it once it leaves the spec"})
			}
		}
		changes = append(changes, topicChanges(t, topics.DiffTopic(t, obs, have.Brokers), current, len(have.Brokers))...)
	}
	for _, name := range topics.Unmanaged(wantTopics, have.Topics) {
		changes = append(changes, unmanagedChange(name, have.Topics[name], inventory[name], want.Deletion, opts.AllowDelete))
	}
	if want.Access != nil {
		changes = append(changes, accessChanges(want.Access, have, want.Deletion, opts.AllowDelete)...)
	}
	plans.SortChanges(changes)
	p.Parts = []plans.Part{{Plane: plans.PlaneKafka, Changes: changes}}
	return p
}

func topicChanges(t spec.Topic, d topics.Diff, obsReplicas map[int32][]int32, brokers int) []plans.Change {
	if d.Create {
		c := plans.Change{Kind: plans.KindTopic, Name: t.Name, Action: plans.Create,
			Topic: &plans.TopicPayload{Partitions: t.Partitions, ReplicationFactor: t.ReplicationFactor, Configs: maps.Clone(t.Config)}}
		if brokers > 0 && t.ReplicationFactor > brokers {
			c.Action, c.Risk = plans.Unsupported, plans.RiskUnsupported
			c.Reason = fmt.Sprintf("replication factor %d needs %d brokers, the cluster has %d: lower replicationFactor or add brokers", t.ReplicationFactor, t.ReplicationFactor, brokers)
		}
		return []plans.Change{c}
	}
	var out []plans.Change
	if pd := d.Partitions; pd != nil {
		c := plans.Change{Kind: plans.KindPartitions, Name: t.Name, Action: plans.Update, Partitions: &plans.PartitionsPayload{From: pd.From, To: pd.To},
			Reason: "adds partitions: records with a key may land in a different partition from now on"}
		if pd.Unsupported {
			c.Action, c.Risk = plans.Unsupported, plans.RiskUnsupported
			c.Reason = fmt.Sprintf("Kafka cannot remove partitions: to shrink the topic, recreate it (delete it, then apply; its records are lost), or keep partitions: %d in the spec", pd.From)
		}
		out = append(out, c)
	}
	if rd := d.Replication; rd != nil {
		c := plans.Change{Kind: plans.KindReplication, Name: t.Name, Action: plans.Update, Risk: plans.RiskHeavy,
			Replication: &plans.ReplicationPayload{From: rd.From, To: rd.To},
			Reason:      "replica reassignment copies partition data between brokers under a replication throttle"}
		if rd.Unsupported {
			c.Action, c.Risk = plans.Unsupported, plans.RiskUnsupported
			c.Reason = fmt.Sprintf("cannot change the replication factor: %v", rd.Err)
		} else {
			c.Replication.Partitions = make(map[int32]plans.ReplicaMove, len(rd.Assignment))
			for p, reps := range rd.Assignment {
				c.Replication.Partitions[p] = plans.ReplicaMove{Before: slices.Clone(obsReplicas[p]), After: slices.Clone(reps)}
			}
		}
		out = append(out, c)
	}
	if len(d.Config) == 0 {
		// In sync: no payload maps to build (10,000 topics, three diffs per apply).
		return out
	}
	update := plans.Change{Kind: plans.KindConfig, Name: t.Name, Action: plans.Update, Config: &plans.ConfigPayload{Keys: map[string]plans.ConfigEdit{}}, Notes: map[string]string{}}
	drift := plans.Change{Kind: plans.KindConfig, Name: t.Name, Action: plans.NoOp, Config: &plans.ConfigPayload{Keys: map[string]plans.ConfigEdit{}},
		Reason: "drift: set on the topic but not in the spec; left alone because the topic does not have prune: true (add it, or add the keys to the spec)"}
	var losses []string
	for _, cd := range d.Config {
		// Kafka hides sensitive live values; never print what it returned. After comes from the
		// spec and must stay intact: it is what apply sends.
		before := cd.Before
		if cd.Sensitive {
			before = maskSensitive(before)
		}
		if cd.Op == topics.ConfigDrift {
			drift.Config.Keys[cd.Key] = plans.ConfigEdit{Before: before}
			continue
		}
		update.Config.Keys[cd.Key] = plans.ConfigEdit{Before: before, After: cd.After, Delete: cd.Op == topics.ConfigRemove}
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
			update.Risk = plans.RiskDataLoss
		}
	}
	if len(update.Config.Keys) > 0 {
		if len(update.Notes) == 0 {
			update.Notes = nil
		}
		update.Reason = "topic configs differ from the spec"
		if len(losses) > 0 {
			update.Reason = strings.Join(losses, "; ")
		}
		out = append(out, update)
	}
	if len(drift.Config.Keys) > 0 {
		out = append(out, drift)
	}
	return out
}

func unmanagedChange(name string, o topics.Observed, managed bool, deletion string, allowDelete bool) plans.Change {
	c := plans.Change{Kind: plans.KindTopic, Name: name, Action: plans.NoOp,
		Topic: &plans.TopicPayload{Partitions: o.Partitions(), ReplicationFactor: o.ReplicationFactor()}}
	switch {
	case !managed:
		c.Reason = "unmanaged: not in the spec and not in avatar-sync's inventory (it did not create or adopt it); never deleted"
	case deletion == spec.DeletionPrune && allowDelete:
		c.Action, c.Risk = plans.Delete, plans.RiskDataLoss
		c.Reason = "managed by avatar-sync and no longer in the spec, the spec says deletion: prune and --allow-delete was given: the topic and its records are deleted"
	case deletion == spec.DeletionPrune:
		c.Reason = "managed by avatar-sync and no longer in the spec; the spec says deletion: prune, but deleting also needs --allow-delete"
	default:
		c.Reason = "managed by avatar-sync and no longer in the spec; kept (deleting needs deletion: prune in the spec and --allow-delete)"
	}
	return c
}

func maskSensitive(v string) string {
	if v == "" {
		return ""
	}
	return "(sensitive)"
}
