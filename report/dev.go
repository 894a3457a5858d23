package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/avatar-project/avatar-sync/internal/printable"
)

// DevUp is what `avatar-sync dev up` serves, for its banner and notes.
type DevUp struct {
	Bootstrap []string
	ClusterID string
	StateDir  string
	// CAFile is the CA clients verify with; "" when the listeners are plaintext.
	CAFile string
	// AdminUser, AdminMechanism: the SCRAM super user of a sasl_plaintext target ("" without SASL);
	// PasswordHint is how a shell gets its password ($VAR or $(cat FILE)), never the password.
	AdminUser, AdminMechanism, PasswordHint string
	// SSLPorts are the spec's SSL ports, not served on plaintext listeners.
	SSLPorts string
	// AutoCreateTopics (--auto-create-topics) creates a topic on first use, with
	// AutoCreatePartitions partitions.
	AutoCreateTopics     bool
	AutoCreatePartitions int
	// Missing are the spec's topics the cluster lacks, of Topics in the spec.
	Missing []string
	Topics  int
	// Unenforced says why the spec's access is not enforced here ("" when it is).
	Unenforced string
	// Apply is the command line that creates the missing topics in this cluster from another
	// terminal ("" = avatar-sync apply).
	Apply string
}

// RenderDevUpJSON writes dev up's `-o json` line (one object, for scripts waiting on the cluster).
func RenderDevUpJSON(w io.Writer, d DevUp) error {
	return json.NewEncoder(w).Encode(map[string]any{
		"bootstrap": d.Bootstrap, "clusterId": d.ClusterID, "stateDir": d.StateDir,
		"tls": d.CAFile != "", "caFile": d.CAFile, "autoCreateTopics": d.AutoCreateTopics,
	})
}

// RenderDevUpText writes dev up's banner to w (its "bootstrap:" line is what scripts wait for) and
// its notes to notes (stderr).
func RenderDevUpText(w, notes io.Writer, d DevUp) error {
	fmt.Fprintf(w, "Embedded Kafka cluster %s: %d brokers, state in %s\n", printable.Text(d.ClusterID), len(d.Bootstrap), printable.Text(d.StateDir))
	fmt.Fprintf(w, "bootstrap: %s\n", strings.Join(d.Bootstrap, ","))
	first := ""
	if len(d.Bootstrap) > 0 {
		first = d.Bootstrap[0]
	}
	switch {
	case d.AdminUser != "":
		protocol, extra := "SASL_PLAINTEXT", ""
		if d.CAFile != "" {
			protocol, extra = "SASL_SSL", " -X ssl.ca.location="+printable.Text(d.CAFile)
		}
		fmt.Fprintf(w, "SASL: every listener asks for SCRAM (SCRAM-SHA-256, SCRAM-SHA-512) and ACLs are enforced; super user %s\n", printable.Text(d.AdminUser))
		fmt.Fprintf(w, "Try: kcat -b %s -X security.protocol=%s%s -X sasl.mechanism=%s -X sasl.username=%s -X sasl.password=\"%s\" -L    (Ctrl-C stops the cluster)\n",
			first, protocol, extra, printable.Text(d.AdminMechanism), printable.Text(d.AdminUser), printable.Text(d.PasswordHint))
	case d.CAFile != "":
		fmt.Fprintf(w, "TLS: every listener serves SSL; verify with %s\n", printable.Text(d.CAFile))
		fmt.Fprintf(w, "Try: kcat -b %s -X security.protocol=ssl -X ssl.ca.location=%s -L    (Ctrl-C stops the cluster)\n", first, printable.Text(d.CAFile))
	default:
		fmt.Fprintf(w, "Try: kcat -b %s -L    (Ctrl-C stops the cluster)\n", first)
		if d.SSLPorts != "" {
			// kfake advertises one address per broker: plaintext and SSL cannot be served together.
			fmt.Fprintf(notes, "Note: the SSL ports %s are not served with --plaintext; without it dev up serves SSL only (docs/tls.md).\n", d.SSLPorts)
		}
	}
	applyLine := d.Apply
	if applyLine == "" {
		applyLine = "avatar-sync apply"
	}
	switch {
	case d.AutoCreateTopics:
		fmt.Fprintf(notes, "Note: --auto-create-topics: a producer creates a missing topic on first use, with %d partition(s) and %d replica(s), as a legacy cluster would; avatar-sync lists such topics as unmanaged (adopt them with import, docs/adoption.md).\n",
			d.AutoCreatePartitions, min(3, len(d.Bootstrap)))
		if len(d.Missing) > 0 {
			fmt.Fprintf(notes, "Note: %d of the spec's %d topics do not exist here yet (%s): run `%s` in another terminal to create them as the spec declares.\n",
				len(d.Missing), d.Topics, strings.Join(d.Missing, ", "), applyLine)
		}
	case len(d.Missing) > 0:
		fmt.Fprintf(notes, "Note: %d of the spec's %d topics do not exist here yet (%s), and topics are not created on first use: run `%s` in another terminal.\n",
			len(d.Missing), d.Topics, strings.Join(d.Missing, ", "), applyLine)
	}
	if d.Unenforced != "" {
		fmt.Fprintf(notes, "Note: %s.\n", d.Unenforced)
	}
	return nil
}
