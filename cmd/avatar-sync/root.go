package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// streams are the process's standard streams, injected so tests can run commands in-process.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// The defaults of -f and --cluster.
const (
	defaultSpecFile = "avatar.yaml"
	defaultTarget   = "embedded"
)

// globalOptions are the flags every command shares.
type globalOptions struct {
	file    string
	cluster string
	output  string
	noColor bool
	verbose int
}

// color reports whether output may use ANSI colours: not with --no-color, NO_COLOR, or -o json.
func (g *globalOptions) color(w io.Writer) bool {
	if g.noColor || os.Getenv("NO_COLOR") != "" || g.output != "text" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// checkOutput rejects -o values the command does not support, naming the flag.
func (g *globalOptions) checkOutput(allowed ...string) error {
	for _, a := range allowed {
		if g.output == a {
			return nil
		}
	}
	return fmt.Errorf("-o/--output %q is not supported by this command (use one of %v)", g.output, allowed)
}

// fleetCommands take a comma-separated --cluster list (a fleet, issue 20).
var fleetCommands = map[string]bool{"plan": true, "apply": true, "status": true, "watch": true}

// checkClusterList refuses --cluster a,b for a command that acts on one target.
func checkClusterList(cmd *cobra.Command, cluster string) error {
	if !strings.Contains(cluster, ",") || fleetCommands[cmd.Name()] && cmd.Parent() == cmd.Root() {
		return nil
	}
	return fmt.Errorf("--cluster %q: %s acts on one target; a comma-separated list of targets is taken by plan, apply, status and watch", cluster, cmd.CommandPath())
}

func newRootCmd(s *streams) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "avatar-sync",
		Short: "Own the Avatar Kafka cluster declaratively from avatar.yaml",
		Long: `avatar-sync validates avatar.yaml, renders Kubernetes and Docker Compose deployments from it,
plans and applies topic changes against a live or embedded Kafka cluster, manages TLS material and
probes the lab's devices (EEG headset, Tello drones).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return checkClusterList(cmd, g.cluster)
		},
	}
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	pf := root.PersistentFlags()
	pf.StringVarP(&g.file, "file", "f", defaultSpecFile, "path to the spec file")
	pf.StringVar(&g.cluster, "cluster", defaultTarget, "target cluster (a name under clusters: in the spec); plan, apply, status and watch take a comma-separated list (a fleet: dev,lab)")
	pf.StringVarP(&g.output, "output", "o", "text", "output format: text|json (some commands also markdown)")
	pf.BoolVar(&g.noColor, "no-color", false, "disable colour (also honoured: NO_COLOR)")
	pf.CountVarP(&g.verbose, "verbose", "v", "more logging on stderr (repeat for more)")

	root.AddCommand(
		newCertsCmd(g, s),
		newVersionCmd(g, s),
		newDevCmd(g, s),
		newValidateCmd(g, s),
		newSchemaCmd(g, s),
		newPlanCmd(g, s),
		newApplyCmd(g, s),
		newWatchCmd(g, s),
		newCheckCmd(g, s),
		newRenderCmd(g, s),
		newUnlockCmd(g, s),
		newImportCmd(g, s),
		newExplainCmd(g, s),
		newConfigCmd(g, s),
		newStatusCmd(g, s),
		newVerifyCmd(g, s),
	)
	registerCompletions(root, g)
	return root
}
