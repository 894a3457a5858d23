package render

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// TestWatchDeploymentRunsTheBuiltImage (issue 25): a watch block without image renders the image
// `make image` tags for the rendering binary's version, ghcr.io/avatar-project/avatar-sync:<version>,
// pulled only when absent (it is imported into MicroK8s, not pulled); an image the spec names wins.
func TestWatchDeploymentRunsTheBuiltImage(t *testing.T) {
	saved := BuildVersion
	t.Cleanup(func() { BuildVersion = saved })
	BuildVersion = "v1.2.3-4-gabcdef0"
	for name, tc := range map[string]struct{ image, want string }{
		"default":      {"", "ghcr.io/avatar-project/avatar-sync:v1.2.3-4-gabcdef0"},
		"spec's image": {"registry.lab:5000/avatar-sync:pinned", "registry.lab:5000/avatar-sync:pinned"},
	} {
		t.Run(name, func(t *testing.T) {
			s := fiveBrokerSpec("/repo")
			for i := range s.Clusters {
				if k := s.Clusters[i].Kubernetes; k != nil && k.Watch != nil {
					k.Watch.Image = tc.image
				}
			}
			fSys := filesys.MakeFsInMemory()
			writeCerts(t, fSys, s)
			if _, err := Kustomize(s, fSys, "/repo/deploy"); err != nil {
				t.Fatal(err)
			}
			out, err := Build(fSys, "/repo/deploy", "lab")
			if err != nil {
				t.Fatal(err)
			}
			objs := decodeAll(t, out)
			if len(objs.deployments) != 1 {
				t.Fatalf("want the watch Deployment, got %d Deployments", len(objs.deployments))
			}
			c := objs.deployments[0].Spec.Template.Spec.Containers[0]
			if c.Image != tc.want || c.ImagePullPolicy != corev1.PullIfNotPresent {
				t.Errorf("watch runs %s (pull %s), want %s (pull IfNotPresent)", c.Image, c.ImagePullPolicy, tc.want)
			}
		})
	}
}
