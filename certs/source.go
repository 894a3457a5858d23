package certs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/avatar-project/avatar-sync/spec"
)

// Source is everything certs reads from disk, gathered by Load so that Status and Generate stay pure
// functions of their inputs (tests hand them an fstest.MapFS).
type Source struct {
	// Dir is tls.dir; a directory that does not exist yet reads as empty.
	Dir fs.FS
	// DirPath is tls.dir as the user should see it in messages.
	DirPath string
	// ExternalCA is the CA named by tls.ca, nil when avatar-sync generates its own.
	ExternalCA *ExternalCA
	// PasswordFile holds the contents of tls.passwordFile (nil when unset or missing).
	PasswordFile []byte
}

// ExternalCA is a CA given by file (tls.ca.certFile / keyFile).
type ExternalCA struct {
	CertFile string
	Cert     []byte
	// Key is nil when keyFile is not set: existing material can still be checked, nothing issued.
	Key []byte
}

// Load reads tls.dir, tls.ca and tls.passwordFile of s. It reports every unreadable file at once.
// It first refuses material others could have planted or read (CheckPrivate).
func Load(s *spec.Spec) (Source, error) {
	if err := CheckPrivate(s); err != nil {
		return Source{}, err
	}
	st := SettingsOf(s)
	src := Source{Dir: os.DirFS(st.Dir), DirPath: st.Dir}
	var errs []error
	if ca := s.TLS.CA; ca != nil && (ca.CertFile != "" || ca.KeyFile != "") {
		ext := &ExternalCA{CertFile: ca.CertFile}
		if ca.CertFile == "" {
			errs = append(errs, errors.New("tls.ca.keyFile is set but tls.ca.certFile is not; name the CA certificate too"))
		} else if b, err := os.ReadFile(ext.CertFile); err != nil {
			errs = append(errs, fmt.Errorf("read tls.ca.certFile: %w", err))
		} else {
			ext.Cert = b
		}
		if ca.KeyFile != "" {
			b, err := os.ReadFile(ca.KeyFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("read tls.ca.keyFile: %w", err))
			}
			ext.Key = b
		}
		src.ExternalCA = ext
	}
	if p := s.TLS.PasswordFile; p != "" {
		b, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Falls back to a generated password; ResolvePassword says so.
		case err != nil:
			errs = append(errs, fmt.Errorf("read tls.passwordFile: %w", err))
		default:
			src.PasswordFile = b
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Source{}, err
	}
	return src, nil
}

// Password is the keystore password and where it came from. The value never appears in output.
type Password struct {
	Value string
	// From describes the origin for humans: "$AVATAR_KEYSTORE_PASSWORD", a file path, or "generated".
	From string
	// File, when set, is a newly generated password file Write must create.
	File *File
	// Note explains a fallback the user did not ask for (e.g. the named variable is unset).
	Note string
}

// minPassword is keytool's lower bound; a shorter password makes the stores unusable from Java.
const minPassword = 6

// ResolvePassword picks the keystore password: $tls.passwordEnv when set and non-empty, else the
// contents of tls.passwordFile, else tls.dir/keystore.password, else a new random one to be written
// there with mode 0600. PEM keystores hold no password, so nothing is generated for them.
func ResolvePassword(s *spec.Spec, src Source, getenv func(string) string, rand io.Reader) (Password, error) {
	if SettingsOf(s).KeystoreType == spec.KeystorePEM {
		return Password{From: "none (PEM keystores are not encrypted)"}, nil
	}
	t := s.TLS
	var notes []string
	check := func(p Password) (Password, error) {
		if strings.ContainsAny(p.Value, "\r\n") {
			// Brokers and the printed kubectl/compose commands read the file with $(cat), which
			// drops trailing line feeds only: a CR (a file saved with Windows line endings) would
			// end up in their password and not in the keystores'.
			return Password{}, fmt.Errorf("keystore password from %s contains a carriage return or line break; save it as one line with Unix line endings (dos2unix %s)", p.From, p.From)
		}
		if len(p.Value) < minPassword {
			return Password{}, fmt.Errorf("keystore password from %s is %d characters; Java's keytool needs at least %d", p.From, len(p.Value), minPassword)
		}
		p.Note = strings.Join(notes, "; ")
		return p, nil
	}
	if t.PasswordEnv != "" || t.PasswordFile != "" {
		// spec.ResolvePassword is the one resolver (issue 9); Load has read the file already.
		readFile := func(string) ([]byte, error) {
			if src.PasswordFile == nil {
				return nil, fs.ErrNotExist
			}
			return src.PasswordFile, nil
		}
		v, from, err := spec.ResolvePassword(t.PasswordEnv, t.PasswordFile, getenv, readFile)
		switch {
		case err == nil:
			return check(Password{Value: v, From: from})
		case !errors.Is(err, spec.ErrNoPassword):
			return Password{}, fmt.Errorf("keystore password: %w", err)
		}
		if t.PasswordEnv != "" {
			notes = append(notes, fmt.Sprintf("$%s (tls.passwordEnv) is not set", t.PasswordEnv))
		}
		if t.PasswordFile != "" {
			notes = append(notes, fmt.Sprintf("%s (tls.passwordFile) is missing or empty", t.PasswordFile))
		}
	}
	path := src.DirPath + string(os.PathSeparator) + PasswordFileName
	if b, err := fs.ReadFile(src.Dir, PasswordFileName); err == nil {
		if len(notes) > 0 {
			notes = append(notes, "using "+path)
		}
		return check(Password{Value: strings.TrimRight(string(b), "\n"), From: path})
	}
	if len(notes) > 0 {
		// Re-keying existing stores because a variable was not exported would silently break every
		// broker that still uses the old password; only an empty tls.dir gets a generated one.
		if stores, _ := fs.Glob(src.Dir, "*store.*"); len(stores) > 0 {
			return Password{}, fmt.Errorf("%s, and %s already holds keystores written with a password: provide it, or delete the stores to start over with a generated one", strings.Join(notes, "; "), src.DirPath)
		}
	}
	buf := make([]byte, 24)
	if _, err := io.ReadFull(rand, buf); err != nil {
		return Password{}, fmt.Errorf("generate keystore password: %w", err)
	}
	v := fmt.Sprintf("%x", buf)
	notes = append(notes, "generated a keystore password into "+path+" (mode 0600)")
	return check(Password{Value: v, From: path, File: &File{Name: PasswordFileName, Data: []byte(v + "\n"), Mode: 0o600}})
}
