package render

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/avatar-project/avatar-sync/spec"
)

// Property is one key=value line of a broker's server.properties.
type Property struct{ Key, Value string }

// network says how brokers find each other and how clients find them in one kind of deployment;
// Kubernetes and Compose differ only here, so both get the same properties otherwise.
type network struct {
	// internalHost is what the INTERNAL listener advertises (in-cluster clients, replication).
	internalHost func(b broker) string
	// voterHost is how controllers reach each other.
	voterHost func(b broker) string
	// externalHost is what PLAINTEXT and SSL advertise: the address outside clients dial.
	externalHost func(b broker) string
}

// envRef is a Kafka config-provider reference to an environment variable, resolved by the broker at
// start-up (KIP-421 providers, EnvVarConfigProvider from KIP-887). It keeps the password out of the
// ConfigMap and lets the base stay free of namespace- and host-specific values.
func envRef(name string) string { return "${env:" + name + "}" }

// Environment variables the broker container receives and the properties reference.
const (
	envExternalHost = "KAFKA_EXTERNAL_HOST"
	envNamespace    = "POD_NAMESPACE"
	envClusterID    = "CLUSTER_ID"
	envTLSPassword  = "KAFKA_TLS_PASSWORD"
	// envSASLAdminPassword is read by the start script only (kafka-storage format --add-scram);
	// no property references it, so the broker process never needs it.
	envSASLAdminPassword = "KAFKA_SASL_ADMIN_PASSWORD"
)

// SCRAMMechanisms are the SASL mechanisms the SASL_SSL listener offers: both, so a users: entry of
// either mechanism can log in once apply created its credential (a mechanism without credentials
// lets nobody in).
var SCRAMMechanisms = []string{spec.MechanismSCRAM256, spec.MechanismSCRAM512}

// scramLoginModule is the broker side of SCRAM: it needs no user name or password because no broker
// logs in to another over SASL (INTERNAL and CONTROLLER are SSL with client certificates).
const scramLoginModule = "org.apache.kafka.common.security.scram.ScramLoginModule required;"

// brokerProperties computes a broker's configuration. Topics are deliberately absent: avatar-sync
// apply owns them, so automatic topic creation is off.
func (m *model) brokerProperties(b broker, net network) []Property {
	rf := min(3, len(m.brokers))
	isr := min(2, rf)
	roles := "broker"
	if b.voter {
		roles = "broker,controller"
	}
	var voters []string
	for _, v := range m.voters() {
		voters = append(voters, fmt.Sprintf("%d@%s:%d", v.ID, net.voterHost(v), v.controller))
	}
	listeners := []string{fmt.Sprintf("%s://:%d", ListenerInternal, b.internal)}
	advertised := []string{fmt.Sprintf("%s://%s:%d", ListenerInternal, net.internalHost(b), b.internal)}
	protocols := map[string]string{ListenerInternal: "PLAINTEXT", ListenerController: "PLAINTEXT"}
	if m.internalTLS() {
		protocols[ListenerInternal], protocols[ListenerController] = "SSL", "SSL"
	}
	if b.voter {
		listeners = append(listeners, fmt.Sprintf("%s://:%d", ListenerController, b.controller))
	}
	for _, p := range m.externalPorts(b) {
		listeners = append(listeners, fmt.Sprintf("%s://:%d", p.listener, p.port))
		advertised = append(advertised, fmt.Sprintf("%s://%s:%d", p.listener, net.externalHost(b), p.port))
		protocols[p.listener] = p.listener // PLAINTEXT→PLAINTEXT, SSL→SSL
	}
	var protoMap []string
	for _, name := range sortedKeys(protocols) {
		protoMap = append(protoMap, name+":"+protocols[name])
	}

	props := []Property{
		{"process.roles", roles},
		{"node.id", fmt.Sprint(b.ID)},
		{"controller.quorum.voters", strings.Join(voters, ",")},
		{"controller.listener.names", ListenerController},
		{"listeners", strings.Join(listeners, ",")},
		{"advertised.listeners", strings.Join(advertised, ",")},
		{"listener.security.protocol.map", strings.Join(protoMap, ",")},
		{"inter.broker.listener.name", ListenerInternal},
		{"config.providers", "env"},
		{"config.providers.env.class", "org.apache.kafka.common.config.provider.EnvVarConfigProvider"},
		{"log.dirs", logDir},
		{"auto.create.topics.enable", "false"},
		{"default.replication.factor", fmt.Sprint(rf)},
		{"offsets.topic.replication.factor", fmt.Sprint(rf)},
		{"transaction.state.log.replication.factor", fmt.Sprint(rf)},
		{"transaction.state.log.min.isr", fmt.Sprint(isr)},
		{"group.initial.rebalance.delay.ms", "3000"},
	}
	if b.Rack != "" {
		props = append(props, Property{"broker.rack", b.Rack})
	}
	if m.tls {
		ks, ts := m.keystoreFiles(b)
		pw := envRef(envTLSPassword)
		props = append(props,
			Property{"ssl.keystore.type", m.keystoreType},
			Property{"ssl.keystore.location", secretsDir + "/" + ks})
		if m.keystoreType == spec.KeystorePEM {
			// Kafka rejects a store password for PEM files, and a key password for an unencrypted key.
			props = append(props,
				Property{"ssl.truststore.type", m.keystoreType},
				Property{"ssl.truststore.location", secretsDir + "/" + ts})
		} else {
			props = append(props,
				Property{"ssl.keystore.password", pw},
				Property{"ssl.key.password", pw},
				Property{"ssl.truststore.type", m.keystoreType},
				Property{"ssl.truststore.location", secretsDir + "/" + ts},
				Property{"ssl.truststore.password", pw})
		}
		// Clients listed under tls.clients get certificates; ask for them, but keep CA-only clients working.
		auth := "none"
		if len(m.spec.TLS.Clients) > 0 {
			auth = "requested"
		}
		props = append(props, Property{"ssl.client.auth", auth})
		if m.internalTLS() {
			// Brokers and controllers prove who they are to each other with their certificates (the
			// same keystore serves the client side), so nothing reaches INTERNAL or CONTROLLER
			// without one signed by the CA (issue 14, tls.internal).
			props = append(props,
				Property{"listener.name." + strings.ToLower(ListenerInternal) + ".ssl.client.auth", "required"},
				Property{"listener.name." + strings.ToLower(ListenerController) + ".ssl.client.auth", "required"})
		}
	}
	if m.saslAdmin != nil {
		// Per-listener JAAS, as Kafka's documentation configures SCRAM brokers:
		// listener.name.<listener>.<mechanism>.sasl.jaas.config. The SASL_SSL listener ignores
		// ssl.client.auth (KIP-684: only a listener-prefixed setting applies to it), so SCRAM clients
		// need no certificate while mTLS principals keep using the SSL listener.
		props = append(props, Property{"sasl.enabled.mechanisms", strings.Join(SCRAMMechanisms, ",")})
		for _, mech := range SCRAMMechanisms {
			props = append(props, Property{"listener.name." + strings.ToLower(ListenerSASLSSL) + "." + strings.ToLower(mech) + ".sasl.jaas.config", scramLoginModule})
		}
	}
	if m.authorizes() {
		props = append(props,
			Property{"authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"},
			Property{"super.users", strings.Join(m.superUsers(), ";")})
	}
	return props
}

// authorizes reports whether the rendered brokers enforce ACLs: when the spec declares access
// control or a SCRAM admin (SASL listeners), and the brokers authenticate each other by
// certificate (tls.internal). Without tls.internal the brokers would be User:ANONYMOUS to each
// other, and making ANONYMOUS a super user would make every plaintext client one: access control is
// then not rendered (docs/access.md), and SASL listeners are refused (newModel).
func (m *model) authorizes() bool {
	s := m.spec
	return m.internalTLS() && (m.saslAdmin != nil || len(s.Users)+len(s.Services)+len(s.ACLs)+len(s.Quotas) > 0)
}

// superUsers are the brokers (their certificates' subjects, as certs generate issues them),
// kafka.superUsers, the SCRAM admin (kafka.sasl) and every target's SASL user, sorted and without
// duplicates.
func (m *model) superUsers() []string {
	set := map[string]bool{}
	for _, b := range m.brokers {
		set["User:CN="+b.Host+",O=avatar-sync"] = true
	}
	for _, p := range m.spec.Kafka.SuperUsers {
		set[p] = true
	}
	if m.saslAdmin != nil {
		set["User:"+m.saslAdmin.Username] = true
	}
	for _, c := range m.spec.Clusters {
		if c.SASL != nil && c.SASL.Username != "" {
			set["User:"+c.SASL.Username] = true
		}
	}
	return sortedKeys(set)
}

// internalTLS reports whether the INTERNAL and CONTROLLER listeners serve TLS (tls.internal).
func (m *model) internalTLS() bool { return m.tls && m.spec.TLS.Internal }

// formatProperties writes properties in the java.util.Properties text format.
func (m *model) formatProperties(b broker, props []Property) string {
	var sb strings.Builder
	sb.WriteString(m.header("#"))
	fmt.Fprintf(&sb, "# Broker %d (%s), rack %+q.\n", b.ID, b.Host, b.Rack) // %+q: ASCII, as the file is read in ISO-8859-1
	for _, p := range props {
		sb.WriteString(p.Key)
		sb.WriteByte('=')
		sb.WriteString(escapePropertyValue(p.Value))
		sb.WriteByte('\n')
	}
	return sb.String()
}

// escapePropertyValue writes v as java.util.Properties reads it back (Kafka loads server.properties
// with Properties.load, in ISO-8859-1): a backslash, line break or tab in a spec value (a rack such as
// "lab-a\nauto.create.topics.enable=true") must stay inside its own property, and anything beyond
// ASCII becomes a \uXXXX escape. Ordinary values, ${env:...} references included, are unchanged.
func escapePropertyValue(v string) string {
	var b strings.Builder
	for i, r := range v {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == ' ' && i == 0:
			b.WriteString(`\ `) // Properties.load drops leading blanks of a value
		case r < 0x20 || r > 0x7e:
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, `\u%04x`, u)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// unescapePropertyValue undoes escapePropertyValue (and Properties' other single-character escapes).
func unescapePropertyValue(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	var units []uint16
	flush := func() {
		if len(units) > 0 {
			b.WriteString(string(utf16.Decode(units)))
			units = nil
		}
	}
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' || i+1 == len(v) {
			flush()
			b.WriteByte(v[i])
			continue
		}
		i++
		if v[i] == 'u' && i+4 < len(v) {
			if n, err := strconv.ParseUint(v[i+1:i+5], 16, 16); err == nil {
				units = append(units, uint16(n))
				i += 4
				continue
			}
		}
		flush()
		switch v[i] {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'f':
			b.WriteByte('\f')
		default:
			b.WriteByte(v[i])
		}
	}
	flush()
	return b.String()
}

// ParseProperties reads the key=value lines of a server.properties text, skipping comments; it exists
// so tests and tools can check rendered files without reimplementing the format.
func ParseProperties(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "!") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		out[strings.TrimSpace(k)] = unescapePropertyValue(strings.TrimLeft(v, " \t"))
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
