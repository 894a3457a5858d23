package reconcile

import (
	"context"
	"slices"

	"github.com/avatar-project/avatar-sync/plans"
)

// ReadScope names the part of the live state an apply changed: what its settle read needs to
// see, and no more (issue 23).
type ReadScope struct {
	// Topics maps each topic to read to the config keys to read; a topic with no keys is read
	// without its configs (its partitions and replicas only).
	Topics map[string][]string
	// Inventory and Access ask for the inventory of managed topics and for the ACLs, SCRAM
	// credentials and quotas.
	Inventory, Access bool
}

// ScopedReader is implemented by a Cluster that can read back only part of the live state
// (clusters.Admin). Apply settles with it: after executing, it reads the topics it touched and the
// config keys that matter to them instead of the whole cluster, and proves convergence on that
// read. A Cluster without it is read whole.
type ScopedReader interface {
	// DescribeScope reads the cluster id, the brokers, the named topics that exist (partitions,
	// replicas, and only the named config keys), and the inventory and access when asked. A named
	// topic that does not exist is absent from Live.Topics.
	DescribeScope(ctx context.Context, scope ReadScope) (plans.Live, error)
}

// settleScope is what the settle read of a plan's pending changes must see to judge them: every
// topic a change touches, with the config keys its desired state names and the keys a change sets
// or removes (a key that neither names was not touched: the read under the lease showed it as the
// plan found it); the inventory when any topic is touched (a topic present but not in the
// inventory would be adopted again); access when an access change is pending.
func settleScope(p plans.Plan, pending []plans.ChangeResult) ReadScope {
	scope := ReadScope{Topics: map[string][]string{}}
	for _, cr := range pending {
		c := cr.Change
		switch {
		case plans.IsAccess(c.Kind):
			scope.Access, scope.Inventory = true, true // a SCRAM user's record lives in the inventory
			continue
		case c.Kind == plans.KindObject:
			continue
		}
		scope.Inventory = true
		keys := scope.Topics[c.Name]
		if c.Config != nil {
			for k := range c.Config.Keys {
				keys = append(keys, k)
			}
		}
		if c.Topic != nil {
			for k := range c.Topic.Configs {
				keys = append(keys, k)
			}
		}
		scope.Topics[c.Name] = keys
	}
	for _, dt := range p.Desired.Topics {
		if keys, ok := scope.Topics[dt.Name]; ok {
			for k := range dt.Config {
				keys = append(keys, k)
			}
			scope.Topics[dt.Name] = keys
		}
	}
	for name, keys := range scope.Topics {
		slices.Sort(keys)
		scope.Topics[name] = slices.Compact(keys)
	}
	return scope
}

// scopedDesired is the plan's desired state cut down to what a scoped read saw: the topics in the
// scope, and access only when it was read. Diffed against that read, it finds exactly what a fresh
// plan of the whole desired state would find among the changes applied.
func scopedDesired(d plans.Desired, scope ReadScope) plans.Desired {
	out := plans.Desired{Deletion: d.Deletion}
	for _, dt := range d.Topics {
		if _, ok := scope.Topics[dt.Name]; ok {
			out.Topics = append(out.Topics, dt)
		}
	}
	if scope.Access {
		out.Access = d.Access
	}
	return out
}
