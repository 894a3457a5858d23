package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/avatar-project/avatar-sync/certs"
	"github.com/avatar-project/avatar-sync/spec"
)

// certsClock is the time every certs subcommand judges expiry by; only tests replace it.
var certsClock = time.Now

// certsGenerateOptions are the flags of `certs generate` and `certs rotate`.
type certsGenerateOptions struct {
	force          bool
	dryRun         bool
	rotateCA       bool
	dropPreviousCA bool
}

// certsInspectOptions are the flags of `certs inspect`.
type certsInspectOptions struct {
	at string
}

func newCertsCmd(g *globalOptions, s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Generate, inspect and rotate the cluster's TLS certificates and keystores",
		Long: `certs manages the TLS material under tls.dir: a CA, one server certificate per broker (named for
every address a client may dial), client certificates for tls.clients, and per-broker keystores and
truststores in tls.keystoreType. See docs/tls.md.`,
		Args: cobra.NoArgs,
		// Without a RunE cobra skips Args and prints help with exit 0 for "certs genrate", which
		// would let a typo in a CI script pass silently.
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCertsGenerateCmd(g, s), newCertsInspectCmd(g, s), newCertsRotateCmd(g, s))
	return cmd
}

func newCertsGenerateCmd(g *globalOptions, s *streams) *cobra.Command {
	o := &certsGenerateOptions{}
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Create or renew whatever certificates and keystores tls.dir lacks",
		Long: `generate makes tls.dir match the spec. It keeps valid material and only issues what is missing,
expired, within tls.renewBefore of expiry, or no longer matching the spec (a broker added or renamed,
a namespace or extra SAN changed, a key file readable by others); stores are rewritten when their
content or password no longer matches. Running it twice writes nothing the second time.`,
		Example: `  AVATAR_KEYSTORE_PASSWORD=... avatar-sync certs generate -f examples/avatar.yaml
  avatar-sync certs generate --dry-run -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCertsGenerate(cmd.Context(), g, s, o, "generate")
		},
	}
	cmd.Flags().BoolVar(&o.force, "force", false, "re-issue every leaf certificate with a new key and rewrite every store, also with a new password (the CA is kept)")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "show what would be written without touching tls.dir")
	return cmd
}

func newCertsRotateCmd(g *globalOptions, s *streams) *cobra.Command {
	o := &certsGenerateOptions{}
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Renew every leaf certificate, or run one step of a CA rotation",
		Long: `rotate re-issues every broker and client certificate with a new key.

With --ca it runs one step of the two-step CA rotation (docs/tls.md): the first run creates a new CA
and adds it to ca.crt and every truststore while the old CA keeps signing; after you have rolled the
truststores out, the second run makes the new CA the signer, re-issues every leaf, and keeps the old CA
trusted (ca.previous.crt) so peers that still present old certificates are accepted. When every peer
runs the new material, --drop-previous-ca removes the old CA from the trust bundles.`,
		Example: `  avatar-sync certs rotate
  avatar-sync certs rotate --ca            # step 1, then roll out truststores
  avatar-sync certs rotate --ca            # step 2, then roll out keystores
  avatar-sync certs rotate --drop-previous-ca`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.rotateCA && o.dropPreviousCA {
				return errors.New("--ca and --drop-previous-ca are separate steps; run them one at a time")
			}
			o.force = !o.rotateCA && !o.dropPreviousCA
			return runCertsGenerate(cmd.Context(), g, s, o, "rotate")
		},
	}
	cmd.Flags().BoolVar(&o.rotateCA, "ca", false, "run the next step of a two-step CA rotation")
	cmd.Flags().BoolVar(&o.dropPreviousCA, "drop-previous-ca", false, "stop trusting the CA retired by a rotation")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "show what would be written without touching tls.dir")
	return cmd
}

// certsSpec loads the spec and refuses to manage certificates for a spec without TLS.
func certsSpec(ctx context.Context, g *globalOptions, s *streams) (*spec.Spec, error) {
	sp, err := loadSpec(ctx, g, s)
	if err != nil {
		return nil, err
	}
	if !sp.TLS.Enabled {
		return nil, fmt.Errorf("%s: tls.enabled is false; set it (and ports.ssl on the brokers) to manage certificates", g.file)
	}
	return sp, nil
}

// certsGenerateReport is the JSON output of generate and rotate.
type certsGenerateReport struct {
	Dir      string         `json:"dir"`
	DryRun   bool           `json:"dryRun"`
	Password string         `json:"passwordFrom,omitempty"`
	Actions  []certs.Action `json:"actions"`
	Removed  int            `json:"removed"`
	Written  int            `json:"written"`
	Notes    []string       `json:"notes"`
}

func runCertsGenerate(ctx context.Context, g *globalOptions, s *streams, o *certsGenerateOptions, verb string) error {
	if err := g.checkOutput("text", "json"); err != nil {
		return err
	}
	sp, err := certsSpec(ctx, g, s)
	if err != nil {
		return err
	}
	src, err := certs.Load(sp)
	if err != nil {
		return err
	}
	pw, err := certs.ResolvePassword(sp, src, os.Getenv, rand.Reader)
	if err != nil {
		return err
	}
	res, err := certs.Generate(sp, src, certs.Options{
		Now: certsClock(), Rand: rand.Reader, Password: pw,
		Force: o.force, RotateCA: o.rotateCA, DropPreviousCA: o.dropPreviousCA,
		// Only generate --force changes the password; rotate keeps refusing a wrong one.
		NewPassword: o.force && verb == "generate",
	})
	if err != nil {
		return fmt.Errorf("certs %s: %w", verb, err)
	}
	dir := certs.SettingsOf(sp).Dir
	if !o.dryRun {
		if err := certs.Write(ctx, dir, res); err != nil {
			return fmt.Errorf("certs %s: %w", verb, err)
		}
	}
	if g.output == "json" {
		rep := certsGenerateReport{Dir: dir, DryRun: o.dryRun, Password: pw.From, Actions: res.Actions,
			Written: len(res.Files), Removed: len(res.Remove), Notes: res.Notes}
		if rep.Actions == nil {
			rep.Actions = []certs.Action{}
		}
		if rep.Notes == nil {
			rep.Notes = []string{}
		}
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printActions(s.out, res.Actions)
	for _, n := range res.Notes {
		fmt.Fprintf(s.err, "note: %s\n", n)
	}
	switch {
	case !res.Changed():
		fmt.Fprintf(s.out, "%s is up to date; nothing to write.\n", dir)
	case o.dryRun:
		fmt.Fprintf(s.out, "Dry run: would write %s and remove %s in %s.\n", count(len(res.Files), "file"), count(len(res.Remove), "file"), dir)
	default:
		from := "keystore password from " + pw.From
		if pw.Value == "" {
			from = "PEM keystores: no password"
		}
		fmt.Fprintf(s.out, "Wrote %s, removed %s in %s (%s).\n", count(len(res.Files), "file"), count(len(res.Remove), "file"), dir, from)
	}
	return nil
}

func printActions(w io.Writer, actions []certs.Action) {
	if len(actions) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, a := range actions {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Verb, a.File, a.Reason)
	}
	tw.Flush()
}

// certsInspectReport is the JSON output of inspect.
type certsInspectReport struct {
	Dir          string             `json:"dir"`
	At           time.Time          `json:"at"`
	Certificates []certs.CertStatus `json:"certificates"`
	// Password is why the keystore password does not open the stores ("" when it does, or when
	// there is no password to check yet).
	Password string `json:"password,omitempty"`
	OK       bool   `json:"ok"`
}

func newCertsInspectCmd(g *globalOptions, s *streams) *cobra.Command {
	o := &certsInspectOptions{}
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "Show every certificate with its names, expiry and whether it needs action",
		Long: `inspect lists the CA, broker and client certificates under tls.dir with subject, SANs, issuer,
expiry and a status: ok, renew (inside tls.renewBefore), expired, mismatch (names, issuer or file
mode no longer fit the spec) or missing. It also opens every keystore and truststore with the keystore
password (tls.passwordEnv, tls.passwordFile or tls.dir/keystore.password) and names the stores it
does not open. Exit status: 0 when nothing is expired, mismatched or missing and the password opens
every store (renew alone exits 0 with a note), 1 otherwise, so CI can gate on it.`,
		Example: `  avatar-sync certs inspect
  avatar-sync certs inspect --at 2027-06-01 -o json   # what will have expired by then?`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.checkOutput("text", "json"); err != nil {
				return err
			}
			at := certsClock()
			if o.at != "" {
				t, err := parseAt(o.at)
				if err != nil {
					return err
				}
				at = t
			}
			sp, err := certsSpec(cmd.Context(), g, s)
			if err != nil {
				return err
			}
			src, err := certs.Load(sp)
			if err != nil {
				return err
			}
			sts, err := certs.Status(sp, src, at)
			if err != nil {
				return fmt.Errorf("certs inspect: %w", err)
			}
			var bad []string
			for _, c := range sts {
				if c.Status.Bad() {
					bad = append(bad, fmt.Sprintf("%s %s", c.Name, c.Status))
				}
			}
			// Issue 21: the brokers open their stores with the password the Secret carries; one
			// that does not open them fails the brokers at their next restart.
			pwProblem := ""
			if err := inspectPassword(sp, src); err != nil {
				pwProblem = err.Error()
			}
			if g.output == "json" {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(certsInspectReport{Dir: src.DirPath, At: at.UTC(), Certificates: sts, Password: pwProblem, OK: len(bad) == 0 && pwProblem == ""}); err != nil {
					return err
				}
			} else {
				if err := certs.RenderStatus(s.out, sts); err != nil {
					return err
				}
			}
			if len(bad) > 0 {
				verb := "needs"
				if len(bad) > 1 {
					verb = "need"
				}
				err := fmt.Errorf("%s %s attention (%s): run avatar-sync certs generate",
					count(len(bad), "certificate"), verb, strings.Join(bad, ", "))
				if pwProblem != "" {
					err = fmt.Errorf("%w; and %s", err, pwProblem)
				}
				return withExitCode(exitError, err)
			}
			if pwProblem != "" {
				return withExitCode(exitError, errors.New(pwProblem))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.at, "at", "", "judge expiry as of this date (2006-01-02 or RFC 3339) instead of now")
	return cmd
}

// inspectPassword opens the stores in tls.dir with the keystore password as `certs generate`
// resolves it. No password yet (generate would invent one) leaves nothing to check.
func inspectPassword(sp *spec.Spec, src certs.Source) error {
	pw, err := certs.ResolvePassword(sp, src, os.Getenv, rand.Reader)
	if err != nil {
		return err
	}
	if pw.File != nil {
		return nil
	}
	return certs.CheckPassword(sp, src, pw)
}

// parseAt reads --at as a date or an RFC 3339 time.
func parseAt(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--at %q: write a date like 2027-06-01 or an RFC 3339 time like 2027-06-01T12:00:00Z", v)
}

// bindInsecureSkipVerify adds --insecure-skip-verify to a command that connects to a cluster
// (issue 5). Verification is on by default and stays on unless this flag is given explicitly.
func bindInsecureSkipVerify(f interface {
	BoolVar(p *bool, name string, value bool, usage string)
}, p *bool) {
	f.BoolVar(p, "insecure-skip-verify", false, "DANGEROUS: do not verify the brokers' TLS certificates (a lab whose CA is not at hand)")
}

// warnInsecureSkipVerify says loudly, on every run, what --insecure-skip-verify gives up.
func warnInsecureSkipVerify(w io.Writer) {
	fmt.Fprintln(w, "WARNING: --insecure-skip-verify: broker TLS certificates are NOT verified; anyone on the network path")
	fmt.Fprintln(w, "WARNING: can impersonate the cluster and read or alter what avatar-sync sends. Set caFile on the")
	fmt.Fprintln(w, "WARNING: cluster target instead (avatar-sync certs generate writes ca.crt) and drop this flag.")
}
