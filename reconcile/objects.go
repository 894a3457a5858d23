package reconcile

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/avatar-project/avatar-sync/plans"
)

// The Kubernetes plane (issue 11): for a target with `kubernetes:`, the objects `render --build`
// produces are changes of the same Plan as the topics, of kind KindObject. reconcile only declares
// what it needs (ObjectPayload, Objects); the kube package implements it and is the only one that
// speaks to an API server.

// SecretFingerprint is the salted fingerprint of one Secret value, the only form a plan holds it
// in: "hmac-sha256:" and the hex HMAC-SHA256, keyed by the plan's salt, of where the value lives
// (object, field, key) and the value.
func SecretFingerprint(salt []byte, object, field, key, value string) string {
	m := hmac.New(sha256.New, salt)
	for _, s := range []string{object, field, key, value} {
		fmt.Fprintf(m, "%d:%s", len(s), s)
	}
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
}

// ObjectPlanOptions are the opt-ins that change what the object plan contains.
type ObjectPlanOptions struct {
	// Prune is the desired state's `deletion: prune`; AllowDelete is --allow-delete. An object
	// that left the render is planned for deletion only with both, as topics are.
	Prune, AllowDelete bool
	// Salt keys the fingerprints of a new plan (random per plan); ignored with Pinned.
	Salt []byte
	// Pinned is the snapshot of a plan being verified or applied: the adapter plans exactly these
	// manifests (their Secret values re-supplied and checked) under their salt, not its render.
	Pinned *plans.DesiredObjects
}

// ObjectPlan is the Kubernetes side as an adapter computed it.
type ObjectPlan struct {
	// Fingerprint identifies the live objects the plan examined, in sync ones included.
	Fingerprint string
	// Changes are the KindObject changes: pending ones and orphans left alone, in apply order
	// (namespace, secrets and config, services, workloads by broker id). Objects already in sync
	// are covered by Fingerprint, not listed.
	Changes []plans.Change
	// Desired is the snapshot planned from: the plan records it, and apply pins it.
	Desired *plans.DesiredObjects
}

// ObjectApplyOptions are the opt-ins and waits of the objects phase.
type ObjectApplyOptions struct {
	ObjectPlanOptions
	ForceConflicts, AllowReplace, NoWait bool
	// WaitTimeout bounds each wait for an object to become Ready (0 = the adapter's default).
	WaitTimeout time.Duration
	// SafeToRestart is asked before a broker's StatefulSet is changed; it returns an error while
	// the broker must not restart.
	SafeToRestart func(ctx context.Context, broker int32) error
}

// ObjectEvent is one step of the objects phase: an object applied (Done) or a wait's progress.
type ObjectEvent struct {
	// Name is the change's Name (ObjectRef.String()).
	Name    string
	Done    bool
	Message string
}

// Objects is the Kubernetes plane as reconcile uses it; kube implements it (issue 11).
type Objects interface {
	// PlanObjects diffs the rendered objects against the live API server. It writes nothing.
	PlanObjects(ctx context.Context, opts ObjectPlanOptions) (ObjectPlan, error)
	// ApplyObjects executes the plan PlanObjects last returned (identified by its Fingerprint;
	// the adapter keeps the objects, Secret values included, which never leave it): namespace,
	// secrets and config, then workloads, broker StatefulSets one at a time. It refuses, changing
	// nothing, what the opt-ins do not cover or an object that changed since the plan.
	ApplyObjects(ctx context.Context, p ObjectPlan, opts ObjectApplyOptions, progress func(ObjectEvent)) error
}

// RestartGate is implemented by a Cluster that can tell whether a broker may restart now (no
// partition it hosts under-replicated or falling below min.insync.replicas).
type RestartGate interface {
	SafeToRestart(ctx context.Context, broker int32) error
}

// checkObjectsAllowed lists the object changes the opt-ins do not cover: conflicts (naming the
// other manager) without ForceConflicts, replaces without AllowReplace. Deletions and unsupported
// changes are refused by CheckAllowed like topics'.
func checkObjectsAllowed(c plans.Change, opts ApplyOptions) []error {
	if c.Kind != plans.KindObject || c.Object == nil || !c.Pending() || c.Action == plans.Unsupported {
		return nil
	}
	var errs []error
	if len(c.Object.Conflicts) > 0 && !opts.ForceConflicts {
		var cs []string
		for _, cf := range c.Object.Conflicts {
			cs = append(cs, fmt.Sprintf("%s is owned by field manager %q", cf.Field, cf.Manager))
		}
		errs = append(errs, fmt.Errorf("%s: %s; taking them needs --force-conflicts", plans.Headline(c), strings.Join(cs, ", ")))
	}
	if c.Action == plans.Replace && !opts.AllowReplace {
		var fs []string
		for _, f := range c.Object.Fields {
			fs = append(fs, f.Path+": "+f.Before+" → "+f.After)
		}
		errs = append(errs, fmt.Errorf("%s (%s): Kubernetes cannot change this in place; it needs --allow-replace (orphan-delete and recreate: pods and volumes survive)", plans.Headline(c), strings.Join(fs, ", ")))
	}
	return errs
}
