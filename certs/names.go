package certs

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/avatar-project/avatar-sync/spec"
)

// Defaults for TLS settings the spec leaves empty; docs/tls.md lists them.
const (
	DefaultValidity    = 825 * 24 * time.Hour // the CA/Browser Forum ceiling the example spec uses
	DefaultRenewBefore = 30 * 24 * time.Hour
	// CAValidity is how long a generated CA lives; leaves never outlive their CA.
	CAValidity = 10 * 365 * 24 * time.Hour
	// HeadlessService is the headless Service the Kubernetes render puts every broker pod behind; a
	// broker's pod is then "<host>-0.kafka-headless.<ns>.svc.cluster.local" (StatefulSet <host>, one
	// replica), so its certificate must name that too.
	HeadlessService = "kafka-headless"
	// PasswordFileName is where a generated keystore password lives inside tls.dir.
	PasswordFileName = "keystore.password"
)

// Role says what a certificate is for.
type Role string

// Roles.
const (
	RoleCA     Role = "ca"
	RoleBroker Role = "broker"
	RoleClient Role = "client"
)

// Leaf is one end-entity certificate the spec asks for: a broker's server certificate or a client's
// mutual-TLS certificate. DNSNames and IPs are sorted so comparisons with what is on disk are exact.
type Leaf struct {
	Name       string // file base name: the broker host or the client principal
	Role       Role
	CommonName string
	DNSNames   []string
	IPs        []net.IP
}

// SANs renders DNS names then IP addresses, the order inspect shows them in.
func (l Leaf) SANs() []string {
	out := slices.Clone(l.DNSNames)
	for _, ip := range l.IPs {
		out = append(out, ip.String())
	}
	return out
}

// Settings are the effective TLS settings: the spec's values with defaults filled in.
type Settings struct {
	Dir          string
	KeystoreType string
	Validity     time.Duration
	RenewBefore  time.Duration
}

// SettingsOf fills defaults into the spec's tls block. Dir is the spec's, which spec has already
// defaulted and resolved against the spec file's directory (issue 9).
func SettingsOf(s *spec.Spec) Settings {
	t := s.TLS
	st := Settings{Dir: t.Dir, KeystoreType: strings.ToUpper(t.KeystoreType), Validity: t.Validity, RenewBefore: t.RenewBefore}
	if st.KeystoreType == "" {
		st.KeystoreType = spec.KeystorePKCS12
	}
	if st.Validity <= 0 {
		st.Validity = DefaultValidity
	}
	if st.RenewBefore <= 0 {
		st.RenewBefore = DefaultRenewBefore
	}
	return st
}

// Namespaces are the Kubernetes namespaces a broker may be reached in: metadata.namespace and every
// cluster target's kubernetes.namespace, deduplicated in file order ("default" when none is named).
func Namespaces(s *spec.Spec) []string {
	var out []string
	add := func(ns string) {
		if ns != "" && !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	add(s.Metadata.Namespace)
	for _, c := range s.Clusters {
		if c.Kubernetes != nil {
			add(c.Kubernetes.Namespace)
		}
	}
	if len(out) == 0 {
		out = []string{"default"}
	}
	return out
}

// BrokerSANs lists every name a client may dial to reach broker b: the bare host (Docker Compose and
// the reference README's /etc/hosts set-up), its Service names in each namespace, its pod name behind
// the headless Service, the externalHost of each Kubernetes target, localhost and the loopback
// addresses (port-forwards, the embedded cluster), and tls.extraSANs.
func BrokerSANs(s *spec.Spec, b spec.Broker) (dns []string, ips []net.IP) {
	pod := b.Host + "-0." + HeadlessService
	// The short pod name is what KRaft voters dial inside the namespace (render's controller.quorum.voters).
	names := []string{b.Host, pod, "localhost"}
	for _, ns := range Namespaces(s) {
		for _, base := range []string{b.Host, pod} {
			names = append(names, base+"."+ns, base+"."+ns+".svc", base+"."+ns+".svc.cluster.local")
		}
	}
	for _, c := range s.Clusters {
		if c.Kubernetes != nil && c.Kubernetes.ExternalHost != "" {
			names = append(names, c.Kubernetes.ExternalHost)
		}
	}
	names = append(names, "127.0.0.1", "::1")
	names = append(names, s.TLS.ExtraSANs...)
	return splitSANs(names)
}

// splitSANs separates IP literals from DNS names, lower-cases and deduplicates, and sorts both.
func splitSANs(names []string) (dns []string, ips []net.IP) {
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if ip := net.ParseIP(n); ip != nil {
			if !seen[ip.String()] {
				seen[ip.String()] = true
				ips = append(ips, ip)
			}
			continue
		}
		n = strings.ToLower(n)
		if !seen[n] {
			seen[n] = true
			dns = append(dns, n)
		}
	}
	slices.Sort(dns)
	slices.SortFunc(ips, func(a, b net.IP) int { return strings.Compare(a.String(), b.String()) })
	return dns, ips
}

var fileSafe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// reserved are names of files the CA and password use; a broker or client must not collide.
var reserved = []string{"ca", "ca.next", "ca.previous", "keystore"}

// Leaves lists the end-entity certificates the spec asks for: brokers in spec order, then clients.
// It reports every name that cannot become a file name or collides with another, not just the first.
func Leaves(s *spec.Spec) ([]Leaf, error) {
	var errs []error
	used := map[string]string{}
	check := func(name, what string) bool {
		switch {
		case !fileSafe.MatchString(name):
			errs = append(errs, fmt.Errorf("%s %q: certificate files are named after it, so use only letters, digits, '.', '_' and '-'", what, name))
			return false
		case slices.Contains(reserved, strings.ToLower(name)):
			errs = append(errs, fmt.Errorf("%s %q: the name is reserved for CA and password files in tls.dir; pick another", what, name))
			return false
		case used[strings.ToLower(name)] != "":
			errs = append(errs, fmt.Errorf("%s %q: %s already uses this name, and both would write %s.crt", what, name, used[strings.ToLower(name)], name))
			return false
		}
		used[strings.ToLower(name)] = what
		return true
	}
	var out []Leaf
	for _, b := range s.Brokers {
		if !check(b.Host, fmt.Sprintf("broker %d host", b.ID)) {
			continue
		}
		dns, ips := BrokerSANs(s, b)
		out = append(out, Leaf{Name: b.Host, Role: RoleBroker, CommonName: b.Host, DNSNames: dns, IPs: ips})
	}
	for _, c := range s.TLS.Clients {
		if !check(c, "tls client") {
			continue
		}
		// Kafka's default principal builder maps this certificate to "User:CN=<name>".
		out = append(out, Leaf{Name: c, Role: RoleClient, CommonName: c})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("tls names: %w", err)
	}
	return out, nil
}

// storeExt is the file extension keystores and truststores get for a keystore type.
func storeExt(keystoreType string) string {
	switch keystoreType {
	case spec.KeystoreJKS:
		return "jks"
	case spec.KeystorePEM:
		return "pem"
	default:
		return "p12"
	}
}

// KeystoreFile and TruststoreFile name the per-broker (or per-client) stores inside tls.dir.
func KeystoreFile(name, keystoreType string) string {
	return name + ".keystore." + storeExt(keystoreType)
}

// TruststoreFile names the truststore of name; see KeystoreFile.
func TruststoreFile(name, keystoreType string) string {
	return name + ".truststore." + storeExt(keystoreType)
}
