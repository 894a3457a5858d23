package render

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kusttypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/avatar-project/avatar-sync/spec"
)

// objects is a decoded manifest stream, by kind.
type objects struct {
	statefulSets []*appsv1.StatefulSet
	services     []*corev1.Service
	configMaps   []*corev1.ConfigMap
	secrets      []*corev1.Secret
	namespaces   []*corev1.Namespace
	pdbs         []*policyv1.PodDisruptionBudget
	// The in-cluster watch daemon (issue 12).
	deployments     []*appsv1.Deployment
	serviceAccounts []*corev1.ServiceAccount
	roles           []*rbacv1.Role
	roleBindings    []*rbacv1.RoleBinding
}

// splitDocs splits a YAML stream into its non-empty documents.
func splitDocs(t *testing.T, data []byte) [][]byte {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs [][]byte
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == io.EOF {
			return docs
		}
		if err != nil {
			t.Fatalf("split YAML stream: %v", err)
		}
		if len(n.Content) == 0 {
			continue
		}
		out, err := yaml.Marshal(&n)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, out)
	}
}

// decodeStrict decodes one manifest into its typed k8s.io/api struct, failing on unknown or mistyped
// fields, and validates names and labels with apimachinery's own rules.
func decodeStrict(doc []byte, into *objects) error {
	var tm metav1.TypeMeta
	if err := sigsyaml.Unmarshal(doc, &tm); err != nil {
		return fmt.Errorf("read apiVersion/kind: %w", err)
	}
	var obj any
	var meta *metav1.ObjectMeta
	switch tm.APIVersion + "/" + tm.Kind {
	case "apps/v1/StatefulSet":
		o := &appsv1.StatefulSet{}
		obj, meta = o, &o.ObjectMeta
		into.statefulSets = append(into.statefulSets, o)
	case "v1/Service":
		o := &corev1.Service{}
		obj, meta = o, &o.ObjectMeta
		into.services = append(into.services, o)
	case "v1/ConfigMap":
		o := &corev1.ConfigMap{}
		obj, meta = o, &o.ObjectMeta
		into.configMaps = append(into.configMaps, o)
	case "v1/Secret":
		o := &corev1.Secret{}
		obj, meta = o, &o.ObjectMeta
		into.secrets = append(into.secrets, o)
	case "v1/Namespace":
		o := &corev1.Namespace{}
		obj, meta = o, &o.ObjectMeta
		into.namespaces = append(into.namespaces, o)
	case "policy/v1/PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		obj, meta = o, &o.ObjectMeta
		into.pdbs = append(into.pdbs, o)
	case "apps/v1/Deployment":
		o := &appsv1.Deployment{}
		obj, meta = o, &o.ObjectMeta
		into.deployments = append(into.deployments, o)
	case "v1/ServiceAccount":
		o := &corev1.ServiceAccount{}
		obj, meta = o, &o.ObjectMeta
		into.serviceAccounts = append(into.serviceAccounts, o)
	case "rbac.authorization.k8s.io/v1/Role":
		o := &rbacv1.Role{}
		obj, meta = o, &o.ObjectMeta
		into.roles = append(into.roles, o)
	case "rbac.authorization.k8s.io/v1/RoleBinding":
		o := &rbacv1.RoleBinding{}
		obj, meta = o, &o.ObjectMeta
		into.roleBindings = append(into.roleBindings, o)
	default:
		return fmt.Errorf("unexpected object %s %s", tm.APIVersion, tm.Kind)
	}
	if err := sigsyaml.UnmarshalStrict(doc, obj); err != nil {
		return fmt.Errorf("%s: strict decode: %w", tm.Kind, err)
	}
	// Namespaced objects carry a namespace once an overlay set it; the base leaves it to the overlay.
	namespaced := tm.Kind != "Namespace" && meta.Namespace != ""
	errs := apivalidation.ValidateObjectMeta(meta, namespaced, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	errs = append(errs, metavalidation.ValidateLabels(meta.Labels, field.NewPath("metadata", "labels"))...)
	if len(errs) > 0 {
		return fmt.Errorf("%s %s: %v", tm.Kind, meta.Name, errs.ToAggregate())
	}
	return nil
}

func decodeAll(t *testing.T, data []byte) objects {
	t.Helper()
	var objs objects
	for _, doc := range splitDocs(t, data) {
		if err := decodeStrict(doc, &objs); err != nil {
			t.Errorf("%v\n%s", err, doc)
		}
	}
	return objs
}

func TestDecodeStrictRejectsUnknownFields(t *testing.T) {
	cases := map[string]string{
		"unknown field":   "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: x}\nspec: {replicaz: 1}\n",
		"mistyped field":  "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: nine}]}\n",
		"bad label value": "apiVersion: v1\nkind: Service\nmetadata: {name: x, labels: {app: 'not ok!'}}\n",
		"unexpected kind": "apiVersion: batch/v1\nkind: Job\nmetadata: {name: create-topics}\n",
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			if err := decodeStrict([]byte(doc), &objects{}); err == nil {
				t.Fatalf("decodeStrict accepted %q", doc)
			}
		})
	}
}

// TestTreeDecodesStrictly decodes every file of the rendered tree: manifests into k8s.io/api types,
// kustomizations into kustomize's own type, patches into JSON-patch operations; all strictly.
func TestTreeDecodesStrictly(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.spec("/repo")
			files, err := KustomizeFiles(s, "/repo/deploy")
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range files.Paths() {
				data := []byte(files[p])
				switch {
				case path.Base(p) == "kustomization.yaml":
					var k kusttypes.Kustomization
					if err := sigsyaml.UnmarshalStrict(data, &k); err != nil {
						t.Errorf("%s: %v", p, err)
					}
					if errs := k.EnforceFields(); len(errs) > 0 {
						t.Errorf("%s: %v", p, errs)
					}
				case strings.HasSuffix(p, ".patch.yaml"):
					var ops []struct {
						Op    string `json:"op"`
						Path  string `json:"path"`
						Value any    `json:"value"`
					}
					if err := sigsyaml.UnmarshalStrict(data, &ops); err != nil || len(ops) == 0 {
						t.Errorf("%s: %v (%d ops)", p, err, len(ops))
					}
				case strings.HasSuffix(p, ".yaml"):
					for _, doc := range splitDocs(t, data) {
						if err := decodeStrict(doc, &objects{}); err != nil {
							t.Errorf("%s: %v", p, err)
						}
					}
				case strings.HasSuffix(p, ".properties"):
					if len(ParseProperties(files[p])) == 0 {
						t.Errorf("%s: no properties", p)
					}
				default:
					t.Errorf("unexpected file %s", p)
				}
			}
		})
	}
}

// listener is one NAME://host:port entry of listeners or advertised.listeners.
type listener struct {
	name, host string
	port       int
}

func parseListeners(v string, fail func(string, ...any)) map[string]listener {
	out := map[string]listener{}
	for _, e := range strings.Split(v, ",") {
		name, hostPort, ok := strings.Cut(e, "://")
		i := strings.LastIndex(hostPort, ":")
		if !ok || i < 0 {
			fail("malformed listener %q", e)
			continue
		}
		port, err := strconv.Atoi(hostPort[i+1:])
		if err != nil {
			fail("listener %q: %v", e, err)
		}
		if _, dup := out[name]; dup {
			fail("listener %s appears twice in %q", name, v)
		}
		out[name] = listener{name, hostPort[:i], port}
	}
	return out
}

// clientPortNames maps listener names to the port names the container and Services use.
var clientPortNames = map[string]string{ListenerInternal: "internal", ListenerController: "controller", ListenerPlaintext: "plaintext", ListenerSSL: "ssl", ListenerSASLSSL: "sasl"}

// builtProblems checks one built overlay against itself and against the spec: every port, rack and
// listener must trace back to avatar.yaml, and the broker properties must agree with the objects.
func builtProblems(s *spec.Spec, clusterName string, objs objects) (problems []string) {
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	c, _ := s.FindCluster(clusterName)
	wantNS := firstNonEmpty(c.Kubernetes.Namespace, s.Metadata.Namespace)
	problems = append(problems, watchProblems(c, wantNS, objs)...)
	if len(objs.statefulSets) != len(s.Brokers) {
		fail("%d StatefulSets for %d brokers", len(objs.statefulSets), len(s.Brokers))
		return problems
	}
	switch {
	case wantNS == "" && len(objs.namespaces) != 0:
		fail("no namespace configured, but the overlay creates %v", objs.namespaces)
	case wantNS != "" && (len(objs.namespaces) != 1 || objs.namespaces[0].Name != wantNS):
		fail("want one Namespace %q, got %v", wantNS, objs.namespaces)
	}
	for _, ns := range objs.namespaces {
		if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
			fail("Namespace %s does not enforce PodSecurity restricted (issue 11)", ns.Name)
		}
	}
	services := map[string]*corev1.Service{}
	for _, svc := range objs.services {
		services[svc.Name] = svc
		if svc.Labels["app"] != "kafka" {
			fail("Service %s lacks app=kafka (kubectl get services -l app=kafka)", svc.Name)
		}
	}
	configMaps := map[string]*corev1.ConfigMap{}
	for _, cm := range objs.configMaps {
		configMaps[cm.Name] = cm
	}
	secrets := map[string]*corev1.Secret{}
	for _, sec := range objs.secrets {
		secrets[sec.Name] = sec
	}
	for _, o := range objs.all() {
		if o.GetNamespace() != wantNS && o.GetName() != wantNS {
			fail("%s is in namespace %q, want %q", o.GetName(), o.GetNamespace(), wantNS)
		}
	}

	specBrokers := map[string]spec.Broker{}
	for _, b := range s.Brokers {
		specBrokers[fmt.Sprint(b.ID)] = b
	}
	nVoters := min(MaxVoters, len(s.Brokers))
	var votersSeen []string
	controllerPorts := map[string]int{} // node id → CONTROLLER port
	podDNS := map[string]string{}       // node id → <pod>.<headless service>
	for _, sts := range objs.statefulSets {
		id := sts.Spec.Template.Labels["avatar-sync/broker-id"]
		sb, ok := specBrokers[id]
		if !ok {
			fail("StatefulSet %s is broker %q, which the spec does not have", sts.Name, id)
			continue
		}
		if sts.Name != "kafka-broker-"+id || *sts.Spec.Replicas != 1 {
			fail("StatefulSet %s (broker %s): want kafka-broker-%s with 1 replica", sts.Name, id, id)
		}
		pod := sts.Spec.Template
		if pod.Labels["app"] != "kafka" {
			fail("%s: pods lack app=kafka (kubectl get pods -l app=kafka)", sts.Name)
		}
		sel, _ := metav1.LabelSelectorAsSelector(sts.Spec.Selector)
		if !sel.Matches(labels.Set(pod.Labels)) {
			fail("%s: selector does not match its pod template", sts.Name)
		}
		headless := services[sts.Spec.ServiceName]
		if headless == nil || headless.Spec.ClusterIP != corev1.ClusterIPNone || !headless.Spec.PublishNotReadyAddresses {
			fail("%s: serviceName %q is not a headless Service publishing not-ready addresses", sts.Name, sts.Spec.ServiceName)
		}
		podDNS[id] = sts.Name + "-0." + sts.Spec.ServiceName
		if len(pod.Spec.Containers) != 1 {
			fail("%s: want one container", sts.Name)
			continue
		}
		ctr := pod.Spec.Containers[0]
		if ctr.Resources.Requests.Cpu().IsZero() || ctr.Resources.Requests.Memory().IsZero() {
			fail("%s: container lacks cpu/memory requests", sts.Name)
		}
		if ctr.ReadinessProbe == nil || ctr.LivenessProbe == nil {
			fail("%s: container lacks readiness or liveness probe", sts.Name)
		}
		if why := notRestricted(pod.Spec); why != "" {
			fail("%s: pods fail PodSecurity restricted: %s", sts.Name, why)
		}
		if len(sts.Spec.VolumeClaimTemplates) != 1 {
			fail("%s: want one PersistentVolumeClaim template", sts.Name)
		} else if sc := c.Kubernetes.StorageClass; sc != "" {
			if got := sts.Spec.VolumeClaimTemplates[0].Spec.StorageClassName; got == nil || *got != sc {
				fail("%s: storageClassName %v, want %q", sts.Name, got, sc)
			}
		}
		if tag := c.Kubernetes.ImageTag; tag != "" && !strings.HasSuffix(ctr.Image, ":"+tag) {
			fail("%s: image %s, want tag %s", sts.Name, ctr.Image, tag)
		}
		env := map[string]corev1.EnvVar{}
		for _, e := range ctr.Env {
			env[e.Name] = e
		}
		if want := firstNonEmpty(c.Kubernetes.ExternalHost, sb.Host); env[envExternalHost].Value != want {
			fail("%s: %s=%q, want %q", sts.Name, envExternalHost, env[envExternalHost].Value, want)
		}
		if f := env[envNamespace].ValueFrom; f == nil || f.FieldRef == nil || f.FieldRef.FieldPath != "metadata.namespace" {
			fail("%s: %s is not the pod's namespace", sts.Name, envNamespace)
		}
		containerPorts := map[string]int{}
		for _, p := range ctr.Ports {
			containerPorts[p.Name] = int(p.ContainerPort)
			if errs := validation.IsValidPortName(p.Name); len(errs) > 0 {
				fail("%s: port name %q: %v", sts.Name, p.Name, errs)
			}
		}

		// The properties this pod runs with.
		var cm *corev1.ConfigMap
		var tlsSecretName string
		for _, v := range pod.Spec.Volumes {
			if v.ConfigMap != nil {
				cm = configMaps[v.ConfigMap.Name]
			}
			if v.Secret != nil {
				tlsSecretName = v.Secret.SecretName
			}
		}
		if cm == nil {
			fail("%s: no ConfigMap volume with broker properties", sts.Name)
			continue
		}
		props := ParseProperties(cm.Data["server.properties"])
		if props["auto.create.topics.enable"] != "false" {
			fail("%s: auto.create.topics.enable is not false; topics belong to avatar-sync apply", sts.Name)
		}
		if props["node.id"] != id {
			fail("%s: node.id %s, want %s", sts.Name, props["node.id"], id)
		}
		if props["broker.rack"] != sb.Rack {
			fail("%s: broker.rack %q, spec says %q", sts.Name, props["broker.rack"], sb.Rack)
		}
		listeners := parseListeners(props["listeners"], fail)
		advertised := parseListeners(props["advertised.listeners"], fail)
		protocols := map[string]string{}
		for _, e := range strings.Split(props["listener.security.protocol.map"], ",") {
			k, v, _ := strings.Cut(e, ":")
			protocols[k] = v
		}
		// Names: every listener and the controller listener have a protocol; advertised ⊆ listeners.
		for name := range listeners {
			if protocols[name] == "" {
				fail("%s: listener %s missing from listener.security.protocol.map", sts.Name, name)
			}
		}
		if protocols[props["controller.listener.names"]] == "" {
			fail("%s: controller listener %s has no security protocol", sts.Name, props["controller.listener.names"])
		}
		for name, a := range advertised {
			l, ok := listeners[name]
			if !ok {
				fail("%s: advertised listener %s is not in listeners", sts.Name, name)
			} else if l.port != a.port {
				fail("%s: %s listens on %d but advertises %d", sts.Name, name, l.port, a.port)
			}
		}
		if _, ok := advertised[ListenerController]; ok {
			fail("%s: the controller listener must not be advertised", sts.Name)
		}
		if _, ok := listeners[props["inter.broker.listener.name"]]; !ok {
			fail("%s: inter.broker.listener.name %s is not a listener", sts.Name, props["inter.broker.listener.name"])
		}
		// Ports: each listener is a container port, and the client ones are the spec's.
		wantPorts := map[string]int{ListenerInternal: firstNonZero(sb.Ports.Internal, DefaultInternalPort), ListenerPlaintext: sb.Ports.Plaintext}
		if s.TLS.Enabled {
			wantPorts[ListenerSSL] = sb.Ports.SSL
			wantPorts[ListenerSASLSSL] = sb.Ports.SASL
		}
		if _, on := listeners[ListenerSASLSSL]; on && sb.Ports.SASL == 0 {
			fail("%s: SASL_SSL listener without ports.sasl", sts.Name)
		}
		for name, want := range wantPorts {
			if want == 0 {
				continue
			}
			if listeners[name].port != want {
				fail("%s: %s listener on %d, spec says %d", sts.Name, name, listeners[name].port, want)
			}
		}
		for name, l := range listeners {
			if containerPorts[clientPortNames[name]] != l.port {
				fail("%s: listener %s on %d has no matching container port %q (%v)", sts.Name, name, l.port, clientPortNames[name], containerPorts)
			}
		}
		// Outside clients: the NodePort Service publishes each advertised client port as itself.
		ext := services[sts.Name+"-external"]
		if ext == nil || ext.Spec.Type != corev1.ServiceTypeNodePort {
			fail("%s: no NodePort Service %s-external", sts.Name, sts.Name)
			continue
		}
		published := map[int]bool{}
		for _, p := range ext.Spec.Ports {
			if p.NodePort != p.Port || containerPorts[p.TargetPort.String()] != int(p.Port) {
				fail("%s: external port %s: port %d nodePort %d targetPort %s (container %d)", sts.Name, p.Name, p.Port, p.NodePort, p.TargetPort.String(), containerPorts[p.TargetPort.String()])
			}
			published[int(p.Port)] = true
		}
		for _, name := range []string{ListenerPlaintext, ListenerSSL, ListenerSASLSSL} {
			a, ok := advertised[name]
			if !ok {
				continue
			}
			if !published[a.port] {
				fail("%s: advertised %s port %d is not published by %s", sts.Name, name, a.port, ext.Name)
			}
			if a.host != envRef(envExternalHost) {
				fail("%s: %s advertises host %q, want the external host variable", sts.Name, name, a.host)
			}
		}
		if a := advertised[ListenerInternal]; a.host != podDNS[id]+"."+envRef(envNamespace)+".svc" {
			fail("%s: INTERNAL advertises %q, want the pod's DNS name", sts.Name, a.host)
		}
		if internal := services[sts.Name]; internal == nil || internal.Spec.Ports[0].Port != int32(listeners[ListenerInternal].port) {
			fail("%s: no ClusterIP Service %s on the internal port", sts.Name, sts.Name)
		}
		// Quorum.
		roles := props["process.roles"]
		if strings.Contains(roles, "controller") {
			controllerPorts[id] = listeners[ListenerController].port
		} else if _, ok := listeners[ListenerController]; ok {
			fail("%s: broker-only node listens on CONTROLLER", sts.Name)
		}
		votersSeen = append(votersSeen, props["controller.quorum.voters"])
		// SASL: the listener is SASL_SSL, and the admin password comes from its Secret (issue 14).
		if sb.Ports.SASL != 0 {
			if protocols[ListenerSASLSSL] != "SASL_SSL" {
				fail("%s: %s maps to %q, want SASL_SSL", sts.Name, ListenerSASLSSL, protocols[ListenerSASLSSL])
			}
			if f := env[envSASLAdminPassword].ValueFrom; env[envSASLAdminPassword].Value != "" || f == nil || f.SecretKeyRef == nil || f.SecretKeyRef.Name != SASLAdminSecret {
				fail("%s: the SCRAM admin password is not read from Secret %s", sts.Name, SASLAdminSecret)
			}
		} else if _, ok := env[envSASLAdminPassword]; ok {
			fail("%s: the pod reads a SCRAM admin password without a SASL listener", sts.Name)
		}
		// TLS: the keystores the properties name are keys of the mounted Secret.
		if s.TLS.Enabled {
			sec := secrets[tlsSecretName]
			if sec == nil {
				fail("%s: TLS Secret %q not in the output", sts.Name, tlsSecretName)
				continue
			}
			for _, k := range []string{"ssl.keystore.location", "ssl.truststore.location"} {
				if _, ok := sec.Data[path.Base(props[k])]; !ok || path.Dir(props[k]) != secretsDir {
					fail("%s: %s=%s is not a key of Secret %s", sts.Name, k, props[k], sec.Name)
				}
			}
			pem := s.TLS.KeystoreType == spec.KeystorePEM
			if pem && (props["ssl.keystore.password"] != "" || props["ssl.key.password"] != "") {
				fail("%s: a password is set for a PEM keystore, which Kafka rejects", sts.Name)
			}
			if !NeedsPasswordSecret(s) {
				if _, ok := env[envTLSPassword]; ok {
					fail("%s: the pod reads a keystore password the spec does not have", sts.Name)
				}
				continue
			}
			if f := env[envTLSPassword].ValueFrom; f == nil || f.SecretKeyRef == nil || f.SecretKeyRef.Name != PasswordSecret {
				fail("%s: keystore password is not read from Secret %s", sts.Name, PasswordSecret)
			}
			if pwKey := map[bool]string{true: "ssl.key.password", false: "ssl.keystore.password"}[pem]; !strings.Contains(props[pwKey], envRef(envTLSPassword)) {
				fail("%s: %s is not taken from the environment", sts.Name, pwKey)
			}
		}
	}
	if len(controllerPorts) != nVoters {
		fail("%d controllers, want %d", len(controllerPorts), nVoters)
	}
	for _, v := range votersSeen {
		if v != votersSeen[0] {
			fail("brokers disagree on controller.quorum.voters: %q vs %q", v, votersSeen[0])
		}
	}
	if len(votersSeen) == 0 {
		return problems
	}
	for _, v := range strings.Split(votersSeen[0], ",") {
		id, hostPort, _ := strings.Cut(v, "@")
		host, port, _ := strings.Cut(hostPort, ":")
		if want, ok := controllerPorts[id]; !ok || strconv.Itoa(want) != port {
			fail("voter %q: node %s is not a controller listening on %s", v, id, port)
		}
		if host != podDNS[id] {
			fail("voter %q: host %s, want %s", v, host, podDNS[id])
		}
	}
	if len(objs.pdbs) != 1 || objs.pdbs[0].Spec.MaxUnavailable == nil || objs.pdbs[0].Spec.MaxUnavailable.IntValue() != 1 {
		fail("want one PodDisruptionBudget with maxUnavailable 1")
	} else {
		sel, _ := metav1.LabelSelectorAsSelector(objs.pdbs[0].Spec.Selector)
		for _, sts := range objs.statefulSets {
			if !sel.Matches(labels.Set(sts.Spec.Template.Labels)) {
				fail("PodDisruptionBudget does not cover %s", sts.Name)
			}
		}
	}
	return problems
}

// notRestricted says why a pod would fail PodSecurity "restricted" (the parts the brokers need: the
// API server's full check runs in make test-k8s), or "".
func notRestricted(pod corev1.PodSpec) string {
	sc := pod.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		return "runAsNonRoot is not true"
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		return "no seccompProfile RuntimeDefault"
	}
	for _, c := range pod.Containers {
		csc := c.SecurityContext
		if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
			return c.Name + ": allowPrivilegeEscalation is not false"
		}
		if csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) > 0 {
			return c.Name + ": capabilities do not drop ALL"
		}
	}
	return ""
}

func (o objects) all() []metav1.Object {
	var out []metav1.Object
	for _, x := range o.statefulSets {
		out = append(out, x)
	}
	for _, x := range o.services {
		out = append(out, x)
	}
	for _, x := range o.configMaps {
		out = append(out, x)
	}
	for _, x := range o.secrets {
		out = append(out, x)
	}
	for _, x := range o.pdbs {
		out = append(out, x)
	}
	for _, x := range o.deployments {
		out = append(out, x)
	}
	for _, x := range o.serviceAccounts {
		out = append(out, x)
	}
	for _, x := range o.roles {
		out = append(out, x)
	}
	for _, x := range o.roleBindings {
		out = append(out, x)
	}
	return out
}

// watchProblems checks the in-cluster watch daemon (issue 12) of a built overlay: present exactly
// when asked for; its ServiceAccount bound to a namespaced Role (no cluster-wide grant, no
// wildcard); probes on /healthz and /readyz of the metrics port; the scrape annotation; the pod
// admissible under PodSecurity restricted; the arguments watch's own flags.
func watchProblems(c spec.Cluster, ns string, objs objects) (problems []string) {
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if !watchEnabled(c) {
		if len(objs.deployments)+len(objs.serviceAccounts)+len(objs.roles)+len(objs.roleBindings) > 0 {
			fail("watch not enabled, but the overlay has watch objects")
		}
		return problems
	}
	w := c.Kubernetes.Watch
	if len(objs.deployments) != 1 || len(objs.serviceAccounts) != 1 || len(objs.roles) != 1 || len(objs.roleBindings) != 1 {
		fail("want one Deployment, ServiceAccount, Role and RoleBinding for watch; got %d, %d, %d, %d",
			len(objs.deployments), len(objs.serviceAccounts), len(objs.roles), len(objs.roleBindings))
		return problems
	}
	d, sa, role, rb := objs.deployments[0], objs.serviceAccounts[0], objs.roles[0], objs.roleBindings[0]
	for _, o := range []metav1.Object{d, sa, role, rb} {
		if o.GetNamespace() != ns {
			fail("%s is in namespace %q, want %q", o.GetName(), o.GetNamespace(), ns)
		}
	}
	pod := d.Spec.Template.Spec
	if pod.ServiceAccountName != sa.Name {
		fail("Deployment runs as %q, not the ServiceAccount %q", pod.ServiceAccountName, sa.Name)
	}
	if rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != role.Name {
		fail("RoleBinding refers to %s %s, want Role %s", rb.RoleRef.Kind, rb.RoleRef.Name, role.Name)
	}
	if len(rb.Subjects) != 1 || rb.Subjects[0].Kind != "ServiceAccount" || rb.Subjects[0].Name != sa.Name || rb.Subjects[0].Namespace != ns {
		fail("RoleBinding subjects %+v, want the ServiceAccount %s in %s", rb.Subjects, sa.Name, ns)
	}
	for _, r := range role.Rules {
		if slices.Contains(r.Verbs, "*") || slices.Contains(r.Resources, "*") || slices.Contains(r.APIGroups, "*") {
			fail("Role rule %+v uses a wildcard", r)
		}
		if slices.Contains(r.Resources, "roles") || slices.Contains(r.Resources, "rolebindings") || slices.Contains(r.Verbs, "escalate") || slices.Contains(r.Verbs, "bind") {
			fail("Role rule %+v lets the daemon grant itself more", r)
		}
	}
	if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		fail("Deployment selector does not match its pods")
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		fail("watch must run as exactly one replica, replaced with Recreate")
	}
	if why := notRestricted(pod); why != "" {
		fail("watch pod is not PodSecurity restricted: %s", why)
	}
	ann := d.Spec.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != strconv.Itoa(w.MetricsPort) || ann["prometheus.io/path"] != "/metrics" {
		fail("scrape annotations %v", ann)
	}
	if len(pod.Containers) != 1 {
		fail("want one watch container")
		return problems
	}
	ctr := pod.Containers[0]
	for probe, want := range map[*corev1.Probe]string{ctr.LivenessProbe: "/healthz", ctr.ReadinessProbe: "/readyz"} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != want || probe.HTTPGet.Port.String() != "metrics" {
			fail("probe for %s: %+v", want, probe)
		}
	}
	if len(ctr.Ports) != 1 || ctr.Ports[0].Name != "metrics" || int(ctr.Ports[0].ContainerPort) != w.MetricsPort {
		fail("container ports %+v, want metrics on %d", ctr.Ports, w.MetricsPort)
	}
	notifyFromSecret := false
	for _, e := range ctr.Env {
		if e.Name == "AVATAR_SYNC_NOTIFY" {
			notifyFromSecret = e.Value == "" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil
		}
	}
	if !notifyFromSecret {
		fail("AVATAR_SYNC_NOTIFY (webhook tokens) must come from a Secret")
	}
	if why := gitCredentialsProblem(pod); why != "" {
		fail("git credentials: %s", why)
	}
	args := strings.Join(ctr.Args, " ")
	for _, want := range []string{"watch ", "--git " + w.Git, "--branch " + w.Branch, "--path " + w.Path, "--mode " + w.Mode,
		"--metrics-addr :" + strconv.Itoa(w.MetricsPort), "--cluster " + firstNonEmpty(w.Cluster, c.Name)} {
		if !strings.Contains(args, want) {
			fail("watch args %q lack %q", args, want)
		}
	}
	return problems
}

// gitCredentialsProblem checks issue 21's promise: the watch pod reads git credentials from the
// optional Secret WatchGitSecret, mounted read-only at WatchGitDir, through git's credential store
// (GIT_CONFIG_* = credential.helper), and no argument carries a URL's user information.
func gitCredentialsProblem(pod corev1.PodSpec) string {
	ctr := pod.Containers[0]
	env := map[string]string{}
	for _, e := range ctr.Env {
		env[e.Name] = e.Value
	}
	if env["GIT_CONFIG_COUNT"] != "1" || env["GIT_CONFIG_KEY_0"] != "credential.helper" || env["GIT_CONFIG_VALUE_0"] != "store --file="+WatchGitDir+"/"+WatchGitSecretKey {
		return fmt.Sprintf("git is not configured to read %s/%s (env %v)", WatchGitDir, WatchGitSecretKey, env)
	}
	mounted := slices.ContainsFunc(ctr.VolumeMounts, func(m corev1.VolumeMount) bool {
		return m.MountPath == WatchGitDir && m.ReadOnly && slices.ContainsFunc(pod.Volumes, func(v corev1.Volume) bool {
			return v.Name == m.Name && v.Secret != nil && v.Secret.SecretName == WatchGitSecret && v.Secret.Optional != nil && *v.Secret.Optional
		})
	})
	if !mounted {
		return fmt.Sprintf("the optional Secret %s is not mounted read-only at %s", WatchGitSecret, WatchGitDir)
	}
	for _, a := range ctr.Args {
		if u, err := url.Parse(a); err == nil && u.User != nil {
			return fmt.Sprintf("argument %q carries credentials", a)
		}
	}
	return ""
}

func firstNonZero(vals ...int) int {
	if i := slices.IndexFunc(vals, func(v int) bool { return v != 0 }); i >= 0 {
		return vals[i]
	}
	return 0
}

// consistencyVariants are the golden cases plus specs that exercise the other branches of the
// templates: PEM keystores (no password), TLS off, a single broker, everything defaulted.
func consistencyVariants() []goldenCase {
	return append(goldenCases(),
		goldenCase{"pem", func(root string) *spec.Spec {
			s := exampleSpec(root)
			s.TLS.KeystoreType, s.TLS.PasswordEnv = spec.KeystorePEM, ""
			return s
		}},
		goldenCase{"tls-off", func(root string) *spec.Spec {
			s := exampleSpec(root)
			s.TLS = spec.TLS{}
			for i := range s.Brokers {
				s.Brokers[i].Ports.SSL = 0
			}
			return s
		}},
		goldenCase{"one-broker", func(root string) *spec.Spec {
			s := exampleSpec(root)
			s.Brokers = s.Brokers[:1]
			return s
		}},
		goldenCase{"defaults", func(root string) *spec.Spec {
			s := exampleSpec(root)
			s.Kafka = spec.Kafka{}
			s.Metadata.Namespace = ""
			s.Clusters[2].Kubernetes.Namespace = ""
			for i := range s.Brokers {
				s.Brokers[i].Ports.Internal = 0
			}
			return s
		}},
	)
}

// TestBuiltOutputIsConsistent builds every overlay of every variant in-process, decodes it strictly
// and checks it with builtProblems.
func TestBuiltOutputIsConsistent(t *testing.T) {
	for _, tc := range consistencyVariants() {
		s := tc.spec("/repo")
		for _, c := range overlayClusters(s) {
			t.Run(tc.name+"/"+c, func(t *testing.T) {
				fSys := filesys.MakeFsInMemory()
				if s.TLS.Enabled {
					writeCerts(t, fSys, s)
				}
				if _, err := Kustomize(s, fSys, "/repo/deploy"); err != nil {
					t.Fatal(err)
				}
				out, err := Build(fSys, "/repo/deploy", c)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range builtProblems(s, c, decodeAll(t, out)) {
					t.Error(p)
				}
			})
		}
	}
}

// TestBuiltProblemsCatchesBreakage proves the consistency check is not vacuous: each mutation of a
// correct build is one mistake a template change could make, and must be reported.
func TestBuiltProblemsCatchesBreakage(t *testing.T) {
	s := exampleSpec("/repo")
	fSys := filesys.MakeFsInMemory()
	writeCerts(t, fSys, s)
	if _, err := Kustomize(s, fSys, "/repo/deploy"); err != nil {
		t.Fatal(err)
	}
	out, err := Build(fSys, "/repo/deploy", "microk8s")
	if err != nil {
		t.Fatal(err)
	}
	editProps := func(old, new string) func(*objects) {
		return func(o *objects) {
			for _, cm := range o.configMaps {
				if strings.HasPrefix(cm.Name, "kafka-broker-1-config") {
					cm.Data["server.properties"] = strings.Replace(cm.Data["server.properties"], old, new, 1)
				}
			}
		}
	}
	cases := map[string]struct {
		mutate func(*objects)
		want   string
	}{
		"advertised port differs from listener": {editProps("PLAINTEXT://${env:KAFKA_EXTERNAL_HOST}:9092", "PLAINTEXT://${env:KAFKA_EXTERNAL_HOST}:9999"), "listens on 9092 but advertises 9999"},
		"listener without protocol":             {editProps(",SSL:SSL", ""), "listener SSL missing from listener.security.protocol.map"},
		"advertised name not a listener":        {editProps("SSL://${env:KAFKA_EXTERNAL_HOST}", "TLS://${env:KAFKA_EXTERNAL_HOST}"), "advertised listener TLS is not in listeners"},
		"voter on wrong port":                   {editProps("1@kafka-broker-1-0.kafka-headless:9090", "1@kafka-broker-1-0.kafka-headless:9091"), "brokers disagree on controller.quorum.voters"},
		"rack not from spec":                    {editProps("broker.rack=lab-a", "broker.rack=lab-z"), `broker.rack "lab-z", spec says "lab-a"`},
		"node id mismatch":                      {editProps("node.id=1", "node.id=7"), "node.id 7, want 1"},
		"plaintext port not from spec":          {editProps("PLAINTEXT://:9092", "PLAINTEXT://:9099"), "PLAINTEXT listener on 9099, spec says 9092"},
		"nodePort differs": {func(o *objects) {
			for _, svc := range o.services {
				if svc.Name == "kafka-broker-2-external" {
					svc.Spec.Ports[0].NodePort = 30093
				}
			}
		}, "nodePort 30093"},
		"pods without app=kafka": {func(o *objects) { delete(o.statefulSets[0].Spec.Template.Labels, "app") }, "pods lack app=kafka"},
		"no readiness probe":     {func(o *objects) { o.statefulSets[2].Spec.Template.Spec.Containers[0].ReadinessProbe = nil }, "lacks readiness or liveness probe"},
		"keystore not in secret": {func(o *objects) { delete(o.secrets[0].Data, "kafka-broker-3.keystore.p12") }, "ssl.keystore.location=/etc/kafka/secrets/kafka-broker-3.keystore.p12 is not a key"},
		"no PDB":                 {func(o *objects) { o.pdbs = nil }, "PodDisruptionBudget with maxUnavailable 1"},
		"no seccomp profile":     {func(o *objects) { o.statefulSets[1].Spec.Template.Spec.SecurityContext.SeccompProfile = nil }, "no seccompProfile RuntimeDefault"},
		"capabilities kept": {func(o *objects) {
			o.statefulSets[0].Spec.Template.Spec.Containers[0].SecurityContext.Capabilities = nil
		}, "capabilities do not drop ALL"},
		"namespace not restricted": {func(o *objects) { delete(o.namespaces[0].Labels, "pod-security.kubernetes.io/enforce") }, "does not enforce PodSecurity restricted"},
	}
	if p := builtProblems(s, "microk8s", decodeAll(t, out)); len(p) > 0 {
		t.Fatalf("the unmodified build has problems: %v", p)
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			objs := decodeAll(t, out)
			tc.mutate(&objs)
			problems := builtProblems(s, "microk8s", objs)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Fatalf("want a problem containing %q, got %q", tc.want, problems)
			}
		})
	}
}

// TestWatchProblemsCatchesBreakage proves watchProblems is not vacuous: each mutation of the
// five-broker lab overlay's watch objects is a mistake a template change could make (issue 12).
func TestWatchProblemsCatchesBreakage(t *testing.T) {
	s := fiveBrokerSpec("/repo")
	fSys := filesys.MakeFsInMemory()
	writeCerts(t, fSys, s)
	if _, err := Kustomize(s, fSys, "/repo/deploy"); err != nil {
		t.Fatal(err)
	}
	out, err := Build(fSys, "/repo/deploy", "lab")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := s.FindCluster("lab")
	if p := watchProblems(c, "kafka-lab", decodeAll(t, out)); len(p) > 0 {
		t.Fatalf("the unmodified build has problems: %v", p)
	}
	cases := map[string]struct {
		mutate func(*objects)
		want   string
	}{
		"wildcard verb": {func(o *objects) { o.roles[0].Rules[0].Verbs = []string{"*"} }, "uses a wildcard"},
		"may bind roles": {func(o *objects) {
			o.roles[0].Rules[0].Resources = append(o.roles[0].Rules[0].Resources, "rolebindings")
		}, "grant itself more"},
		"other service account": {func(o *objects) { o.deployments[0].Spec.Template.Spec.ServiceAccountName = "default" }, "not the ServiceAccount"},
		"binding elsewhere":     {func(o *objects) { o.roleBindings[0].Subjects[0].Namespace = "kube-system" }, "RoleBinding subjects"},
		"no readiness":          {func(o *objects) { o.deployments[0].Spec.Template.Spec.Containers[0].ReadinessProbe = nil }, "probe for /readyz"},
		"liveness on readyz": {func(o *objects) {
			o.deployments[0].Spec.Template.Spec.Containers[0].LivenessProbe.HTTPGet.Path = "/readyz"
		}, "probe for /healthz"},
		"no scrape annotation": {func(o *objects) { delete(o.deployments[0].Spec.Template.Annotations, "prometheus.io/scrape") }, "scrape annotations"},
		"root":                 {func(o *objects) { o.deployments[0].Spec.Template.Spec.SecurityContext.RunAsNonRoot = nil }, "not PodSecurity restricted"},
		"two replicas":         {func(o *objects) { n := int32(2); o.deployments[0].Spec.Replicas = &n }, "exactly one replica"},
		"wrong mode":           {func(o *objects) { o.deployments[0].Spec.Template.Spec.Containers[0].Args[12] = "report" }, `lack "--mode heal"`},
		"no role":              {func(o *objects) { o.roles = nil }, "want one Deployment, ServiceAccount, Role and RoleBinding"},
		"git credentials not mounted": {func(o *objects) {
			o.deployments[0].Spec.Template.Spec.Containers[0].VolumeMounts = slices.DeleteFunc(o.deployments[0].Spec.Template.Spec.Containers[0].VolumeMounts,
				func(m corev1.VolumeMount) bool { return m.MountPath == WatchGitDir })
		}, "is not mounted read-only"},
		"git token in the arguments": {func(o *objects) {
			args := o.deployments[0].Spec.Template.Spec.Containers[0].Args
			i := slices.Index(args, "--git")
			args[i+1] = strings.Replace(args[i+1], "https://", "https://deploy:T0KEN@", 1)
		}, "carries credentials"},
		"webhook in the clear": {func(o *objects) {
			for i, e := range o.deployments[0].Spec.Template.Spec.Containers[0].Env {
				if e.Name == "AVATAR_SYNC_NOTIFY" {
					o.deployments[0].Spec.Template.Spec.Containers[0].Env[i] = corev1.EnvVar{Name: e.Name, Value: "https://hooks.example.org/T0K3N"}
				}
			}
		}, "must come from a Secret"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			objs := decodeAll(t, out)
			tc.mutate(&objs)
			problems := watchProblems(c, "kafka-lab", objs)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("want a problem containing %q, got %v", tc.want, problems)
			}
		})
	}
}
