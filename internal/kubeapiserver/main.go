// Command kube-apiserver is the real Kubernetes API server, built from the Go module proxy for the
// tests of the Kubernetes plane (issue 11): there is no cluster in CI, but this server with Debian's
// etcd accepts, validates and admits objects exactly as MicroK8s does. It lives in its own module so
// the main module never requires k8s.io/kubernetes.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
