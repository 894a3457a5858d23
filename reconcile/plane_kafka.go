package reconcile

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/avatar-project/avatar-sync/plans"
)

// kafkaPlane is the Kafka plane of a target: topics, their configs, the inventory and access
// control, over a Cluster (the clusters package speaks the protocol). Its deferral is a fresh
// cluster's: the brokers do not answer until the objects plane has created them.
type kafkaPlane struct {
	cluster Cluster
	// down says why cluster is nil: the brokers did not answer when the target was opened.
	down error
}

// KafkaPlane is the Kafka plane over c; c is nil when the brokers did not answer (down says why).
// It holds the target's apply lock and answers whether a broker may restart.
func KafkaPlane(c Cluster, down error) Plane { return &kafkaPlane{cluster: c, down: down} }

func (k *kafkaPlane) Kind() plans.PlaneID { return plans.PlaneKafka }

// Observe reads the cluster (one Describe) and checks its id against the pinned one and the
// saved plan's.
func (k *kafkaPlane) Observe(ctx context.Context, q Query) (Observation, error) {
	if k.cluster == nil {
		return nil, &DeferredError{Deferral: plans.Deferral{Reason: deferredReason(k.down)},
			Err: fmt.Errorf("read cluster %q: %w", q.Target.Name, k.down)}
	}
	live, err := k.cluster.Describe(ctx)
	if err != nil {
		return nil, fmt.Errorf("read cluster %q: %w", q.Target.Name, err)
	}
	against := plans.Plan{Cluster: q.Target.Name}
	if q.Saved != nil {
		against = *q.Saved
	}
	if err := CheckClusterID(q.Target.ClusterID, against, live.ClusterID); err != nil {
		return nil, err
	}
	return &kafkaObservation{live: live, q: q}, nil
}

// Execute is Apply's steps under the Planner's lock: the fingerprint against a fresh read,
// consumer groups, the payloads by phase, settling and convergence (applyTopics).
func (k *kafkaPlane) Execute(ctx context.Context, part plans.Plan, x Execution) (plans.Result, error) {
	if k.cluster == nil {
		return plans.Result{}, fmt.Errorf("read cluster %q: %w", part.Cluster, k.down)
	}
	// Settling what landed after a time-out needs the apply's own context, not the lock's.
	outer := x.outer
	if outer == nil {
		outer = ctx
	}
	checked := checkedBeforeLease
	if x.underLease {
		checked = checkedUnderLease
	}
	return applyTopics(outer, part, k.cluster, x.Options, x.Progress, x.held, checked)
}

// Deferred is the advisory of a plan that deferred the topics: when they are planned, and
// whether the brokers answer now.
func (k *kafkaPlane) Deferred(d plans.Deferral) plans.Advisory {
	a := plans.Advisory{Subject: "topics", Status: "deferred",
		Reason: d.Reason + ": the topics will be planned once the brokers answer; apply creates the brokers, waits for them and then plans the topics under the apply lock"}
	if k.cluster != nil {
		// The brokers answer now: say so rather than repeat what was true when planning.
		a.Reason = "when the plan was made, " + d.Reason + "; the brokers answer now: apply takes the apply lock before any object changes and plans the topics under it, but changes none of them (they are not part of this plan): run plan again for them"
	}
	return a
}

// AcquireLease takes the apply lock kept in the cluster.
func (k *kafkaPlane) AcquireLease(ctx context.Context, holder string, ttl time.Duration) (Lease, error) {
	if k.cluster == nil {
		// A *DeferredError: Planner.Lock has no lock to take until the brokers answer.
		return nil, &DeferredError{Deferral: plans.Deferral{Reason: deferredReason(k.down)},
			Err: fmt.Errorf("the brokers do not answer: %w", k.down)}
	}
	return k.cluster.AcquireLease(ctx, holder, ttl)
}

// SafeToRestart asks the cluster whether broker may restart now. Without brokers that answer,
// nobody can tell, so a broker is never restarted blind.
func (k *kafkaPlane) SafeToRestart(ctx context.Context, broker int32) error {
	if g, ok := k.cluster.(RestartGate); ok {
		return g.SafeToRestart(ctx, broker)
	}
	why := "the brokers do not answer"
	if k.down != nil {
		why += " (" + k.down.Error() + ")"
	}
	return fmt.Errorf("%s, so avatar-sync cannot tell whether every partition stays in sync while it restarts", why)
}

// kafkaObservation is one Describe of the cluster, with its fingerprint once computed.
type kafkaObservation struct {
	live plans.Live
	fp   string
	q    Query
}

func (o *kafkaObservation) Fingerprint() string { return o.fp }

// Diff diffs the plan's snapshot against the live state: the topics and access changes, sorted
// by the kind table's waves. The desired SCRAM users' passwords are read to fingerprint them
// (never stored); a new plan also refuses users it has no password to create.
func (o *kafkaObservation) Diff(p *plans.Plan) error {
	d := p.Desired
	if d.Access != nil {
		a := *d.Access
		a.Users = slices.Clone(a.Users)
		if err := FingerprintCredentials(&a, o.live.Inventory, o.q.Secrets, o.q.Rand); err != nil {
			return fmt.Errorf("plan the users of %q: %w", p.Cluster, err)
		}
		if o.q.Spec != nil {
			if err := uncreatableUsers(o.q.Spec, o.live, p.Cluster); err != nil {
				return err
			}
		}
		d.Access = &a
	}
	kp := Diff(d, o.live, DiffOptions{Cluster: p.Cluster, AllowDelete: p.AllowDelete})
	part := kp.Part(plans.PlaneKafka)
	o.fp = part.Fingerprint
	p.ClusterID, p.ManagedTopics, p.Desired.Access = kp.ClusterID, kp.ManagedTopics, d.Access
	p.SetPart(part)
	return nil
}

// Verify checks the plan's Kafka part against the live state (verifyPlan); verified, the live
// state has the plan's fingerprint, so the next check of this plan (apply after CheckSaved) needs
// no second read or hash.
func (o *kafkaObservation) Verify(p plans.Plan) error {
	if err := verifyPlan(p, o.live, o.fp); err != nil {
		return err
	}
	o.fp = p.Part(plans.PlaneKafka).Fingerprint
	return nil
}
