package spec

// The shape of avatar.yaml is written down once, in the tables below. The loader uses them to reject
// unknown keys (with a suggestion) and wrongly typed values; the JSON Schema (schema/avatar.schema.json)
// and the reference (docs/avatar-yaml.md) are generated from them, so the three cannot disagree.

// valueKind is the YAML shape and unit of a key's value.
type valueKind int

const (
	vString      valueKind = iota
	vInt                   // integer
	vBool                  // true/false
	vDuration              // human duration with a unit: 30s, 825d
	vDurationMs            // Kafka milliseconds: a bare integer, or a human duration, or forever/-1
	vSize                  // bytes: a bare integer, or 512MiB, 1GB
	vStringList            // list of strings
	vObject                // nested mapping described by elem
	vList                  // list of mappings described by elem
	vMap                   // mapping of name → mapping described by elem
	vTopicConfig           // mapping of Kafka topic config key → value (see topicConfigs)
)

// field is one key of a mapping in avatar.yaml.
type field struct {
	key      string
	kind     valueKind
	elem     *object // for vObject, vList, vMap
	enum     []string
	def      string // default, as written in docs ("" = none)
	required bool
	doc      string
	// pattern is a regular expression a string value must match (JSON Schema and validation share it).
	pattern string
	// min and max bound an integer in the JSON Schema (nil: unbounded); the loader and validation
	// enforce the same ranges with their own messages.
	min, max *int
}

// intBound is a pointer to n, for field.min and field.max.
func intBound(n int) *int { return &n }

// object is one kind of mapping in avatar.yaml.
type object struct {
	name string // title in docs/avatar-yaml.md and definitions in the JSON Schema
	doc  string
	// fields are the known keys in the order docs list them.
	fields []field
	// extra, when set, allows keys beyond fields (device parameters) and documents them.
	extra string
}

// lookup returns the field for key.
func (o *object) lookup(key string) (field, bool) {
	for _, f := range o.fields {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

// index is the index of key in o.fields, or -1.
func (o *object) index(key string) int {
	for i, f := range o.fields {
		if f.key == key {
			return i
		}
	}
	return -1
}

func (o *object) keys() []string {
	keys := make([]string, len(o.fields))
	for i, f := range o.fields {
		keys[i] = f.key
	}
	return keys
}

// Patterns shared by validation and the JSON Schema.
const (
	// dnsLabelPattern is a Kubernetes DNS-1123 label: names that end up as Kubernetes objects.
	dnsLabelPattern = `^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$` // at most 63 characters
	// topicNamePattern is Kafka's legal topic charset (org.apache.kafka.common.internals.Topic).
	topicNamePattern = `^[a-zA-Z0-9._-]+$`
	// quantityPattern is a Kubernetes resource quantity (10Gi, 500m, 1.5).
	quantityPattern = `^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$`
	// kraftClusterIDPattern is a KRaft cluster id: a UUID in 22 characters of URL-safe base64.
	kraftClusterIDPattern = `^[A-Za-z0-9_-]{22}$`
	// imagePattern is a container image reference: [registry[:port]/]path[:tag][@digest], as the
	// rendered manifests and docker-compose.yml pass it on.
	imagePattern = `^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$`
	// imageTagPattern is an image tag (Docker's rule).
	imageTagPattern = `^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`
	// dnsSubdomainPattern is a Kubernetes DNS-1123 subdomain (StorageClass names).
	dnsSubdomainPattern = `^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
)

var resourcesObj = &object{
	name: "resources",
	doc:  "Kubernetes container requests and limits, as Kubernetes quantities.",
	fields: []field{
		{key: "requestsCpu", kind: vString, pattern: quantityPattern, doc: "CPU request, e.g. 500m"},
		{key: "requestsMemory", kind: vString, pattern: quantityPattern, doc: "memory request, e.g. 1Gi"},
		{key: "limitsCpu", kind: vString, pattern: quantityPattern, doc: "CPU limit"},
		{key: "limitsMemory", kind: vString, pattern: quantityPattern, doc: "memory limit"},
	},
}

var metadataObj = &object{
	name: "metadata",
	doc:  "Names the deployment.",
	fields: []field{
		{key: "name", kind: vString, required: true, pattern: dnsLabelPattern,
			doc: "name of the deployment (a DNS label: lower-case letters, digits, '-')"},
		{key: "namespace", kind: vString, pattern: dnsLabelPattern,
			doc: "Kubernetes namespace rendered manifests go to (not default or kube-*)"},
	},
}

var kafkaObj = &object{
	name: "kafka",
	doc:  "The broker software and what a rendered deployment asks for.",
	fields: []field{
		{key: "image", kind: vString, def: "apache/kafka:3.9.0", pattern: imagePattern, doc: "broker container image"},
		{key: "storageSize", kind: vString, def: "10Gi", pattern: quantityPattern,
			doc: "PersistentVolumeClaim size per broker (Kubernetes quantity)"},
		{key: "resources", kind: vObject, elem: resourcesObj, doc: "broker container resources"},
		{key: "ui", kind: vBool, def: "false", doc: "also deploy the Kafka UI container (port 8080)"},
		{key: "clusterId", kind: vString, pattern: kraftClusterIDPattern,
			doc: "KRaft cluster id for rendered deployments (22 characters, as `kafka-storage random-uuid` prints)"},
		{key: "superUsers", kind: vStringList,
			doc: "principals (User:...) the rendered brokers' authorizer lets do everything, e.g. avatar-sync's own client certificate; the brokers, kafka.sasl's user and every target's sasl user are added"},
		{key: "sasl", kind: vObject, elem: kafkaSASLObj,
			doc: "the SCRAM admin rendered brokers are formatted with (SCRAM-SHA-256 or SCRAM-SHA-512, password by passwordEnv or passwordFile); required when a broker has ports.sasl, and a super user"},
	},
}

var portsObj = &object{
	name: "ports",
	doc:  "Listener ports of one broker; a port left out means that listener is off. Ports are unique per host: one broker's listeners differ, and brokers on different hosts may share port numbers (a multi-host cluster). `render` and `dev up` publish every broker on one machine, so they also refuse a port two brokers share.",
	fields: []field{
		{key: "plaintext", kind: vInt, min: intBound(1), max: intBound(65535), doc: "PLAINTEXT client listener (9092 in the reference)"},
		{key: "ssl", kind: vInt, min: intBound(1), max: intBound(65535), doc: "SSL client listener (9192 in the reference); needs tls.enabled"},
		{key: "sasl", kind: vInt, min: intBound(1), max: intBound(65535), doc: "SASL_SSL client listener (SCRAM over TLS) of rendered deployments; needs tls.enabled, tls.internal and kafka.sasl"},
		{key: "internal", kind: vInt, min: intBound(1), max: intBound(65535), doc: "inter-broker listener"},
		{key: "controller", kind: vInt, min: intBound(1), max: intBound(65535), doc: "KRaft controller listener"},
	},
}

var brokerObj = &object{
	name: "broker",
	doc:  "One Kafka node (combined broker and controller in KRaft mode).",
	fields: []field{
		{key: "id", kind: vInt, required: true, min: intBound(0), doc: "node id, unique, 0 or more"},
		{key: "host", kind: vString, required: true, doc: "host name, unique; also the certificate's SAN"},
		{key: "rack", kind: vString, doc: "rack (broker.rack), used to spread replicas"},
		{key: "ports", kind: vObject, elem: portsObj, required: true, doc: "listener ports"},
	},
}

var caObj = &object{
	name: "ca",
	doc:  "An existing certificate authority to sign with instead of a generated one.",
	fields: []field{
		{key: "certFile", kind: vString, required: true, doc: "PEM certificate of the CA"},
		{key: "keyFile", kind: vString, required: true, doc: "PEM private key of the CA"},
	},
}

var tlsObj = &object{
	name: "tls",
	doc:  "Certificate material avatar-sync generates and the brokers serve. Passwords are never written here: name an environment variable (passwordEnv) or a file (passwordFile).",
	fields: []field{
		{key: "enabled", kind: vBool, def: "false", doc: "serve the SSL listeners"},
		{key: "dir", kind: vString, def: DefaultTLSDir, doc: "directory the certificates and keystores are written to"},
		{key: "keystoreType", kind: vString, def: KeystorePKCS12, enum: []string{KeystorePKCS12, KeystoreJKS, KeystorePEM},
			doc: "keystore format"},
		{key: "passwordEnv", kind: vString, doc: "environment variable holding the keystore password"},
		{key: "passwordFile", kind: vString, doc: "file holding the keystore password"},
		{key: "validity", kind: vDuration, def: "825d", doc: "lifetime of generated certificates"},
		{key: "renewBefore", kind: vDuration, def: "30d", doc: "renew certificates this long before they expire"},
		{key: "extraSANs", kind: vStringList, doc: "extra names and IPs added to every broker certificate"},
		{key: "clients", kind: vStringList, doc: "principals that get client certificates (mutual TLS)"},
		{key: "ca", kind: vObject, elem: caObj, doc: "sign with this CA instead of a generated self-signed one"},
		{key: "internal", kind: vBool, def: "false",
			doc: "rendered brokers also serve the INTERNAL and CONTROLLER listeners with TLS and client certificates (no plaintext between brokers)"},
	},
}

// topicCommon are the keys a topic and topicDefaults share.
func topicCommon() []field {
	return []field{
		{key: "partitions", kind: vInt, min: intBound(1), doc: "number of partitions, 1 or more; may only grow"},
		{key: "replicationFactor", kind: vInt, min: intBound(1), doc: "replicas per partition, at most the number of brokers"},
		{key: "retention", kind: vDurationMs, doc: "shorthand for config retention.ms (1h, 7d, forever); not both"},
		{key: "config", kind: vTopicConfig, doc: "Kafka topic configs (see the table below); durations and sizes take units"},
		{key: "prune", kind: vBool, def: "false", doc: "remove live configs this spec does not set (otherwise they are reported as drift)"},
	}
}

var topicDefaultsObj = &object{
	name:   "topicDefaults",
	doc:    "Values every topic gets unless it sets its own; config maps are merged key by key.",
	fields: topicCommon(),
}

var topicObj = &object{
	name: "topic",
	doc:  "One desired topic. partitions and replicationFactor must be set here or in topicDefaults.",
	fields: append([]field{
		{key: "name", kind: vString, required: true, pattern: topicNamePattern,
			doc: "Kafka topic name: letters, digits, '.', '_', '-', at most 249 characters"},
	}, topicCommon()...),
}

var reassignmentObj = &object{
	name: "reassignment",
	doc:  "How replica moves (from replicationFactor changes) are run.",
	fields: []field{
		{key: "throttle", kind: vSize, def: "0", doc: "replication throttle in bytes per second during a move, e.g. 10MiB (0: none)"},
	},
}

var saslObj = &object{
	name: "sasl",
	doc:  "SASL credentials; the password is referenced, never written inline.",
	fields: []field{
		{key: "mechanism", kind: vString, required: true, enum: []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"},
			doc: "SASL mechanism"},
		{key: "username", kind: vString, required: true, doc: "user name"},
		{key: "passwordEnv", kind: vString, doc: "environment variable holding the password"},
		{key: "passwordFile", kind: vString, doc: "file holding the password"},
	},
}

// kafkaSASLObj is the rendered cluster's SCRAM admin (issue 14): the brokers store SCRAM
// credentials only, so PLAIN is not offered.
var kafkaSASLObj = &object{
	name: "sasl",
	doc:  "The SCRAM admin the rendered brokers' storage is formatted with (`kafka-storage format --add-scram`), so a cluster with SASL listeners has one user before `avatar-sync apply` creates the others; a super user. The password is referenced, never written inline.",
	fields: []field{
		{key: "mechanism", kind: vString, required: true, enum: []string{"SCRAM-SHA-256", "SCRAM-SHA-512"}, doc: "SCRAM mechanism of the admin credential"},
		{key: "username", kind: vString, required: true, doc: "admin user name (letters, digits, '.', '_', '@', '-')"},
		{key: "passwordEnv", kind: vString, doc: "environment variable holding the password (Compose reads it at `docker compose up`)"},
		{key: "passwordFile", kind: vString, doc: "file holding the password (Compose mounts it as a secret)"},
	},
}

var kubernetesObj = &object{
	name: "kubernetes",
	doc:  "How a target is deployed on Kubernetes; drives the rendered overlay.",
	fields: []field{
		{key: "context", kind: vString, doc: "kubectl context"},
		{key: "namespace", kind: vString, pattern: dnsLabelPattern, doc: "namespace (default: metadata.namespace; not default or kube-*)"},
		{key: "storageClass", kind: vString, pattern: dnsSubdomainPattern, doc: "StorageClass of the broker volumes"},
		{key: "imageTag", kind: vString, pattern: imageTagPattern, doc: "overrides the tag of kafka.image"},
		{key: "resources", kind: vObject, elem: resourcesObj, doc: "overrides kafka.resources"},
		{key: "externalHost", kind: vString, doc: "address clients outside the cluster dial (the MicroK8s host)"},
		{key: "watch", kind: vObject, elem: kubernetesWatchObj, doc: "run `avatar-sync watch --git` in the target's namespace (rendered Deployment)"},
	},
}

var kubernetesWatchObj = &object{
	name: "kubernetesWatch",
	doc: "The watch daemon inside the cluster (docs/watch.md): with enabled, render adds to the target's overlay a " +
		"Deployment running `avatar-sync watch --git`, its ServiceAccount, a Role and RoleBinding limited to the namespace (and a ClusterRole naming only that Namespace), " +
		"liveness/readiness probes on /healthz and /readyz and a Prometheus scrape annotation.",
	fields: []field{
		{key: "enabled", kind: vBool, def: "false", doc: "render the watch Deployment"},
		{key: "image", kind: vString, pattern: imagePattern, doc: "avatar-sync container image (default: ghcr.io/avatar-project/avatar-sync:<version of the avatar-sync that renders>, the image `make image` tags from the same commit)"},
		{key: "git", kind: vString, doc: "repository the daemon follows (watch --git); required when enabled"},
		{key: "branch", kind: vString, def: "main", doc: "branch to follow (--branch)"},
		{key: "path", kind: vString, def: "avatar.yaml", doc: "the spec's path in the repository (--path)"},
		{key: "gitInterval", kind: vDuration, def: "1m", doc: "how often to fetch (--git-interval)"},
		{key: "mode", kind: vString, def: WatchModeHeal, enum: []string{WatchModeHeal, WatchModeReport},
			doc: "heal applies what the flags allow; report only reports drift"},
		{key: "cluster", kind: vString, pattern: dnsLabelPattern, doc: "target the daemon reconciles (--cluster; default: this target)"},
		{key: "metricsPort", kind: vInt, def: "9464", min: intBound(1), max: intBound(65535), doc: "port of /metrics, /healthz and /readyz"},
	},
}

var clusterObj = &object{
	name: "cluster",
	doc:  "One target plan/apply can talk to, keyed by its name (a DNS label). A target without bootstrap is the embedded in-process cluster; `embedded` always exists, even when not declared.",
	fields: []field{
		{key: "bootstrap", kind: vStringList, doc: "host:port bootstrap servers (empty: the embedded cluster)"},
		{key: "security", kind: vString, def: SecurityPlaintext, enum: []string{SecurityPlaintext, SecuritySSL, SecuritySASLSSL, SecuritySASLPlaintext},
			doc: "security protocol (sasl_plaintext only for the embedded cluster or `dev up` on this machine)"},
		{key: "caFile", kind: vString, doc: "PEM CA to verify the brokers (default: tls.dir's CA, then system roots)"},
		{key: "certFile", kind: vString, doc: "PEM client certificate for mutual TLS (with keyFile)"},
		{key: "keyFile", kind: vString, doc: "PEM client key for mutual TLS (with certFile)"},
		{key: "sasl", kind: vObject, elem: saslObj, doc: "SASL credentials; required with security sasl_ssl"},
		{key: "clusterId", kind: vString, pattern: kraftClusterIDPattern,
			doc: "the live cluster's id; plan/apply refuse a cluster whose id differs"},
		{key: "preflight", kind: vBool, def: "false", doc: "probe the devices before plan/apply against this target"},
		{key: "kubernetes", kind: vObject, elem: kubernetesObj, doc: "deployment settings for render"},
		{key: "overrides", kind: vObject, elem: overridesObj,
			doc: "this target's own brokers, topicDefaults and topic settings, merged over the spec's for --cluster NAME"},
	},
}

var topicOverrideObj = &object{
	name: "topic override",
	doc:  "Settings of one topic of the spec, for this target only: matched by name; the keys given replace the topic's, config key by key.",
	fields: append([]field{
		{key: "name", kind: vString, required: true, pattern: topicNamePattern, doc: "the topic of the spec this overrides"},
	}, topicCommon()...),
}

var overridesObj = &object{
	name: "overrides",
	doc: "A target's own settings, kustomize-style (issue 15): loading the spec for `--cluster NAME` merges them over the spec's, " +
		"then validates the result (replicationFactor within this target's brokers, ...) with positions in this file. " +
		"`avatar-sync config --cluster NAME` prints the merged spec.",
	fields: []field{
		{key: "brokers", kind: vList, elem: brokerObj, doc: "replaces the whole brokers list for this target (a one-broker laptop, three on MicroK8s)"},
		{key: "topicDefaults", kind: vObject, elem: topicDefaultsObj, doc: "merged over topicDefaults key by key (config key by key)"},
		{key: "topics", kind: vList, elem: topicOverrideObj, doc: "merged over the spec's topic of the same name; a name the spec lacks is an error"},
	},
}

// deviceKindsWithHostPort are the built-in device kinds whose address is host:port.
var deviceKindsWithHostPort = []string{"tello", "openbci-wifi", "tcp", "udp"}

var deviceObj = &object{
	name: "device",
	doc:  "One lab device a plugin can probe before a session.",
	fields: []field{
		{key: "name", kind: vString, required: true, pattern: dnsLabelPattern, doc: "unique name (a DNS label)"},
		{key: "kind", kind: vString, required: true,
			doc: "plugin: tello, openbci-wifi, openbci-serial, tcp, udp, http, or an external avatar-sync-plugin-<kind>"},
		{key: "address", kind: vString, required: true,
			doc: "host:port (tello, openbci-wifi, tcp, udp), a URL or host:port (http), a device path (openbci-serial)"},
		{key: "required", kind: vBool, def: "false", doc: "a failed probe fails the preflight (otherwise it warns)"},
		{key: "timeout", kind: vDuration, doc: "probe timeout, e.g. 2s (default: the plugin's)"},
		{key: "plugin", kind: vString, doc: "path to an external plugin executable, relative to this file (never looked up on PATH)"},
		{key: "env", kind: vStringList,
			doc: "names of environment variables passed to the external plugin beyond the allow-list (PATH, HOME, LANG, LC_*, TZ, TMPDIR, ...); no other variable reaches it"},
	},
	extra: "Any other key is a parameter of the device's plugin (minBattery, path, baud, probe, expectStatus, expectBody, ...), given as a scalar; the plugin checks them.",
}

var specObj = &object{
	name: "avatar.yaml",
	doc:  "The top level of the file.",
	fields: []field{
		{key: "apiVersion", kind: vString, required: true, enum: []string{APIVersion}, doc: "always " + APIVersion},
		{key: "kind", kind: vString, required: true, enum: []string{Kind}, doc: "always " + Kind},
		{key: "metadata", kind: vObject, elem: metadataObj, required: true, doc: "names the deployment"},
		{key: "kafka", kind: vObject, elem: kafkaObj, doc: "broker software and resources"},
		{key: "brokers", kind: vList, elem: brokerObj, required: true, doc: "the Kafka nodes"},
		{key: "tls", kind: vObject, elem: tlsObj, doc: "certificates and keystores"},
		{key: "topicDefaults", kind: vObject, elem: topicDefaultsObj, doc: "defaults merged into every topic"},
		{key: "topics", kind: vList, elem: topicObj, doc: "the desired topics"},
		{key: "deletion", kind: vString, def: DeletionRetain, enum: []string{DeletionRetain, DeletionPrune},
			doc: "topics on the cluster but not in the spec: retain (only list them) or prune (apply --allow-delete deletes them)"},
		{key: "reassignment", kind: vObject, elem: reassignmentObj, doc: "replica move settings"},
		{key: "clusters", kind: vMap, elem: clusterObj, doc: "targets by name; --cluster picks one (default embedded)"},
		{key: "devices", kind: vList, elem: deviceObj, doc: "lab devices to probe"},
		{key: "users", kind: vList, elem: userObj, doc: "SCRAM users and mTLS principals (docs/access.md)"},
		{key: "services", kind: vList, elem: serviceObj, doc: "Avatar components by role, expanded into the minimal ACLs"},
		{key: "acls", kind: vList, elem: aclObj, doc: "raw ACL entries beyond the service roles"},
		{key: "quotas", kind: vList, elem: quotaObj, doc: "client quotas per user and/or client id"},
	},
}
