package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"time"
)

// clockSkew backdates NotBefore so a peer whose clock runs a little behind still accepts a
// certificate issued a moment ago.
const clockSkew = 5 * time.Minute

// Serial draws a random 128-bit positive serial number from rand.
func Serial(rand io.Reader) (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(rand, b); err != nil {
		return nil, fmt.Errorf("read random serial: %w", err)
	}
	b[0] &= 0x7f // keep it positive in DER
	n := new(big.Int).SetBytes(b)
	if n.Sign() == 0 {
		n.SetInt64(1)
	}
	return n, nil
}

// CATemplate is the self-signed CA certificate avatar-sync generates for deployment name. The serial
// is part of the common name so an old and a new CA during rotation never share a subject (chain
// building by subject would otherwise pick the wrong one).
func CATemplate(name string, serial *big.Int, now time.Time, validity time.Duration) *x509.Certificate {
	tag := hex.EncodeToString(serial.Bytes())
	if len(tag) > 8 {
		tag = tag[:8]
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"avatar-sync"}, CommonName: fmt.Sprintf("%s CA %s", name, tag)},
		NotBefore:             now.Add(-clockSkew).UTC(),
		NotAfter:              now.Add(validity).UTC(),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
}

// LeafTemplate is the end-entity certificate for l. Brokers get both server and client auth because
// they also dial each other over SSL; NotAfter is clamped to caNotAfter since a leaf cannot outlive
// the CA that vouches for it.
func LeafTemplate(l Leaf, serial *big.Int, now time.Time, validity time.Duration, caNotAfter time.Time) *x509.Certificate {
	notAfter := now.Add(validity).UTC()
	if !caNotAfter.IsZero() && notAfter.After(caNotAfter) {
		notAfter = caNotAfter.UTC()
	}
	t := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"avatar-sync"}, CommonName: l.CommonName},
		NotBefore:             now.Add(-clockSkew).UTC(),
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		DNSNames:              l.DNSNames,
		IPAddresses:           l.IPs,
	}
	switch l.Role {
	case RoleBroker:
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	default:
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	return t
}

// keyPair is a certificate with its private key and PEM encodings, as written to disk.
type keyPair struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	keyPEM  []byte
}

// newKey generates a P-256 key: small, fast, and accepted by Java, librdkafka and Go alike.
// Since Go 1.26 the random source is ignored for key generation (tests pin it with
// testing/cryptotest.SetGlobalRandom); rand still drives serials and signatures.
func newKey(rand io.Reader) (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

// sign creates a certificate from template, signed by parent (self-signed when parent is nil).
func sign(rand io.Reader, template *x509.Certificate, key crypto.Signer, parent *keyPair) (*keyPair, error) {
	parentCert, parentKey := template, key
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand, template, parentCert, key.Public(), parentKey)
	if err != nil {
		return nil, fmt.Errorf("sign certificate %q: %w", template.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse new certificate %q: %w", template.Subject.CommonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key of %q: %w", template.Subject.CommonName, err)
	}
	return &keyPair{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		// PKCS#8 because Kafka's native PEM keystores accept nothing else.
		keyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// NewCA generates a self-signed CA for deployment name, valid from now for validity.
func NewCA(name string, now time.Time, validity time.Duration, rand io.Reader) (certPEM, keyPEM []byte, err error) {
	kp, err := newCA(name, now, validity, rand)
	if err != nil {
		return nil, nil, err
	}
	return kp.certPEM, kp.keyPEM, nil
}

func newCA(name string, now time.Time, validity time.Duration, rand io.Reader) (*keyPair, error) {
	serial, err := Serial(rand)
	if err != nil {
		return nil, err
	}
	key, err := newKey(rand)
	if err != nil {
		return nil, err
	}
	return sign(rand, CATemplate(name, serial, now, validity), key, nil)
}

func newLeaf(l Leaf, ca *keyPair, now time.Time, validity time.Duration, rand io.Reader) (*keyPair, error) {
	serial, err := Serial(rand)
	if err != nil {
		return nil, err
	}
	key, err := newKey(rand)
	if err != nil {
		return nil, err
	}
	return sign(rand, LeafTemplate(l, serial, now, validity, ca.cert.NotAfter), key, ca)
}

// parseCerts decodes every CERTIFICATE block of a PEM bundle, in order.
func parseCerts(data []byte) ([]*x509.Certificate, [][]byte, error) {
	var certs []*x509.Certificate
	var pems [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("parse certificate: %w", err)
		}
		certs = append(certs, c)
		pems = append(pems, pem.EncodeToMemory(b))
	}
	if len(certs) == 0 {
		return nil, nil, fmt.Errorf("no PEM certificate found")
	}
	return certs, pems, nil
}

// parseKey decodes a PEM private key in PKCS#8, PKCS#1 or SEC 1 form (external CAs come in all three).
func parseKey(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("no PEM private key found")
		}
		var k any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("the private key is encrypted; give avatar-sync an unencrypted copy (openssl pkey -in key -out key.plain)")
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", b.Type, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", k)
		}
		return s, nil
	}
}

// samePublicKey reports whether key belongs to cert.
func samePublicKey(cert *x509.Certificate, key crypto.Signer) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := key.Public().(equaler)
	return ok && pub.Equal(cert.PublicKey)
}
