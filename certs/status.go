package certs

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/avatar-project/avatar-sync/spec"
)

// State is the verdict on one certificate.
type State string

// States, from best to worst as far as a running cluster is concerned.
const (
	// StateOK: valid, signed by the current CA, names what the spec asks for.
	StateOK State = "ok"
	// StateRenew: valid, but within tls.renewBefore of expiry.
	StateRenew State = "renew"
	// StateMismatch: valid dates, but wrong names, wrong issuer, unreadable or unsafe file mode.
	StateMismatch State = "mismatch"
	// StateExpired: past its NotAfter; clients already refuse it.
	StateExpired State = "expired"
	// StateMissing: the spec asks for it and tls.dir does not have it.
	StateMissing State = "missing"
)

// Bad reports whether the state breaks or will break connections now: `certs inspect` exits 1.
func (s State) Bad() bool { return s == StateExpired || s == StateMismatch || s == StateMissing }

// CertStatus is one row of `certs inspect` and, for `plan`, one potential change of kind Cert:
// StateMissing maps to Create, StateRenew/StateExpired/StateMismatch to Update, StateOK to NoOp.
type CertStatus struct {
	// Name is "ca", "ca.next", "ca.previous", a broker host or a client name.
	Name string `json:"name"`
	Role Role   `json:"role"`
	// File is the certificate's path as the user should see it.
	File     string    `json:"file"`
	Subject  string    `json:"subject,omitempty"`
	SANs     []string  `json:"sans,omitempty"`
	Issuer   string    `json:"issuer,omitempty"`
	NotAfter time.Time `json:"notAfter,omitzero"`
	// DaysLeft is whole days until NotAfter, negative once expired.
	DaysLeft int    `json:"daysLeft"`
	Status   State  `json:"status"`
	Reason   string `json:"reason,omitempty"`
}

// Status checks every certificate the spec asks for against what src holds, at time now. It is
// what `certs inspect` prints and what `plan` turns into changes of kind Cert.
func Status(s *spec.Spec, src Source, now time.Time) ([]CertStatus, error) {
	o, err := observe(s, src, now)
	if err != nil {
		return nil, err
	}
	return o.statuses(), nil
}

// observed is tls.dir parsed and judged; Generate decides from it.
type observed struct {
	st       Settings
	src      Source
	leaves   []Leaf
	ca       *keyPair // signing CA; nil when missing or unreadable. ca.key may be nil.
	caStatus CertStatus
	next     *keyPair // step 1 of a CA rotation happened; nil otherwise
	nextStat *CertStatus
	prev     *trusted // retired CA still trusted; nil otherwise
	prevStat *CertStatus
	bundle   []byte                // ca.crt as on disk
	pairs    map[string]*keyPair   // leaves on disk that parse, whatever their state
	leafStat map[string]CertStatus // by leaf name
}

func (o *observed) statuses() []CertStatus {
	out := []CertStatus{o.caStatus}
	if o.nextStat != nil {
		out = append(out, *o.nextStat)
	}
	if o.prevStat != nil {
		out = append(out, *o.prevStat)
	}
	for _, l := range o.leaves {
		out = append(out, o.leafStat[l.Name])
	}
	return out
}

func (o *observed) path(name string) string {
	if o.src.DirPath == "" {
		return name
	}
	return strings.TrimSuffix(o.src.DirPath, "/") + "/" + name
}

// readOptional returns nil data (no error) for a file that does not exist.
func readOptional(fsys fs.FS, name string) ([]byte, fs.FileMode, error) {
	if fsys == nil {
		return nil, 0, nil
	}
	b, err := fs.ReadFile(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	info, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, 0, err
	}
	return b, info.Mode().Perm(), nil
}

// tooOpen says why a secret file's mode is unsafe ("" when it is private to its owner).
func tooOpen(mode fs.FileMode) string {
	if mode&0o077 != 0 {
		return fmt.Sprintf("file mode %04o lets others read it, want 0600", mode)
	}
	return ""
}

func observe(s *spec.Spec, src Source, now time.Time) (*observed, error) {
	st := SettingsOf(s)
	switch st.KeystoreType {
	case spec.KeystorePKCS12, spec.KeystoreJKS, spec.KeystorePEM:
	default:
		return nil, fmt.Errorf("tls.keystoreType %q: use %s, %s or %s", s.TLS.KeystoreType, spec.KeystorePKCS12, spec.KeystoreJKS, spec.KeystorePEM)
	}
	leaves, err := Leaves(s)
	if err != nil {
		return nil, err
	}
	o := &observed{st: st, src: src, leaves: leaves, pairs: map[string]*keyPair{}, leafStat: map[string]CertStatus{}}
	var errs []error
	fail := func(err error) { errs = append(errs, err) }

	bundle, _, err := readOptional(src.Dir, "ca.crt")
	if err != nil {
		fail(fmt.Errorf("read %s: %w", o.path("ca.crt"), err))
	}
	o.bundle = bundle
	if err := o.observeCA(now); err != nil {
		fail(err)
	}
	if err := o.observeRotation(now); err != nil {
		fail(err)
	}
	// ca.crt is what clients are told to trust (ssl.ca.location), so a stale bundle is a finding even
	// when the CA itself is fine.
	if o.ca != nil && o.caStatus.Status == StateOK && !bytes.Equal(o.bundle, bundleOf(o.trust())) {
		o.caStatus.Status = StateMismatch
		o.caStatus.Reason = o.path("ca.crt") + " does not hold the current trust bundle; run certs generate"
	}
	for _, l := range leaves {
		if err := o.observeLeaf(l, now); err != nil {
			fail(err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return o, nil
}

// observeCA finds the signing CA: the external one from tls.ca, or the first certificate of ca.crt
// with ca.key.
func (o *observed) observeCA(now time.Time) error {
	cs := CertStatus{Name: "ca", Role: RoleCA, File: o.path("ca.crt")}
	defer func() { o.caStatus = cs }()
	certPEM, keyPEM := o.bundle, []byte(nil)
	var keyMode fs.FileMode
	if ext := o.src.ExternalCA; ext != nil {
		cs.File = ext.CertFile
		certPEM, keyPEM = ext.Cert, ext.Key
	} else {
		var err error
		keyPEM, keyMode, err = readOptional(o.src.Dir, "ca.key")
		if err != nil {
			return fmt.Errorf("read %s: %w", o.path("ca.key"), err)
		}
	}
	if certPEM == nil {
		cs.Status, cs.Reason = StateMissing, "no CA yet"
		return nil
	}
	certs, pems, err := parseCerts(certPEM)
	if err != nil {
		if o.src.ExternalCA != nil {
			return fmt.Errorf("tls.ca.certFile %s: %w", cs.File, err)
		}
		cs.Status, cs.Reason = StateMismatch, "ca.crt does not parse: "+err.Error()
		return nil
	}
	ca := &keyPair{cert: certs[0], certPEM: pems[0]}
	describe(&cs, ca.cert, now)
	if !ca.cert.IsCA {
		if o.src.ExternalCA != nil {
			return fmt.Errorf("tls.ca.certFile %s: %q is not a CA certificate (basicConstraints CA:FALSE)", cs.File, ca.cert.Subject)
		}
		cs.Status, cs.Reason = StateMismatch, "ca.crt is not a CA certificate"
		return nil
	}
	if keyPEM != nil {
		key, err := parseKey(keyPEM)
		switch {
		case err != nil && o.src.ExternalCA != nil:
			return fmt.Errorf("tls.ca.keyFile: %w", err)
		case err != nil:
			cs.Status, cs.Reason = StateMismatch, "ca.key does not parse: "+err.Error()
			return nil
		case !samePublicKey(ca.cert, key) && o.src.ExternalCA != nil:
			return fmt.Errorf("tls.ca.keyFile does not belong to tls.ca.certFile %s", cs.File)
		case !samePublicKey(ca.cert, key):
			cs.Status, cs.Reason = StateMismatch, "ca.key does not belong to ca.crt"
			return nil
		}
		ca.key = key
		ca.keyPEM = keyPEM
	}
	o.ca = ca
	cs.Status, cs.Reason = classify(ca.cert, now, o.st.RenewBefore)
	if cs.Status == StateRenew && o.src.ExternalCA != nil {
		cs.Reason += "; renew the CA at its source and point tls.ca at the new files"
	} else if cs.Status == StateRenew {
		cs.Reason += "; start a CA rotation: avatar-sync certs rotate --ca (docs/tls.md)"
	}
	if r := tooOpen(keyMode); r != "" && cs.Status == StateOK {
		cs.Status, cs.Reason = StateMismatch, "ca.key "+r
	}
	if ca.key == nil && cs.Reason == "" {
		cs.Reason = "CA key not available: existing certificates are checked, none can be issued"
	}
	return nil
}

// observeRotation reads the CA files of an unfinished rotation (docs/tls.md, "Rotating the CA").
func (o *observed) observeRotation(now time.Time) error {
	certPEM, _, err := readOptional(o.src.Dir, "ca.next.crt")
	if err != nil {
		return fmt.Errorf("read %s: %w", o.path("ca.next.crt"), err)
	}
	keyPEM, _, err := readOptional(o.src.Dir, "ca.next.key")
	if err != nil {
		return fmt.Errorf("read %s: %w", o.path("ca.next.key"), err)
	}
	if certPEM != nil || keyPEM != nil {
		cs := CertStatus{Name: "ca.next", Role: RoleCA, File: o.path("ca.next.crt")}
		next, reason := parsePair(certPEM, keyPEM)
		if next == nil {
			cs.Status, cs.Reason = StateMismatch, "incomplete CA rotation: "+reason+"; restore the file or delete ca.next.* and run certs rotate --ca again"
		} else {
			o.next = next
			describe(&cs, next.cert, now)
			cs.Status, cs.Reason = classify(next.cert, now, o.st.RenewBefore)
			if cs.Status == StateOK {
				cs.Reason = "trusted, not yet signing: finish with certs rotate --ca"
			}
		}
		o.nextStat = &cs
	}
	prevPEM, _, err := readOptional(o.src.Dir, "ca.previous.crt")
	if err != nil {
		return fmt.Errorf("read %s: %w", o.path("ca.previous.crt"), err)
	}
	if prevPEM != nil {
		cs := CertStatus{Name: "ca.previous", Role: RoleCA, File: o.path("ca.previous.crt")}
		certs, pems, err := parseCerts(prevPEM)
		if err != nil {
			cs.Status, cs.Reason = StateMismatch, "does not parse: "+err.Error()
		} else {
			o.prev = &trusted{alias: "ca-previous", cert: certs[0], pem: pems[0]}
			describe(&cs, certs[0], now)
			cs.Status, cs.Reason = classify(certs[0], now, o.st.RenewBefore)
			switch cs.Status {
			case StateExpired:
				o.prev = nil // no one can present a certificate it signed any more
				cs.Reason = "retired CA has expired; certs generate drops it from the truststores"
			default:
				cs.Status, cs.Reason = StateOK, "retired, still trusted: drop with certs rotate --drop-previous-ca once every peer runs the new certificates"
			}
		}
		o.prevStat = &cs
	}
	return nil
}

// parsePair parses a certificate and its key; nil and the reason when either is unusable.
func parsePair(certPEM, keyPEM []byte) (*keyPair, string) {
	if certPEM == nil {
		return nil, "certificate file missing"
	}
	if keyPEM == nil {
		return nil, "key file missing"
	}
	certs, pems, err := parseCerts(certPEM)
	if err != nil {
		return nil, "certificate does not parse: " + err.Error()
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, "key does not parse: " + err.Error()
	}
	if !samePublicKey(certs[0], key) {
		return nil, "key does not belong to the certificate"
	}
	return &keyPair{cert: certs[0], key: key, certPEM: pems[0], keyPEM: keyPEM}, ""
}

func (o *observed) observeLeaf(l Leaf, now time.Time) error {
	cs := CertStatus{Name: l.Name, Role: l.Role, File: o.path(l.Name + ".crt")}
	defer func() { o.leafStat[l.Name] = cs }()
	certPEM, _, err := readOptional(o.src.Dir, l.Name+".crt")
	if err != nil {
		return fmt.Errorf("read %s: %w", cs.File, err)
	}
	keyPEM, keyMode, err := readOptional(o.src.Dir, l.Name+".key")
	if err != nil {
		return fmt.Errorf("read %s: %w", o.path(l.Name+".key"), err)
	}
	if certPEM == nil && keyPEM == nil {
		cs.Status, cs.Reason = StateMissing, "not issued yet"
		return nil
	}
	kp, reason := parsePair(certPEM, keyPEM)
	if kp == nil {
		cs.Status, cs.Reason = StateMismatch, reason
		if certPEM == nil || keyPEM == nil {
			cs.Status = StateMissing
		}
		return nil
	}
	o.pairs[l.Name] = kp
	describe(&cs, kp.cert, now)
	cs.Status, cs.Reason = classify(kp.cert, now, o.st.RenewBefore)
	if cs.Status == StateExpired {
		return nil
	}
	// Mismatches outrank renewal: a certificate with the wrong names is useless however long it lives.
	var problems []string
	if kp.cert.Subject.CommonName != l.CommonName {
		problems = append(problems, fmt.Sprintf("common name %q, want %q", kp.cert.Subject.CommonName, l.CommonName))
	}
	if missing, extra := diffSANs(l.SANs(), cs.SANs); len(missing)+len(extra) > 0 {
		var d []string
		if len(missing) > 0 {
			d = append(d, "missing "+strings.Join(missing, ", "))
		}
		if len(extra) > 0 {
			d = append(d, "not in spec "+strings.Join(extra, ", "))
		}
		problems = append(problems, "SANs differ ("+strings.Join(d, "; ")+")")
	}
	switch {
	case o.ca == nil:
		problems = append(problems, "no usable CA to check the signature against")
	case kp.cert.CheckSignatureFrom(o.ca.cert) != nil:
		problems = append(problems, fmt.Sprintf("not signed by the current CA %q", o.ca.cert.Subject.CommonName))
	}
	if r := tooOpen(keyMode); r != "" {
		problems = append(problems, l.Name+".key "+r)
	}
	if len(problems) > 0 {
		cs.Status, cs.Reason = StateMismatch, strings.Join(problems, "; ")
	}
	return nil
}

// describe fills the certificate's identity into cs.
func describe(cs *CertStatus, c *x509.Certificate, now time.Time) {
	cs.Subject = c.Subject.String()
	cs.Issuer = c.Issuer.String()
	cs.SANs = append([]string(nil), c.DNSNames...)
	slices.Sort(cs.SANs)
	ips := make([]string, 0, len(c.IPAddresses))
	for _, ip := range c.IPAddresses {
		ips = append(ips, ip.String())
	}
	slices.Sort(ips)
	cs.SANs = append(cs.SANs, ips...)
	cs.NotAfter = c.NotAfter.UTC()
	cs.DaysLeft = int(math.Floor(c.NotAfter.Sub(now).Hours() / 24))
}

// classify judges a certificate by its validity dates alone.
func classify(c *x509.Certificate, now time.Time, renewBefore time.Duration) (State, string) {
	switch {
	case !now.Before(c.NotAfter):
		return StateExpired, fmt.Sprintf("expired %s", c.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.NotBefore):
		return StateMismatch, fmt.Sprintf("not valid before %s (clock skew?)", c.NotBefore.UTC().Format(time.RFC3339))
	case c.NotAfter.Sub(now) <= renewBefore:
		return StateRenew, fmt.Sprintf("expires in %d days, inside renewBefore (%d days)",
			int(math.Floor(c.NotAfter.Sub(now).Hours()/24)), int(renewBefore.Hours()/24))
	}
	return StateOK, ""
}

// diffSANs returns the wanted names a certificate lacks and the names it has that the spec dropped.
func diffSANs(want, have []string) (missing, extra []string) {
	for _, w := range want {
		if !slices.Contains(have, w) {
			missing = append(missing, w)
		}
	}
	for _, h := range have {
		if !slices.Contains(want, h) {
			extra = append(extra, h)
		}
	}
	return missing, extra
}

// wantBundle is the ca.crt a consistent tls.dir holds: the signing CA, then the CAs in transition.
func (o *observed) trust() []trusted {
	if o.ca == nil {
		return nil
	}
	out := []trusted{{alias: "ca", cert: o.ca.cert, pem: o.ca.certPEM}}
	if o.next != nil {
		out = append(out, trusted{alias: "ca-next", cert: o.next.cert, pem: o.next.certPEM})
	}
	if o.prev != nil {
		out = append(out, *o.prev)
	}
	return out
}

func bundleOf(trust []trusted) []byte {
	var b bytes.Buffer
	for _, t := range trust {
		b.Write(t.pem)
	}
	return b.Bytes()
}
