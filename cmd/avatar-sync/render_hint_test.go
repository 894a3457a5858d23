package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What render prints next agrees with docs/kubernetes.md (issue 21): `avatar-sync apply` makes the
// kafka-tls-password Secret, so render names apply first and offers `kubectl create secret` only as
// part of deploying with kubectl instead, never as a step to add to apply.
func TestRenderNextStepsAgreeWithTheKubernetesDocs(t *testing.T) {
	specPath := renderRepo(t)
	dir := filepath.Join(filepath.Dir(specPath), "deploy")
	code, out, errOut := runCLI(t, "render", "-f", specPath, "-d", dir)
	if code != exitOK {
		t.Fatalf("render: code %d\n%s%s", code, out, errOut)
	}
	want := []string{
		"Next (microk8s): avatar-sync apply -f " + specPath + " --cluster microk8s\n",
		"  (it applies the overlay and makes the Secret kafka-tls-password from the spec's password references)\n",
		"  or, deploying with kubectl instead: kubectl apply -k " + filepath.Join(dir, "overlays", "microk8s") + "\n",
		`  then, once per namespace: kubectl -n avatar create secret generic kafka-tls-password --from-literal=password="$AVATAR_KEYSTORE_PASSWORD"` + "\n",
	}
	at := 0
	for _, w := range want {
		i := strings.Index(out[at:], w)
		if i < 0 {
			t.Fatalf("render's next steps lack %q (in this order):\n%s", w, out)
		}
		at += i + len(w)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "kubernetes.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "`kube.PasswordSecret` builds `kafka-tls-password`") {
		t.Error("docs/kubernetes.md no longer says apply makes kafka-tls-password; make render's hint agree with it")
	}
}
