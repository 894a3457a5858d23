package report

import (
	"fmt"
	"io"

	"github.com/avatar-project/avatar-sync/spec"
)

// RenderImportSummary says what `import --out` wrote to out and what to run next against target.
func RenderImportSummary(w io.Writer, out string, doc spec.Document, target string) error {
	access := ""
	if sp := doc.Spec; len(sp.Users)+len(sp.ACLs)+len(sp.Quotas) > 0 {
		access = fmt.Sprintf(", %d users (no passwords), %d ACL entries, %d quotas", len(sp.Users), len(sp.ACLs), len(sp.Quotas))
	}
	_, err := fmt.Fprintf(w, "Wrote %s: %d topics, %d brokers%s, target %s. Next: avatar-sync plan -f %s --cluster %s\n",
		out, len(doc.Spec.Topics), len(doc.Spec.Brokers), access, target, out, target)
	return err
}
