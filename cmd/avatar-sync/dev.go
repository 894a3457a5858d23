package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/internal/printable"
	"github.com/avatar-project/avatar-sync/reconcile"
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

// devPorts picks one port per broker: the flag if given, else each broker's plaintext port, else
// Kafka's usual 9092 upwards.
func devPorts(sp *spec.Spec, flag []int) ([]int, error) {
	n := len(sp.Brokers)
	if n == 0 {
		n = 3 // the embedded cluster's default, as in clusters.StartEmbedded
	}
	if len(flag) > 0 {
		if len(flag) != n {
			return nil, fmt.Errorf("--ports: %d ports for %d brokers", len(flag), n)
		}
		return flag, distinctPorts(flag, "--ports")
	}
	ports := make([]int, n)
	for i := range ports {
		ports[i] = 9092 + i
		if i < len(sp.Brokers) && sp.Brokers[i].Ports.Plaintext > 0 {
			ports[i] = sp.Brokers[i].Ports.Plaintext
		}
	}
	return ports, distinctPorts(ports, "plaintext")
}

// distinctPorts refuses brokers that share a port: avatar.yaml allows it for brokers on different
// hosts (issue 15), but dev up serves every broker on this machine. 0 (any free port) may repeat.
func distinctPorts(ports []int, listener string) error {
	first := map[int]int{}
	for i, p := range ports {
		if p == 0 {
			continue // any free port
		}
		if j, dup := first[p]; dup && listener == "--ports" {
			return fmt.Errorf("--ports: port %d is given twice; each broker needs its own", p)
		} else if dup {
			return fmt.Errorf("brokers[%d] and brokers[%d] both use %s port %d; dev up serves every broker on this machine, so pass --ports with one port per broker", j, i, listener, p)
		}
		first[p] = i
	}
	return nil
}

// sslPorts lists the spec's SSL listener ports, so dev up can say they are not served.
func sslPorts(sp *spec.Spec) string {
	var ports []string
	for _, b := range sp.Brokers {
		if b.Ports.SSL > 0 {
			ports = append(ports, fmt.Sprint(b.Ports.SSL))
		}
	}
	return strings.Join(ports, ",")
}

// devTarget is the --cluster target dev up serves. Any target without bootstrap: is embedded, so a
// spec may keep a `laptop` target with its own security and overrides beside `embedded`; a target
// that names brokers elsewhere is refused rather than quietly replaced by the embedded one.
func devTarget(sp *spec.Spec, name string) (spec.Cluster, error) {
	target, err := sp.Target(name)
	if err != nil {
		return spec.Cluster{}, fmt.Errorf("--cluster %w", err)
	}
	if !target.Embedded() {
		return spec.Cluster{}, fmt.Errorf("--cluster %s: dev up serves an embedded target (one without bootstrap:), and clusters.%s points at brokers that run elsewhere (%s); pass --cluster %s or another target without bootstrap",
			printable.Text(name), printable.Text(name), printable.Text(strings.Join(target.Bootstrap, ",")), spec.EmbeddedCluster)
	}
	return target, nil
}

// runDevUp serves until ctx ends (main cancels it on SIGINT/SIGTERM), then stops and saves.
// With tls.enabled it serves TLS on the SSL ports (devListeners, dev_tls.go).
func runDevUp(ctx context.Context, g *globalOptions, s *streams, sp *spec.Spec, o *devUpOptions) error {
	target, err := devTarget(sp, g.cluster)
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
	missing := missingTopics(ctx, e, sp, target.Name)
	bootstrap := strings.Join(e.Bootstrap(), ",")
	if g.output == "json" {
		_ = json.NewEncoder(s.out).Encode(map[string]any{
			"bootstrap": e.Bootstrap(), "clusterId": e.ClusterID(), "stateDir": o.stateDir,
			"tls": caFile != "", "caFile": caFile, "autoCreateTopics": o.autoCreateTopics,
		})
	} else {
		fmt.Fprintf(s.out, "Embedded Kafka cluster %s: %d brokers, state in %s\n", printable.Text(e.ClusterID()), len(e.Bootstrap()), printable.Text(o.stateDir))
		fmt.Fprintf(s.out, "bootstrap: %s\n", bootstrap)
		if eo.Admin != nil {
			protocol, extra := "SASL_PLAINTEXT", ""
			if caFile != "" {
				protocol, extra = "SASL_SSL", " -X ssl.ca.location="+printable.Text(caFile)
			}
			fmt.Fprintf(s.out, "SASL: every listener asks for SCRAM (SCRAM-SHA-256, SCRAM-SHA-512) and ACLs are enforced; super user %s\n", printable.Text(eo.Admin.User))
			fmt.Fprintf(s.out, "Try: kcat -b %s -X security.protocol=%s%s -X sasl.mechanism=%s -X sasl.username=%s -X sasl.password=\"%s\" -L    (Ctrl-C stops the cluster)\n",
				e.Bootstrap()[0], protocol, extra, printable.Text(eo.Admin.Mechanism), printable.Text(eo.Admin.User), printable.Text(passwordHint(target.SASL)))
		} else if caFile != "" {
			fmt.Fprintf(s.out, "TLS: every listener serves SSL; verify with %s\n", printable.Text(caFile))
			fmt.Fprintf(s.out, "Try: kcat -b %s -X security.protocol=ssl -X ssl.ca.location=%s -L    (Ctrl-C stops the cluster)\n", e.Bootstrap()[0], printable.Text(caFile))
		} else {
			fmt.Fprintf(s.out, "Try: kcat -b %s -L    (Ctrl-C stops the cluster)\n", e.Bootstrap()[0])
			if ssl := sslPorts(sp); ssl != "" {
				// kfake advertises one address per broker: plaintext and SSL cannot be served together.
				fmt.Fprintf(s.err, "Note: the SSL ports %s are not served with --plaintext; without it dev up serves SSL only (docs/tls.md).\n", ssl)
			}
		}
	}
	switch {
	case g.output == "json":
	case o.autoCreateTopics:
		fmt.Fprintf(s.err, "Note: --auto-create-topics: a producer creates a missing topic on first use, with %d partition(s) and %d replica(s), as a legacy cluster would; avatar-sync lists such topics as unmanaged (adopt them with import, docs/adoption.md).\n",
			clusters.AutoCreatePartitions, min(3, len(e.Bootstrap())))
		if len(missing) > 0 {
			fmt.Fprintf(s.err, "Note: %d of the spec's %d topics do not exist here yet (%s): run `avatar-sync apply` in another terminal to create them as the spec declares.\n",
				len(missing), len(sp.Topics), strings.Join(missing, ", "))
		}
	case len(missing) > 0:
		fmt.Fprintf(s.err, "Note: %d of the spec's %d topics do not exist here yet (%s), and topics are not created on first use: run `avatar-sync apply` in another terminal.\n",
			len(missing), len(sp.Topics), strings.Join(missing, ", "))
	}
	if a, ok := reconcile.UnenforcedAccess(sp, target.Name); ok && g.output != "json" {
		fmt.Fprintf(s.err, "Note: %s.\n", a.Reason)
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

// missingTopics lists the spec's topics the cluster lacks. Like the rendered brokers
// (auto.create.topics.enable=false) the embedded cluster never creates a topic on first use, so a
// producer started against a fresh dev up waits on a missing topic with no hint of why. cmd reads
// no cluster itself (issue 20): the planner's topic creates are the answer. Best effort: a failure
// to look is not worth stopping the server for.
func missingTopics(ctx context.Context, e *clusters.Embedded, sp *spec.Spec, target string) []string {
	if len(sp.Topics) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	a, err := e.Connect(ctx, clusters.Options{})
	if err != nil {
		return nil
	}
	defer a.Close()
	p, err := (&reconcile.Planner{Cluster: a, Target: target}).Plan(ctx, sp, reconcile.PlanOptions{})
	if err != nil {
		return nil
	}
	creates := map[string]bool{}
	for _, c := range p.Changes {
		if c.Kind == reconcile.KindTopic && c.Action == reconcile.Create {
			creates[c.Name] = true
		}
	}
	var missing []string // in the spec's order, as the user wrote them
	for _, t := range sp.Topics {
		if creates[t.Name] {
			missing = append(missing, t.Name)
		}
	}
	return missing
}

// passwordHint is how the banner's kcat line gets the password without printing it: the
// variable or the file it is read from.
func passwordHint(sasl *spec.SASL) string {
	if sasl.PasswordEnv != "" {
		return "$" + sasl.PasswordEnv
	}
	return "$(cat " + sasl.PasswordFile + ")"
}
