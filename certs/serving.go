package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/avatar-project/avatar-sync/spec"
)

// Serving is the material a TLS listener of the embedded cluster needs, read from tls.dir.
type Serving struct {
	// CAFile is the trust bundle (ca.crt) clients should verify the brokers with.
	CAFile string
	// Brokers holds each broker's certificate and key with its chain, in spec broker order.
	Brokers []tls.Certificate
	// ClientCAs verifies client certificates (mutual TLS); it is the same bundle as CAFile.
	ClientCAs *x509.CertPool
	// Expiring names each served certificate (the CA included) that is inside tls.renewBefore:
	// it is served, but the operator should re-issue it before clients start failing (issue 10).
	Expiring []string
}

// LoadServing reads the broker certificates of s from src for serving TLS at time now. It refuses
// material that Status does not call ok or renew, so a listener never serves a certificate clients
// would reject, and says which command fixes it.
func LoadServing(s *spec.Spec, src Source, now time.Time) (*Serving, error) {
	o, err := observe(s, src, now)
	if err != nil {
		return nil, err
	}
	var errs []error
	var expiring []string
	for _, cs := range o.statuses() {
		if cs.Role != RoleClient && cs.Status.Bad() {
			errs = append(errs, fmt.Errorf("%s: %s (%s)", cs.Name, cs.Status, cs.Reason))
		}
		if cs.Role != RoleClient && cs.Status == StateRenew {
			expiring = append(expiring, fmt.Sprintf("%s expires %s (%d days left, inside tls.renewBefore)", cs.File, cs.NotAfter.UTC().Format(time.DateOnly), cs.DaysLeft))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("TLS material in %s is not ready; run avatar-sync certs generate: %w", src.DirPath, err)
	}
	sv := &Serving{CAFile: filepath.Join(src.DirPath, "ca.crt"), ClientCAs: x509.NewCertPool(), Expiring: expiring}
	for _, t := range o.trust() {
		sv.ClientCAs.AddCert(t.cert)
	}
	for _, l := range o.leaves {
		if l.Role != RoleBroker {
			continue
		}
		kp := o.pairs[l.Name]
		sv.Brokers = append(sv.Brokers, tls.Certificate{
			Certificate: [][]byte{kp.cert.Raw, o.ca.cert.Raw},
			PrivateKey:  kp.key,
			Leaf:        kp.cert,
		})
	}
	if _, err := fs.Stat(src.Dir, "ca.crt"); err != nil {
		return nil, fmt.Errorf("trust bundle %s: %w", sv.CAFile, err)
	}
	return sv, nil
}
