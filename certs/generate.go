package certs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/avatar-project/avatar-sync/spec"
)

// Options are the inputs of Generate besides the spec and what is on disk. Now and Rand are injected
// so tests can pin the clock and replay the random source.
type Options struct {
	Now      time.Time
	Rand     io.Reader
	Password Password
	// Force re-issues every leaf certificate (new keys) and rewrites every store; the CA is kept.
	Force bool
	// RotateCA runs one step of the two-step CA rotation (docs/tls.md): step 1 adds a new CA to every
	// truststore, step 2 makes it the signing CA and re-issues every leaf.
	RotateCA bool
	// DropPreviousCA removes the CA retired by a rotation from ca.crt and every truststore.
	DropPreviousCA bool
	// NewPassword lets Generate rewrite stores the given password does not open (a deliberate
	// password change, `certs generate --force`); without it they are refused (issue 10).
	NewPassword bool
}

// File is one file Write creates or replaces inside tls.dir.
type File struct {
	Name string
	Data []byte
	Mode fs.FileMode
}

// Action is one decision of Generate, for humans and -o json.
type Action struct {
	// Verb is create, renew, reissue, write or remove.
	Verb   string `json:"action"`
	File   string `json:"file"`
	Reason string `json:"reason,omitempty"`
}

// Result is what Generate decided: the files to write and remove, and notes for the user.
// An empty Result means tls.dir already matches the spec.
type Result struct {
	Actions []Action `json:"actions"`
	Files   []File   `json:"-"`
	Remove  []string `json:"-"`
	Notes   []string `json:"notes,omitempty"`
}

// Changed reports whether Write has anything to do.
func (r *Result) Changed() bool { return len(r.Files)+len(r.Remove) > 0 }

// File modes: anything holding a private key, or protected by the keystore password, is 0600.
const (
	modePublic = 0o644
	modeSecret = 0o600
)

// ErrNoCAKey is returned when certificates must be issued but the signing CA's key is unavailable.
var ErrNoCAKey = errors.New("CA private key not available")

// Generate decides which certificates and stores to (re)issue so that src matches s, and builds
// them. It reads tls.dir only through src.Dir and writes nothing: Write applies the Result. The flow:
//
//  1. observe tls.dir (the same judgement Status reports); a generated keystore password becomes a
//     file to write;
//  2. settle the signing CA: keep it, create it when missing or expired, or run a rotation step;
//  3. issue every leaf that is missing, expired, in its renew window, mismatched, or forced;
//  4. rebuild ca.crt and every keystore/truststore whose decoded content differs from the wanted one;
//  5. name the certificates in tls.dir the spec no longer asks for (left alone).
func Generate(s *spec.Spec, src Source, opts Options) (*Result, error) {
	o, err := observe(s, src, opts.Now)
	if err != nil {
		return nil, err
	}
	g := &generator{o: o, opts: opts, res: &Result{}, name: s.Metadata.Name}
	if g.name == "" {
		g.name = "avatar"
	}
	if p := opts.Password; p.File != nil {
		g.write(*p.File, "create", "keystore password (generated; never printed)")
	}
	if p := opts.Password; p.Note != "" {
		g.res.Notes = append(g.res.Notes, "keystore password: "+p.Note)
	}
	if err := g.settleCA(); err != nil {
		return nil, err
	}
	if err := g.issueLeaves(); err != nil {
		return nil, err
	}
	if err := g.writeStores(); err != nil {
		return nil, err
	}
	g.noteStale()
	return g.res, nil
}

// noteStale lists certificates in tls.dir that the spec no longer asks for (a broker renamed or
// removed). They are left alone, since deleting keys is not generate's call, but named so the
// operator can.
func (g *generator) noteStale() {
	names, _ := fs.Glob(g.o.src.Dir, "*.crt")
	for _, n := range names {
		base := strings.TrimSuffix(n, ".crt")
		if strings.HasPrefix(base, "ca.") || base == "ca" || slices.ContainsFunc(g.o.leaves, func(l Leaf) bool { return l.Name == base }) {
			continue
		}
		g.res.Notes = append(g.res.Notes, fmt.Sprintf("%s is not in the spec any more (renamed or removed broker/client?); delete %s.* by hand if it is retired", g.o.path(n), base))
	}
}

type generator struct {
	o    *observed
	opts Options
	res  *Result
	name string
	// caChanged means the signing CA is new in this run, so every leaf must be re-signed.
	caChanged string
	// issued are the leaves (re)issued in this run.
	issued map[string]bool
	// locked are existing stores the given password does not open.
	locked []string
}

// ErrWrongKeystorePassword: existing stores do not open with the keystore password. Rewriting them
// would re-key every store and break every broker still running with the old password (issue 10),
// so Generate refuses unless NewPassword is set.
var ErrWrongKeystorePassword = errors.New("keystores do not open with the keystore password")

func (g *generator) write(f File, verb, reason string) {
	g.res.Files = append(g.res.Files, f)
	g.res.Actions = append(g.res.Actions, Action{Verb: verb, File: g.o.path(f.Name), Reason: reason})
}

func (g *generator) remove(name, reason string) {
	g.res.Remove = append(g.res.Remove, name)
	g.res.Actions = append(g.res.Actions, Action{Verb: "remove", File: g.o.path(name), Reason: reason})
}

func (g *generator) settleCA() error {
	o, now, rnd := g.o, g.opts.Now, g.opts.Rand
	ext := o.src.ExternalCA != nil
	if ext && g.opts.RotateCA {
		return fmt.Errorf("tls.ca names an external CA (%s): rotate it where it is issued, point tls.ca at the new files and run certs generate", o.src.ExternalCA.CertFile)
	}
	if ext && o.caStatus.Status == StateExpired {
		return fmt.Errorf("external CA %s expired on %s: renew it at its source and point tls.ca at the new files", o.caStatus.File, o.caStatus.NotAfter.Format(time.DateOnly))
	}
	switch {
	case ext:
	case o.ca == nil && o.caStatus.Status == StateMismatch && !g.opts.Force:
		return fmt.Errorf("%s: %s; restore the CA files, or pass --force to replace the CA (every client then needs the new ca.crt)", o.caStatus.File, o.caStatus.Reason)
	case o.ca == nil || o.caStatus.Status == StateExpired:
		if g.opts.RotateCA {
			return fmt.Errorf("there is no valid CA to rotate in %s; run certs generate first", o.src.DirPath)
		}
		reason := "no CA yet"
		if o.caStatus.Status != StateMissing {
			reason = "replacing: " + o.caStatus.Reason
			g.res.Notes = append(g.res.Notes, "a new CA was created: every client must get the new ca.crt")
		}
		ca, err := newCA(g.name, now, CAValidity, rnd)
		if err != nil {
			return err
		}
		o.ca, o.next, o.prev = ca, nil, nil
		g.caChanged = "signed by a CA that was replaced"
		g.write(File{Name: "ca.key", Data: ca.keyPEM, Mode: modeSecret}, "create", reason)
		if o.nextStat != nil {
			g.remove("ca.next.crt", "rotation abandoned: the CA was replaced")
			g.remove("ca.next.key", "rotation abandoned: the CA was replaced")
		}
		if o.prevStat != nil {
			g.remove("ca.previous.crt", "the CA was replaced")
		}
	case g.opts.RotateCA && o.next == nil:
		if o.nextStat != nil {
			return fmt.Errorf("%s: %s", o.nextStat.File, o.nextStat.Reason)
		}
		next, err := newCA(g.name, now, CAValidity, rnd)
		if err != nil {
			return err
		}
		o.next = next
		g.write(File{Name: "ca.next.crt", Data: next.certPEM, Mode: modePublic}, "create", "CA rotation step 1: new CA, trusted but not yet signing")
		g.write(File{Name: "ca.next.key", Data: next.keyPEM, Mode: modeSecret}, "create", "CA rotation step 1")
		g.res.Notes = append(g.res.Notes, "CA rotation step 1 of 2 done: roll the new ca.crt and truststores out to every broker and client, then run certs rotate --ca again")
	case g.opts.RotateCA:
		old := o.ca
		o.prev = &trusted{alias: "ca-previous", cert: old.cert, pem: old.certPEM}
		o.ca, o.next = o.next, nil
		g.caChanged = "CA rotation step 2: re-signed by the new CA"
		g.write(File{Name: "ca.key", Data: o.ca.keyPEM, Mode: modeSecret}, "write", "CA rotation step 2: the new CA signs from now on")
		g.write(File{Name: "ca.previous.crt", Data: old.certPEM, Mode: modePublic}, "write", "CA rotation step 2: the old CA stays trusted during the transition")
		g.remove("ca.next.crt", "CA rotation step 2: promoted to ca.crt")
		g.remove("ca.next.key", "CA rotation step 2: promoted to ca.key")
		g.res.Notes = append(g.res.Notes, "CA rotation step 2 of 2 done: roll the new keystores out; once every peer runs them, drop the old CA with certs rotate --drop-previous-ca")
	case o.ca.key != nil && strings.Contains(o.caStatus.Reason, "ca.key file mode"):
		// Rewriting it 0600 would hide that others could read (or planted) it (issue 10).
		return fmt.Errorf("%s: %s; others may have a copy of the CA key: replace the CA (certs rotate --ca), or chmod 600 it if you are sure it was not copied: %w", o.caStatus.File, o.caStatus.Reason, ErrUnsafeTLSDir)
	}
	if o.caStatus.Status == StateRenew && !g.opts.RotateCA {
		g.res.Notes = append(g.res.Notes, "the CA "+o.caStatus.Reason)
	}
	if o.prevStat != nil && (g.opts.DropPreviousCA || o.prev == nil) && g.caChanged == "" {
		reason := "--drop-previous-ca"
		if o.prev == nil {
			reason = o.prevStat.Reason
		}
		o.prev = nil
		g.remove("ca.previous.crt", reason)
	} else if g.opts.DropPreviousCA && o.prevStat == nil {
		g.res.Notes = append(g.res.Notes, "no previous CA to drop")
	}
	if bundle := bundleOf(o.trust()); !bytes.Equal(bundle, o.bundle) {
		verb := "write"
		if o.bundle == nil {
			verb = "create"
		}
		g.write(File{Name: "ca.crt", Data: bundle, Mode: modePublic}, verb, fmt.Sprintf("trust bundle of %d CA certificate(s)", len(o.trust())))
	}
	return nil
}

func (g *generator) issueLeaves() error {
	o := g.o
	g.issued = map[string]bool{}
	var blocked []string
	for _, l := range o.leaves {
		cs := o.leafStat[l.Name]
		verb, reason := "", ""
		switch {
		case cs.Status == StateMissing:
			verb, reason = "create", cs.Reason
		case g.caChanged != "":
			verb, reason = "reissue", g.caChanged
		case g.opts.Force:
			verb, reason = "reissue", "forced"
		case cs.Status == StateExpired:
			verb, reason = "renew", cs.Reason
		case cs.Status == StateMismatch:
			verb, reason = "reissue", cs.Reason
		case cs.Status == StateRenew:
			// A leaf already ending with its CA gains nothing from renewal; only a CA rotation helps,
			// and re-issuing on every run would break idempotence.
			if LeafTemplate(l, nil, g.opts.Now, o.st.Validity, o.ca.cert.NotAfter).NotAfter.After(cs.NotAfter) {
				verb, reason = "renew", cs.Reason
			} else {
				how := "rotate the CA (certs rotate --ca)"
				if g.o.src.ExternalCA != nil {
					// rotate --ca refuses an external CA; it is renewed where it is issued.
					how = "renew the CA at its source, point tls.ca at the new files and run certs generate"
				}
				g.res.Notes = append(g.res.Notes, fmt.Sprintf("%s expires together with the CA; %s", l.Name, how))
			}
		}
		if verb == "" {
			continue
		}
		if o.ca.key == nil {
			blocked = append(blocked, l.Name)
			continue
		}
		kp, err := newLeaf(l, o.ca, g.opts.Now, o.st.Validity, g.opts.Rand)
		if err != nil {
			return fmt.Errorf("issue %s: %w", l.Name, err)
		}
		o.pairs[l.Name] = kp
		g.issued[l.Name] = true
		g.write(File{Name: l.Name + ".key", Data: kp.keyPEM, Mode: modeSecret}, verb, reason)
		g.write(File{Name: l.Name + ".crt", Data: kp.certPEM, Mode: modePublic}, verb, reason)
	}
	if len(blocked) > 0 {
		where := "ca.key in " + o.src.DirPath
		if o.src.ExternalCA != nil {
			where = "tls.ca.keyFile"
		}
		return fmt.Errorf("%w: %s need issuing but %s is missing; provide it or restore the CA", ErrNoCAKey, strings.Join(blocked, ", "), where)
	}
	return nil
}

func (g *generator) writeStores() error {
	o, kt, pw := g.o, g.o.st.KeystoreType, g.opts.Password.Value
	trust := o.trust()
	for _, l := range o.leaves {
		kp := o.pairs[l.Name]
		ks := keystoreContent{alias: strings.ToLower(l.Name), leaf: kp, ca: o.ca.cert, caPEM: o.ca.certPEM}
		name := KeystoreFile(l.Name, kt)
		reason, err := g.storeReason(name, modeSecret, l.Name, func(data []byte) string { return checkKeystore(kt, data, ks, pw) })
		if err != nil {
			return err
		}
		if reason != "" {
			data, err := encodeKeystore(kt, ks, pw, g.opts.Now, g.opts.Rand)
			if err != nil {
				return err
			}
			g.write(File{Name: name, Data: data, Mode: modeSecret}, "write", reason)
		}
		name = TruststoreFile(l.Name, kt)
		reason, err = g.storeReason(name, modePublic, "", func(data []byte) string { return checkTruststore(kt, data, trust, pw) })
		if err != nil {
			return err
		}
		if reason != "" {
			data, err := encodeTruststore(kt, trust, pw, g.opts.Now, g.opts.Rand)
			if err != nil {
				return err
			}
			g.write(File{Name: name, Data: data, Mode: modePublic}, "write", reason)
		}
	}
	if len(g.locked) > 0 {
		return fmt.Errorf("%w from %s: %d stores in %s (%s). Provide the password they were written with; to change it on purpose, run certs generate --force (every broker and client then needs the new stores and password)",
			ErrWrongKeystorePassword, g.opts.Password.From, len(g.locked), g.o.src.DirPath, strings.Join(g.locked, ", "))
	}
	return nil
}

// storeReason says why store file name must be written ("" when it is current). leaf names the
// certificate the store carries, whose re-issue forces a rewrite.
func (g *generator) storeReason(name string, mode fs.FileMode, leaf string, check func([]byte) string) (string, error) {
	data, have, err := readOptional(g.o.src.Dir, name)
	switch {
	case err != nil:
		return "", fmt.Errorf("read %s: %w", g.o.path(name), err)
	case data == nil:
		return "missing", nil
	}
	r := check(data)
	if strings.HasPrefix(r, wrongPassword) && !g.opts.NewPassword {
		g.locked = append(g.locked, name)
		return "", nil
	}
	switch {
	case leaf != "" && g.issued[leaf]:
		return "carries the re-issued " + leaf + ".crt", nil
	case g.opts.Force:
		return "forced", nil
	}
	if r != "" {
		return r, nil
	}
	if mode == modeSecret {
		if r := tooOpen(have); r != "" {
			return r, nil
		}
	}
	return "", nil
}
