package plans

import (
	"encoding/json"
)

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
// reconcile.ApplyOptions.ForceConflicts allows.
type ObjectConflict struct {
	Field   string `json:"field"`
	Manager string `json:"manager"`
}

// ObjectPayload is a Kubernetes object change. The change's Action says create, update, delete,
// replace (a change Kubernetes cannot make in place, a StatefulSet's volumeClaimTemplates,
// executed only with reconcile.ApplyOptions.AllowReplace as orphan-delete and recreate),
// unsupported or no-op (an orphan left alone); the change's Reason says why.
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
// today's render. A Secret's values never enter it: each is replaced by
// reconcile.SecretFingerprint under Salt, and apply re-supplies the value from the spec's source
// (environment or file) and refuses it unless it has the planned fingerprint.
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

// objectRisk grades an object change: a replace recreates the StatefulSet (RiskHeavy); nothing in
// the object plane destroys records (deleting a StatefulSet leaves its volumes).
func objectRisk(c Change, _ Live) (Risk, string) {
	switch ObjectRiskOf(c) {
	case RiskHeavy:
		return RiskHeavy, "the object is deleted (orphaning pods and volumes) and created again"
	case RiskUnsupported:
		return RiskUnsupported, "the API server refuses it"
	}
	return RiskNone, "no records are destroyed"
}

// ObjectRiskOf grades an object change by its action.
func ObjectRiskOf(c Change) Risk {
	switch {
	case c.Action == Unsupported:
		return RiskUnsupported
	case c.Action == Replace:
		return RiskHeavy
	}
	return RiskNone
}
