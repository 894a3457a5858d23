package kube

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/avatar-project/avatar-sync/plans"
)

// WorkloadStatus is one StatefulSet's rollout as its status says (the status page and `status`,
// issue 24).
type WorkloadStatus struct {
	Namespace, Name string
	Ready, Desired  int32
	Updated         int32
	Images          []string
	// Rollout is true while pods are not all on the newest revision, or the controller has not
	// yet observed the newest spec.
	Rollout bool
	// Missing is true when the StatefulSet does not exist (yet).
	Missing bool
}

// Workloads reads the StatefulSets among the desired objects (one LIST, or a GET each for a user
// who may not list them), nothing written.
func (pl *Plane) Workloads(ctx context.Context) ([]WorkloadStatus, error) {
	var sets []*unstructured.Unstructured
	var refs []plans.ObjectRef
	for _, o := range pl.Desired.Objects {
		if o.GetKind() == "StatefulSet" {
			sets = append(sets, o)
			refs = append(refs, refOf(o))
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	snap, err := pl.Client.observe(ctx, refs[0].Namespace, refs)
	if err != nil {
		return nil, err
	}
	var out []WorkloadStatus
	for i, o := range sets {
		ref := refs[i]
		live, err := snap.get(ref)
		if err != nil {
			return out, fmt.Errorf("target %s: %w", pl.Client.target, err)
		}
		if live == nil {
			out = append(out, WorkloadStatus{Namespace: ref.Namespace, Name: ref.Name, Missing: true, Desired: replicas(o), Images: images(o)})
			continue
		}
		out = append(out, workloadOf(live))
	}
	return out, nil
}

// workloadOf reads a live StatefulSet's rollout; pure, so it is table-tested.
func workloadOf(live *unstructured.Unstructured) WorkloadStatus {
	w := WorkloadStatus{Namespace: live.GetNamespace(), Name: live.GetName(), Desired: replicas(live), Images: images(live)}
	w.Ready = int32(nested(live, "status", "readyReplicas"))
	w.Updated = int32(nested(live, "status", "updatedReplicas"))
	observed := nested(live, "status", "observedGeneration")
	current, _, _ := unstructured.NestedString(live.Object, "status", "currentRevision")
	update, _, _ := unstructured.NestedString(live.Object, "status", "updateRevision")
	w.Rollout = observed < live.GetGeneration() || w.Updated < w.Desired || (update != "" && current != update)
	return w
}

func replicas(u *unstructured.Unstructured) int32 {
	n, found, err := unstructured.NestedInt64(u.Object, "spec", "replicas")
	if !found || err != nil {
		return 1 // the API server's default
	}
	return int32(n)
}

func nested(u *unstructured.Unstructured, path ...string) int64 {
	n, _, _ := unstructured.NestedInt64(u.Object, path...)
	return n
}

func images(u *unstructured.Unstructured) []string {
	cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	var out []string
	for _, c := range cs {
		if m, ok := c.(map[string]any); ok {
			if img, ok := m["image"].(string); ok {
				out = append(out, img)
			}
		}
	}
	return out
}
