package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/avatar-project/avatar-sync/certs"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/report"
	"github.com/avatar-project/avatar-sync/spec"
)

// importOptions are the flags of `avatar-sync import` (issue 15).
type importOptions struct {
	cluster   clusterFlags
	bootstrap []string
	out       string
	force     bool
	topics    string
	name      string
}

func newImportCmd(g *globalOptions, s *streams) *cobra.Command {
	o := &importOptions{}
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Write avatar.yaml from a live cluster (adopt a cluster built by hand or by scripts)",
		Long: `import reads a live cluster (brokers, topics with partitions, replication factor and the configs
set on each topic, in human units; SCRAM users without passwords, ACLs and quotas) and writes a spec
that, applied back to the same cluster, plans no change: its first apply only records the topics and
principals in avatar-sync's inventory, so they become managed (and prunable) once they are in a
committed spec. Internal topics and the target's own admin user are skipped. Kafka never returns a
password, so imported users have no passwordEnv: avatar-sync then only checks that they exist; add
passwordEnv to let it set the password. The output is commented: where values came from, what was
left out and why.

Read from --bootstrap HOST:PORT,... (plaintext), or from --cluster NAME, a target of the spec named
by -f with its security settings (TLS, SASL). The spec goes to standard output, or to --out FILE,
which is never overwritten without --force.`,
		Example: `  avatar-sync import --bootstrap localhost:9092 --out avatar.yaml
  avatar-sync import --cluster lab -f old.yaml --topics '^avatar\.' --out avatar.yaml --force`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if err := g.checkOutput("text"); err != nil {
				return err
			}
			byCluster := cmd.Flags().Changed("cluster")
			if byCluster == (len(o.bootstrap) > 0) {
				return errors.New("name the cluster to import: --bootstrap HOST:PORT,... or --cluster NAME (a target of the spec given by -f), not both")
			}
			var filter *regexp.Regexp
			if o.topics != "" {
				if filter, err = regexp.Compile(o.topics); err != nil {
					return fmt.Errorf("--topics %q is not a regular expression: %w", o.topics, err)
				}
			}
			if o.out != "" && !o.force {
				if _, err := os.Lstat(o.out); err == nil {
					return fmt.Errorf("--out %s exists; import never overwrites a file without --force", o.out)
				} else if !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("--out %s: %w", o.out, err)
				}
			}

			var sp *spec.Spec
			opts := reconcile.ImportOptions{Name: o.name, Topics: filter}
			if byCluster {
				if sp, err = loadSpec(cmd.Context(), g, s); err != nil {
					return err
				}
				c, err := targetCluster(g, sp)
				if err != nil {
					return err
				}
				opts.Target = reconcile.ImportTarget(c, o.out)
				opts.Source = fmt.Sprintf("target %s of %s", c.Name, g.file)
				if c.CertFile != "" {
					// Who avatar-sync is on an mTLS cluster: never imported, like a SASL admin.
					if opts.CertSubject, err = certs.SubjectOfCertFile(c.CertFile); err != nil {
						return fmt.Errorf("clusters.%s.certFile: %w", c.Name, err)
					}
				}
				if !cmd.Flags().Changed("name") {
					opts.Name = sp.Metadata.Name
				}
			} else {
				for _, b := range o.bootstrap {
					if strings.TrimSpace(b) == "" {
						return errors.New("--bootstrap has an empty entry: give HOST:PORT[,HOST:PORT]")
					}
				}
				opts.Target = spec.Cluster{Name: o.name, Bootstrap: o.bootstrap, Security: spec.SecurityPlaintext}
				opts.Source = strings.Join(o.bootstrap, ",")
				sp = &spec.Spec{Clusters: []spec.Cluster{opts.Target}}
				g.cluster = o.name
			}

			o.cluster.readOnly = true // import only reads
			t, err := openTarget(cmd.Context(), g, s, sp, o.cluster)
			if err != nil {
				return err
			}
			defer closeTarget(t, &err)
			doc, err := t.Import(cmd.Context(), opts)
			if err != nil {
				return err
			}
			data := spec.Encode(doc)
			// The written spec must load: a file that import writes but validate refuses would be
			// a trap for the person about to commit it.
			if _, diags := spec.Parse(cmpOrStdout(o.out), data); len(diags.Errors()) > 0 {
				return fmt.Errorf("the imported spec does not validate (a broker down, so fewer brokers than replicas? an invalid --name?); nothing was written: %w", diags.Errors().Err())
			}
			if o.out == "" {
				_, err = s.out.Write(data)
				return err
			}
			if err := spec.WriteFile(o.out, data, o.force); errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("--out %s exists; import never overwrites a file without --force", o.out)
			} else if err != nil {
				return err
			}
			return report.RenderImportSummary(s.err, o.out, doc, opts.Target.Name)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.bootstrap, "bootstrap", nil, "HOST:PORT,... of the cluster to read (plaintext)")
	f.StringVar(&o.out, "out", "", "write the spec to this file (default: standard output)")
	f.BoolVar(&o.force, "force", false, "overwrite --out when it exists")
	f.StringVar(&o.topics, "topics", "", "import only topics whose name matches this regular expression")
	f.StringVar(&o.name, "name", "imported", "metadata.name of the spec, and the target name with --bootstrap")
	o.cluster.bind(f)
	return cmd
}

func cmpOrStdout(out string) string {
	if out == "" {
		return spec.StdinName
	}
	return out
}
