package reconcile

import (
	"path/filepath"

	"github.com/avatar-project/avatar-sync/spec"
)

// ImportTarget is the target an imported spec (written to out, "" for stdout) carries for the
// cluster c it was read from: c's files rewritten relative to the directory of the written spec
// (the loaded spec resolved them against its own directory, and the new file may live elsewhere),
// and without its kubernetes: block (deployment settings describe how the spec is rendered, not
// where it came from).
func ImportTarget(c spec.Cluster, out string) spec.Cluster {
	base := "."
	if out != "" {
		base = filepath.Dir(out)
	}
	rel := func(p *string) {
		if *p == "" {
			return
		}
		abs, err1 := filepath.Abs(*p)
		absBase, err2 := filepath.Abs(base)
		if err1 != nil || err2 != nil {
			return
		}
		if r, err := filepath.Rel(absBase, abs); err == nil {
			*p = r
		}
	}
	rel(&c.CAFile)
	rel(&c.CertFile)
	rel(&c.KeyFile)
	if c.SASL != nil {
		sasl := *c.SASL
		rel(&sasl.PasswordFile)
		c.SASL = &sasl
	}
	c.Kubernetes = nil
	return c
}
