package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/internal/printable"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/report"
	"github.com/avatar-project/avatar-sync/session"
	"github.com/avatar-project/avatar-sync/spec"
)

// devUpOptions are the flags of `dev up`.
type devUpOptions struct {
	stateDir         string
	ports            []int
	plaintext        bool
	autoCreateTopics bool
}

// newDevCmd groups the local-development commands.
func newDevCmd(g *globalOptions, s *streams) *cobra.Command {
	dev := &cobra.Command{
		Use:   "dev",
		Short: "Local development helpers (an embedded Kafka cluster)",
	}
	dev.AddCommand(newDevUpCmd(g, s))
	return dev
}

func newDevUpCmd(g *globalOptions, s *streams) *cobra.Command {
	o := &devUpOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Serve the embedded cluster on the spec's SSL (or plaintext) ports until Ctrl-C",
		Long: `dev up runs the embedded Kafka cluster as a long-lived server on the plaintext ports of the spec's
brokers (9092-9094 in examples/avatar.yaml), so kcat, a Python producer or the ML service can use it.
It serves the --cluster target (default embedded), which must have no bootstrap:; its security
(sasl_plaintext: SCRAM and ACLs) and overrides apply. State lives in --state-dir and is shared with
plan/apply: while dev up runs, plan and apply against that target talk to it. Ctrl-C or SIGTERM stops
it cleanly, saving the state.

With tls.enabled the cluster serves TLS only, on the brokers' SSL ports (9192-9194), each port with its
broker's certificate from tls.dir (run avatar-sync certs generate first); clients verify with ca.crt.
The embedded cluster advertises one address per broker, so it cannot also serve the plaintext ports;
--plaintext serves those instead (docs/tls.md).

The brokers carry the spec's ids and racks. Like the rendered brokers it creates no topic on first use;
--auto-create-topics does, as a legacy cluster with auto.create.topics.enable=true would.`,
		Example: `  avatar-sync dev up
  kcat -b 127.0.0.1:9192 -X security.protocol=ssl -X ssl.ca.location=ssl-certs/ca.crt -L
  avatar-sync dev up --plaintext && kcat -b 127.0.0.1:9092 -L`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.checkOutput("text", "json"); err != nil {
				return err
			}
			sp, err := loadSpec(cmd.Context(), g, s)
			if err != nil {
				return err
			}
			return runDevUp(cmd.Context(), g, s, sp, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.stateDir, "state-dir", clusters.DefaultStateDir, "where the embedded cluster keeps its state")
	f.IntSliceVar(&o.ports, "ports", nil, "listener ports, one per broker (default: the brokers' SSL ports with tls.enabled, else plaintext ports; 0 = any free port)")
	f.BoolVar(&o.plaintext, "plaintext", false, "serve the plaintext ports even when tls.enabled is true")
	f.BoolVar(&o.autoCreateTopics, "auto-create-topics", false, "create a topic on first use (a producer's metadata request), as a legacy cluster with auto.create.topics.enable=true does; off by default, like the rendered brokers")
	return cmd
}

// runDevUp serves until ctx ends (main cancels it on SIGINT/SIGTERM), then stops and saves.
// With tls.enabled it serves TLS on the SSL ports (devListeners, dev_tls.go).
func runDevUp(ctx context.Context, g *globalOptions, s *streams, sp *spec.Spec, o *devUpOptions) error {
	target, err := clusters.DevTarget(sp, g.cluster)
	if err != nil {
		return err
	}
	eo, caFile, expiring, err := devListeners(sp, o, time.Now())
	if err != nil {
		return err
	}
	for _, e := range expiring {
		fmt.Fprintf(s.err, "Warning: serving %s; run `avatar-sync certs generate -f %s` and restart dev up before clients reject it.\n", printable.Text(e), printable.Text(g.file))
	}
	eo.Advertise = true // plan/apply in other processes join this cluster
	eo.AutoCreateTopics = o.autoCreateTopics
	// An embedded target with security: sasl_plaintext enforces what the spec declares: SASL SCRAM
	// and ACLs, its sasl user the super user (issue 14).
	if eo.Admin, err = clusters.EmbeddedAdminOf(target); err != nil {
		return fmt.Errorf("cluster %q: %w", target.Name, err)
	}
	e, err := clusters.StartEmbedded(ctx, sp, eo)
	if err != nil {
		return err
	}
	// Looked up before the banner, so whoever waits for the bootstrap line sees the cluster as it
	// was when the note was written.
	missing := session.MissingTopics(ctx, e, sp, target.Name)
	d := report.DevUp{Bootstrap: e.Bootstrap(), ClusterID: e.ClusterID(), StateDir: o.stateDir, CAFile: caFile,
		AutoCreateTopics: o.autoCreateTopics, AutoCreatePartitions: clusters.AutoCreatePartitions, Missing: missing, Topics: len(sp.Topics),
		Apply: devApplyCommand(g, target.Name, o.stateDir)}
	if g.output == "json" {
		_ = report.RenderDevUpJSON(s.out, d)
	} else {
		if eo.Admin != nil {
			d.AdminUser, d.AdminMechanism, d.PasswordHint = eo.Admin.User, eo.Admin.Mechanism, passwordHint(target.SASL)
		}
		if caFile == "" {
			d.SSLPorts = clusters.SSLPorts(sp)
		}
		if a, ok := reconcile.UnenforcedAccess(sp, target.Name); ok {
			d.Unenforced = a.Reason
		}
		_ = report.RenderDevUpText(s.out, s.err, d)
	}
	<-ctx.Done()
	if err := e.Close(); err != nil {
		return fmt.Errorf("stop embedded cluster: %w", err)
	}
	if g.output != "json" {
		fmt.Fprintf(s.err, "Stopped; state saved in %s\n", printable.Text(o.stateDir))
	}
	return nil
}

// passwordHint is how the banner's kcat line gets the password without printing it: the
// variable or the file it is read from.
func passwordHint(sasl *spec.SASL) string {
	if sasl.PasswordEnv != "" {
		return "$" + sasl.PasswordEnv
	}
	return "$(cat " + sasl.PasswordFile + ")"
}

// devApplyCommand is the apply that reaches this dev up's cluster from another terminal: apply joins
// a running dev up through its state directory, so the line names --state-dir, the spec and the
// target whenever they are not the defaults (a bare `avatar-sync apply` used to start a cluster of
// its own in the default state directory and leave this one empty).
func devApplyCommand(g *globalOptions, target, stateDir string) string {
	args := []string{"avatar-sync", "apply"}
	if g.file != defaultSpecFile {
		args = append(args, "-f", g.file)
	}
	if target != defaultTarget {
		args = append(args, "--cluster", target)
	}
	if stateDir != clusters.DefaultStateDir {
		args = append(args, "--state-dir", stateDir)
	}
	return shellLine(args...)
}

// shellLine joins a command line to print for the user to copy: a word a shell would split or
// expand is single-quoted, and control characters are escaped (printable.Text).
func shellLine(words ...string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = w
		if w == "" || strings.ContainsFunc(w, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:,=@+%", r))
		}) {
			quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
	}
	return printable.Text(strings.Join(quoted, " "))
}
