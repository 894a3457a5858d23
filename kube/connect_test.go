package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A kubeconfig that is not there is reported as missing (issue 21: it said "has no contexts"),
// wherever it was looked for; inside a pod with none, the pod's service account is used.
func TestRestConfigWithoutAKubeconfig(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	missing := filepath.Join(home, "nowhere", "config")
	cases := map[string]struct {
		kubeconfigEnv, explicit string
		want                    string
	}{
		"explicit path":          {explicit: missing, want: "kubeconfig " + missing + " does not exist"},
		"$KUBECONFIG":            {kubeconfigEnv: missing, want: "kubeconfig $KUBECONFIG (" + missing + ") does not exist"},
		"default ~/.kube/config": {want: "/.kube/config does not exist"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if tc.kubeconfigEnv != "" {
				t.Setenv("KUBECONFIG", tc.kubeconfigEnv)
			} else {
				t.Setenv("KUBECONFIG", "")
				os.Unsetenv("KUBECONFIG")
			}
			_, err := restConfig(Target{Name: "lab", Kubeconfig: tc.explicit})
			if err == nil || !strings.HasPrefix(err.Error(), "target lab: ") || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "no contexts") {
				t.Errorf("error = %v, want %q", err, tc.want)
			}
		})
	}

	// Inside a pod: $KUBERNETES_SERVICE_HOST/PORT and the mounted service account token.
	t.Setenv("KUBECONFIG", "")
	os.Unsetenv("KUBECONFIG")
	t.Setenv("KUBERNETES_SERVICE_HOST", "10.152.183.1")
	t.Setenv("KUBERNETES_SERVICE_PORT", "443")
	sa := t.TempDir()
	old := serviceAccountDir
	serviceAccountDir = sa
	t.Cleanup(func() { serviceAccountDir = old })
	if _, err := restConfig(Target{Name: "lab"}); err == nil || !strings.Contains(err.Error(), "the pod's service account cannot be used") {
		t.Errorf("in a pod without a token: %v", err)
	}
	if err := os.WriteFile(filepath.Join(sa, "token"), []byte("t"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := restConfig(Target{Name: "lab", Context: "microk8s"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://10.152.183.1:443" || cfg.BearerTokenFile != filepath.Join(sa, "token") || cfg.CAFile != filepath.Join(sa, "ca.crt") {
		t.Errorf("in-cluster config = host %s, token %s, CA %s", cfg.Host, cfg.BearerTokenFile, cfg.CAFile)
	}
	// An explicit kubeconfig that is missing is an error even in a pod: it was asked for.
	if _, err := restConfig(Target{Name: "lab", Kubeconfig: missing}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("explicit missing kubeconfig in a pod: %v", err)
	}
}
