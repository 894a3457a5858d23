package clusters

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/avatar-project/avatar-sync/spec"
)

// ServeTLS makes the embedded cluster serve TLS only (issue 5). kfake advertises exactly one
// address per broker, the one it listens on, so a cluster cannot offer a plaintext and an SSL
// listener side by side: a client bootstrapping over SSL would be handed plaintext addresses in
// metadata (or the reverse). With TLS every listener is an SSL listener, and metadata only ever
// names SSL addresses.
//
// Broker i's certificate (brokerCerts[i], with its chain) is served on the i-th listener kfake
// opens, so each SSL port presents its own broker's identity as a real cluster would. When
// clientCAs is non-nil, client certificates are verified against it if presented (Kafka's
// ssl.client.auth=requested); clients without one are still admitted. caFile is the trust bundle
// recorded in the state directory, so plan/apply joining `dev up` verify the brokers with it.
func ServeTLS(o *EmbeddedOptions, brokerCerts []tls.Certificate, clientCAs *x509.CertPool, caFile string) error {
	if len(brokerCerts) == 0 {
		return errors.New("serve TLS: no broker certificates")
	}
	if caFile == "" {
		return errors.New("serve TLS: no CA file for clients to verify the brokers with")
	}
	sel := &certByListener{certs: brokerCerts, byPort: map[int]*tls.Certificate{}, listen: o.ListenFn}
	if sel.listen == nil {
		sel.listen = net.Listen
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: sel.certificate}
	if clientCAs != nil {
		tc.ClientCAs = clientCAs
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	o.TLS = tc
	o.ListenFn = sel.listenFn
	o.CAFile = caFile
	return nil
}

// certByListener remembers which broker each listening port belongs to: kfake opens listeners in
// broker order, and ports may be 0 (any free port) until the listener exists.
type certByListener struct {
	mu     sync.Mutex
	certs  []tls.Certificate
	byPort map[int]*tls.Certificate
	next   int
	listen func(network, address string) (net.Listener, error)
}

func (c *certByListener) listenFn(network, address string) (net.Listener, error) {
	ln, err := c.listen(network, address)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next >= len(c.certs) {
		ln.Close()
		return nil, fmt.Errorf("serve TLS: kfake opened listener %d but only %d broker certificates exist", c.next+1, len(c.certs))
	}
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		c.byPort[a.Port] = &c.certs[c.next]
	}
	c.next++
	return ln, nil
}

func (c *certByListener) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	a, ok := hello.Conn.LocalAddr().(*net.TCPAddr)
	if !ok {
		return nil, fmt.Errorf("serve TLS: unexpected local address %v", hello.Conn.LocalAddr())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cert, ok := c.byPort[a.Port]
	if !ok {
		return nil, fmt.Errorf("serve TLS: no broker certificate for port %d", a.Port)
	}
	return cert, nil
}

// clientCluster is how avatar-sync dials a cluster it started or joined: plaintext, or SSL with
// verification against caFile when the cluster serves TLS.
func clientCluster(name, caFile string) spec.Cluster {
	if caFile == "" {
		return spec.Cluster{Name: name}
	}
	return spec.Cluster{Name: name, Security: spec.SecuritySSL, CAFile: caFile}
}

// runningCAFile is the trust bundle a running `dev up` recorded for its TLS listeners ("" when it
// serves plaintext or the file is unreadable; joining then fails with the connection error).
func runningCAFile(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, stateServer))
	if err != nil {
		return ""
	}
	var s serverFile
	if json.Unmarshal(b, &s) != nil {
		return ""
	}
	return s.CAFile
}
