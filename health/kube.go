package health

// KubeReport is the Kubernetes plane of a target with kubernetes: (issue 24): its StatefulSets'
// rollout and the objects drifting from the plan.
type KubeReport struct {
	Namespace    string             `json:"namespace"`
	StatefulSets []StatefulSetState `json:"statefulSets"`
	// Drift is every field of an object that differs from the plan (kind/name/field); Mode says
	// what the daemon does about it: "heal" (the next pass restores it) or "report".
	Drift []ObjectDrift `json:"drift"`
	Mode  string        `json:"mode"`
	// Error is why the plane could not be read ("" = it was).
	Error string `json:"error,omitempty"`
}

// StatefulSetState is one StatefulSet's rollout as its status says.
type StatefulSetState struct {
	Name    string `json:"name"`
	Ready   int32  `json:"ready"`
	Desired int32  `json:"desired"`
	// Images are the containers' images, in the pod template's order.
	Images []string `json:"images"`
	// Updated counts the pods on the current revision; Rollout is true while some are not, or
	// while the controller has not observed the newest spec.
	Updated int32 `json:"updated"`
	Rollout bool  `json:"rolloutInProgress"`
}

// ObjectDrift is one field of a live object that differs from the plan.
type ObjectDrift struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Field  string `json:"field"`
	Live   string `json:"live,omitempty"`
	Wanted string `json:"wanted,omitempty"`
	// Action is what the plan does with the object: "create", "update", "replace", "delete".
	Action string `json:"action"`
}

// Ready reports whether every StatefulSet has all its replicas ready and no rollout runs.
func (k KubeReport) Ready() bool {
	for _, s := range k.StatefulSets {
		if s.Ready < s.Desired || s.Rollout {
			return false
		}
	}
	return k.Error == ""
}
