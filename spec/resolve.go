package spec

import "path/filepath"

// DefaultTLSDir is tls.dir when the spec leaves it out.
const DefaultTLSDir = "ssl-certs"

// resolve fills in, once and after validation, what every other package would otherwise derive for
// itself (issue 9: the default tls.dir was written in four packages, spec-relative paths resolved in
// five): tls.dir gets its default, and every path the spec names relative to itself (tls.dir,
// tls.passwordFile, tls.ca.*, each target's caFile/certFile/keyFile and sasl.passwordFile) is joined
// to the spec file's directory, so `-f deploy/avatar.yaml` means deploy/ssl-certs from any working
// directory. Validation sees the paths as written (its messages quote the file); everything after
// Parse reads these. A device's plugin path is the plugin registry's to resolve.
//
// A Spec built in memory (tests) is taken as already resolved: write its paths as they are meant.
//
// base is the spec file's directory, or the spec directory itself when -f names one (issue 15).
func resolve(s *Spec, base string) {
	if s.File == "" || s.File == StdinName {
		base = ""
	}
	at := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) && base != "" {
			*p = filepath.Join(base, *p)
		}
	}
	if s.TLS.Dir == "" {
		s.TLS.Dir = DefaultTLSDir
	}
	at(&s.TLS.Dir)
	at(&s.TLS.PasswordFile)
	if s.Kafka.SASL != nil {
		at(&s.Kafka.SASL.PasswordFile)
	}
	if s.TLS.CA != nil {
		at(&s.TLS.CA.CertFile)
		at(&s.TLS.CA.KeyFile)
	}
	for i := range s.Clusters {
		c := &s.Clusters[i]
		at(&c.CAFile)
		at(&c.CertFile)
		at(&c.KeyFile)
		if c.SASL != nil {
			at(&c.SASL.PasswordFile)
		}
	}
	for i := range s.Users {
		at(&s.Users[i].PasswordFile)
	}
}
