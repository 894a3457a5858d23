package certs

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"slices"
	"time"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/avatar-project/avatar-sync/spec"
)

// trusted is one CA certificate in a truststore, under the alias Java tools show for it.
type trusted struct {
	alias string
	cert  *x509.Certificate
	pem   []byte
}

// keystoreContent is what one keystore must hold: the leaf's key and its chain up to the signing CA.
type keystoreContent struct {
	alias string
	leaf  *keyPair
	ca    *x509.Certificate
	caPEM []byte
}

// encodeKeystore renders a keystore in keystoreType. PEM is Kafka's native format
// (ssl.keystore.type=PEM): the unencrypted PKCS#8 key followed by the chain, so no password applies.
func encodeKeystore(keystoreType string, k keystoreContent, password string, now time.Time, rand io.Reader) ([]byte, error) {
	switch keystoreType {
	case spec.KeystorePEM:
		return slices.Concat(k.leaf.keyPEM, k.leaf.certPEM, k.caPEM), nil
	case spec.KeystoreJKS:
		keyDER, err := x509.MarshalPKCS8PrivateKey(k.leaf.key)
		if err != nil {
			return nil, fmt.Errorf("encode key of %s: %w", k.alias, err)
		}
		ks := keystore.New(keystore.WithCustomRandomNumberGenerator(rand))
		err = ks.SetPrivateKeyEntry(k.alias, keystore.PrivateKeyEntry{
			CreationTime: now,
			PrivateKey:   keyDER,
			CertificateChain: []keystore.Certificate{
				{Type: "X509", Content: k.leaf.cert.Raw},
				{Type: "X509", Content: k.ca.Raw},
			},
		}, []byte(password))
		if err != nil {
			return nil, fmt.Errorf("add %s to JKS keystore: %w", k.alias, err)
		}
		var buf bytes.Buffer
		if err := ks.Store(&buf, []byte(password)); err != nil {
			return nil, fmt.Errorf("encode JKS keystore of %s: %w", k.alias, err)
		}
		return buf.Bytes(), nil
	default:
		// Modern2023 (PBES2/AES-256, HMAC-SHA-256) is what OpenSSL 3 and Java 12+ write themselves.
		return pkcs12.Modern2023.WithRand(rand).Encode(k.leaf.key, k.leaf.cert, []*x509.Certificate{k.ca}, password)
	}
}

// encodeTruststore renders the trust bundle in keystoreType.
func encodeTruststore(keystoreType string, trust []trusted, password string, now time.Time, rand io.Reader) ([]byte, error) {
	switch keystoreType {
	case spec.KeystorePEM:
		var out []byte
		for _, t := range trust {
			out = append(out, t.pem...)
		}
		return out, nil
	case spec.KeystoreJKS:
		ks := keystore.New(keystore.WithCustomRandomNumberGenerator(rand))
		for _, t := range trust {
			err := ks.SetTrustedCertificateEntry(t.alias, keystore.TrustedCertificateEntry{
				CreationTime: now,
				Certificate:  keystore.Certificate{Type: "X509", Content: t.cert.Raw},
			})
			if err != nil {
				return nil, fmt.Errorf("add %s to JKS truststore: %w", t.alias, err)
			}
		}
		var buf bytes.Buffer
		if err := ks.Store(&buf, []byte(password)); err != nil {
			return nil, fmt.Errorf("encode JKS truststore: %w", err)
		}
		return buf.Bytes(), nil
	default:
		entries := make([]pkcs12.TrustStoreEntry, len(trust))
		for i, t := range trust {
			entries[i] = pkcs12.TrustStoreEntry{Cert: t.cert, FriendlyName: t.alias}
		}
		return pkcs12.Modern2023.WithRand(rand).EncodeTrustStoreEntries(entries, password)
	}
}

// checkKeystore says why data is not the keystore k wants ("" when it is). Encodings are salted, so
// stores are compared by what they decode to, never byte for byte.
// wrongPassword starts the reason of a store the password does not open; Generate refuses to
// rewrite such stores without Force (issue 10).
const wrongPassword = "does not open with the keystore password: "

func checkKeystore(keystoreType string, data []byte, k keystoreContent, password string) string {
	wantChain := []*x509.Certificate{k.leaf.cert, k.ca}
	switch keystoreType {
	case spec.KeystorePEM:
		want := slices.Concat(k.leaf.keyPEM, k.leaf.certPEM, k.caPEM)
		if !bytes.Equal(data, want) {
			return "does not hold the current key and chain"
		}
		return ""
	case spec.KeystoreJKS:
		ks := keystore.New()
		if err := ks.Load(bytes.NewReader(data), []byte(password)); err != nil {
			return wrongPassword + err.Error()
		}
		if aliases := ks.Aliases(); len(aliases) != 1 || aliases[0] != k.alias {
			return fmt.Sprintf("holds entries %v, want only %q", aliases, k.alias)
		}
		e, err := ks.GetPrivateKeyEntry(k.alias, []byte(password))
		if err != nil {
			return "private key entry does not open: " + err.Error()
		}
		key, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
		if err != nil {
			return "private key entry does not parse: " + err.Error()
		}
		var chain []*x509.Certificate
		for _, c := range e.CertificateChain {
			cert, err := x509.ParseCertificate(c.Content)
			if err != nil {
				return "certificate chain does not parse: " + err.Error()
			}
			chain = append(chain, cert)
		}
		if !sameKey(key, k.leaf) || !sameCerts(chain, wantChain) {
			return "does not hold the current key and chain"
		}
		return ""
	default:
		key, cert, chain, err := pkcs12.DecodeChain(data, password)
		if err != nil {
			return wrongPassword + err.Error()
		}
		if !sameKey(key, k.leaf) || !sameCerts(append([]*x509.Certificate{cert}, chain...), wantChain) {
			return "does not hold the current key and chain"
		}
		return ""
	}
}

// checkTruststore says why data is not the truststore holding exactly trust ("" when it is).
func checkTruststore(keystoreType string, data []byte, trust []trusted, password string) string {
	want := make([]*x509.Certificate, len(trust))
	for i, t := range trust {
		want[i] = t.cert
	}
	var got []*x509.Certificate
	switch keystoreType {
	case spec.KeystorePEM:
		certs, _, err := parseCerts(data)
		if err != nil {
			return "does not parse: " + err.Error()
		}
		got = certs
	case spec.KeystoreJKS:
		ks := keystore.New()
		if err := ks.Load(bytes.NewReader(data), []byte(password)); err != nil {
			return wrongPassword + err.Error()
		}
		for _, a := range ks.Aliases() {
			e, err := ks.GetTrustedCertificateEntry(a)
			if err != nil {
				return fmt.Sprintf("entry %q is not a trusted certificate", a)
			}
			c, err := x509.ParseCertificate(e.Certificate.Content)
			if err != nil {
				return fmt.Sprintf("entry %q does not parse: %v", a, err)
			}
			got = append(got, c)
		}
	default:
		certs, err := pkcs12.DecodeTrustStore(data, password)
		if err != nil {
			return wrongPassword + err.Error()
		}
		got = certs
	}
	if !sameCertSet(got, want) {
		return fmt.Sprintf("trusts %d certificate(s) that differ from the CA bundle", len(got))
	}
	return ""
}

func sameKey(key any, kp *keyPair) bool {
	s, ok := key.(crypto.Signer)
	return ok && samePublicKey(kp.cert, s)
}

func sameCerts(a, b []*x509.Certificate) bool {
	return slices.EqualFunc(a, b, func(x, y *x509.Certificate) bool { return x.Equal(y) })
}

func sameCertSet(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.ContainsFunc(b, x.Equal) {
			return false
		}
	}
	return true
}
