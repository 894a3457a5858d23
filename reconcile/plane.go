package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
)

// A target's planes (issue 20). A target is a name, the identity the spec pins for it and its
// planes in order — the Kubernetes objects, then the Kafka cluster — and the Planner plans,
// verifies and applies it by going over its planes in that order, knowing none of them. The split
// follows terraform's providers (read the resource, plan its change as a pure function of the
// prior state and the configuration, apply the planned change) and flux's server-side-apply
// manager (the dry run is the diff; apply in stages, then wait): a plane observes, its
// observation diffs, the plane executes.

// Target is one target as the Planner drives it.
type Target struct {
	// Name is the target's name in the spec (--cluster); it is a plan's Cluster.
	Name string
	// ClusterID is the Kafka cluster id the spec pins for the target ("" = not pinned): the Kafka
	// plane refuses a cluster with another id before anything is planned or changed (issue #3).
	ClusterID string
	// Namespace is the Kubernetes namespace the spec gives the target ("" = none): the Kubernetes
	// plane refuses a saved plan whose objects live in another (the kube context it connects
	// with is the spec's too, so a plan reaches no other API server than the target's).
	Namespace string
	// Planes are the target's planes in the order apply executes them: a plane's changes need
	// those of the planes before it (topic changes need the brokers the objects run).
	Planes []Plane
}

// KafkaTarget is a target with the Kafka plane alone (no kubernetes: block).
func KafkaTarget(name string, c Cluster) Target {
	return Target{Name: name, Planes: []Plane{KafkaPlane(c, nil)}}
}

// Plane is one plane of a target: the Kafka cluster (KafkaPlane, over the clusters
// package's Cluster), the Kubernetes objects (ObjectsPlane, over kube's Objects), or any other
// system a target's state lives in. The Planner reads no plane's state and executes no change
// itself: it orders the planes' steps, holds the apply lock across them and keeps the rules
// (identity and verification before anything changes, deferral never bypassing the lock).
type Plane interface {
	// Kind is the plane's name in the kind table: the plan's part for it (plans.Part) holds the
	// changes of the kinds the table places in it, its fingerprint or its deferral.
	Kind() plans.PlaneID
	// Observe reads the plane's live state, for a new plan (q.Saved nil) or for checking and
	// applying q.Saved, and refuses a live state that is not the pinned target's. It changes
	// nothing. A plane that cannot be read yet but may be planned later (a fresh cluster's
	// brokers, which the objects create) returns a *DeferredError.
	Observe(ctx context.Context, q Query) (Observation, error)
	// Execute applies the plane's part of a plan verified against it (part holds the plane's
	// plans.Part alone, partOf): it checks under the lock that the live state is still the one the part
	// was planned from, executes its changes in its own waves, reporting each through
	// x.Progress, and proves convergence with a fresh observation. The Result lists the part's
	// pending changes with their status, numbered within the part. ctx is the lock's working
	// context: it ends when the lock is lost. A plane whose changes were made but did not
	// converge returns a *NotConvergedError, and the planes after it still run.
	Execute(ctx context.Context, part plans.Plan, x Execution) (plans.Result, error)
	// Deferred says what a plan's deferral of this plane means to the person reading the plan
	// now: when the plane is planned, and whether it can be read at this moment.
	Deferred(d plans.Deferral) plans.Advisory
}

// Observation is one read of a plane's live state.
type Observation interface {
	// Fingerprint identifies the live state observed, as the plan records it; "" until Diff or
	// Verify computed it (hashing 10,000 topics is not free, so a read is hashed once).
	Fingerprint() string
	// Diff is the pure step: the plan's desired snapshot (p.Desired) against the observation. It
	// records the plane's part in p (plans.Plan.SetPart: its changes in the plane's order and its
	// fingerprint) and its half of the snapshot.
	Diff(p *plans.Plan) error
	// Verify refuses a saved plan's part that the observation does not bear out: ErrStalePlan when
	// the live state is not the one the plan was made from (its fingerprint), ErrTampered when
	// its changes are not what its own snapshot gives against it.
	Verify(p plans.Plan) error
}

// Query is what a plane is observed for.
type Query struct {
	// Target is the target's name and pinned identity (its Planes unset).
	Target Target
	// Spec is the spec a new plan is made from; nil when a saved plan is checked or a deferred
	// plane is continued.
	Spec *spec.Spec
	// Saved is the plan being checked or applied; nil for a new plan.
	Saved *plans.Plan
	// AllowDelete is --allow-delete for a new plan (a saved plan records its own).
	AllowDelete bool
	// Secrets reads the passwords a plan fingerprints; Rand is the source of its salts.
	Secrets SecretReader
	Rand    io.Reader
}

// Execution is what a plane's Execute is given besides its part.
type Execution struct {
	Options  ApplyOptions
	Progress Progress
	// SafeToRestart is asked before a broker restarts: the Kafka plane's answer, or a refusal
	// when the target's brokers cannot tell (they do not answer).
	SafeToRestart func(ctx context.Context, broker int32) error

	// outer is the apply's own context, for the steps that must run after the lock's working
	// context ended (settling what landed); held is the lock, nil when none is held.
	outer context.Context
	held  *heldLease
	// underLease: the part was verified against a read made under held, and nothing has changed
	// since (Planner.Lock, issue 23); the plane need not read again to check its fingerprint.
	underLease bool
}

// Locker is a plane that holds its target's apply lock (the Kafka plane: the lock lives in the
// cluster). The Planner takes it before the first plane changes anything and holds it, renewed,
// until the last plane is done: two applies never change one target at once, whatever plane.
type Locker interface {
	AcquireLease(ctx context.Context, holder string, ttl time.Duration) (Lease, error)
}

// DeferredError is Observe's error for a plane that cannot be read yet but may be planned later.
// A plan records its Deferral when another plane of the target can be planned, and fails with Err
// otherwise; apply plans the plane under the apply lock once it answers, and never applies it.
type DeferredError struct {
	Deferral plans.Deferral
	Err      error
}

func (e *DeferredError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *DeferredError) Unwrap() error { return e.Err }

// NotConvergedError is Execute's error when a plane's changes were made but a fresh observation
// still finds changes: the planes after it still run, and apply returns it unless a later plane
// fails.
type NotConvergedError struct{ Err error }

func (e *NotConvergedError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *NotConvergedError) Unwrap() error { return e.Err }

// partOf is the plan with its part for plane k alone: what the plane verifies and executes.
func partOf(p plans.Plan, k plans.PlaneID) plans.Plan {
	if len(p.Parts) == 1 && p.Parts[0].Plane == k {
		return p
	}
	p.Parts = []plans.Part{p.Part(k)}
	return p
}

// checkFresh refuses the plan's part for plane k as stale when the plane's live state, fp, is not
// the one it was computed against; the error names the part and says what changed (what).
func checkFresh(k plans.PlaneID, what string, p plans.Plan, fp string) error {
	planned := p.Part(k).Fingerprint
	if planned == fp {
		return nil
	}
	return fmt.Errorf("%w: its %s part: %s changed since the plan was computed (plan %s, live %s); run plan again and review the new plan", ErrStalePlan, k, what, plans.ShortDigest(planned), plans.ShortDigest(fp))
}

// isNotConverged reports whether err says only that a plane did not converge.
func isNotConverged(err error) bool {
	var nc *NotConvergedError
	return errors.As(err, &nc)
}
