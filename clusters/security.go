package clusters

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/IBM/sarama"

	"github.com/avatar-project/avatar-sync/spec"
)

// minKafka is the oldest Kafka avatar-sync talks to: 3.0 brings multi-group OffsetFetch and every
// admin API we batch. sarama still negotiates each request down to what a broker advertises.
var minKafka = sarama.V3_0_0_0

// saramaConfig builds the client configuration for one target: bounded timeouts, no retry storms,
// and the target's security settings. Paths in the spec are relative to the spec file.
func saramaConfig(c spec.Cluster, o Options) (*sarama.Config, error) {
	conf := sarama.NewConfig()
	conf.ClientID = o.ClientID
	conf.Version = minKafka
	conf.Net.DialTimeout = o.DialTimeout
	conf.Net.ReadTimeout = o.RequestTimeout
	conf.Net.WriteTimeout = o.RequestTimeout
	// One attempt per broker: an unreachable cluster must fail fast with one line, not retry for a
	// minute. Our own reads are explicit requests, so no background metadata refresh is needed.
	conf.Metadata.Retry.Max = 0
	conf.Metadata.Full = false
	conf.Metadata.RefreshFrequency = 0
	// Never let a metadata lookup create a topic on a broker with auto.create.topics.enable.
	conf.Metadata.AllowAutoTopicCreation = false
	conf.Admin.Retry.Max = 0
	conf.Admin.Timeout = o.RequestTimeout
	conf.Producer.Return.Successes = true
	conf.Producer.RequiredAcks = sarama.WaitForAll
	conf.Producer.Retry.Max = 0
	conf.Consumer.Return.Errors = true

	var errs []error
	security := c.Security
	if security == "" {
		security = spec.SecurityPlaintext
	}
	switch security {
	case spec.SecurityPlaintext, spec.SecuritySASLPlaintext:
	case spec.SecuritySSL, spec.SecuritySASLSSL:
		tc, err := tlsConfig(c, o)
		if err != nil {
			errs = append(errs, err)
		}
		conf.Net.TLS.Enable = true
		conf.Net.TLS.Config = tc
	default:
		errs = append(errs, fmt.Errorf("security %q is not one of plaintext, ssl, sasl_ssl, sasl_plaintext", c.Security))
	}
	if security == spec.SecuritySASLSSL || security == spec.SecuritySASLPlaintext {
		if err := saslConfig(conf, c); err != nil {
			errs = append(errs, err)
		}
	} else if c.SASL != nil {
		errs = append(errs, fmt.Errorf("sasl is set but security is %q (use sasl_ssl)", security))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return conf, nil
}

// defaultCAFile is the CA a TLS target trusts: its caFile, else the CA `certs generate` wrote to
// tls.dir (the lab's own cluster is signed by it), else "" for the system roots.
func defaultCAFile(s *spec.Spec, c spec.Cluster) string {
	if c.CAFile != "" || !s.TLS.Enabled || (c.Security != spec.SecuritySSL && c.Security != spec.SecuritySASLSSL) {
		return c.CAFile
	}
	ca := filepath.Join(s.TLS.Dir, "ca.crt") // spec resolved tls.dir (issue 9)
	if _, err := os.Stat(ca); err != nil {
		return ""
	}
	return ca
}

// tlsConfig trusts caFile (system roots when empty) and presents the client certificate if given.
func tlsConfig(c spec.Cluster, o Options) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // opt-in only, see Options
	var errs []error
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("caFile: %w", err))
		} else {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				errs = append(errs, fmt.Errorf("caFile %s: no PEM certificate found", c.CAFile))
			}
			tc.RootCAs = pool
		}
	}
	switch {
	case c.CertFile != "" && c.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("client certificate: %w", err))
		}
		tc.Certificates = []tls.Certificate{cert}
	case c.CertFile != "" || c.KeyFile != "":
		errs = append(errs, errors.New("certFile and keyFile must be set together"))
	}
	return tc, errors.Join(errs...)
}

func saslConfig(conf *sarama.Config, c spec.Cluster) error {
	if c.SASL == nil {
		return errors.New("security sasl_ssl needs a sasl: block (mechanism, username, passwordEnv or passwordFile)")
	}
	pw, err := envOrFile("sasl password", c.SASL.PasswordEnv, c.SASL.PasswordFile)
	if err != nil {
		return err
	}
	return useSASL(conf, c.SASL.Mechanism, c.SASL.Username, pw)
}

// useSASL logs in as user with the mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512).
func useSASL(conf *sarama.Config, mechanism, user, pw string) error {
	conf.Net.SASL.Enable = true
	conf.Net.SASL.Handshake = true
	conf.Net.SASL.User = user
	conf.Net.SASL.Password = pw
	switch strings.ToUpper(mechanism) {
	case "PLAIN", "":
		conf.Net.SASL.Mechanism = sarama.SASLTypePlaintext
	case "SCRAM-SHA-256":
		conf.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA256
		conf.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: sha256.New} }
	case "SCRAM-SHA-512":
		conf.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
		conf.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: sha512.New} }
	default:
		return fmt.Errorf("sasl mechanism %q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", mechanism)
	}
	return nil
}

// scramClient is a SCRAM (RFC 5802/7677) client for sarama. sarama leaves the SCRAM state machine
// to the caller; writing the ~60 lines here avoids a dependency for two hashes the stdlib has.
type scramClient struct {
	hash            func() hash.Hash
	user, pass      string
	clientNonce     string
	clientFirstBare string
	serverSignature []byte
	step            int
	done            bool
}

func (s *scramClient) Begin(user, pass, authzID string) error {
	s.user, s.pass = user, pass
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	s.clientNonce = base64.RawStdEncoding.EncodeToString(b)
	s.step, s.done = 0, false
	return nil
}

func (s *scramClient) Step(challenge string) (string, error) {
	s.step++
	switch s.step {
	case 1:
		s.clientFirstBare = "n=" + scramEscape(s.user) + ",r=" + s.clientNonce
		return "n,," + s.clientFirstBare, nil
	case 2:
		attrs := scramAttrs(challenge)
		nonce, salt64, iter := attrs["r"], attrs["s"], attrs["i"]
		if !strings.HasPrefix(nonce, s.clientNonce) {
			return "", errors.New("scram: server nonce does not extend ours")
		}
		salt, err := base64.StdEncoding.DecodeString(salt64)
		if err != nil {
			return "", fmt.Errorf("scram: bad salt: %w", err)
		}
		n, err := strconv.Atoi(iter)
		if err != nil || n < 1 {
			return "", fmt.Errorf("scram: bad iteration count %q", iter)
		}
		salted, err := pbkdf2.Key(s.hash, s.pass, salt, n, s.hash().Size())
		if err != nil {
			return "", fmt.Errorf("scram: %w", err)
		}
		clientKey := s.hmac(salted, "Client Key")
		h := s.hash()
		h.Write(clientKey)
		storedKey := h.Sum(nil)
		final := "c=biws,r=" + nonce
		authMsg := s.clientFirstBare + "," + challenge + "," + final
		sig := s.hmac(storedKey, authMsg)
		proof := make([]byte, len(clientKey))
		for i := range clientKey {
			proof[i] = clientKey[i] ^ sig[i]
		}
		s.serverSignature = s.hmac(s.hmac(salted, "Server Key"), authMsg)
		return final + ",p=" + base64.StdEncoding.EncodeToString(proof), nil
	case 3:
		attrs := scramAttrs(challenge)
		if e, ok := attrs["e"]; ok {
			return "", fmt.Errorf("scram: server rejected authentication: %s", e)
		}
		v, err := base64.StdEncoding.DecodeString(attrs["v"])
		if err != nil || !hmac.Equal(v, s.serverSignature) {
			return "", errors.New("scram: server signature does not verify")
		}
		s.done = true
		return "", nil
	}
	return "", errors.New("scram: unexpected extra step")
}

func (s *scramClient) Done() bool { return s.done }

func (s *scramClient) hmac(key []byte, msg string) []byte {
	m := hmac.New(s.hash, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func scramEscape(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

func scramAttrs(msg string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(msg, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		}
	}
	return out
}
