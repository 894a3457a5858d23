//go:build kubeapiserver

package kube

import (
	"sync"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// controller-runtime prints a stack trace 30 s after its first client when no logger is set.
func init() { ctrllog.SetLogger(logr.Discard()) }

// testClients are the tests' typed-object clients, one per Client.
var testClients sync.Map // *Client → client.Client

// client is a controller-runtime client with c's credentials, for tests to set up and inspect the
// cluster (create pods, edit objects behind avatar-sync's back). The plane itself uses client-go's
// dynamic client only (issue 23); the tests' requests carry their own user agent, so the
// request-count tests do not count them.
func (c *Client) client() client.Client {
	if cl, ok := testClients.Load(c); ok {
		return cl.(client.Client)
	}
	cfg := rest.CopyConfig(c.cfg)
	cfg.UserAgent = "avatar-sync/kube-tests"
	cl, err := client.New(cfg, client.Options{})
	if err != nil {
		panic("test client for " + c.host + ": " + err.Error())
	}
	actual, _ := testClients.LoadOrStore(c, cl)
	return actual.(client.Client)
}
