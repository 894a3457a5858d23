package clusters

import (
	"fmt"
	"strings"

	"github.com/avatar-project/avatar-sync/internal/printable"
	"github.com/avatar-project/avatar-sync/spec"
)

// What `avatar-sync dev up` serves the embedded cluster on (issue 20: cmd keeps the flags).

// DevTarget is the --cluster target dev up serves. Any target without bootstrap: is embedded, so a
// spec may keep a `laptop` target with its own security and overrides beside `embedded`; a target
// that names brokers elsewhere is refused rather than quietly replaced by the embedded one.
func DevTarget(sp *spec.Spec, name string) (spec.Cluster, error) {
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

// DevPorts picks one plaintext port per broker: flag (--ports) if given, else each broker's
// plaintext port, else Kafka's usual 9092 upwards.
func DevPorts(sp *spec.Spec, flag []int) ([]int, error) {
	n := len(sp.Brokers)
	if n == 0 {
		n = 3 // the embedded cluster's default, as in StartEmbedded
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

// DevSSLPorts picks one port per broker: flag (--ports) if given, else each broker's SSL port.
func DevSSLPorts(sp *spec.Spec, flag []int) ([]int, error) {
	if len(flag) > 0 {
		if len(flag) != len(sp.Brokers) {
			return nil, fmt.Errorf("--ports: %d ports for %d brokers", len(flag), len(sp.Brokers))
		}
		return flag, distinctPorts(flag, "--ports")
	}
	ports := make([]int, len(sp.Brokers))
	for i, b := range sp.Brokers {
		if b.Ports.SSL == 0 {
			return nil, fmt.Errorf("brokers[%d] (%s) has no ports.ssl but tls.enabled is true; add one, or run dev up --plaintext", i, b.Host)
		}
		ports[i] = b.Ports.SSL
	}
	return ports, distinctPorts(ports, "ssl")
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

// SSLPorts lists the spec's SSL listener ports ("9192,9193"), so dev up can say they are not served.
func SSLPorts(sp *spec.Spec) string {
	var ports []string
	for _, b := range sp.Brokers {
		if b.Ports.SSL > 0 {
			ports = append(ports, fmt.Sprint(b.Ports.SSL))
		}
	}
	return strings.Join(ports, ",")
}
