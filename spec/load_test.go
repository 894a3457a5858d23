package spec

import (
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestExampleLoadsClean pins what examples/avatar.yaml means once loaded: defaults merged into every
// topic, units converted to Kafka's, clusters in file order plus nothing implicit (embedded is
// declared), positions filled in.
func TestExampleLoadsClean(t *testing.T) {
	s, diags := LoadFile("../examples/avatar.yaml")
	if len(diags) > 0 {
		t.Fatalf("example has diagnostics:\n%v", diags)
	}
	if s.APIVersion != APIVersion || s.Kind != Kind || s.Metadata.Name != "avatar" || s.Metadata.Namespace != "avatar" {
		t.Errorf("header: %+v %+v", s.APIVersion, s.Metadata)
	}
	if s.Kafka.Image != "apache/kafka:3.9.0" {
		t.Errorf("kafka.image = %q", s.Kafka.Image)
	}
	wantBrokers := []Broker{
		{ID: 1, Host: "kafka-broker-1", Rack: "lab-a", Ports: BrokerPorts{Plaintext: 9092, SSL: 9192, Internal: 29092}},
		{ID: 2, Host: "kafka-broker-2", Rack: "lab-b", Ports: BrokerPorts{Plaintext: 9093, SSL: 9193, Internal: 29093}},
		{ID: 3, Host: "kafka-broker-3", Rack: "lab-c", Ports: BrokerPorts{Plaintext: 9094, SSL: 9194, Internal: 29094}},
	}
	ignorePos := cmp.FilterPath(func(p cmp.Path) bool {
		f, ok := p.Last().(cmp.StructField)
		return ok && (f.Name() == "Pos" || f.Name() == "ConfigPos" || f.Name() == "ParamsPos" || f.Name() == "KeyPos")
	}, cmp.Ignore())
	if diff := cmp.Diff(wantBrokers, s.Brokers, ignorePos); diff != "" {
		t.Errorf("brokers (-want +got):\n%s", diff)
	}
	if s.Brokers[1].Pos.Line != 12 || s.Brokers[1].Pos.File != "../examples/avatar.yaml" {
		t.Errorf("brokers[1].Pos = %v", s.Brokers[1].Pos)
	}
	// tls.dir is resolved next to the spec file (issue 9).
	wantTLS := TLS{Enabled: true, Dir: "../examples/ssl-certs", KeystoreType: KeystorePKCS12, PasswordEnv: "AVATAR_KEYSTORE_PASSWORD",
		Validity: 825 * 24 * time.Hour, RenewBefore: 30 * 24 * time.Hour}
	if diff := cmp.Diff(wantTLS, s.TLS, ignorePos); diff != "" {
		t.Errorf("tls (-want +got):\n%s", diff)
	}
	wantTopics := []Topic{
		{Name: "eeg-brainwave-data", Partitions: 3, ReplicationFactor: 3,
			Config: map[string]string{"min.insync.replicas": "2", "retention.ms": "3600000", "segment.ms": "600000"}},
		{Name: "prediction-results", Partitions: 3, ReplicationFactor: 3,
			Config: map[string]string{"min.insync.replicas": "2", "retention.ms": "21600000"}},
		{Name: "drone-commands", Partitions: 3, ReplicationFactor: 3,
			Config: map[string]string{"min.insync.replicas": "2", "retention.ms": "86400000"}},
	}
	if diff := cmp.Diff(wantTopics, s.Topics, ignorePos); diff != "" {
		t.Errorf("topics (-want +got):\n%s", diff)
	}
	// Each config value points at where it was written: the topic's own line, or topicDefaults.
	if p := s.Topics[0].ConfigPos["segment.ms"]; p.Line != 18 {
		t.Errorf("segment.ms written at %v, want line 18", p)
	}
	if p := s.Topics[2].ConfigPos["min.insync.replicas"]; p.Line != 15 {
		t.Errorf("min.insync.replicas (from topicDefaults) at %v, want line 15", p)
	}
	var names []string
	for _, c := range s.Clusters {
		names = append(names, c.Name)
	}
	if diff := cmp.Diff([]string{"embedded", "dev", "microk8s"}, names); diff != "" {
		t.Errorf("cluster order (-want +got):\n%s", diff)
	}
	mk, _ := s.FindCluster("microk8s")
	if mk.Security != SecuritySSL || mk.Kubernetes == nil || mk.Kubernetes.Context != "microk8s" || len(mk.Bootstrap) != 3 {
		t.Errorf("microk8s = %+v", mk)
	}
	if emb, _ := s.FindCluster("embedded"); !emb.Embedded() {
		t.Errorf("embedded cluster has bootstrap %v", emb.Bootstrap)
	}
	if len(s.Devices) != 2 || s.Devices[0].Address != "192.168.4.1:80" || !s.Devices[0].Required || s.Devices[1].Kind != "tello" {
		t.Errorf("devices = %+v", s.Devices)
	}
	if s.Deletion != DeletionRetain {
		t.Errorf("deletion = %q, want the default %q", s.Deletion, DeletionRetain)
	}
}

// TestFullFile loads a file that sets every key once and checks each value lands, converted, in the
// right field; it also proves the decoder reads every key the tables declare (a declared key nobody
// reads would pass validation and be silently ignored).
func TestFullFile(t *testing.T) {
	data, err := os.ReadFile("testdata/valid/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, diags, d := parse("full.yaml", data)
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%v", diags)
	}
	// Objects that share a name (sasl) share their keys' record, as their documentation does.
	usedKeys := map[string]bool{}
	for o, used := range d.used {
		for i, u := range used {
			if u {
				usedKeys[o.name+"."+o.fields[i].key] = true
			}
		}
	}
	var walk func(o *object)
	seen := map[*object]bool{}
	walk = func(o *object) {
		if seen[o] {
			return
		}
		seen[o] = true
		for _, f := range o.fields {
			if !usedKeys[o.name+"."+f.key] {
				t.Errorf("%s.%s is in the table but the decoder never read it (or full.yaml does not set it)", o.name, f.key)
			}
			if f.elem != nil {
				walk(f.elem)
			}
		}
	}
	walk(specObj)

	yes := true
	res := Resources{RequestsCPU: "250m", RequestsMemory: "512Mi", LimitsCPU: "1", LimitsMemory: "1Gi"}
	// issue 21: every device carries the spec's password variables, which its plugin never gets.
	secretEnv := []string{"CLOUD_KAFKA_PASSWORD", "GUI5_PASSWORD"}
	want := &Spec{
		APIVersion: APIVersion, Kind: Kind, File: "full.yaml",
		Metadata: Metadata{Name: "avatar", Namespace: "avatar-lab"},
		Kafka: Kafka{Image: "apache/kafka:3.9.0", StorageSize: "20Gi", UI: true, ClusterID: "MkU3OEVBNTcwNTJENDM2Qk", SuperUsers: []string{"User:CN=avatar-sync,O=avatar-sync"},
			Resources: Resources{RequestsCPU: "500m", RequestsMemory: "1Gi", LimitsCPU: "2", LimitsMemory: "2Gi"}},
		Brokers: []Broker{
			{ID: 1, Host: "kafka-broker-1", Rack: "lab-a", Ports: BrokerPorts{Plaintext: 9092, SSL: 9192, Internal: 29092, Controller: 29192}},
			{ID: 2, Host: "kafka-broker-2", Rack: "lab-b", Ports: BrokerPorts{Plaintext: 9093, SSL: 9193, Internal: 29093, Controller: 29193}},
		},
		TLS: TLS{Enabled: true, Dir: "certs", KeystoreType: KeystoreJKS, PasswordFile: "/run/secrets/keystore",
			Validity: 365 * 24 * time.Hour, RenewBefore: 14 * 24 * time.Hour,
			ExtraSANs: []string{"kafka.lab.example", "*.lab.example", "10.0.0.5"}, Clients: []string{"gui5", "predictor"},
			CA: &CARef{CertFile: "ca.pem", KeyFile: "ca-key.pem"}, Internal: true},
		TopicDefaults: TopicDefaults{Partitions: 6, ReplicationFactor: 2, Prune: true,
			Config: map[string]string{"min.insync.replicas": "1", "compression.type": "lz4", "retention.ms": "604800000"}},
		Topics: []Topic{
			{Name: "eeg-brainwave-data", Partitions: 12, ReplicationFactor: 2, Prune: true, Config: map[string]string{
				"min.insync.replicas": "1", "compression.type": "lz4", "retention.ms": "3600000", "segment.ms": "600000",
				"segment.bytes": "536870912", "cleanup.policy": "compact,delete", "max.message.bytes": "1048576",
				"message.timestamp.type": "LogAppendTime", "unclean.leader.election.enable": "false",
				"min.cleanable.dirty.ratio": "0.25", "retention.bytes": "-1",
			}},
			{Name: "drone-commands", Partitions: 6, ReplicationFactor: 1, Prune: false, Config: map[string]string{
				"min.insync.replicas": "1", "compression.type": "lz4", "retention.ms": "-1", "delete.retention.ms": "5400000",
			}},
		},
		Deletion:     DeletionPrune,
		Reassignment: Reassignment{ThrottleBytesPerSec: 10 << 20},
		Clusters: []Cluster{
			{Name: "dev", Bootstrap: []string{"localhost:9092", "localhost:9093"}, Security: SecurityPlaintext,
				Overrides: &Overrides{
					Brokers:       []Broker{{ID: 1, Host: "localhost", Ports: BrokerPorts{Plaintext: 9092}}},
					TopicDefaults: &TopicOverride{ReplicationFactor: 1, Config: map[string]string{}},
					Topics: []TopicOverride{{Name: "drone-commands", Partitions: 1, ReplicationFactor: 1, Prune: &yes,
						Config: map[string]string{"retention.ms": "3600000", "segment.ms": "3600000"}}},
				}},
			{Name: "microk8s", Bootstrap: []string{"kafka-broker-1:9192"}, Security: SecuritySSL, CAFile: "certs/ca.pem",
				CertFile: "certs/client.pem", KeyFile: "certs/client-key.pem", ClusterID: "MkU3OEVBNTcwNTJENDM2Qk", Preflight: true,
				Kubernetes: &Kubernetes{Context: "microk8s", Namespace: "avatar", StorageClass: "microk8s-hostpath",
					ImageTag: "3.9.1", Resources: res, ExternalHost: "192.168.1.50",
					Watch: &KubernetesWatch{Enabled: true, Image: "ghcr.io/avatar-project/avatar-sync:0.4.0", Git: "https://git.example.org/avatar/lab.git",
						Branch: "lab", Path: "lab/avatar.yaml", GitInterval: 2 * time.Minute, Mode: WatchModeReport, Cluster: "cloud", MetricsPort: 9465}}},
			{Name: "cloud", Bootstrap: []string{"kafka.example.org:9094"}, Security: SecuritySASLSSL,
				SASL: &SASL{Mechanism: "SCRAM-SHA-512", Username: "avatar", PasswordEnv: "CLOUD_KAFKA_PASSWORD"}},
			{Name: EmbeddedCluster, Security: SecurityPlaintext}, // implicit: --cluster defaults to it
		},
		Devices: []Device{
			{Name: "tello-1", Kind: "tello", Address: "192.168.10.1:8889", Required: true, Timeout: 1500 * time.Millisecond,
				Params: map[string]string{"minBattery": "30"}, SecretEnv: secretEnv},
			{Name: "cyton", Kind: "openbci-serial", Address: "/dev/ttyUSB0", Params: map[string]string{"baud": "115200"}, SecretEnv: secretEnv},
			{Name: "predictor", Kind: "http", Address: "http://predictor.lab:8000/health", Params: map[string]string{"expectStatus": "200"}, SecretEnv: secretEnv},
			{Name: "custom", Kind: "lidar", Address: "10.0.0.9:7000", Plugin: "./bin/avatar-sync-plugin-lidar", SecretEnv: secretEnv},
		},
		Users: []User{
			{Name: "gui5", Mechanism: MechanismSCRAM512, PasswordEnv: "GUI5_PASSWORD", Iterations: 16384},
			{Name: "drone", Mechanism: MechanismSCRAM256, PasswordFile: "/run/secrets/drone", Iterations: DefaultSCRAMIterations},
			{Name: "CN=predictor,O=avatar-sync", Mechanism: MechanismMTLS},
			{Name: "legacy-etl", Mechanism: MechanismSCRAM512, Iterations: DefaultSCRAMIterations},
		},
		Services: []Service{
			{Name: "gui5", User: "gui5", Produces: []string{"eeg-brainwave-data"}, IdempotentWrite: true},
			{Name: "drone", User: "drone", Consumes: []string{"drone-commands"}, Groups: []string{"drones"}},
		},
		ACLs: []ACL{{Principal: "User:ops", Resource: ResourceTopic, Name: "eeg-", Pattern: PatternPrefixed,
			Operations: []string{"Describe", "DescribeConfigs"}, Permission: PermissionAllow, Host: "10.0.0.7"}},
		Quotas: []Quota{{User: "gui5", ClientID: "gui5-producer", ProducerByteRate: 2 << 20, ConsumerByteRate: 1 << 20, RequestPercentage: 50},
			{ClientID: "etl", ConsumerByteRate: 1000001}},
	}
	ignorePos := cmp.FilterPath(func(p cmp.Path) bool {
		f, ok := p.Last().(cmp.StructField)
		return ok && (f.Name() == "Pos" || f.Name() == "ConfigPos" || f.Name() == "ParamsPos" || f.Name() == "KeyPos")
	}, cmp.Ignore())
	if diff := cmp.Diff(want, s, ignorePos); diff != "" {
		t.Errorf("full.yaml (-want +got):\n%s", diff)
	}
	if p := s.Devices[0].ParamsPos["minBattery"]; p.Line != 86 || p.Col != 5 {
		t.Errorf("minBattery written at %v, want full.yaml:86:5", p)
	}
	if p := s.Devices[0].PosOf("address"); p.Line != 83 || p.Col != 5 {
		t.Errorf("address written at %v, want full.yaml:83:5", p)
	}
	if p, d := s.Devices[0].PosOf("plugin"), s.Devices[0].Pos; p != d {
		t.Errorf("an absent key falls back to the device at %v, got %v", d, p)
	}
	if p := s.Topics[1].ConfigPos["compression.type"]; p.Line != 38 {
		t.Errorf("compression.type (from topicDefaults) at %v, want line 38", p)
	}
}

// TestKubernetesWatchDefaults: a watch block that only says enabled and git gets watch's defaults.
func TestKubernetesWatchDefaults(t *testing.T) {
	src := "apiVersion: avatar-sync/v1\nkind: KafkaCluster\nmetadata: { name: lab }\nbrokers: [ { id: 1, host: b1, ports: { plaintext: 9092 } } ]\n" +
		"clusters:\n  lab: { bootstrap: [b1:9092], kubernetes: { watch: { enabled: true, git: https://git.example.org/lab.git } } }\n"
	s, diags := Parse("avatar.yaml", []byte(src))
	if errs := diags.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	c, _ := s.FindCluster("lab")
	w := c.Kubernetes.Watch
	// No image: render names the image of its own version (issue 25).
	want := KubernetesWatch{Enabled: true, Git: "https://git.example.org/lab.git",
		Branch: "main", Path: "avatar.yaml", GitInterval: time.Minute, Mode: WatchModeHeal, MetricsPort: 9464, Pos: w.Pos}
	if *w != want {
		t.Errorf("watch = %+v\nwant %+v", *w, want)
	}
}
