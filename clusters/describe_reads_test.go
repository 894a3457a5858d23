package clusters

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/avatar-project/avatar-sync/clusters/internal/fakecontrol"
	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// TestDescribeReadsInventoryFromItsMetadata is issue 23: a Describe sends one Metadata, not a
// second one for the inventory — the first names the inventory partition's leader, which answers
// one ListOffsets and the Fetch — and every other read once: one DescribeConfigs and the three
// access requests. Connections held, a Describe is exactly those seven requests. The inventory it
// reads is the one the refresh path (a leader the Metadata does not know) reads.
func TestDescribeReadsInventoryFromItsMetadata(t *testing.T) {
	e, a := startTest(t)
	ctx := testCtx(t)
	if _, err := a.CreateTopics(ctx, []spec.Topic{{Name: "orders", Partitions: 3, ReplicationFactor: 3},
		{Name: "payments", Partitions: 1, ReplicationFactor: 3}}); err != nil {
		t.Fatal(err)
	}
	if err := a.RecordInventory(ctx, []string{"orders", "payments", "audit"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.RecordInventory(ctx, nil, []string{"audit"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"orders", "payments"}
	once := map[fakecontrol.API]int{
		fakecontrol.APIMetadata: 1, fakecontrol.APIDescribeConfigs: 1, fakecontrol.APIListOffsets: 1, fakecontrol.APIFetch: 1,
		fakecontrol.API(kmsg.DescribeACLs): 1, fakecontrol.API(kmsg.DescribeUserSCRAMCredentials): 1,
		fakecontrol.API(kmsg.DescribeClientQuotas): 1,
	}
	reqs := fakecontrol.CountRequests(e.c)
	for i, held := range []string{"first Describe", "second Describe (connections held)"} {
		reqs.Reset()
		live, md, err := a.describe(ctx)
		if err != nil {
			t.Fatalf("%s: %v", held, err)
		}
		if !slices.Equal(live.Inventory, want) {
			t.Errorf("%s: inventory %v, want %v", held, live.Inventory, want)
		}
		if live.Access.Unreadable != "" || len(live.Topics) < 3 {
			t.Errorf("%s: access %+v, %d topics", held, live.Access, len(live.Topics))
		}
		counts := reqs.Requests()
		t.Logf("%s: %v", held, counts)
		for api, n := range counts {
			limit := once[api]
			if api == fakecontrol.APIApiVersions && i == 0 {
				limit = 1 // the inventory leader's connection, unless it is the seed's broker
			}
			if n > limit {
				t.Errorf("%s: %d %s requests, want at most %d", held, n, api, limit)
			}
		}
		for api, n := range once {
			if counts[api] != n {
				t.Errorf("%s: %d %s requests, want %d", held, counts[api], api, n)
			}
		}

		// The refresh path, taken when the Metadata names no leader, reads the same inventory.
		for _, tp := range md.Topics {
			if tp.Name == InventoryTopic {
				for _, p := range tp.Partitions {
					p.Leader = -1
				}
			}
		}
		reqs.Reset()
		inv, err := a.readInventory(ctx, md)
		if err != nil || !slices.Equal(inv, want) {
			t.Errorf("%s: inventory through a metadata refresh: %v %v, want %v", held, inv, err, want)
		}
		if n := reqs.Requests()[fakecontrol.APIMetadata]; n != 1 {
			t.Errorf("%s: the refresh path sent %d Metadata, want 1", held, n)
		}
	}
}

// TestDescribeSendsItsReadsAtOnce is issue 23: after Metadata, Describe does not wait for the topic
// configs before reading the inventory and the access control. The cluster holds the DescribeConfigs
// answer until the inventory's ListOffsets and the DescribeAcls have arrived (at most 5 s): a
// sequential read would ask them only after that answer. The result is the one a read without the
// hold reads. DescribeScope, apply's settle read, is the same read of fewer topics (issue 20: it
// asked for the inventory and the access control only after the configs).
func TestDescribeSendsItsReadsAtOnce(t *testing.T) {
	reads := map[string]func(*Admin, context.Context) (plans.Live, error){
		"Describe": (*Admin).Describe,
		"DescribeScope": func(a *Admin, ctx context.Context) (plans.Live, error) {
			return a.DescribeScope(ctx, reconcile.ReadScope{Topics: map[string][]string{"orders": {"retention.ms"}}, Inventory: true, Access: true})
		},
	}
	for name, readOf := range reads {
		t.Run(name, func(t *testing.T) {
			// A cluster of its own: kfake keeps a control that does not handle the request.
			e, a := startTest(t)
			ctx := testCtx(t)
			if _, err := a.CreateTopics(ctx, []spec.Topic{{Name: "orders", Partitions: 3, ReplicationFactor: 3}}); err != nil {
				t.Fatal(err)
			}
			if err := a.RecordInventory(ctx, []string{"orders"}, nil); err != nil {
				t.Fatal(err)
			}
			read := func() (plans.Live, error) { return readOf(a, ctx) }
			want, err := read()
			if err != nil {
				t.Fatal(err)
			}
			var arrived []chan struct{}
			for _, key := range []int16{int16(kmsg.ListOffsets), int16(kmsg.DescribeACLs)} {
				ch := make(chan struct{})
				once := sync.OnceFunc(func() { close(ch) })
				arrived = append(arrived, ch)
				e.c.ControlKey(key, func(kmsg.Request) (kmsg.Response, error, bool) {
					once()
					return nil, nil, false
				})
			}
			var atOnce atomic.Bool
			e.c.ControlKey(int16(kmsg.DescribeConfigs), func(kmsg.Request) (kmsg.Response, error, bool) {
				e.c.SleepControl(func() {
					timeout := time.After(5 * time.Second)
					for _, ch := range arrived {
						select {
						case <-ch:
						case <-timeout:
							return
						}
					}
					atOnce.Store(true)
				})
				return nil, nil, false
			})
			live, err := read()
			if err != nil {
				t.Fatal(err)
			}
			if !atOnce.Load() {
				t.Error("the inventory's ListOffsets and the DescribeAcls were not asked while the DescribeConfigs was unanswered")
			}
			if !slices.Equal(live.Inventory, want.Inventory) || !reflect.DeepEqual(live.Access, want.Access) || !reflect.DeepEqual(live.Topics, want.Topics) {
				t.Errorf("%s while the configs were held: inventory %v, access %+v, topics %v; without the hold %v, %+v, %v",
					name, live.Inventory, live.Access, live.Topics, want.Inventory, want.Access, want.Topics)
			}
		})
	}
}

// TestDescribeWithoutInventoryOpensNoConnection: a cluster avatar-sync has not written to yet has no
// inventory, and its Describe stays on the bootstrap connection — the access requests follow the
// configs there — so a cluster reachable only through its bootstrap address can still be planned.
func TestDescribeWithoutInventoryOpensNoConnection(t *testing.T) {
	e, a := startTest(t)
	reqs := fakecontrol.CountRequests(e.c)
	live, err := a.Describe(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	counts := reqs.Requests()
	if len(live.Inventory) != 0 || counts[fakecontrol.APIApiVersions] != 0 || counts[fakecontrol.APIListOffsets] != 0 ||
		counts[fakecontrol.API(kmsg.DescribeACLs)] != 1 {
		t.Errorf("Describe without an inventory: inventory %v, requests %v; want no connection opened (no ApiVersions), no ListOffsets, one DescribeAcls",
			live.Inventory, counts)
	}
}
