package clusters_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// TestPruneDeletesOnlyInventoryTopics is issue 9's inventory test: a topic another team made with
// another client (franz-go's kadm, not avatar-sync's code) survives `deletion: prune` with
// --allow-delete, while a topic avatar-sync created and the spec dropped is deleted; a
// hand-made topic the spec names is adopted on the next apply, and deleted once it leaves the spec.
func TestPruneDeletesOnlyInventoryTopics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e, err := clusters.StartEmbedded(ctx, nil, clusters.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	a, err := e.Connect(ctx, clusters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	kc, err := kgo.NewClient(kgo.SeedBrokers(e.Bootstrap()...))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	byHand := func(name string) {
		t.Helper()
		resp, err := kadm.NewClient(kc).CreateTopic(ctx, 1, 1, nil, name)
		if err != nil || resp.Err != nil {
			t.Fatalf("kadm create %s: %v %v", name, err, resp.Err)
		}
	}
	planner := &reconcile.Planner{Target: reconcile.KafkaTarget("embedded", a)}
	apply := func(s *spec.Spec, allowDelete bool) plans.Plan {
		t.Helper()
		p, err := planner.Plan(ctx, s, reconcile.PlanOptions{AllowDelete: allowDelete})
		if err != nil {
			t.Fatal(err)
		}
		res, err := planner.Apply(ctx, p, reconcile.ApplyOptions{AllowDelete: allowDelete, PollInterval: 10 * time.Millisecond}, nil)
		if err != nil || !res.Converged() {
			t.Fatalf("apply: %v %+v", err, res)
		}
		return p
	}
	topic := func(name string) spec.Topic { return spec.Topic{Name: name, Partitions: 1, ReplicationFactor: 1} }

	byHand("team-b-scratch") // never named in the spec
	byHand("legacy-scores")  // made by hand before avatar-sync managed the cluster; the spec names it
	p := apply(&spec.Spec{Topics: []spec.Topic{topic("eeg-brainwave-data"), topic("prediction-results"), topic("drone-commands"), topic("legacy-scores")}}, false)
	if got := headlines(p); !slices.Contains(got, "adopt topic legacy-scores into the inventory") || slices.Contains(got, "adopt topic team-b-scratch into the inventory") {
		t.Fatalf("first plan: %v", got)
	}
	live, err := a.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"drone-commands", "eeg-brainwave-data", "legacy-scores", "prediction-results"}; !slices.Equal(live.Inventory, want) {
		t.Fatalf("inventory %v, want %v", live.Inventory, want)
	}

	// drone-commands and legacy-scores leave the spec (2 of 4 managed: under the mass-delete
	// guard); prune with --allow-delete.
	p = apply(&spec.Spec{Deletion: spec.DeletionPrune, Topics: []spec.Topic{topic("eeg-brainwave-data"), topic("prediction-results"), topic("new-topic")}}, true)
	if got := headlines(p); !slices.Contains(got, "delete topic drone-commands") || !slices.Contains(got, "delete topic legacy-scores") || slices.Contains(got, "delete topic team-b-scratch") {
		t.Fatalf("prune plan: %v", got)
	}
	for _, c := range p.AllChanges() {
		if c.Name == "team-b-scratch" && !strings.Contains(c.Reason, "unmanaged") {
			t.Errorf("hand-made topic: %s: %s", plans.Headline(c), c.Reason)
		}
	}
	live, err = a.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"drone-commands", "legacy-scores"} {
		if _, ok := live.Topics[gone]; ok {
			t.Errorf("managed topic %s that left the spec was not deleted", gone)
		}
	}
	if _, ok := live.Topics["team-b-scratch"]; !ok {
		t.Fatal("prune deleted team-b-scratch, a topic avatar-sync never managed")
	}
	if want := []string{"eeg-brainwave-data", "new-topic", "prediction-results"}; !slices.Equal(live.Inventory, want) {
		t.Errorf("inventory after prune %v, want %v", live.Inventory, want)
	}
}

func headlines(p plans.Plan) []string {
	var out []string
	for _, c := range p.AllChanges() {
		out = append(out, plans.Headline(c))
	}
	return out
}
