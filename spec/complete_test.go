package spec

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestCompleteFromASpecMidEdit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "avatar.yaml")
	// Invalid (no brokers, a topic without partitions) but decodable: completion still answers.
	data := `apiVersion: avatar.io/v1
kind: AvatarKafkaCluster
clusters:
  dev: { bootstrap: [localhost:9092] }
  lab: { bootstrap: ["10.0.0.5:9093"], security: ssl }
devices:
  - { name: tello-1, kind: tello, address: "192.168.10.1:8889" }
  - { name: headset, kind: openbci-wifi }
topics:
  - name: eeg
`
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	targets := CompleteTargets(path)
	for _, want := range []string{"dev\tplaintext localhost:9092", "lab\tssl 10.0.0.5:9093", "embedded\tin-process cluster"} {
		if !slices.Contains(targets, want) {
			t.Errorf("targets %q lack %q", targets, want)
		}
	}
	if got, want := CompleteDevices(path, []string{"tello-1"}), []string{"headset\topenbci-wifi"}; !slices.Equal(got, want) {
		t.Errorf("devices: got %q, want %q", got, want)
	}
	for _, p := range []string{Stdin, filepath.Join(t.TempDir(), "missing.yaml")} {
		if got := CompleteTargets(p); !slices.Equal(got, []string{"embedded\tin-process cluster"}) {
			t.Errorf("%s: targets %q", p, got)
		}
		if got := CompleteDevices(p, nil); got != nil {
			t.Errorf("%s: devices %q", p, got)
		}
	}
}

func TestKubernetesTargets(t *testing.T) {
	s := &Spec{Clusters: []Cluster{{Name: "embedded"}, {Name: "lab", Kubernetes: &Kubernetes{}}, {Name: "dev"}, {Name: "microk8s", Kubernetes: &Kubernetes{}}}}
	if got := s.KubernetesTargets(); !slices.Equal(got, []string{"lab", "microk8s"}) {
		t.Errorf("got %v", got)
	}
	if got := (&Spec{}).KubernetesTargets(); got != nil {
		t.Errorf("none: %v", got)
	}
}
