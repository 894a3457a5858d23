package clusters

import (
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

// This checks the min.insync.replicas side end to end; the under-replicated side is table-tested
// in topics.TestRestartBlockers and runs on the embedded cluster (a follower made to fall behind)
// in TestFallenBehindFollowerInHealthAndRollGuard.
func TestSafeToRestartHonoursMinInsyncReplicas(t *testing.T) {
	_, a := startTest(t)
	ctx := testCtx(t)
	if err := a.SafeToRestart(ctx, 1); err != nil {
		t.Fatalf("a cluster without topics: %v", err)
	}
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{
		{Name: "eeg-brainwave-data", Partitions: 3, ReplicationFactor: 3, Config: map[string]string{"min.insync.replicas": "2"}},
	}))
	if err := a.SafeToRestart(ctx, 2); err != nil {
		t.Fatalf("rf 3 with min.insync.replicas 2 keeps 2 in sync without broker 2: %v", err)
	}
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{
		{Name: "drone-commands", Partitions: 1, ReplicationFactor: 3, Config: map[string]string{"min.insync.replicas": "3"}},
	}))
	err := a.SafeToRestart(ctx, 2)
	if err == nil || !strings.Contains(err.Error(), "broker 2 must not restart") || !strings.Contains(err.Error(), "drone-commands-0 would keep 2 in-sync replicas, below its min.insync.replicas=3") {
		t.Fatalf("SafeToRestart = %v, want drone-commands-0 named", err)
	}
}
