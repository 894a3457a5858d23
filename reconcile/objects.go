package reconcile

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The Kubernetes plane (issue 11): for a target with `kubernetes:`, the objects `render --build`
// produces are changes of the same Plan as the topics, of kind KindObject. reconcile only declares
// what it needs (ObjectPayload, Objects); the kube package implements it and is the only one that
// speaks to an API server.

// ObjectRef names one Kubernetes object.
type ObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// String is "Kind namespace/name" ("Kind name" for cluster-scoped objects), as plans print it.
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// ObjectField is one field a change sets: its path as kubectl prints it
// (spec.template.spec.containers[0].image) and the live and desired values, compact. A Secret's
// values are "(sensitive)" on both sides: plans are printed and saved.
type ObjectField struct {
	Path   string `json:"path"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// ObjectConflict is a field another field manager owns; applying takes it over, which only
// ApplyOptions.ForceConflicts allows.
type ObjectConflict struct {
	Field   string `json:"field"`
	Manager string `json:"manager"`
}

// ObjectPayload is a Kubernetes object change. The change's Action says create, update, delete,
// replace (a change Kubernetes cannot make in place, a StatefulSet's volumeClaimTemplates, executed
// only with ApplyOptions.AllowReplace as orphan-delete and recreate), unsupported or no-op (an
// orphan left alone); the change's Reason says why.
type ObjectPayload struct {
	Object ObjectRef `json:"object"`
	// Broker is the node id when Object is a broker StatefulSet (rolled one at a time, gated by
	// the Kafka plane's SafeToRestart), -1 otherwise.
	Broker int32 `json:"broker"`
	// Sensitive marks a Secret: its values never appear in a plan, only "(sensitive)".
	Sensitive bool             `json:"sensitive,omitempty"`
	Fields    []ObjectField    `json:"fields,omitempty"`
	Conflicts []ObjectConflict `json:"conflicts,omitempty"`
	// Live is a digest of the live object (without status and server bookkeeping) when planned,
	// "" when absent: apply refuses an object that changed since.
	Live string `json:"live,omitempty"`
}

// DesiredObjects is the Kubernetes half of a plan's desired-state snapshot (issue 20): the exact
// manifests the render produced when the plan was made, so `apply --plan` applies them and never
// today's render. A Secret's values never enter it: each is replaced by SecretFingerprint under
// Salt, and apply re-supplies the value from the spec's source (environment or file) and refuses
// it unless it has the planned fingerprint.
type DesiredObjects struct {
	// Inventory names the set of objects avatar-sync owns in the namespace (the spec's
	// metadata.name).
	Inventory string `json:"inventory"`
	// Salt is random per plan (base64); it keys every fingerprint of the plan's Kubernetes side:
	// Secret values and live-object digests, so none is a plain hash of a Secret's content.
	Salt string `json:"salt"`
	// Manifests are the objects in render order, Secret values replaced by their fingerprints.
	Manifests []json.RawMessage `json:"manifests"`
}

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
	Pinned *DesiredObjects
}

// ObjectPlan is the Kubernetes side as an adapter computed it.
type ObjectPlan struct {
	// Fingerprint identifies the live objects the plan examined, in sync ones included.
	Fingerprint string
	// Changes are the KindObject changes: pending ones and orphans left alone, in apply order
	// (namespace, secrets and config, services, workloads by broker id). Objects already in sync
	// are covered by Fingerprint, not listed.
	Changes []Change
	// Desired is the snapshot planned from: the plan records it, and apply pins it.
	Desired *DesiredObjects
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

// objectRisk grades an object change: a replace recreates the StatefulSet (RiskHeavy); nothing in
// the object plane destroys records (deleting a StatefulSet leaves its volumes).
func objectRisk(c Change, _ Live) (Risk, string) {
	switch objectRiskOf(c) {
	case RiskHeavy:
		return RiskHeavy, "the object is deleted (orphaning pods and volumes) and created again"
	case RiskUnsupported:
		return RiskUnsupported, "the API server refuses it"
	}
	return RiskNone, "no records are destroyed"
}

// objectRiskOf grades an object change by its action.
func objectRiskOf(c Change) Risk {
	switch {
	case c.Action == Unsupported:
		return RiskUnsupported
	case c.Action == Replace:
		return RiskHeavy
	}
	return RiskNone
}

// splitObjects returns the plan's object changes and the rest.
func splitObjects(cs []Change) (objects, others []Change) {
	for _, c := range cs {
		if c.Kind == KindObject {
			objects = append(objects, c)
		} else {
			others = append(others, c)
		}
	}
	return objects, others
}

// topicPart is the plan without its object changes: what the Kafka plane verifies and applies.
func topicPart(p Plan) Plan {
	_, p.Changes = splitObjects(p.Changes)
	return p
}

// checkObjectsAllowed lists the object changes the opt-ins do not cover: conflicts (naming the
// other manager) without ForceConflicts, replaces without AllowReplace. Deletions and unsupported
// changes are refused by CheckAllowed like topics'.
func checkObjectsAllowed(c Change, opts ApplyOptions) []error {
	if c.Kind != KindObject || c.Object == nil || !c.Pending() || c.Action == Unsupported {
		return nil
	}
	var errs []error
	if len(c.Object.Conflicts) > 0 && !opts.ForceConflicts {
		var cs []string
		for _, cf := range c.Object.Conflicts {
			cs = append(cs, fmt.Sprintf("%s is owned by field manager %q", cf.Field, cf.Manager))
		}
		errs = append(errs, fmt.Errorf("%s: %s; taking them needs --force-conflicts", Headline(c), strings.Join(cs, ", ")))
	}
	if c.Action == Replace && !opts.AllowReplace {
		var fs []string
		for _, f := range c.Object.Fields {
			fs = append(fs, f.Path+": "+f.Before+" → "+f.After)
		}
		errs = append(errs, fmt.Errorf("%s (%s): Kubernetes cannot change this in place; it needs --allow-replace (orphan-delete and recreate: pods and volumes survive)", Headline(c), strings.Join(fs, ", ")))
	}
	return errs
}
