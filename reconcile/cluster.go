// Package reconcile composes avatar-sync's work: compute a plans.Plan from (desired, live) with
// pure functions, then Apply it to a Cluster. It declares the interfaces its adapters implement
// (Cluster here, Checker for device probes) and never imports them, sarama, kustomize or fsnotify.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
)

// Outcome reports per-item results of a batched request: item name → nil or its error. The
// call's own error is reserved for the request as a whole failing.
type Outcome map[string]error

// ConfigChange alters one topic's dynamic configs incrementally.
type ConfigChange struct {
	Topic  string
	Set    map[string]string
	Delete []string
}

// Reassignment moves one topic's partitions to new replica lists.
type Reassignment struct {
	Topic    string
	Replicas map[int32][]int32
}

// Cluster is what reconcile needs from a Kafka cluster. The clusters package implements it with
// sarama (real targets) and kfake (the embedded target). Every method honours ctx and batches:
// one request per broker or per operation, never one per topic.
type Cluster interface {
	// Describe reads brokers, cluster id, every topic's partitions and its configs.
	Describe(ctx context.Context) (plans.Live, error)
	CreateTopics(ctx context.Context, create []spec.Topic) (Outcome, error)
	// CreatePartitions raises topics' partition counts to the given totals.
	CreatePartitions(ctx context.Context, totals map[string]int) (Outcome, error)
	AlterTopicConfigs(ctx context.Context, changes []ConfigChange) (Outcome, error)
	ReassignPartitions(ctx context.Context, moves []Reassignment) (Outcome, error)
	// ReassignmentsInProgress returns the topics among the given ones that still have moves running.
	ReassignmentsInProgress(ctx context.Context, topics []string) ([]string, error)
	// SetReplicationThrottle limits replication for the moving replicas; ClearReplicationThrottle
	// removes every throttle SetReplicationThrottle set.
	SetReplicationThrottle(ctx context.Context, bytesPerSec int64, moves []Reassignment) error
	ClearReplicationThrottle(ctx context.Context, moves []Reassignment) error
	DeleteTopics(ctx context.Context, names []string) (Outcome, error)
	// GroupsWithOffsets returns, per topic, the consumer groups holding committed offsets on it.
	GroupsWithOffsets(ctx context.Context, topics []string) (map[string][]string, error)
	// RecordInventory adds topics to, and removes topics from, the inventory Describe reads back.
	RecordInventory(ctx context.Context, add, remove []string) error
	// AcquireLease takes the cluster-wide apply lock or fails with a *LeaseHeldError.
	AcquireLease(ctx context.Context, holder string, ttl time.Duration) (Lease, error)
}

// Lease is a held apply lock. Apply renews it while it runs, so its TTL can be short: a crashed
// holder blocks others only that long.
type Lease interface {
	// Renew extends the lease by its TTL from now. It fails with an error matching ErrLeaseLost,
	// saying what happened, when the lease no longer holds the lock (released by someone else, or
	// expired and perhaps taken); any other error means the renewal could not be told.
	Renew(ctx context.Context) error
	Release(ctx context.Context) error
}

// ErrLeaseLost is matched when an apply's lease no longer holds the apply lock: it was released
// by someone else (`avatar-sync unlock`, a takeover) or expired without a renewal. The apply stops
// before its next step, since another apply may now change the cluster.
var ErrLeaseLost = errors.New("lost the apply lock")

// ErrLeaseHeld is matched (errors.Is) by every *LeaseHeldError.
var ErrLeaseHeld = errors.New("apply lock held")

// LeaseHeldError says who holds the apply lock, under which lock ID and until when.
type LeaseHeldError struct {
	Holder  string
	Expires time.Time
	// ID is the holder's lock ID, printed so a user can copy it into `avatar-sync unlock ID` when
	// the holder is gone (issue 10 item 10); "" when the cluster adapter has none.
	ID string
}

func (e *LeaseHeldError) Error() string {
	msg := fmt.Sprintf("another apply holds the lock on this cluster: %s (expires %s)", e.Holder, e.Expires.UTC().Format(time.RFC3339))
	if e.ID != "" {
		msg += fmt.Sprintf("; lock ID %s (if that apply is no longer running: avatar-sync unlock %s)", e.ID, e.ID)
	}
	return msg
}

// Is makes errors.Is(err, ErrLeaseHeld) true.
func (e *LeaseHeldError) Is(target error) bool { return target == ErrLeaseHeld }
