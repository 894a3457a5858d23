package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/report"
)

type verifyOptions struct {
	cluster     clusterFlags
	topics      []string
	produceOnly bool
	timeout     time.Duration
}

func newVerifyCmd(g *globalOptions, s *streams) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Prove each topic carries data end to end: produce a probe record and read it back",
		Long: `verify writes one probe record to every partition of every managed topic (or of --topics),
with acks=all, and reads each one back from its leader, reporting per partition the produce and
round-trip latency (issue 13). It then commits the records' offsets in a consumer group of its own,
avatar-sync-verify-<host>-<random>, reads them back (the offset-commit check) and deletes the
group; it touches no other group's offsets. Its requests grow with the brokers, not the partitions.

Probe records carry the header "avatar-sync-probe" (value: the run's group name) so the lab's
consumers can skip them; their value is a small JSON object naming the probe. Use --produce-only
for topics whose consumers must not see probes read back (no group is created then).

Exit 0 when every partition passed, 1 otherwise, naming the topic and partition.`,
		Example: `  avatar-sync verify --cluster microk8s
  avatar-sync verify --topics eeg-brainwave-data,drone-commands --produce-only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if err := g.checkOutput("text", "json"); err != nil {
				return err
			}
			ctx := cmd.Context()
			sp, err := loadSpec(ctx, g, s)
			if err != nil {
				return err
			}
			names := o.topics
			if len(names) == 0 {
				for _, t := range sp.Topics {
					names = append(names, t.Name)
				}
			}
			if len(names) == 0 {
				return fmt.Errorf("%s names no topics to verify; pass --topics", g.file)
			}
			// The embedded cluster's state is not written: probe records are not worth keeping.
			o.cluster.readOnly = true
			t, err := openTarget(ctx, g, s, sp, o.cluster)
			if err != nil {
				return err
			}
			defer closeTarget(t, &err)
			rep, err := t.Probe(ctx, names, clusters.ProbeOptions{ProduceOnly: o.produceOnly, Timeout: o.timeout})
			if err != nil {
				return err
			}
			if g.output == "json" {
				err = report.RenderProbeJSON(s.out, rep)
			} else {
				err = report.RenderProbeText(s.out, rep, g.color(s.out))
			}
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				// issue 21: Ctrl-C is an interrupt, not a failing cluster; the report above shows
				// what came back before it, and the group was deleted on a fresh context.
				return fmt.Errorf("verify interrupted (%w): %s", err, report.ProbeLeftBehind(rep))
			}
			if !rep.OK {
				return withExitCode(exitError, nil)
			}
			return nil
		},
	}
	f := cmd.Flags()
	o.cluster.bind(f)
	f.StringSliceVar(&o.topics, "topics", nil, "verify only these topics (comma-separated; default: every topic in the spec)")
	f.BoolVar(&o.produceOnly, "produce-only", false, "only write the probe records; read nothing back and create no group")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "how long to wait for each record to come back")
	return cmd
}
