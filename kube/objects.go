package kube

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/avatar-project/avatar-sync/plans"
)

// BrokerLabel carries a broker StatefulSet's node id (render puts it on every broker object).
const BrokerLabel = "avatar-sync/broker-id"

// Parse decodes a YAML manifest stream (what `render --build` prints) into objects, in order.
func Parse(manifests []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifests), 4096)
	var out []*unstructured.Unstructured
	for i := 1; ; i++ {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("manifest document %d: %w", i, err)
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.GetKind() == "" || u.GetAPIVersion() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("manifest document %d: apiVersion, kind and metadata.name are required", i)
		}
		out = append(out, u)
	}
}

// PasswordSecret is the keystore-password Secret the broker pods read (issue 11: applied from
// tls.passwordEnv / passwordFile instead of a manual `kubectl create secret`). The caller resolves
// the password; it only ever travels to the API server, never to a file.
func PasswordSecret(namespace, name, key, password string, labels map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata":   map[string]any{"name": name, "namespace": namespace},
		"type":       "Opaque",
		// data, not stringData: the server turns stringData into data, which would show as drift.
		"data": map[string]any{key: base64.StdEncoding.EncodeToString([]byte(password))},
	}}
	if len(labels) > 0 {
		u.SetLabels(labels)
	}
	return u
}

// stage orders objects as Strimzi and kustomize do: the namespace first, then what pods mount
// (secrets, config maps), services, other objects, and the workloads last.
func stage(u *unstructured.Unstructured) int {
	switch u.GetKind() {
	case "Namespace":
		return 0
	case "Secret", "ConfigMap", "ServiceAccount":
		return 1
	case "Service":
		return 2
	case "StatefulSet", "Deployment", "DaemonSet", "Job":
		return 4
	default:
		return 3
	}
}

// brokerID is the node id of a broker StatefulSet, or -1.
func brokerID(u *unstructured.Unstructured) int32 {
	if u.GetKind() != "StatefulSet" {
		return -1
	}
	id, err := strconv.ParseInt(u.GetLabels()[BrokerLabel], 10, 32)
	if err != nil {
		return -1
	}
	return int32(id)
}

// refOf names an object as plans and the inventory do.
func refOf(u *unstructured.Unstructured) plans.ObjectRef {
	return plans.ObjectRef{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
}

// refKey identifies an object regardless of its API version.
func refKey(r plans.ObjectRef) string {
	return groupOf(r.APIVersion) + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name
}

func groupOf(apiVersion string) string {
	for i := 0; i < len(apiVersion); i++ {
		if apiVersion[i] == '/' {
			return apiVersion[:i]
		}
	}
	return ""
}

// objectFor is an empty object of r's kind and name, to read or delete it.
func objectFor(r plans.ObjectRef) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(r.APIVersion)
	u.SetKind(r.Kind)
	u.SetNamespace(r.Namespace)
	u.SetName(r.Name)
	return u
}

// sortObjects orders objects by stage, then broker id, then kind/name, so plans and applies are
// deterministic.
func sortObjects(objs []*unstructured.Unstructured) {
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := objs[i], objs[j]
		if sa, sb := stage(a), stage(b); sa != sb {
			return sa < sb
		}
		if ba, bb := brokerID(a), brokerID(b); ba != bb {
			return ba < bb
		}
		return refOf(a).String() < refOf(b).String()
	})
}
