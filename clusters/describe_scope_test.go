package clusters

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/avatar-project/avatar-sync/clusters/internal/fakecontrol"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
	"github.com/avatar-project/avatar-sync/topics"
)

// TestDescribeScope is apply's settle read (issue 23) against the embedded cluster: only the named
// topics, each with only the named config keys (none for a topic named without keys), a named topic
// that does not exist left out, the inventory and access control only when asked for; one
// DescribeConfigs for the topics it names, never the whole cluster's.
func TestDescribeScope(t *testing.T) {
	e, a := startTest(t)
	ctx := testCtx(t)
	var create []spec.Topic
	for i := range 20 {
		create = append(create, spec.Topic{Name: fmt.Sprintf("scope-%02d", i), Partitions: 2, ReplicationFactor: 3,
			Config: map[string]string{"retention.ms": "3600000", "segment.ms": "600000"}})
	}
	mustOK(t)(a.CreateTopics(ctx, create))
	if err := a.RecordInventory(ctx, []string{"scope-00", "scope-01"}, nil); err != nil {
		t.Fatal(err)
	}
	reqs := fakecontrol.CountRequests(e.c)
	live, err := a.DescribeScope(ctx, reconcile.ReadScope{Inventory: true,
		Topics: map[string][]string{"scope-00": {"retention.ms"}, "scope-01": nil, "missing": {"retention.ms"}}})
	if err != nil {
		t.Fatal(err)
	}
	counts := reqs.Requests()
	if got := slices.Sorted(func(yield func(string) bool) {
		for n := range live.Topics {
			if !yield(n) {
				return
			}
		}
	}); !slices.Equal(got, []string{"scope-00", "scope-01"}) {
		t.Errorf("topics %v, want scope-00 and scope-01 (missing does not exist)", got)
	}
	want := map[string]topics.ConfigValue{"retention.ms": {Value: "3600000", Source: topics.SourceTopic}}
	if got := live.Topics["scope-00"].Config; len(got) != 1 || got["retention.ms"] != want["retention.ms"] {
		t.Errorf("scope-00 configs %v, want only %v", got, want)
	}
	if got := live.Topics["scope-01"]; len(got.Config) != 0 || len(got.Replicas) != 2 || len(got.Replicas[0]) != 3 {
		t.Errorf("scope-01: configs %v, replicas %v; want no configs and 2 partitions of 3 replicas", got.Config, got.Replicas)
	}
	if !slices.Equal(live.Inventory, []string{"scope-00", "scope-01"}) || live.ClusterID == "" || len(live.Brokers) != 3 {
		t.Errorf("inventory %v, cluster id %q, %d brokers", live.Inventory, live.ClusterID, len(live.Brokers))
	}
	if counts[fakecontrol.APIDescribeConfigs] != 1 {
		t.Errorf("requests %v; want one DescribeConfigs", counts)
	}

	// Nothing asked beyond the topics: no inventory read, no access read.
	reqs.Reset()
	live, err = a.DescribeScope(ctx, reconcile.ReadScope{Topics: map[string][]string{"scope-02": {"segment.ms", "retention.ms"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := live.Topics["scope-02"].Config; len(got) != 2 || got["segment.ms"].Value != "600000" || len(live.Topics) != 1 {
		t.Errorf("scope-02: %v", live.Topics)
	}
	if counts := reqs.Requests(); live.Inventory != nil || counts[fakecontrol.APIFetch]+counts[fakecontrol.API(29)] != 0 {
		t.Errorf("inventory %v, requests %v; want neither the inventory (Fetch) nor the ACLs (DescribeAcls) read", live.Inventory, counts)
	}
}

// TestSettleReadRequests is apply's settle read (DescribeScope) counted on a fresh connection and
// on held ones (issue 20): it is Describe's read of fewer topics, so the bootstrap connection that
// Connect opened carries the Metadata and the DescribeConfigs, no connection is opened twice (one
// ApiVersions: the inventory leader's connection, which the access requests then share), and each
// read is asked once. A scope asking for neither the inventory nor the access control opens no
// connection and sends nothing but the Metadata and the DescribeConfigs.
func TestSettleReadRequests(t *testing.T) {
	e, a := startTest(t)
	ctx := testCtx(t)
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "orders", Partitions: 3, ReplicationFactor: 3,
		Config: map[string]string{"retention.ms": "3600000"}}, {Name: "payments", Partitions: 1, ReplicationFactor: 3}}))
	if err := a.RecordInventory(ctx, []string{"orders", "payments"}, nil); err != nil {
		t.Fatal(err)
	}
	fresh, err := e.Connect(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fresh.Close() })

	whole := reconcile.ReadScope{Topics: map[string][]string{"orders": {"retention.ms"}, "payments": nil}, Inventory: true, Access: true}
	full := map[fakecontrol.API]int{
		fakecontrol.APIMetadata: 1, fakecontrol.APIDescribeConfigs: 1, fakecontrol.APIListOffsets: 1, fakecontrol.APIFetch: 1,
		fakecontrol.API(kmsg.DescribeACLs): 1, fakecontrol.API(kmsg.DescribeUserSCRAMCredentials): 1,
		fakecontrol.API(kmsg.DescribeClientQuotas): 1,
	}
	withDial := maps.Clone(full)
	withDial[fakecontrol.APIApiVersions] = 1
	topicsOnly := map[fakecontrol.API]int{fakecontrol.APIMetadata: 1, fakecontrol.APIDescribeConfigs: 1}
	reqs := fakecontrol.CountRequests(e.c)
	for _, tc := range []struct {
		name  string
		scope reconcile.ReadScope
		want  map[fakecontrol.API]int
	}{
		{"fresh connection", whole, withDial},
		{"connections held", whole, full},
		{"topics only", reconcile.ReadScope{Topics: whole.Topics}, topicsOnly},
	} {
		reqs.Reset()
		live, err := fresh.DescribeScope(ctx, tc.scope)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := live.Topics["orders"].Config["retention.ms"].Value; got != "3600000" || len(live.Topics) != 2 {
			t.Errorf("%s: orders retention.ms %q, %d topics; want 3600000 and 2", tc.name, got, len(live.Topics))
		}
		if got := reqs.Requests(); !maps.Equal(got, tc.want) {
			t.Errorf("%s: requests %v, want %v", tc.name, got, tc.want)
		}
	}
}
