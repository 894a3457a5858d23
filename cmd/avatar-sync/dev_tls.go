package main

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/avatar-project/avatar-sync/certs"
	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/spec"
)

// devListeners decides what `dev up` serves (issue 5). kfake advertises one address per broker, so
// the embedded cluster is either all-plaintext or all-SSL: with tls.enabled (and no --plaintext)
// it listens only on the brokers' SSL ports with their generated certificates, so a client that
// bootstraps over SSL is handed SSL addresses in metadata. caFile is "" for plaintext.
//
// expiring lists served certificates inside tls.renewBefore, for dev up to warn about (issue 10).
func devListeners(sp *spec.Spec, o *devUpOptions, now time.Time) (eo clusters.EmbeddedOptions, caFile string, expiring []string, err error) {
	eo.StateDir = o.stateDir
	if !sp.TLS.Enabled || o.plaintext {
		eo.Ports, err = clusters.DevPorts(sp, o.ports)
		return eo, "", nil, err
	}
	if eo.Ports, err = clusters.DevSSLPorts(sp, o.ports); err != nil {
		return eo, "", nil, err
	}
	src, err := certs.Load(sp)
	if err != nil {
		return eo, "", nil, err
	}
	sv, err := certs.LoadServing(sp, src, now)
	if err != nil {
		return eo, "", nil, fmt.Errorf("dev up serves TLS because tls.enabled is true (--plaintext serves the plaintext ports instead): %w", err)
	}
	var clientCAs *x509.CertPool
	if len(sp.TLS.Clients) > 0 {
		// Mutual TLS is requested, not required, as with Kafka's ssl.client.auth=requested: a
		// presented client certificate must chain to the CA, but kcat -L without one still works.
		clientCAs = sv.ClientCAs
	}
	if err := clusters.ServeTLS(&eo, sv.Brokers, clientCAs, sv.CAFile); err != nil {
		return eo, "", nil, err
	}
	return eo, sv.CAFile, sv.Expiring, nil
}
