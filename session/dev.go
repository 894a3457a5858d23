package session

import (
	"context"
	"time"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// MissingTopics lists the spec's topics the embedded cluster `dev up` serves lacks, for its banner.
// Like the rendered brokers (auto.create.topics.enable=false) the embedded cluster never creates a
// topic on first use, so a producer started against a fresh dev up waits on a missing topic with no
// hint of why. The planner's topic creates are the answer (issue 20: cmd reads no cluster itself,
// and no second comparison with the spec). Best effort: a failure to look is not worth stopping
// the server for.
func MissingTopics(ctx context.Context, e *clusters.Embedded, sp *spec.Spec, target string) []string {
	if len(sp.Topics) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	a, err := e.Connect(ctx, clusters.Options{})
	if err != nil {
		return nil
	}
	defer a.Close()
	p, err := (&reconcile.Planner{Target: reconcile.KafkaTarget(target, a)}).Plan(ctx, sp, reconcile.PlanOptions{})
	if err != nil {
		return nil
	}
	return reconcile.MissingTopics(p, sp.Topics)
}
