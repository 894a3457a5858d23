// Package spec holds avatar-sync's desired-state model: the types behind avatar.yaml, how a file is
// parsed into them, and the rules that decide whether it is valid. It does no network I/O and imports
// no other package of this project, so every other package can depend on it.
package spec

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// APIVersion and Kind are the only header values this version of avatar-sync reads.
const (
	APIVersion = "avatar-sync/v1"
	Kind       = "KafkaCluster"
)

// Pos is where a value stands in the source file; the zero Pos means "not from a file".
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// String renders the position the way compilers do, so editors can jump to it.
func (p Pos) String() string {
	switch {
	case p.Line == 0 && p.File == "":
		return ""
	case p.Line == 0:
		return p.File
	default:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
}

// Spec is one avatar.yaml after loading: defaults applied and human units already converted to the
// values Kafka expects (see Topic.Config).
type Spec struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   Metadata `yaml:"metadata"`
	Kafka      Kafka    `yaml:"kafka"`
	Brokers    []Broker `yaml:"brokers"`
	TLS        TLS      `yaml:"tls"`
	// TopicDefaults fills what a topic leaves out; Topics already carry the merged result.
	TopicDefaults TopicDefaults `yaml:"topicDefaults"`
	Topics        []Topic       `yaml:"topics"`
	// Deletion decides what happens to topics on the cluster that the spec does not name:
	// DeletionRetain (the default) only lists them, DeletionPrune lets apply delete them when the
	// command line also says --allow-delete.
	Deletion string `yaml:"deletion"`
	// Reassignment tunes replica moves caused by replication-factor changes.
	Reassignment Reassignment `yaml:"reassignment"`
	// Clusters are the targets plan/apply can talk to, in file order.
	Clusters []Cluster `yaml:"clusters"`
	Devices  []Device  `yaml:"devices"`
	// Users, Services, ACLs and Quotas are access control as code (issue 14, docs/access.md).
	Users    []User    `yaml:"users"`
	Services []Service `yaml:"services"`
	ACLs     []ACL     `yaml:"acls"`
	Quotas   []Quota   `yaml:"quotas"`

	// File is the path the spec was read from ("" for in-memory specs).
	File string `yaml:"-"`
	// Overridden names the target whose overrides were merged in ("" when none were: Parse, or a
	// target without overrides), issue 15.
	Overridden string `yaml:"-"`
}

// Deletion policies.
const (
	DeletionRetain = "retain"
	DeletionPrune  = "prune"
)

// Metadata names the deployment.
type Metadata struct {
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
	Pos       Pos    `yaml:"-"`
}

// Kafka describes the broker software and the resources a rendered deployment asks for.
type Kafka struct {
	Image string `yaml:"image"`
	// StorageSize is the PersistentVolumeClaim size per broker, as Kubernetes writes it (e.g. "10Gi").
	StorageSize string `yaml:"storageSize"`
	// Resources are container requests/limits as Kubernetes quantities (cpu, memory).
	Resources Resources `yaml:"resources"`
	// UI enables the optional Kafka UI container in rendered deployments (port 8080 in the reference).
	UI bool `yaml:"ui"`
	// ClusterID is the KRaft cluster id used when rendering deployments.
	ClusterID string `yaml:"clusterId"`
	// SuperUsers are principals the rendered brokers' authorizer lets do everything (avatar-sync's
	// own admin); render adds the brokers and every target's SASL user (issue 14).
	SuperUsers []string `yaml:"superUsers"`
	// SASL is the SCRAM admin the rendered brokers are formatted with (kafka-storage format
	// --add-scram), so a cluster with SASL listeners (brokers' ports.sasl) has one user that can log
	// in before avatar-sync apply creates the others (issue 14). It becomes a super user.
	SASL *SASL `yaml:"sasl"`
	Pos  Pos   `yaml:"-"`
}

// Resources are Kubernetes resource quantities.
type Resources struct {
	RequestsCPU    string `yaml:"requestsCpu"`
	RequestsMemory string `yaml:"requestsMemory"`
	LimitsCPU      string `yaml:"limitsCpu"`
	LimitsMemory   string `yaml:"limitsMemory"`
}

// Broker is one Kafka node (combined broker+controller in KRaft mode).
type Broker struct {
	ID    int32       `yaml:"id"`
	Host  string      `yaml:"host"`
	Rack  string      `yaml:"rack"`
	Ports BrokerPorts `yaml:"ports"`
	Pos   Pos         `yaml:"-"`
}

// BrokerPorts are the listener ports of one broker; 0 means the listener is off.
type BrokerPorts struct {
	Plaintext int `yaml:"plaintext"`
	SSL       int `yaml:"ssl"`
	// SASL is the SASL_SSL client listener (SCRAM over TLS) of rendered deployments (issue 14).
	SASL       int `yaml:"sasl"`
	Internal   int `yaml:"internal"`
	Controller int `yaml:"controller"`
}

// TLS describes the certificate material avatar-sync generates and the brokers serve.
type TLS struct {
	Enabled bool   `yaml:"enabled"`
	Dir     string `yaml:"dir"`
	// KeystoreType is one of KeystorePKCS12, KeystoreJKS, KeystorePEM.
	KeystoreType string `yaml:"keystoreType"`
	// PasswordEnv / PasswordFile reference the keystore password; the file itself never holds it.
	PasswordEnv  string        `yaml:"passwordEnv"`
	PasswordFile string        `yaml:"passwordFile"`
	Validity     time.Duration `yaml:"validity"`
	RenewBefore  time.Duration `yaml:"renewBefore"`
	// ExtraSANs are added to every broker certificate.
	ExtraSANs []string `yaml:"extraSANs"`
	// Clients are principals that get client certificates for mutual TLS.
	Clients []string `yaml:"clients"`
	// CA, when set, is an existing CA to sign with instead of a generated self-signed one.
	CA *CARef `yaml:"ca"`
	// Internal makes the rendered INTERNAL and CONTROLLER listeners TLS with client certificates,
	// so no broker-to-broker traffic is plaintext (issue 14).
	Internal bool `yaml:"internal"`
	Pos      Pos  `yaml:"-"`
}

// Keystore types.
const (
	KeystorePKCS12 = "PKCS12"
	KeystoreJKS    = "JKS"
	KeystorePEM    = "PEM"
)

// CARef points at an existing certificate authority.
type CARef struct {
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
}

// TopicDefaults apply to every topic that does not say otherwise.
type TopicDefaults struct {
	Partitions        int               `yaml:"partitions"`
	ReplicationFactor int               `yaml:"replicationFactor"`
	Config            map[string]string `yaml:"config"`
	Prune             bool              `yaml:"prune"`
}

// Topic is one desired topic with defaults merged in.
type Topic struct {
	Name              string `yaml:"name"`
	Partitions        int    `yaml:"partitions"`
	ReplicationFactor int    `yaml:"replicationFactor"`
	// Config holds Kafka topic configs in Kafka's own units (milliseconds, bytes, plain strings):
	// "retention: 1h" arrives here as "retention.ms": "3600000".
	Config map[string]string `yaml:"config"`
	// Prune removes configs that are set on the live topic but absent here; without it they are
	// reported as drift and left alone.
	Prune bool `yaml:"prune"`
	Pos   Pos  `yaml:"-"`
	// ConfigPos is where each config key was written (for error messages), if it came from a file.
	ConfigPos map[string]Pos `yaml:"-"`
}

// Reassignment tunes replica moves.
type Reassignment struct {
	// ThrottleBytesPerSec limits replication traffic during a move (0 = no throttle).
	ThrottleBytesPerSec int64 `yaml:"throttle"`
}

// Security protocols of a cluster target.
const (
	SecurityPlaintext = "plaintext"
	SecuritySSL       = "ssl"
	SecuritySASLSSL   = "sasl_ssl"
	// SecuritySASLPlaintext is SASL without TLS: the embedded cluster and `dev up` with users
	// (issue 14); never for a cluster beyond the lab machine.
	SecuritySASLPlaintext = "sasl_plaintext"
)

// Cluster is one target avatar-sync can plan against.
type Cluster struct {
	Name string `yaml:"-"`
	// Bootstrap is empty for the embedded in-process cluster.
	Bootstrap []string `yaml:"bootstrap"`
	Security  string   `yaml:"security"`
	CAFile    string   `yaml:"caFile"`
	CertFile  string   `yaml:"certFile"`
	KeyFile   string   `yaml:"keyFile"`
	SASL      *SASL    `yaml:"sasl"`
	// ClusterID pins the live cluster's id: plan/apply refuse a cluster whose id differs.
	ClusterID string `yaml:"clusterId"`
	// Preflight runs device probes before plan/apply against this target.
	Preflight  bool        `yaml:"preflight"`
	Kubernetes *Kubernetes `yaml:"kubernetes"`
	// Overrides are this target's own brokers, topicDefaults and topic settings, merged over the
	// spec's when it is loaded for the target (ParseTarget, issue 15).
	Overrides *Overrides `yaml:"overrides"`
	Pos       Pos        `yaml:"-"`
}

// Embedded reports whether the target is avatar-sync's in-process cluster.
func (c Cluster) Embedded() bool { return len(c.Bootstrap) == 0 }

// SASL credentials; the password is referenced, never inlined.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism    string `yaml:"mechanism"`
	Username     string `yaml:"username"`
	PasswordEnv  string `yaml:"passwordEnv"`
	PasswordFile string `yaml:"passwordFile"`
}

// Kubernetes describes how a target is deployed; it drives render's overlays.
type Kubernetes struct {
	Context      string    `yaml:"context"`
	Namespace    string    `yaml:"namespace"`
	StorageClass string    `yaml:"storageClass"`
	ImageTag     string    `yaml:"imageTag"`
	Resources    Resources `yaml:"resources"`
	// ExternalHost is the address clients outside the cluster dial (the MicroK8s host).
	ExternalHost string `yaml:"externalHost"`
	// Watch asks render for the in-cluster watch daemon (issue 12); nil = not asked.
	Watch *KubernetesWatch `yaml:"watch"`
}

// Watch modes (watch --mode).
const (
	WatchModeHeal   = "heal"
	WatchModeReport = "report"
)

// KubernetesWatch is `avatar-sync watch --git` run inside the target's namespace: render adds its
// Deployment, ServiceAccount and namespaced RBAC to the overlay.
type KubernetesWatch struct {
	Enabled bool `yaml:"enabled"`
	// Image is the avatar-sync container image; "" lets render name the image `make image` tags
	// for the rendering binary's version.
	Image string `yaml:"image"`
	// Git, Branch, Path and GitInterval are watch's --git, --branch, --path and --git-interval.
	Git         string        `yaml:"git"`
	Branch      string        `yaml:"branch"`
	Path        string        `yaml:"path"`
	GitInterval time.Duration `yaml:"gitInterval"`
	// Mode is heal or report (--mode).
	Mode string `yaml:"mode"`
	// Cluster is the target the daemon reconciles (--cluster); "" = this target. Inside the
	// cluster the brokers are reached by their Service names, which may need a target of its own.
	Cluster string `yaml:"cluster"`
	// MetricsPort serves /metrics, /healthz and /readyz.
	MetricsPort int `yaml:"metricsPort"`
	Pos         Pos `yaml:"-"`
}

// Device is one lab device a plugin can probe.
type Device struct {
	Name string `yaml:"name"`
	// Kind selects the plugin: tello, openbci-wifi, openbci-serial, tcp, udp, http, or any name
	// served by an external avatar-sync-plugin-<kind> executable.
	Kind     string        `yaml:"kind"`
	Address  string        `yaml:"address"`
	Required bool          `yaml:"required"`
	Timeout  time.Duration `yaml:"timeout"`
	// Plugin is an explicit path to an external plugin executable.
	Plugin string `yaml:"plugin"`
	// Env names the environment variables an external plugin receives beyond the fixed allow-list:
	// plugins never inherit avatar-sync's whole environment, which holds keystore and SASL
	// passwords (issue 10).
	Env []string `yaml:"env"`
	// SecretEnv are the variables the spec reads passwords from (set when the spec is parsed):
	// the plugin runner never passes them, even when Env names them (issue 21).
	SecretEnv []string `yaml:"-"`
	// Params are the kind-specific keys written beside the common ones (minBattery, path, baud,
	// probe, expectStatus, expectBody, ...). spec cannot know every plugin's keys, so the plugin
	// for the device's kind validates them (unknown key → error with a suggestion).
	Params    map[string]string `yaml:"-"`
	ParamsPos map[string]Pos    `yaml:"-"`
	// KeyPos is where each common key (name, kind, address, ...) was written.
	KeyPos map[string]Pos `yaml:"-"`
	Pos    Pos            `yaml:"-"`
}

// Target returns the cluster target named name (--cluster): the one lookup every command shares
// (issue 9; it was written five times). The embedded target exists even in a Spec built without it.
// An unknown name is an *UnknownTargetError listing the targets and the closest one.
func (s *Spec) Target(name string) (Cluster, error) {
	if c, ok := s.FindCluster(name); ok {
		return c, nil
	}
	if name == EmbeddedCluster {
		return Cluster{Name: EmbeddedCluster, Security: SecurityPlaintext}, nil
	}
	names := make([]string, len(s.Clusters))
	for i, c := range s.Clusters {
		names[i] = c.Name
	}
	if !slices.Contains(names, EmbeddedCluster) {
		names = append(names, EmbeddedCluster)
	}
	return Cluster{}, &UnknownTargetError{Name: name, File: s.File, Targets: names}
}

// UnknownTargetError is a --cluster name the spec does not declare. Its message reads after the flag:
// `--cluster "mikrok8s" is not a target in avatar.yaml (targets: embedded, microk8s); did you mean "microk8s"?`.
type UnknownTargetError struct {
	Name, File string
	Targets    []string
}

func (e *UnknownTargetError) Error() string {
	in := e.File
	if in == "" {
		in = "the spec"
	}
	return fmt.Sprintf("%q is not a target in %s (targets: %s)%s", e.Name, in, strings.Join(e.Targets, ", "), didYouMean(e.Name, e.Targets))
}

// FindCluster returns the target with the given name.
func (s *Spec) FindCluster(name string) (Cluster, bool) {
	for _, c := range s.Clusters {
		if c.Name == name {
			return c, true
		}
	}
	return Cluster{}, false
}

// PosOf is where a device key (common key or plugin parameter) was written, so a plugin's message
// points at the key it is about; the device's own position when the key is absent.
func (d Device) PosOf(key string) Pos {
	if p, ok := d.KeyPos[key]; ok {
		return p
	}
	if p, ok := d.ParamsPos[key]; ok {
		return p
	}
	return d.Pos
}
