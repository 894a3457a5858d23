package render

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/avatar-project/avatar-sync/spec"
)

// exampleSpec mirrors examples/avatar.yaml after loading from root/avatar.yaml (paths resolved as spec
// resolves them), with the microk8s target given the
// per-cluster values an operator would set.
func exampleSpec(root string) *spec.Spec {
	s := &spec.Spec{
		APIVersion: spec.APIVersion,
		Kind:       spec.Kind,
		Metadata:   spec.Metadata{Name: "avatar", Namespace: "avatar"},
		Kafka:      spec.Kafka{Image: "apache/kafka:3.9.0"},
		Brokers: []spec.Broker{
			{ID: 1, Host: "kafka-broker-1", Rack: "lab-a", Ports: spec.BrokerPorts{Plaintext: 9092, SSL: 9192, Internal: 29092}},
			{ID: 2, Host: "kafka-broker-2", Rack: "lab-b", Ports: spec.BrokerPorts{Plaintext: 9093, SSL: 9193, Internal: 29093}},
			{ID: 3, Host: "kafka-broker-3", Rack: "lab-c", Ports: spec.BrokerPorts{Plaintext: 9094, SSL: 9194, Internal: 29094}},
		},
		TLS: spec.TLS{Enabled: true, Dir: filepath.Join(root, "ssl-certs"), KeystoreType: spec.KeystorePKCS12, PasswordEnv: "AVATAR_KEYSTORE_PASSWORD"},
		Clusters: []spec.Cluster{
			{Name: "embedded"},
			{Name: "dev", Bootstrap: []string{"localhost:9092", "localhost:9093", "localhost:9094"}},
			{Name: "microk8s", Bootstrap: []string{"kafka-broker-1:9192", "kafka-broker-2:9193", "kafka-broker-3:9194"}, Security: spec.SecuritySSL,
				Kubernetes: &spec.Kubernetes{Context: "microk8s", Namespace: "avatar"}},
		},
		File: filepath.Join(root, "avatar.yaml"),
	}
	return s
}

// fiveBrokerSpec grows the example to five brokers (two broker-only nodes beyond the 3-voter quorum)
// and gives the microk8s overlay every per-cluster knob.
func fiveBrokerSpec(root string) *spec.Spec {
	s := exampleSpec(root)
	s.Brokers = append(s.Brokers,
		spec.Broker{ID: 4, Host: "kafka-broker-4", Rack: "lab-a", Ports: spec.BrokerPorts{Plaintext: 9095, SSL: 9195, Internal: 29095}},
		spec.Broker{ID: 5, Host: "kafka-broker-5", Rack: "lab-b", Ports: spec.BrokerPorts{Plaintext: 9096, SSL: 9196, Internal: 29096}},
	)
	s.Kafka.UI = true
	s.Kafka.StorageSize = "50Gi"
	s.Kafka.Resources = spec.Resources{RequestsCPU: "1", RequestsMemory: "3Gi", LimitsMemory: "4Gi"}
	s.Kafka.ClusterID = "MkU3OEVBNTcwNTJENDM2Qk"
	s.TLS.KeystoreType = spec.KeystoreJKS
	s.TLS.Clients = []string{"prediction-service"}
	s.Clusters = append(s.Clusters, spec.Cluster{Name: "lab", Bootstrap: []string{"10.0.0.5:9092"},
		Kubernetes: &spec.Kubernetes{Namespace: "kafka-lab", StorageClass: "microk8s-hostpath", ImageTag: "3.9.1",
			Resources: spec.Resources{RequestsMemory: "4Gi", LimitsMemory: "6Gi"}, ExternalHost: "10.0.0.5",
			// The in-cluster daemon (issue 12), with watch's defaults as the loader fills them in.
			Watch: &spec.KubernetesWatch{Enabled: true, Image: "ghcr.io/avatar-project/avatar-sync:0.4.0", Git: "https://git.example.org/avatar/lab.git",
				Branch: "main", Path: "lab/avatar.yaml", GitInterval: time.Minute, Mode: spec.WatchModeHeal, MetricsPort: 9464}}})
	return s
}

// writeCerts puts placeholder files where the certs command would write the keystores.
func writeCerts(t testing.TB, fSys filesys.FileSystem, s *spec.Spec) {
	t.Helper()
	m, err := newModel(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := fSys.MkdirAll(m.tlsDir); err != nil {
		t.Fatal(err)
	}
	for _, f := range m.tlsFiles() {
		if err := fSys.WriteFile(filepath.Join(m.tlsDir, f), []byte("placeholder "+f+"\n")); err != nil {
			t.Fatal(err)
		}
	}
}

// loadExample loads examples/avatar.yaml with the real loader, as if it lived at root/avatar.yaml
// (where the in-memory test repositories keep it). The loader runs in tests only; render's functions
// take the loaded value.
func loadExample(root string) *spec.Spec {
	data, err := os.ReadFile(filepath.Join("..", "examples", "avatar.yaml"))
	if err != nil {
		panic(err)
	}
	s, diags := spec.Parse(filepath.Join(root, "avatar.yaml"), data)
	if errs := diags.Errors(); len(errs) > 0 || s == nil {
		panic(fmt.Sprintf("examples/avatar.yaml does not load: %v", errs))
	}
	return s
}
