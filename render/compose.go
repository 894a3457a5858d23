package render

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/avatar-project/avatar-sync/spec"
)

// Compose file layout, relative to the render directory.
const (
	ComposeFile      = "docker-compose.yml"
	composeConfigDir = "compose"
	// KafkaUIImage is the optional web UI of the reference setup (issue 4: port 8080).
	KafkaUIImage = "provectuslabs/kafka-ui:v0.7.2"
	// KafkaUIPort is where the UI listens on the laptop.
	KafkaUIPort = 8080
	// ExternalHostVar lets a laptop user advertise another address than localhost without re-rendering.
	ExternalHostVar = "AVATAR_EXTERNAL_HOST"
	// defaultPasswordEnv names the keystore password variable when the spec does not.
	defaultPasswordEnv = "AVATAR_KEYSTORE_PASSWORD"
)

// composeNetwork: containers reach each other by service name on the Compose network; the laptop
// reaches the published ports on localhost, as in the reference docker-compose.yml.
func composeNetwork() network {
	return network{
		internalHost: func(b broker) string { return b.name },
		voterHost:    func(b broker) string { return b.name },
		externalHost: func(broker) string { return envRef(envExternalHost) },
	}
}

// ComposeFiles computes docker-compose.yml and the brokers' properties files for dir. It is pure;
// Write puts them on disk. The certs directory is mounted by a path relative to dir, so dir is needed.
func ComposeFiles(s *spec.Spec, dir string) (Files, error) {
	m, err := newModel(s)
	if err != nil {
		return nil, err
	}
	files := Files{}
	services := omap{}
	volumes := omap{}
	var bootstrap []string
	var tlsMount string
	if m.tls {
		rel, err := composeRel(dir, m.tlsDir, "tls.dir")
		if err != nil {
			return nil, err
		}
		tlsMount = rel + ":" + secretsDir + ":ro"
	}
	// Passwords never appear in the Compose file: each comes from the variable the spec names
	// (interpolated by `docker compose up`) or, for a password file, from a Compose secret that the
	// start script reads into the environment (command substitution drops the trailing newline
	// editors add, as spec.ResolvePassword does).
	var passwords []composePassword
	if m.needsPassword() {
		passwords = append(passwords, composePassword{envTLSPassword, PasswordSecret, firstNonEmpty(s.TLS.PasswordEnv, defaultPasswordEnv),
			s.TLS.PasswordFile, "tls.passwordFile", "the keystore password"})
	}
	if a := m.saslAdmin; a != nil {
		passwords = append(passwords, composePassword{envSASLAdminPassword, SASLAdminSecret, a.PasswordEnv,
			a.PasswordFile, "kafka.sasl.passwordFile", "the SCRAM admin password (kafka.sasl)"})
	}
	var secrets omap
	script := m.startScript()
	var readFiles string
	for i, pw := range passwords {
		if pw.file == "" {
			continue
		}
		rel, err := composeRel(dir, filepath.Clean(pw.file), pw.fileKey)
		if err != nil {
			return nil, err
		}
		secrets = append(secrets, kv{pw.secret, omap{{"file", rel}}})
		passwords[i].file = rel
		readFiles += `if [ -n "${` + pw.container + `_FILE:-}" ]; then ` + pw.container + `="$(cat "$` + pw.container + `_FILE")"; export ` + pw.container + "; fi\n"
	}
	script = readFiles + script
	net := composeNetwork()
	for _, b := range m.brokers {
		propsPath := composeConfigDir + "/" + b.name + ".properties"
		files[propsPath] = m.formatProperties(b, m.brokerProperties(b, net))
		bootstrap = append(bootstrap, fmt.Sprintf("%s:%d", b.name, b.internal))

		env := omap{
			{envExternalHost, "${" + ExternalHostVar + ":-localhost}"},
			{envClusterID, m.clusterID},
		}
		var svcSecrets []string
		for _, pw := range passwords {
			if pw.file != "" {
				env = append(env, kv{pw.container + "_FILE", "/run/secrets/" + pw.secret})
				svcSecrets = append(svcSecrets, pw.secret)
			} else {
				env = append(env, kv{pw.container, fmt.Sprintf("${%s:?set %s to %s}", pw.env, pw.env, pw.what)})
			}
		}
		var ports []any
		for _, p := range m.externalPorts(b) {
			ports = append(ports, omap{{"name", p.name}, {"target", p.port}, {"published", fmt.Sprint(p.port)}, {"protocol", "tcp"}})
		}
		vols := []string{
			b.name + "-data:" + dataDir,
			"./" + propsPath + ":" + configDir + "/server.properties:ro",
		}
		if tlsMount != "" {
			vols = append(vols, tlsMount)
		}
		volumes = append(volumes, kv{b.name + "-data", omap{}})
		svc := omap{
			{"image", m.image},
			{"container_name", b.name}, // the reference's `docker exec kafka-broker-1 ...` keeps working
			{"hostname", b.name},
			// "$$" because Compose interpolates "$" itself; the container's shell sees "$CLUSTER_ID".
			{"command", []string{"/bin/sh", "-ec", strings.ReplaceAll(script, "$", "$$")}},
			{"environment", env},
			{"ports", ports},
			{"volumes", vols},
			{"healthcheck", omap{
				{"test", []string{"CMD-SHELL", m.healthCommand(b)}},
				{"interval", "10s"},
				{"timeout", "10s"},
				{"retries", 12},
				{"start_period", "20s"},
			}},
			{"restart", "unless-stopped"},
		}
		if svcSecrets != nil {
			svc = append(svc, kv{"secrets", svcSecrets})
		}
		services = append(services, kv{b.name, svc})
	}
	if s.Kafka.UI {
		deps := omap{}
		for _, b := range m.brokers {
			deps = append(deps, kv{b.name, omap{{"condition", "service_healthy"}}})
		}
		services = append(services, kv{"kafka-ui", omap{
			{"image", KafkaUIImage},
			{"container_name", "kafka-ui"},
			{"depends_on", deps},
			{"ports", []any{omap{{"name", "http"}, {"target", KafkaUIPort}, {"published", fmt.Sprint(KafkaUIPort)}, {"protocol", "tcp"}}}},
			{"environment", omap{
				{"KAFKA_CLUSTERS_0_NAME", m.instance},
				{"KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS", strings.Join(bootstrap, ",")},
			}},
			{"restart", "unless-stopped"},
		}})
	}
	doc, err := yamlDocs(m.header("#")+"# Start it from this directory with `docker compose up -d`; see docs/render.md.\n",
		append(omap{{"name", m.instance}, {"services", services}, {"volumes", volumes}}, secretsEntry(secrets)...))
	if err != nil {
		return nil, err
	}
	files[ComposeFile] = doc
	return files, nil
}

// composePassword is one password a broker container needs, and where the spec says it comes from.
type composePassword struct {
	container string // the variable the start script or properties read
	secret    string // the Compose secret's name, for a password file
	env       string // the laptop's variable, for passwordEnv
	file      string // the password file (made relative to the Compose file), or ""
	fileKey   string // the spec key of file, for errors
	what      string // for the message when env is unset
}

// secretsEntry is the top-level secrets: of the Compose file, absent when there are none.
func secretsEntry(secrets omap) omap {
	if secrets == nil {
		return nil
	}
	return omap{{"secrets", secrets}}
}

// composeRel expresses a path relative to dir for a bind mount ("./x" or "../x"); what names the
// spec key it came from, for errors.
func composeRel(dir, target, what string) (string, error) {
	d, t := filepath.Clean(dir), filepath.Clean(target)
	if filepath.IsAbs(d) != filepath.IsAbs(t) {
		var err error
		if d, err = filepath.Abs(d); err != nil {
			return "", fmt.Errorf("resolve %s: %w", dir, err)
		}
		if t, err = filepath.Abs(t); err != nil {
			return "", fmt.Errorf("resolve %s: %w", target, err)
		}
	}
	rel, err := filepath.Rel(d, t)
	if err != nil {
		return "", fmt.Errorf("%s %s cannot be reached from %s: %w", what, target, dir, err)
	}
	if rel == "." {
		return "", fmt.Errorf("%s is the render directory itself; keep it in its own directory", what)
	}
	rel = filepath.ToSlash(rel)
	if !strings.HasPrefix(rel, "../") {
		rel = "./" + rel
	}
	return rel, nil
}

// healthCommand checks a broker from inside its container. With tls.internal the INTERNAL listener
// asks for a client certificate that the Kafka tools would need a client configuration for, so the
// check is whether the listener accepts connections, like the Kubernetes tcpSocket probes.
func (m *model) healthCommand(b broker) string {
	if m.internalTLS() {
		return fmt.Sprintf("bash -c 'exec 3<>/dev/tcp/localhost/%d' >/dev/null 2>&1", b.internal)
	}
	return fmt.Sprintf("/opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server localhost:%d >/dev/null 2>&1", b.internal)
}
