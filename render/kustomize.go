package render

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/avatar-project/avatar-sync/spec"
)

// Files maps slash-separated paths, relative to the output directory, to file contents. A path may
// start with "../" for the one file render keeps beside the certificates (see tlsKustomization).
type Files map[string]string

// Paths returns the file paths in sorted order.
func (f Files) Paths() []string { return sortedKeys(f) }

var clusterDirName = regexp.MustCompile(`^[A-Za-z0-9][-A-Za-z0-9_.]*$`)

// KustomizeFiles computes the kustomize tree for dir: base/ (the cluster as the spec describes it) and
// overlays/<cluster>/ for every target with a kubernetes: block. It is pure; Write puts it on disk.
//
// dir is needed only to express the certificate directory relative to the tree: kustomize loads
// files only from below a kustomization's own directory, so the TLS secretGenerator lives in a small
// kustomization inside the certs directory and base refers to that directory by relative path.
func KustomizeFiles(s *spec.Spec, dir string) (Files, error) {
	m, err := newModel(s)
	if err != nil {
		return nil, err
	}
	var errs []error
	files := Files{}
	baseResources := []string{headlessService + ".yaml"}

	headless, err := yamlDocs(m.header("#"), m.headlessService())
	errs = append(errs, err)
	files["base/"+headlessService+".yaml"] = headless

	var generators []any
	k8s := m.k8sNetwork()
	for _, b := range m.brokers {
		doc, err := yamlDocs(m.header("#"), m.statefulSet(b), m.internalService(b), m.externalService(b))
		errs = append(errs, err)
		files["base/"+b.name+".yaml"] = doc
		baseResources = append(baseResources, b.name+".yaml")
		files["base/config/"+b.name+".properties"] = m.formatProperties(b, m.brokerProperties(b, k8s))
		generators = append(generators, omap{
			{"name", b.name + "-config"},
			{"files", []string{"server.properties=config/" + b.name + ".properties"}},
			{"options", omap{{"labels", strMap(m.labels(nil))}}},
		})
	}
	pdb, err := yamlDocs(m.header("#"), m.pdb())
	errs = append(errs, err)
	files["base/pdb.yaml"] = pdb
	baseResources = append(baseResources, "pdb.yaml")

	var tlsPath, tlsDoc string
	if m.tls {
		rel, err := tlsRelDir(dir, m.tlsDir)
		if err != nil {
			errs = append(errs, err)
		} else {
			baseResources = append(baseResources, rel)
			tlsDoc, err = m.tlsKustomization()
			errs = append(errs, err)
			tlsPath = path.Join("base", rel, "kustomization.yaml")
		}
	}
	dashboard, err := GrafanaDashboard()
	errs = append(errs, err)
	files[GrafanaDashboardFile] = dashboard
	kust, err := yamlDocs(m.header("#"), omap{
		{"apiVersion", "kustomize.config.k8s.io/v1beta1"},
		{"kind", "Kustomization"},
		{"resources", baseResources},
		{"configMapGenerator", generators},
	})
	errs = append(errs, err)
	files["base/kustomization.yaml"] = kust

	for _, c := range s.Clusters {
		if c.Kubernetes == nil {
			continue
		}
		if !clusterDirName.MatchString(c.Name) {
			errs = append(errs, fmt.Errorf("%sclusters.%s: the name cannot be a directory name for its overlay; use letters, digits, '-', '_', '.'", at(c.Pos), c.Name))
			continue
		}
		overlay, err := m.overlay(c)
		errs = append(errs, err)
		for p, content := range overlay {
			files[path.Join("overlays", c.Name, p)] = content
		}
	}
	if tlsPath != "" {
		if _, clash := files[tlsPath]; clash {
			errs = append(errs, fmt.Errorf("tls.dir %s overlaps the rendered tree at %s; keep certificates in their own directory", m.tlsDir, tlsPath))
		}
		files[tlsPath] = tlsDoc
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Paths were built with path.Join; normalise the one that may climb out of dir.
	out := Files{}
	for p, c := range files {
		out[path.Clean(p)] = c
	}
	return out, nil
}

// tlsRelDir expresses the certs directory relative to dir/base, as a kustomization names a resource.
func tlsRelDir(dir, tlsDir string) (string, error) {
	d, t := filepath.Clean(dir), filepath.Clean(tlsDir)
	if filepath.IsAbs(d) != filepath.IsAbs(t) {
		var err error
		if d, err = filepath.Abs(d); err != nil {
			return "", fmt.Errorf("resolve %s: %w", dir, err)
		}
		if t, err = filepath.Abs(t); err != nil {
			return "", fmt.Errorf("resolve %s: %w", tlsDir, err)
		}
	}
	rel, err := filepath.Rel(filepath.Join(d, "base"), t)
	if err != nil {
		return "", fmt.Errorf("tls.dir %s cannot be reached from %s: %w", tlsDir, dir, err)
	}
	if rel == "." {
		return "", fmt.Errorf("tls.dir %s is the rendered base directory itself; keep certificates in their own directory", tlsDir)
	}
	return filepath.ToSlash(rel), nil
}

// labels are the labels of every object; extra adds selector-relevant ones.
func (m *model) labels(extra map[string]string) map[string]string {
	l := map[string]string{
		"app":                          "kafka", // the reference README's `kubectl get pods -l app=kafka`
		"app.kubernetes.io/name":       "kafka",
		"app.kubernetes.io/instance":   m.instance,
		"app.kubernetes.io/component":  "broker",
		"app.kubernetes.io/part-of":    "avatar",
		"app.kubernetes.io/managed-by": "avatar-sync",
	}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

// selector matches every broker pod of this instance; brokerSelector only one of them.
func (m *model) selector() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "kafka", "app.kubernetes.io/instance": m.instance}
}

func (m *model) brokerSelector(b broker) map[string]string {
	s := m.selector()
	s["avatar-sync/broker-id"] = fmt.Sprint(b.ID)
	return s
}

func (m *model) meta(name string, extra map[string]string) omap {
	return omap{{"name", name}, {"labels", strMap(m.labels(extra))}}
}

// k8sNetwork: pods find each other through the headless Service's per-pod DNS names, which exist
// before a pod is ready (publishNotReadyAddresses) so the quorum can form. The namespace and the
// outside host come from the pod's environment, so the base fits any namespace and overlays only
// patch an environment variable.
func (m *model) k8sNetwork() network {
	return network{
		internalHost: func(b broker) string {
			return fmt.Sprintf("%s.%s.%s.svc", b.pod, headlessService, envRef(envNamespace))
		},
		voterHost:    func(b broker) string { return b.pod + "." + headlessService },
		externalHost: func(broker) string { return envRef(envExternalHost) },
	}
}

func (m *model) headlessService() omap {
	// One port entry per distinct port: internal ports may differ per broker (29092-29094 in the
	// reference), and Service port names must be unique.
	type p struct {
		name string
		port int
	}
	seen := map[string]p{}
	for _, b := range m.brokers {
		seen[fmt.Sprintf("int-%d", b.internal)] = p{fmt.Sprintf("int-%d", b.internal), b.internal}
		if b.voter {
			seen[fmt.Sprintf("ctrl-%d", b.controller)] = p{fmt.Sprintf("ctrl-%d", b.controller), b.controller}
		}
	}
	var ports []any
	for _, k := range sortedKeys(seen) {
		ports = append(ports, omap{{"name", seen[k].name}, {"port", seen[k].port}, {"targetPort", seen[k].port}})
	}
	return omap{
		{"apiVersion", "v1"},
		{"kind", "Service"},
		{"metadata", m.meta(headlessService, nil)},
		{"spec", omap{
			{"clusterIP", "None"},
			{"publishNotReadyAddresses", true},
			{"selector", strMap(m.selector())},
			{"ports", ports},
		}},
	}
}

// internalService gives in-cluster clients the reference's per-broker address (kafka-broker-1:29092).
func (m *model) internalService(b broker) omap {
	return omap{
		{"apiVersion", "v1"},
		{"kind", "Service"},
		{"metadata", m.meta(b.name, map[string]string{"avatar-sync/broker-id": fmt.Sprint(b.ID)})},
		{"spec", omap{
			{"type", "ClusterIP"},
			{"selector", strMap(m.brokerSelector(b))},
			{"ports", []any{omap{{"name", "internal"}, {"port", b.internal}, {"targetPort", "internal"}}}},
		}},
	}
}

// externalService publishes the spec's client ports on every node: nodePort equals the spec port, so
// outside clients dial <node>:9092 as they did against the reference's Docker Compose setup.
func (m *model) externalService(b broker) omap {
	var ports []any
	for _, p := range m.externalPorts(b) {
		ports = append(ports, omap{{"name", p.name}, {"port", p.port}, {"targetPort", p.name}, {"nodePort", p.port}})
	}
	return omap{
		{"apiVersion", "v1"},
		{"kind", "Service"},
		{"metadata", m.meta(b.name+"-external", map[string]string{"avatar-sync/broker-id": fmt.Sprint(b.ID)})},
		{"spec", omap{
			{"type", "NodePort"},
			{"selector", strMap(m.brokerSelector(b))},
			{"ports", ports},
		}},
	}
}

// startScript formats the storage on first start (KRaft needs it; --ignore-formatted makes restarts a
// no-op) and then execs the broker so it receives SIGTERM directly for a controlled shutdown.
//
// With SASL listeners the format also stores the SCRAM admin's credential (KIP-900 --add-scram), the
// one user that can log in before avatar-sync apply creates the others (issue 14). The password comes
// from the environment inside double quotes, so the shell never re-reads it; Kafka's parser splits the
// argument at commas and strips a pair of enclosing double quotes without any escape, so such a
// password is refused instead of being stored as something else. It is unset before the broker starts:
// only the format needs it.
func (m *model) startScript() string {
	var b strings.Builder
	// --cluster-id=VALUE, one argument: Kafka's argument parser (argparse4j) reads a separate value
	// that starts with '-' as another flag, and a derived id starts with '-' for 1 name in 64
	// (issue 21), so "--cluster-id $CLUSTER_ID" would fail the format and the pod.
	format := `/opt/kafka/bin/kafka-storage.sh format --ignore-formatted --cluster-id="$CLUSTER_ID" --config ` + configDir + `/server.properties`
	if a := m.saslAdmin; a != nil {
		fmt.Fprintf(&b, `case "${%[1]s:-}" in ''|*,*|\"*\") echo "%[1]s (the SCRAM admin password of kafka.sasl) is empty, contains a comma or is enclosed in double quotes; kafka-storage format --add-scram cannot store it unchanged, so choose another" >&2; exit 1;; esac`+"\n", envSASLAdminPassword)
		format += fmt.Sprintf(` --add-scram "%s=[name=%s,password=${%s}]"`, a.Mechanism, a.Username, envSASLAdminPassword)
	}
	b.WriteString(format + "\n")
	if m.saslAdmin != nil {
		b.WriteString("unset " + envSASLAdminPassword + "\n")
	}
	b.WriteString(`exec /opt/kafka/bin/kafka-server-start.sh ` + configDir + "/server.properties\n")
	return b.String()
}

// CheckSCRAMAdminPassword refuses what the start script refuses (see startScript), so a command that
// creates the SASLAdminSecret can say so before any broker fails to start.
func CheckSCRAMAdminPassword(pw string) error {
	switch {
	case pw == "":
		return errors.New("the SCRAM admin password is empty")
	case strings.Contains(pw, ","):
		return errors.New("the SCRAM admin password contains a comma, which kafka-storage format --add-scram cannot carry; choose another")
	case len(pw) >= 2 && strings.HasPrefix(pw, `"`) && strings.HasSuffix(pw, `"`):
		return errors.New("the SCRAM admin password is enclosed in double quotes, which kafka-storage format --add-scram strips; choose another")
	}
	return nil
}

func (m *model) statefulSet(b broker) omap {
	env := []any{
		// Index 0 on purpose: overlays replace it by position (with a JSON-patch test guard).
		omap{{"name", envExternalHost}, {"value", b.Host}},
		omap{{"name", envNamespace}, {"valueFrom", omap{{"fieldRef", omap{{"fieldPath", "metadata.namespace"}}}}}},
		omap{{"name", envClusterID}, {"value", m.clusterID}},
	}
	if m.needsPassword() {
		env = append(env, omap{{"name", envTLSPassword}, {"valueFrom", omap{{"secretKeyRef", omap{
			{"name", PasswordSecret}, {"key", PasswordSecretKey}}}}}})
	}
	if m.saslAdmin != nil {
		env = append(env, omap{{"name", envSASLAdminPassword}, {"valueFrom", omap{{"secretKeyRef", omap{
			{"name", SASLAdminSecret}, {"key", SASLAdminSecretKey}}}}}})
	}
	ports := []any{omap{{"name", "internal"}, {"containerPort", b.internal}}}
	if b.voter {
		ports = append(ports, omap{{"name", "controller"}, {"containerPort", b.controller}})
	}
	for _, p := range m.externalPorts(b) {
		ports = append(ports, omap{{"name", p.name}, {"containerPort", p.port}})
	}
	mounts := []any{
		omap{{"name", "data"}, {"mountPath", dataDir}},
		omap{{"name", "config"}, {"mountPath", configDir}, {"readOnly", true}},
	}
	volumes := []any{
		omap{{"name", "config"}, {"configMap", omap{{"name", b.name + "-config"}}}},
	}
	if m.tls {
		mounts = append(mounts, omap{{"name", "tls"}, {"mountPath", secretsDir}, {"readOnly", true}})
		volumes = append(volumes, omap{{"name", "tls"}, {"secret", omap{{"secretName", tlsSecret}, {"defaultMode", 0o440}}}})
	}
	container := omap{
		{"name", "kafka"},
		{"image", m.image},
		{"command", []string{"/bin/sh", "-ec", m.startScript()}},
		{"env", env},
		{"ports", ports},
		{"resources", resources(m.resources)},
		// Ready once the inter-broker listener accepts connections; live as long as it keeps doing so,
		// with a generous budget because log recovery after a crash can take minutes.
		{"readinessProbe", omap{{"tcpSocket", omap{{"port", "internal"}}}, {"initialDelaySeconds", 10}, {"periodSeconds", 10}, {"failureThreshold", 3}}},
		{"livenessProbe", omap{{"tcpSocket", omap{{"port", "internal"}}}, {"initialDelaySeconds", 60}, {"periodSeconds", 20}, {"failureThreshold", 6}}},
		{"volumeMounts", mounts},
		{"securityContext", omap{{"allowPrivilegeEscalation", false}, {"capabilities", omap{{"drop", []string{"ALL"}}}}}},
	}
	podLabels := m.labels(map[string]string{"avatar-sync/broker-id": fmt.Sprint(b.ID)})
	return omap{
		{"apiVersion", "apps/v1"},
		{"kind", "StatefulSet"},
		{"metadata", m.meta(b.name, map[string]string{"avatar-sync/broker-id": fmt.Sprint(b.ID)})},
		{"spec", omap{
			{"serviceName", headlessService},
			{"replicas", 1},
			{"podManagementPolicy", "Parallel"},
			{"selector", omap{{"matchLabels", strMap(m.brokerSelector(b))}}},
			{"template", omap{
				{"metadata", omap{{"labels", strMap(podLabels)}}},
				{"spec", omap{
					{"terminationGracePeriodSeconds", 60},
					// PodSecurity "restricted" (issue 11): the overlay's namespace enforces it, and the API
					// server refuses a pod without a seccomp profile there.
					{"securityContext", omap{{"runAsNonRoot", true}, {"runAsUser", kafkaUID}, {"runAsGroup", kafkaUID}, {"fsGroup", kafkaUID},
						{"seccompProfile", omap{{"type", "RuntimeDefault"}}}}},
					// Prefer spreading brokers over nodes; "preferred" keeps single-node MicroK8s working.
					{"affinity", omap{{"podAntiAffinity", omap{{"preferredDuringSchedulingIgnoredDuringExecution", []any{omap{
						{"weight", 100},
						{"podAffinityTerm", omap{
							{"labelSelector", omap{{"matchLabels", strMap(m.selector())}}},
							{"topologyKey", "kubernetes.io/hostname"},
						}},
					}}}}}}},
					{"containers", []any{container}},
					{"volumes", volumes},
				}},
			}},
			{"volumeClaimTemplates", []any{omap{
				{"metadata", omap{{"name", "data"}, {"labels", strMap(m.labels(nil))}}},
				{"spec", omap{
					{"accessModes", []string{"ReadWriteOnce"}},
					{"resources", omap{{"requests", omap{{"storage", m.storageSize}}}}},
				}},
			}}},
		}},
	}
}

// resources renders requests (always present) and limits (only those the spec sets).
func resources(r spec.Resources) omap {
	req := omap{}
	if r.RequestsCPU != "" {
		req = req.set("cpu", r.RequestsCPU)
	}
	if r.RequestsMemory != "" {
		req = req.set("memory", r.RequestsMemory)
	}
	out := omap{{"requests", req}}
	lim := omap{}
	if r.LimitsCPU != "" {
		lim = lim.set("cpu", r.LimitsCPU)
	}
	if r.LimitsMemory != "" {
		lim = lim.set("memory", r.LimitsMemory)
	}
	if len(lim) > 0 {
		out = append(out, kv{"limits", lim})
	}
	return out
}

func (m *model) pdb() omap {
	return omap{
		{"apiVersion", "policy/v1"},
		{"kind", "PodDisruptionBudget"},
		{"metadata", m.meta("kafka", nil)},
		{"spec", omap{
			{"maxUnavailable", 1},
			{"selector", omap{{"matchLabels", strMap(m.selector())}}},
		}},
	}
}

// tlsKustomization is the kustomization render keeps inside the certs directory. The files it names
// are the ones the certs command writes; a missing one makes the build fail with the file's name.
func (m *model) tlsKustomization() (string, error) {
	return yamlDocs(m.header("#"), omap{
		{"apiVersion", "kustomize.config.k8s.io/v1beta1"},
		{"kind", "Kustomization"},
		{"secretGenerator", []any{omap{
			{"name", tlsSecret},
			{"files", m.tlsFiles()},
			{"options", omap{{"labels", strMap(m.labels(nil))}}},
		}}},
	})
}

// namespaceLabels mark the overlay's namespace as ours and make the API server enforce PodSecurity
// "restricted" on it (issue 11): the broker pods are hardened to pass it, so a later edit that
// weakens them is refused at admission instead of running.
var namespaceLabels = map[string]string{
	"app.kubernetes.io/managed-by":       "avatar-sync",
	"app.kubernetes.io/part-of":          "avatar",
	"pod-security.kubernetes.io/enforce": "restricted",
}

// overlay renders overlays/<cluster>/: only what differs per target (namespace, storage class, image
// tag, resources, and the host outside clients dial).
func (m *model) overlay(c spec.Cluster) (Files, error) {
	k := c.Kubernetes
	files := Files{}
	ns := firstNonEmpty(k.Namespace, m.spec.Metadata.Namespace)
	kust := omap{
		{"apiVersion", "kustomize.config.k8s.io/v1beta1"},
		{"kind", "Kustomization"},
	}
	res := []string{"../../base"}
	if ns != "" {
		if !dnsLabel.MatchString(ns) {
			return nil, fmt.Errorf("%sclusters.%s.kubernetes.namespace %q is not a valid namespace name", at(c.Pos), c.Name, ns)
		}
		kust = append(kust, kv{"namespace", ns})
		doc, err := yamlDocs(m.header("#"), omap{
			{"apiVersion", "v1"},
			{"kind", "Namespace"},
			{"metadata", omap{{"name", ns}, {"labels", strMap(namespaceLabels)}}},
		})
		if err != nil {
			return nil, err
		}
		files["namespace.yaml"] = doc
		res = append(res, "namespace.yaml")
	}
	if watchEnabled(c) {
		doc, err := m.watchFile(c)
		if err != nil {
			return nil, err
		}
		files["watch.yaml"] = doc
		res = append(res, "watch.yaml")
		// The daemon serves /metrics: its Grafana dashboard for the sidecar (issue 24).
		dashboard, err := GrafanaDashboard()
		if err != nil {
			return nil, err
		}
		if doc, err = m.grafanaConfigMapDoc(dashboard); err != nil {
			return nil, err
		}
		files["grafana-dashboard.yaml"] = doc
		res = append(res, "grafana-dashboard.yaml")
	}
	kust = append(kust, kv{"resources", res})
	if k.ImageTag != "" {
		name, _ := splitImage(m.image)
		kust = append(kust, kv{"images", []any{omap{{"name", name}, {"newTag", k.ImageTag}}}})
	}
	var ops []any
	if k.ExternalHost != "" {
		ops = append(ops,
			omap{{"op", "test"}, {"path", "/spec/template/spec/containers/0/env/0/name"}, {"value", envExternalHost}},
			omap{{"op", "replace"}, {"path", "/spec/template/spec/containers/0/env/0/value"}, {"value", k.ExternalHost}},
		)
	}
	if k.StorageClass != "" {
		ops = append(ops, omap{{"op", "add"}, {"path", "/spec/volumeClaimTemplates/0/spec/storageClassName"}, {"value", k.StorageClass}})
	}
	if k.Resources != (spec.Resources{}) {
		r := m.resources
		r.RequestsCPU = firstNonEmpty(k.Resources.RequestsCPU, r.RequestsCPU)
		r.RequestsMemory = firstNonEmpty(k.Resources.RequestsMemory, r.RequestsMemory)
		r.LimitsCPU = firstNonEmpty(k.Resources.LimitsCPU, r.LimitsCPU)
		r.LimitsMemory = firstNonEmpty(k.Resources.LimitsMemory, r.LimitsMemory)
		ops = append(ops, omap{{"op", "replace"}, {"path", "/spec/template/spec/containers/0/resources"}, {"value", resources(r)}})
	}
	if len(ops) > 0 {
		doc, err := yamlDocs(m.header("#"), ops)
		if err != nil {
			return nil, err
		}
		files["kafka-statefulsets.patch.yaml"] = doc
		kust = append(kust, kv{"patches", []any{omap{
			{"path", "kafka-statefulsets.patch.yaml"},
			{"target", omap{{"group", "apps"}, {"version", "v1"}, {"kind", "StatefulSet"},
				{"labelSelector", fmt.Sprintf("app.kubernetes.io/name=kafka,app.kubernetes.io/instance=%s", m.instance)}}},
		}}})
	}
	doc, err := yamlDocs(m.header("#"), kust)
	if err != nil {
		return nil, err
	}
	files["kustomization.yaml"] = doc
	return files, nil
}

// splitImage splits "repo/name:tag" into name and tag (a registry port is not a tag).
func splitImage(image string) (name, tag string) {
	if i := strings.LastIndex(image, "@"); i >= 0 {
		image = image[:i]
	}
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		return image, ""
	}
	return image[:i], image[i+1:]
}

// overlayClusters lists the targets that get an overlay, in name order.
func overlayClusters(s *spec.Spec) []string {
	var out []string
	for _, c := range s.Clusters {
		if c.Kubernetes != nil {
			out = append(out, c.Name)
		}
	}
	sort.Strings(out)
	return out
}
