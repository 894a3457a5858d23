package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
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

func runCertsGenerate(ctx context.Context, g *globalOptions, s *streams, o *certsGenerateOptions, verb string) error {
	if err := g.checkOutput("text", "json"); err != nil {
		return err
	}
	sp, err := certsSpec(ctx, g, s)
	if err != nil {
		return err
	}
	rep, err := certs.Run(ctx, sp, certs.RunOptions{
		Verb: verb, Now: certsClock(), Rand: rand.Reader, Getenv: os.Getenv,
		Force: o.force, RotateCA: o.rotateCA, DropPreviousCA: o.dropPreviousCA, DryRun: o.dryRun,
	})
	if err != nil {
		return err
	}
	if g.output == "json" {
		return certs.RenderGenerateJSON(s.out, rep)
	}
	return certs.RenderGenerateText(s.out, s.err, rep)
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
			rep, err := certs.Inspect(sp, at, os.Getenv, rand.Reader)
			if err != nil {
				return err
			}
			if g.output == "json" {
				err = certs.RenderInspectJSON(s.out, rep)
			} else {
				err = certs.RenderStatus(s.out, rep.Certificates)
			}
			if err != nil {
				return err
			}
			if err := rep.Problem(); err != nil {
				return withExitCode(exitError, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.at, "at", "", "judge expiry as of this date (2006-01-02 or RFC 3339) instead of now")
	return cmd
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
