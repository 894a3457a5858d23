package render

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

func TestModelRejectsWhatWouldRenderWrong(t *testing.T) {
	cases := map[string]struct {
		mutate func(s *spec.Spec)
		want   []string // every one must be reported, not just the first
	}{
		"duplicate ids and a missing host": {func(s *spec.Spec) {
			s.Brokers[1].ID = 1
			s.Brokers[2].Host = ""
		}, []string{"broker 1: id is used by another broker", "broker 3: host is empty"}},
		"listener port clash in one broker": {func(s *spec.Spec) { s.Brokers[0].Ports.Controller = 9092 },
			[]string{"broker 1: ports.controller and ports.plaintext are both 9092"}},
		"published port clash across brokers": {func(s *spec.Spec) { s.Brokers[2].Ports.SSL = 9193 },
			[]string{"broker 3: port 9193 is also used by broker 2"}},
		"no client listener": {func(s *spec.Spec) { s.Brokers[0].Ports.Plaintext = 0; s.TLS.Enabled = false },
			[]string{"broker 1: no client listener"}},
		"bad keystore type": {func(s *spec.Spec) { s.TLS.KeystoreType = "P12" }, []string{`tls.keystoreType "P12"`}},
		"bad instance name": {func(s *spec.Spec) { s.Metadata.Name = "Avatar_Lab" }, []string{`metadata.name "Avatar_Lab"`}},
		"no brokers":        {func(s *spec.Spec) { s.Brokers = nil }, []string{"the spec has no brokers"}},
		"port out of range": {func(s *spec.Spec) { s.Brokers[0].Ports.Internal = 70000 }, []string{"ports.internal 70000 is not a TCP port"}},
		// SASL listeners (issue 14): never over plaintext, only where ACLs can be enforced, and only
		// with an admin to format the storage with, whose name --add-scram can carry.
		"sasl without tls": {func(s *spec.Spec) { *s = *saslSpec("/repo"); s.TLS.Enabled = false },
			[]string{"ports.sasl is a SASL_SSL listener but tls.enabled is false"}},
		"sasl without tls.internal": {func(s *spec.Spec) { *s = *saslSpec("/repo"); s.TLS.Internal = false },
			[]string{"ports.sasl needs tls.internal: true"}},
		"sasl without admin": {func(s *spec.Spec) { *s = *saslSpec("/repo"); s.Kafka.SASL = nil },
			[]string{"ports.sasl needs kafka.sasl"}},
		"sasl admin PLAIN": {func(s *spec.Spec) { *s = *saslSpec("/repo"); s.Kafka.SASL.Mechanism = "PLAIN" },
			[]string{`kafka.sasl.mechanism "PLAIN"`}},
		"sasl admin name": {func(s *spec.Spec) { *s = *saslSpec("/repo"); s.Kafka.SASL.Username = "ad,min" },
			[]string{`kafka.sasl.username "ad,min"`}},
		"sasl admin without password": {func(s *spec.Spec) { *s = *saslSpec("/repo"); s.Kafka.SASL.PasswordEnv = "" },
			[]string{"kafka.sasl needs passwordEnv or passwordFile"}},
		"sasl port clash": {func(s *spec.Spec) { *s = *saslSpec("/repo"); s.Brokers[1].Ports.SASL = 9292 },
			[]string{"broker 2: port 9292 is also used by broker 1"}},
		"sasl on the ssl port": {func(s *spec.Spec) { *s = *saslSpec("/repo"); s.Brokers[0].Ports.SASL = 9192 },
			[]string{"broker 1: ports.ssl and ports.sasl are both 9192"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := exampleSpec("/repo")
			tc.mutate(s)
			_, err := KustomizeFiles(s, "/repo/deploy")
			if err == nil {
				t.Fatal("rendered an inconsistent spec")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if _, cerr := ComposeFiles(s, "/repo/deploy"); cerr == nil {
				t.Error("compose rendered an inconsistent spec")
			}
		})
	}
}

func TestOverlayRejectsUnusableNames(t *testing.T) {
	s := exampleSpec("/repo")
	s.Clusters = append(s.Clusters,
		spec.Cluster{Name: "../escape", Kubernetes: &spec.Kubernetes{}},
		spec.Cluster{Name: "lab", Kubernetes: &spec.Kubernetes{Namespace: "Bad_NS"}})
	_, err := KustomizeFiles(s, "/repo/deploy")
	for _, w := range []string{"clusters.../escape: the name cannot be a directory name", `clusters.lab.kubernetes.namespace "Bad_NS"`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("want error containing %q, got %v", w, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	s := exampleSpec("/repo")
	s.Kafka = spec.Kafka{}
	s.Brokers[0].Ports.Internal = 0
	m, err := newModel(s)
	if err != nil {
		t.Fatal(err)
	}
	if m.image != DefaultImage || m.storageSize != DefaultStorageSize || m.resources.RequestsCPU != DefaultRequestsCPU {
		t.Errorf("defaults not applied: %+v", m)
	}
	if m.brokers[0].internal != DefaultInternalPort || m.brokers[0].controller != DefaultControllerPort {
		t.Errorf("port defaults: internal %d controller %d", m.brokers[0].internal, m.brokers[0].controller)
	}
	// The derived cluster id is stable and a valid KRaft id (22 URL-safe base64 characters).
	m2, _ := newModel(exampleSpec("/repo"))
	if len(m.clusterID) != 22 || m.clusterID != m2.clusterID {
		t.Errorf("cluster id %q vs %q", m.clusterID, m2.clusterID)
	}
}

func TestSplitImage(t *testing.T) {
	for in, want := range map[string][2]string{
		"apache/kafka:3.9.0":               {"apache/kafka", "3.9.0"},
		"apache/kafka":                     {"apache/kafka", ""},
		"registry:5000/apache/kafka":       {"registry:5000/apache/kafka", ""},
		"registry:5000/apache/kafka:3.9.0": {"registry:5000/apache/kafka", "3.9.0"},
		"apache/kafka:3.9.0@sha256:abc":    {"apache/kafka", "3.9.0"},
	} {
		name, tag := splitImage(in)
		if name != want[0] || tag != want[1] {
			t.Errorf("splitImage(%q) = %q, %q; want %q, %q", in, name, tag, want[0], want[1])
		}
	}
}

func TestTLSDirPlacement(t *testing.T) {
	cases := map[string]struct {
		dir, wantPath, wantErr string
	}{
		"beside the tree":    {dir: "ssl-certs", wantPath: "../ssl-certs/kustomization.yaml"},
		"inside the tree":    {dir: "deploy/certs", wantPath: "certs/kustomization.yaml"},
		"is the base":        {dir: "deploy/base", wantErr: "is the rendered base directory itself"},
		"is an overlay":      {dir: "deploy/overlays/microk8s", wantErr: "overlaps the rendered tree at overlays/microk8s/kustomization.yaml"},
		"absolute elsewhere": {dir: "/srv/pki/avatar", wantPath: "../../srv/pki/avatar/kustomization.yaml"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := exampleSpec("/repo")
			s.TLS.Dir = tc.dir
			if !filepath.IsAbs(tc.dir) {
				s.TLS.Dir = filepath.Join("/repo", tc.dir) // as spec resolves it
			}
			files, err := KustomizeFiles(s, "/repo/deploy")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want error containing %q, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := files[tc.wantPath]; !ok {
				t.Errorf("no %s in %v", tc.wantPath, files.Paths())
			}
		})
	}
}
