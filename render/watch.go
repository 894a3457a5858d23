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
	// WatchGitSecret holds the git credentials of the followed repository, under WatchGitSecretKey
	// in git's credential-store format (one https://user:token@host line per host), never the
	// spec's URL (issue 21). It is mounted at WatchGitDir; git reads it through credential.helper.
	WatchGitSecret    = "avatar-sync-watch-git"
	WatchGitSecretKey = "credentials"
	WatchGitDir       = "/etc/avatar-sync/git"
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

// watchObjects are the ServiceAccount, Role, RoleBinding and Deployment of the daemon, and the
// ClusterRole and ClusterRoleBinding that let it read and label its own Namespace.
//
// RBAC is exactly what the Kubernetes plane does with the objects it manages (issue 21): read one
// by name (get), diff and apply it by server-side apply (patch, also its dry runs), create a new
// one (which Kubernetes cannot limit by name), and delete one that left the render (prune, and the
// orphan delete of a StatefulSet replace); no list, watch or update. Where names are stable the
// grant names them: the password Secrets and the TLS Secret (kustomize rewrites kafka-tls to its
// generated name), the daemon's own ServiceAccount, Deployment and RBAC objects (Kubernetes'
// escalation check stops it from granting itself more than it holds), and the Namespace, which is
// cluster-scoped, through a ClusterRole that names it. ConfigMaps (their generated names change
// with every configuration change), Services, StatefulSets and the PodDisruptionBudget are granted
// by kind within the namespace, so brokers can be added and pruned.
func (m *model) watchObjects(c spec.Cluster) []any {
	w := c.Kubernetes.Watch
	target := firstNonEmpty(w.Cluster, c.Name)
	ns := firstNonEmpty(c.Kubernetes.Namespace, m.spec.Metadata.Namespace)
	manage := []string{"get", "create", "patch", "delete"}
	own := []string{"get", "patch"}
	sa := omap{
		{"apiVersion", "v1"},
		{"kind", "ServiceAccount"},
		{"metadata", omap{{"name", watchName}, {"labels", strMap(m.watchLabels())}}},
	}
	var secrets []string
	if m.tls {
		secrets = append(secrets, tlsSecret)
	}
	if m.needsPassword() {
		secrets = append(secrets, PasswordSecret)
	}
	if m.saslAdmin != nil {
		secrets = append(secrets, SASLAdminSecret)
	}
	rules := []any{
		omap{{"apiGroups", []string{""}}, {"resources", []string{"configmaps", "services"}}, {"verbs", manage}},
		omap{{"apiGroups", []string{"apps"}}, {"resources", []string{"statefulsets"}}, {"verbs", manage}},
		omap{{"apiGroups", []string{"policy"}}, {"resources", []string{"poddisruptionbudgets"}}, {"verbs", manage}},
	}
	if len(secrets) > 0 {
		rules = append(rules, omap{{"apiGroups", []string{""}}, {"resources", []string{"secrets"}}, {"resourceNames", secrets}, {"verbs", own}})
	}
	rules = append(rules,
		omap{{"apiGroups", []string{""}}, {"resources", []string{"serviceaccounts"}}, {"resourceNames", []string{watchName}}, {"verbs", own}},
		omap{{"apiGroups", []string{"apps"}}, {"resources", []string{"deployments"}}, {"resourceNames", []string{watchName}}, {"verbs", own}},
		omap{{"apiGroups", []string{"rbac.authorization.k8s.io"}}, {"resources", []string{"roles", "rolebindings"}}, {"resourceNames", []string{watchName}}, {"verbs", own}},
	)
	role := omap{
		{"apiVersion", "rbac.authorization.k8s.io/v1"},
		{"kind", "Role"},
		{"metadata", omap{{"name", watchName}, {"labels", strMap(m.watchLabels())}}},
		{"rules", rules},
	}
	binding := omap{
		{"apiVersion", "rbac.authorization.k8s.io/v1"},
		{"kind", "RoleBinding"},
		{"metadata", omap{{"name", watchName}, {"labels", strMap(m.watchLabels())}}},
		{"roleRef", omap{{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", watchName}}},
		// kustomize's namespace transformer fills in the subject's namespace with the overlay's.
		{"subjects", []any{omap{{"kind", "ServiceAccount"}, {"name", watchName}}}},
	}
	out := []any{sa, role, binding}
	if ns != "" {
		// The Namespace is cluster-scoped: only a ClusterRole can grant it, limited to its name.
		cluster := WatchClusterRoleName(ns)
		clusterRole := omap{
			{"apiVersion", "rbac.authorization.k8s.io/v1"},
			{"kind", "ClusterRole"},
			{"metadata", omap{{"name", cluster}, {"labels", strMap(m.watchLabels())}}},
			{"rules", []any{
				omap{{"apiGroups", []string{""}}, {"resources", []string{"namespaces"}}, {"resourceNames", []string{ns}}, {"verbs", own}},
				omap{{"apiGroups", []string{"rbac.authorization.k8s.io"}}, {"resources", []string{"clusterroles", "clusterrolebindings"}}, {"resourceNames", []string{cluster}}, {"verbs", own}},
			}},
		}
		clusterBinding := omap{
			{"apiVersion", "rbac.authorization.k8s.io/v1"},
			{"kind", "ClusterRoleBinding"},
			{"metadata", omap{{"name", cluster}, {"labels", strMap(m.watchLabels())}}},
			{"roleRef", omap{{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", cluster}}},
			{"subjects", []any{omap{{"kind", "ServiceAccount"}, {"name", watchName}, {"namespace", ns}}}},
		}
		out = append(out, clusterRole, clusterBinding)
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
	// Git credentials (issue 21): git's own credential store reads the optional Secret's file, so
	// the token is in no argument, no environment variable and no log. GIT_CONFIG_* is git's
	// environment form of `git config`, honoured by every git the daemon starts.
	env = append(env,
		omap{{"name", "GIT_CONFIG_COUNT"}, {"value", "1"}},
		omap{{"name", "GIT_CONFIG_KEY_0"}, {"value", "credential.helper"}},
		omap{{"name", "GIT_CONFIG_VALUE_0"}, {"value", "store --file=" + WatchGitDir + "/" + WatchGitSecretKey}},
	)
	if m.needsPassword() && m.spec.TLS.PasswordEnv != "" {
		env = append(env, omap{{"name", m.spec.TLS.PasswordEnv}, {"valueFrom", omap{{"secretKeyRef", omap{
			{"name", PasswordSecret}, {"key", PasswordSecretKey}}}}}})
	}
	mounts := []any{
		omap{{"name", "state"}, {"mountPath", watchStateDir}},
		omap{{"name", "tmp"}, {"mountPath", "/tmp"}},
		omap{{"name", "git-credentials"}, {"mountPath", WatchGitDir}, {"readOnly", true}},
	}
	volumes := []any{
		// The private git clone and the embedded cluster's state: rebuilt from the remote after a
		// restart, so an emptyDir is enough.
		omap{{"name", "state"}, {"emptyDir", omap{}}},
		omap{{"name", "tmp"}, {"emptyDir", omap{}}},
		// Optional: a public repository (or one reached without credentials) needs no Secret.
		omap{{"name", "git-credentials"}, {"secret", omap{{"secretName", WatchGitSecret}, {"defaultMode", 0o440}, {"optional", true}}}},
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
	return append(out, deployment)
}

// WatchClusterRoleName names the ClusterRole (and ClusterRoleBinding) that lets the watch daemon of
// namespace ns read and label that Namespace: cluster-wide names, so one per namespace.
func WatchClusterRoleName(ns string) string { return watchName + "-" + ns }

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
