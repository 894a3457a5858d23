package render

import (
	"fmt"
	"strconv"

	"github.com/avatar-project/avatar-sync/spec"
)

// The in-cluster watch daemon (issue 12): `avatar-sync watch --git` as a Deployment in the
// target's namespace, rendered into the overlay when clusters.<name>.kubernetes.watch.enabled.

const (
	watchName     = "avatar-sync-watch"
	watchStateDir = "/var/lib/avatar-sync"
	// WatchTLSDir is where the watch pod mounts the TLS Secret (ca.crt for the target's caFile).
	WatchTLSDir = "/etc/avatar-sync/tls"
	// WatchNotifySecret holds the daemon's webhook URLs (space-separated) under WatchNotifySecretKey.
	WatchNotifySecret    = "avatar-sync-watch-notify"
	WatchNotifySecretKey = "urls"
	// watchUID is the distroless "nonroot" user; the image needs no particular one.
	watchUID = 65532
)

// ImageName is the repository `make image` tags the daemon's image with (issue 25).
const ImageName = "ghcr.io/avatar-project/avatar-sync"

// BuildVersion is the version of the avatar-sync binary that renders; cmd sets it from the
// version stamped at build time ("dev" in tests and plain `go build`).
var BuildVersion = "dev"

// DefaultWatchImage is the image the watch Deployment runs when the spec names none: the one
// `make image` built from the same commit as this binary (ImageName:BuildVersion), which the
// lab imports with `microk8s images import` rather than pulls.
func DefaultWatchImage() string { return ImageName + ":" + BuildVersion }

// watchLabels are the labels of every watch object; the Kafka selectors (app.kubernetes.io/name
// kafka) never match them, so no broker patch or PDB reaches the daemon.
func (m *model) watchLabels() map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":       "avatar-sync",
		"app.kubernetes.io/instance":   m.instance,
		"app.kubernetes.io/component":  "watch",
		"app.kubernetes.io/part-of":    "avatar",
		"app.kubernetes.io/managed-by": "avatar-sync",
	}
}

func (m *model) watchSelector() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "avatar-sync", "app.kubernetes.io/component": "watch",
		"app.kubernetes.io/instance": m.instance}
}

// watchObjects are the ServiceAccount, Role, RoleBinding and Deployment of the daemon.
//
// The Role is namespaced (no ClusterRole: the daemon never needs to see another namespace) and
// grants only the kinds the Kubernetes plane manages in it (docs/kubernetes.md): the brokers'
// StatefulSets, Services, ConfigMaps (configuration and the inventory), Secrets (the TLS Secret),
// the PodDisruptionBudget, and read access to Pods to follow a rolling restart. The Namespace
// itself is created by whoever installs the overlay.
func (m *model) watchObjects(c spec.Cluster) []any {
	w := c.Kubernetes.Watch
	target := firstNonEmpty(w.Cluster, c.Name)
	manage := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	sa := omap{
		{"apiVersion", "v1"},
		{"kind", "ServiceAccount"},
		{"metadata", omap{{"name", watchName}, {"labels", strMap(m.watchLabels())}}},
	}
	role := omap{
		{"apiVersion", "rbac.authorization.k8s.io/v1"},
		{"kind", "Role"},
		{"metadata", omap{{"name", watchName}, {"labels", strMap(m.watchLabels())}}},
		{"rules", []any{
			omap{{"apiGroups", []string{""}}, {"resources", []string{"configmaps", "secrets", "services"}}, {"verbs", manage}},
			omap{{"apiGroups", []string{"apps"}}, {"resources", []string{"statefulsets"}}, {"verbs", manage}},
			omap{{"apiGroups", []string{"policy"}}, {"resources", []string{"poddisruptionbudgets"}}, {"verbs", manage}},
			omap{{"apiGroups", []string{""}}, {"resources", []string{"pods"}}, {"verbs", []string{"get", "list", "watch"}}},
		}},
	}
	binding := omap{
		{"apiVersion", "rbac.authorization.k8s.io/v1"},
		{"kind", "RoleBinding"},
		{"metadata", omap{{"name", watchName}, {"labels", strMap(m.watchLabels())}}},
		{"roleRef", omap{{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", watchName}}},
		// kustomize's namespace transformer fills in the subject's namespace with the overlay's.
		{"subjects", []any{omap{{"kind", "ServiceAccount"}, {"name", watchName}}}},
	}

	port := strconv.Itoa(w.MetricsPort)
	args := []string{"watch", "--cluster", target, "--git", w.Git, "--branch", w.Branch, "--path", w.Path,
		"--git-interval", w.GitInterval.String(), "--mode", w.Mode, "--state-dir", watchStateDir,
		"--metrics-addr", ":" + port, "-o", "json"}
	env := []any{
		omap{{"name", "HOME"}, {"value", watchStateDir}},
		// Webhook URLs hold tokens: from a Secret the operator creates, never from the spec. The
		// Secret is optional, so the daemon runs without notifications until it exists.
		omap{{"name", "AVATAR_SYNC_NOTIFY"}, {"valueFrom", omap{{"secretKeyRef", omap{
			{"name", WatchNotifySecret}, {"key", WatchNotifySecretKey}, {"optional", true}}}}}},
	}
	if m.needsPassword() && m.spec.TLS.PasswordEnv != "" {
		env = append(env, omap{{"name", m.spec.TLS.PasswordEnv}, {"valueFrom", omap{{"secretKeyRef", omap{
			{"name", PasswordSecret}, {"key", PasswordSecretKey}}}}}})
	}
	mounts := []any{
		omap{{"name", "state"}, {"mountPath", watchStateDir}},
		omap{{"name", "tmp"}, {"mountPath", "/tmp"}},
	}
	volumes := []any{
		// The private git clone and the embedded cluster's state: rebuilt from the remote after a
		// restart, so an emptyDir is enough.
		omap{{"name", "state"}, {"emptyDir", omap{}}},
		omap{{"name", "tmp"}, {"emptyDir", omap{}}},
	}
	if m.tls {
		mounts = append(mounts, omap{{"name", "tls"}, {"mountPath", WatchTLSDir}, {"readOnly", true}})
		volumes = append(volumes, omap{{"name", "tls"}, {"secret", omap{{"secretName", tlsSecret}, {"defaultMode", 0o440}}}})
	}
	probe := func(path string, period, failures int) omap {
		return omap{{"httpGet", omap{{"path", path}, {"port", "metrics"}}}, {"periodSeconds", period}, {"failureThreshold", failures}}
	}
	container := omap{
		{"name", "watch"},
		{"image", firstNonEmpty(w.Image, DefaultWatchImage())},
		// An imported image is in the node's containerd already and in no registry: never pull
		// what is present (a :latest tag would otherwise default to Always and fail).
		{"imagePullPolicy", "IfNotPresent"},
		{"args", args},
		{"env", env},
		{"ports", []any{omap{{"name", "metrics"}, {"containerPort", w.MetricsPort}}}},
		// /healthz: the process serves; /readyz: the last pass succeeded. A failing pass (a bad
		// commit, an unreachable remote) makes the pod unready, never restarts it: the daemon
		// retries on its own and keeps the last good revision in force.
		{"livenessProbe", probe("/healthz", 20, 3)},
		{"readinessProbe", probe("/readyz", 10, 1)},
		{"resources", omap{{"requests", omap{{"cpu", "50m"}, {"memory", "64Mi"}}}, {"limits", omap{{"memory", "256Mi"}}}}},
		{"volumeMounts", mounts},
		{"securityContext", omap{{"allowPrivilegeEscalation", false}, {"readOnlyRootFilesystem", true},
			{"capabilities", omap{{"drop", []string{"ALL"}}}}}},
	}
	deployment := omap{
		{"apiVersion", "apps/v1"},
		{"kind", "Deployment"},
		{"metadata", omap{{"name", watchName}, {"labels", strMap(m.watchLabels())}}},
		{"spec", omap{
			{"replicas", 1},
			// Never two daemons at once, not even during a rollout.
			{"strategy", omap{{"type", "Recreate"}}},
			{"selector", omap{{"matchLabels", strMap(m.watchSelector())}}},
			{"template", omap{
				{"metadata", omap{
					{"labels", strMap(m.watchLabels())},
					{"annotations", strMap(map[string]string{
						"prometheus.io/scrape": "true", "prometheus.io/port": port, "prometheus.io/path": "/metrics"})},
				}},
				{"spec", omap{
					{"serviceAccountName", watchName},
					// SIGTERM cancels the running pass; it is reported as interrupted.
					{"terminationGracePeriodSeconds", 30},
					{"securityContext", omap{{"runAsNonRoot", true}, {"runAsUser", watchUID}, {"runAsGroup", watchUID}, {"fsGroup", watchUID},
						{"seccompProfile", omap{{"type", "RuntimeDefault"}}}}},
					{"containers", []any{container}},
					{"volumes", volumes},
				}},
			}},
		}},
	}
	return []any{sa, role, binding, deployment}
}

// watchEnabled reports whether the target asks for the in-cluster daemon.
func watchEnabled(c spec.Cluster) bool {
	return c.Kubernetes != nil && c.Kubernetes.Watch != nil && c.Kubernetes.Watch.Enabled
}

// watchFile renders watch.yaml of an overlay.
func (m *model) watchFile(c spec.Cluster) (string, error) {
	doc, err := yamlDocs(m.header("#"), m.watchObjects(c)...)
	if err != nil {
		return "", fmt.Errorf("clusters.%s.kubernetes.watch: %w", c.Name, err)
	}
	return doc, nil
}
