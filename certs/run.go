package certs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/avatar-project/avatar-sync/spec"
)

// The `certs` subcommands' runs and views (issue 20: cmd keeps flags and chooses a view).

// RunOptions are the choices of `certs generate` and `certs rotate`.
type RunOptions struct {
	// Verb is "generate" or "rotate"; only generate --force changes the password (rotate keeps
	// refusing a wrong one), and errors name it.
	Verb           string
	Now            time.Time
	Rand           io.Reader
	Getenv         func(string) string
	Force          bool
	RotateCA       bool
	DropPreviousCA bool
	// DryRun decides without writing tls.dir.
	DryRun bool
}

// GenerateReport is what generate or rotate did (with DryRun: would do); its JSON form is their
// `-o json` output.
type GenerateReport struct {
	Dir      string   `json:"dir"`
	DryRun   bool     `json:"dryRun"`
	Password string   `json:"passwordFrom,omitempty"`
	Actions  []Action `json:"actions"`
	Removed  int      `json:"removed"`
	Written  int      `json:"written"`
	Notes    []string `json:"notes"`
	// NoPassword: the stores are PEM, which carry no password.
	NoPassword bool `json:"-"`
}

// Changed reports whether the run wrote (or would write) or removed anything.
func (r GenerateReport) Changed() bool { return r.Written+r.Removed > 0 }

// Run makes tls.dir match sp as generate or rotate asks: load what is there, resolve the keystore
// password, decide (Generate) and, unless DryRun, write.
func Run(ctx context.Context, sp *spec.Spec, o RunOptions) (GenerateReport, error) {
	src, err := Load(sp)
	if err != nil {
		return GenerateReport{}, err
	}
	pw, err := ResolvePassword(sp, src, o.Getenv, o.Rand)
	if err != nil {
		return GenerateReport{}, err
	}
	res, err := Generate(sp, src, Options{
		Now: o.Now, Rand: o.Rand, Password: pw,
		Force: o.Force, RotateCA: o.RotateCA, DropPreviousCA: o.DropPreviousCA,
		NewPassword: o.Force && o.Verb == "generate",
	})
	if err != nil {
		return GenerateReport{}, fmt.Errorf("certs %s: %w", o.Verb, err)
	}
	dir := SettingsOf(sp).Dir
	if !o.DryRun {
		if err := Write(ctx, dir, res); err != nil {
			return GenerateReport{}, fmt.Errorf("certs %s: %w", o.Verb, err)
		}
	}
	rep := GenerateReport{Dir: dir, DryRun: o.DryRun, Password: pw.From, Actions: res.Actions,
		Written: len(res.Files), Removed: len(res.Remove), Notes: res.Notes, NoPassword: pw.Value == ""}
	if rep.Actions == nil {
		rep.Actions = []Action{}
	}
	if rep.Notes == nil {
		rep.Notes = []string{}
	}
	return rep, nil
}

// RenderGenerateJSON writes generate's and rotate's `-o json` document.
func RenderGenerateJSON(w io.Writer, r GenerateReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// RenderGenerateText writes one line per action and what was (or would be) written to w, and
// the notes to notes (stderr), in between.
func RenderGenerateText(w, notes io.Writer, r GenerateReport) error {
	if len(r.Actions) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, a := range r.Actions {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Verb, a.File, a.Reason)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(notes, "note: %s\n", n)
	}
	var err error
	switch {
	case !r.Changed():
		_, err = fmt.Fprintf(w, "%s is up to date; nothing to write.\n", r.Dir)
	case r.DryRun:
		_, err = fmt.Fprintf(w, "Dry run: would write %s and remove %s in %s.\n", fileCount(r.Written), fileCount(r.Removed), r.Dir)
	default:
		from := "keystore password from " + r.Password
		if r.NoPassword {
			from = "PEM keystores: no password"
		}
		_, err = fmt.Fprintf(w, "Wrote %s, removed %s in %s (%s).\n", fileCount(r.Written), fileCount(r.Removed), r.Dir, from)
	}
	return err
}

// fileCount renders "1 file", "3 files".
func fileCount(n int) string {
	if n == 1 {
		return "1 file"
	}
	return fmt.Sprintf("%d files", n)
}

// InspectReport is what `certs inspect` found; its JSON form is inspect's `-o json` output.
type InspectReport struct {
	Dir          string       `json:"dir"`
	At           time.Time    `json:"at"`
	Certificates []CertStatus `json:"certificates"`
	// Password is why the keystore password does not open the stores ("" when it does, or when
	// there is no password to check yet).
	Password string `json:"password,omitempty"`
	OK       bool   `json:"ok"`
}

// Inspect judges every certificate in tls.dir as of at, and opens the stores with the keystore
// password as `certs generate` resolves it (issue 21: the brokers open their stores with the
// password the Secret carries; one that does not open them fails the brokers at their next restart).
func Inspect(sp *spec.Spec, at time.Time, getenv func(string) string, rand io.Reader) (InspectReport, error) {
	src, err := Load(sp)
	if err != nil {
		return InspectReport{}, err
	}
	sts, err := Status(sp, src, at)
	if err != nil {
		return InspectReport{}, fmt.Errorf("certs inspect: %w", err)
	}
	rep := InspectReport{Dir: src.DirPath, At: at.UTC(), Certificates: sts}
	if err := inspectPassword(sp, src, getenv, rand); err != nil {
		rep.Password = err.Error()
	}
	rep.OK = len(rep.attention()) == 0 && rep.Password == ""
	return rep, nil
}

// inspectPassword opens the stores with the keystore password. No password yet (generate would
// invent one) leaves nothing to check.
func inspectPassword(sp *spec.Spec, src Source, getenv func(string) string, rand io.Reader) error {
	pw, err := ResolvePassword(sp, src, getenv, rand)
	if err != nil {
		return err
	}
	if pw.File != nil {
		return nil
	}
	return CheckPassword(sp, src, pw)
}

// attention lists "name status" for every certificate that needs action.
func (r InspectReport) attention() []string {
	var bad []string
	for _, c := range r.Certificates {
		if c.Status.Bad() {
			bad = append(bad, fmt.Sprintf("%s %s", c.Name, c.Status))
		}
	}
	return bad
}

// Problem says what needs attention, nil when nothing does (renew alone is not a problem).
func (r InspectReport) Problem() error {
	bad := r.attention()
	if len(bad) == 0 {
		if r.Password != "" {
			return errors.New(r.Password)
		}
		return nil
	}
	what, verb := "certificates", "need"
	if len(bad) == 1 {
		what, verb = "certificate", "needs"
	}
	err := fmt.Errorf("%d %s %s attention (%s): run avatar-sync certs generate", len(bad), what, verb, strings.Join(bad, ", "))
	if r.Password != "" {
		err = fmt.Errorf("%w; and %s", err, r.Password)
	}
	return err
}

// RenderInspectJSON writes inspect's `-o json` document.
func RenderInspectJSON(w io.Writer, r InspectReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// MakeDir creates tls.dir as generate would (0700: it will hold private keys) when it does not
// exist yet: render writes a kustomization into it and may be the first to create it.
func MakeDir(sp *spec.Spec) error {
	dir := SettingsOf(sp).Dir
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create tls.dir %s: %w", dir, err)
	}
	return nil
}

// HasCA reports whether tls.dir holds a CA certificate yet.
func HasCA(sp *spec.Spec) bool {
	_, err := os.Stat(filepath.Join(SettingsOf(sp).Dir, "ca.crt"))
	return err == nil
}

// GeneratedPasswordFile is the file in tls.dir that generate wrote a keystore password into, ""
// when there is none.
func GeneratedPasswordFile(sp *spec.Spec) string {
	gen := filepath.Join(SettingsOf(sp).Dir, PasswordFileName)
	if _, err := os.Stat(gen); err != nil {
		return ""
	}
	return gen
}
