package reconcile

import (
	"reflect"
	"testing"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
)

// TestSettleScope: the settle read (issue 23) covers every topic a pending change touches, with
// the config keys its desired state names and those a change sets or removes; the inventory once
// any topic or access change ran; access only after an access change; nothing for object changes.
func TestSettleScope(t *testing.T) {
	desired := plans.Desired{Topics: []plans.DesiredTopic{
		{Name: "eeg", Partitions: 3, ReplicationFactor: 3, Config: map[string]string{"retention.ms": "7200000", "min.insync.replicas": "2"}},
		{Name: "new", Partitions: 1, ReplicationFactor: 1, Config: map[string]string{"segment.ms": "600000"}},
		{Name: "grown", Partitions: 6, ReplicationFactor: 3},
		{Name: "untouched", Partitions: 3, ReplicationFactor: 3, Config: map[string]string{"retention.ms": "1"}},
	}, Access: &plans.DesiredAccess{}}
	config := plans.Change{Kind: plans.KindConfig, Name: "eeg", Action: plans.Update, Config: &plans.ConfigPayload{Keys: map[string]plans.ConfigEdit{
		"retention.ms": {After: "7200000"}, "cleanup.policy": {Delete: true}}}}
	create := plans.Change{Kind: plans.KindTopic, Name: "new", Action: plans.Create, Topic: &plans.TopicPayload{Partitions: 1, ReplicationFactor: 1, Configs: map[string]string{"segment.ms": "600000"}}}
	grow := plans.Change{Kind: plans.KindPartitions, Name: "grown", Action: plans.Update, Partitions: &plans.PartitionsPayload{From: 3, To: 6}}
	del := plans.Change{Kind: plans.KindTopic, Name: "old", Action: plans.Delete, Topic: &plans.TopicPayload{Partitions: 3, ReplicationFactor: 3}}
	acl := plans.Change{Kind: plans.KindACL, Name: "acl", Action: plans.Create, ACL: &plans.ACLPayload{ACLRule: spec.ACLRule{Principal: "User:a"}}}
	object := plans.Change{Kind: plans.KindObject, Name: "StatefulSet avatar/kafka-broker-1", Action: plans.Update, Object: &plans.ObjectPayload{}}
	results := func(cs ...plans.Change) []plans.ChangeResult {
		var out []plans.ChangeResult
		for _, c := range cs {
			out = append(out, plans.ChangeResult{Change: c})
		}
		return out
	}
	for name, tc := range map[string]struct {
		pending []plans.ChangeResult
		want    ReadScope
	}{
		"topics": {results(config, create, grow, del), ReadScope{Inventory: true, Topics: map[string][]string{
			"eeg":   {"cleanup.policy", "min.insync.replicas", "retention.ms"},
			"new":   {"segment.ms"},
			"grown": nil,
			"old":   nil,
		}}},
		"access":  {results(acl), ReadScope{Inventory: true, Access: true, Topics: map[string][]string{}}},
		"objects": {results(object), ReadScope{Topics: map[string][]string{}}},
	} {
		t.Run(name, func(t *testing.T) {
			got := settleScope(plans.Plan{Desired: desired}, tc.pending)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("settleScope = %+v\nwant %+v", got, tc.want)
			}
			cut := scopedDesired(desired, got)
			var names []string
			for _, dt := range cut.Topics {
				names = append(names, dt.Name)
			}
			if (cut.Access != nil) != got.Access {
				t.Errorf("scoped desired access %v, read access %v", cut.Access != nil, got.Access)
			}
			for _, n := range names {
				if _, ok := got.Topics[n]; !ok || n == "untouched" {
					t.Errorf("scoped desired holds %s, which the read did not cover", n)
				}
			}
		})
	}
}
