// Package certs builds and checks the TLS material of an Avatar Kafka cluster (issue 5): a CA, one
// server certificate per broker, client certificates for mutual TLS, and per-broker keystores and
// truststores in the spec's keystoreType.
//
// Deciding is separate from doing. Load reads what is on disk into a Source; Status and Generate are
// pure functions of (spec, Source, clock, random source) that return values; Write is the only step
// that changes files. That keeps every certificate decision testable with an injected clock.
//
// File layout under tls.dir (see docs/tls.md):
//
//	ca.crt                         trust bundle: the signing CA first, then any CA in transition
//	ca.key                         key of a generated CA (absent when tls.ca names an external CA)
//	ca.next.crt, ca.next.key       CA introduced by step 1 of a CA rotation
//	ca.previous.crt                CA retired by step 2, still trusted until removed
//	<host>.crt, <host>.key         broker server certificate and key
//	<name>.crt, <name>.key         client certificate (tls.clients) for mutual TLS
//	<host>.keystore.{p12,jks,pem}  key + chain, per broker and client
//	<host>.truststore.{p12,jks,pem} the trust bundle, per broker and client
//	keystore.password              generated keystore password when the spec names none
package certs
