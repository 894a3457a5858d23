package certs

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
)

// maxCertFile bounds how much of a client certificate file is read: a PEM chain is a few KiB.
const maxCertFile = 1 << 20

// SubjectOfCertFile is the subject of the first certificate in a PEM file as Kafka names an mTLS
// client (its default principal builder: the RFC 2253 form, most specific first, e.g.
// "CN=avatar-sync,O=avatar-sync"): the user name of `User:<subject>` in ACLs and quotas. import
// uses it to leave out the principal avatar-sync itself connects as (issue 15).
func SubjectOfCertFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCertFile+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxCertFile {
		return "", fmt.Errorf("%s is larger than %d bytes; not a client certificate", path, maxCertFile)
	}
	for rest := data; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			return "", fmt.Errorf("%s: no PEM certificate found", path)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		return cert.Subject.String(), nil
	}
}
