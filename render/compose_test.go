package render

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/avatar-project/avatar-sync/spec"
)

// composeDoc is the part of the Compose file format the tests read; unknown keys fail decoding so a
// typo in the renderer cannot hide.
type composeDoc struct {
	Name     string                       `yaml:"name"`
	Services map[string]composeService    `yaml:"services"`
	Volumes  map[string]struct{}          `yaml:"volumes"`
	Secrets  map[string]map[string]string `yaml:"secrets"`
}

type composeService struct {
	Image         string            `yaml:"image"`
	ContainerName string            `yaml:"container_name"`
	Hostname      string            `yaml:"hostname"`
	Command       []string          `yaml:"command"`
	Environment   map[string]string `yaml:"environment"`
	Ports         []struct {
		Name      string `yaml:"name"`
		Target    int    `yaml:"target"`
		Published string `yaml:"published"`
		Protocol  string `yaml:"protocol"`
	} `yaml:"ports"`
	Volumes     []string                     `yaml:"volumes"`
	DependsOn   map[string]map[string]string `yaml:"depends_on"`
	Healthcheck map[string]any               `yaml:"healthcheck"`
	Restart     string                       `yaml:"restart"`
	Secrets     []string                     `yaml:"secrets"`
}

func renderCompose(t *testing.T, s *spec.Spec) (composeDoc, Files) {
	t.Helper()
	files, err := ComposeFiles(s, "/repo/deploy")
	if err != nil {
		t.Fatal(err)
	}
	var doc composeDoc
	dec := yaml.NewDecoder(strings.NewReader(files[ComposeFile]))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("docker-compose.yml does not parse: %v\n%s", err, files[ComposeFile])
	}
	return doc, files
}

// composeProblems traces every service, port, volume, rack and listener of the Compose output back
// to the spec.
func composeProblems(s *spec.Spec, doc composeDoc, files Files) (problems []string) {
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	want := []string{}
	for _, b := range s.Brokers {
		want = append(want, fmt.Sprintf("kafka-broker-%d", b.ID))
	}
	if s.Kafka.UI {
		want = append(want, "kafka-ui")
	}
	var got []string
	for name := range doc.Services {
		got = append(got, name)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		fail("services %v, want %v", got, want)
	}
	for _, b := range s.Brokers {
		name := fmt.Sprintf("kafka-broker-%d", b.ID)
		svc := doc.Services[name]
		published := map[string]int{}
		for _, p := range svc.Ports {
			if p.Published != fmt.Sprint(p.Target) {
				fail("%s: port %s publishes %s for container port %d", name, p.Name, p.Published, p.Target)
			}
			published[p.Name] = p.Target
		}
		wantPorts := map[string]int{}
		if b.Ports.Plaintext != 0 {
			wantPorts["plaintext"] = b.Ports.Plaintext
		}
		if s.TLS.Enabled && b.Ports.SSL != 0 {
			wantPorts["ssl"] = b.Ports.SSL
		}
		if s.TLS.Enabled && b.Ports.SASL != 0 {
			wantPorts["sasl"] = b.Ports.SASL
		}
		if !cmp.Equal(wantPorts, published) {
			fail("%s: published ports %v, spec says %v", name, published, wantPorts)
		}
		if _, ok := doc.Volumes[name+"-data"]; !ok || !slices.Contains(svc.Volumes, name+"-data:"+dataDir) {
			fail("%s: no data volume %s-data mounted at %s", name, name, dataDir)
		}
		propsFile := "compose/" + name + ".properties"
		if !slices.Contains(svc.Volumes, "./"+propsFile+":"+configDir+"/server.properties:ro") {
			fail("%s: properties %s not mounted", name, propsFile)
		}
		hasTLS := slices.ContainsFunc(svc.Volumes, func(v string) bool { return strings.HasSuffix(v, ":"+secretsDir+":ro") })
		if hasTLS != s.TLS.Enabled {
			fail("%s: TLS material mounted = %v, tls.enabled = %v", name, hasTLS, s.TLS.Enabled)
		}
		if s.TLS.Enabled && !strings.Contains(svc.Environment[envTLSPassword], s.TLS.PasswordEnv) {
			fail("%s: %s does not come from $%s", name, envTLSPassword, s.TLS.PasswordEnv)
		}
		props := ParseProperties(files[propsFile])
		if props["broker.rack"] != b.Rack {
			fail("%s: broker.rack %q, spec says %q", name, props["broker.rack"], b.Rack)
		}
		if props["node.id"] != fmt.Sprint(b.ID) {
			fail("%s: node.id %s, spec says %d", name, props["node.id"], b.ID)
		}
		listeners := parseListeners(props["listeners"], fail)
		advertised := parseListeners(props["advertised.listeners"], fail)
		for lname, port := range map[string]int{ListenerPlaintext: wantPorts["plaintext"], ListenerSSL: wantPorts["ssl"], ListenerSASLSSL: wantPorts["sasl"], ListenerInternal: firstNonZero(b.Ports.Internal, DefaultInternalPort)} {
			if port == 0 {
				if _, ok := listeners[lname]; ok {
					fail("%s: listener %s is on although the spec has no port for it", name, lname)
				}
				continue
			}
			if listeners[lname].port != port || advertised[lname].port != port {
				fail("%s: %s listens on %d and advertises %d, spec says %d", name, lname, listeners[lname].port, advertised[lname].port, port)
			}
		}
		if a := s.Kafka.SASL; a != nil && b.Ports.SASL != 0 {
			if a.PasswordFile == "" && !strings.Contains(svc.Environment[envSASLAdminPassword], "${"+a.PasswordEnv+":?") {
				fail("%s: %s does not come from $%s", name, envSASLAdminPassword, a.PasswordEnv)
			}
			if a.PasswordFile != "" && svc.Environment[envSASLAdminPassword+"_FILE"] != "/run/secrets/"+SASLAdminSecret {
				fail("%s: %s does not come from the secret %s", name, envSASLAdminPassword, SASLAdminSecret)
			}
		}
		if h := advertised[ListenerInternal].host; h != name {
			fail("%s: INTERNAL advertises host %q, want the service name", name, h)
		}
	}
	if s.Kafka.UI {
		ui := doc.Services["kafka-ui"]
		if len(ui.Ports) != 1 || ui.Ports[0].Target != KafkaUIPort || ui.Ports[0].Published != "8080" {
			fail("kafka-ui: ports %v, want 8080", ui.Ports)
		}
		if len(ui.DependsOn) != len(s.Brokers) {
			fail("kafka-ui: depends on %v", ui.DependsOn)
		}
	}
	return problems
}

func TestComposeTracesBackToSpec(t *testing.T) {
	cases := map[string]func(s *spec.Spec){
		"example":         func(*spec.Spec) {},
		"plaintext moved": func(s *spec.Spec) { s.Brokers[1].Ports.Plaintext = 19093 },
		"ssl moved":       func(s *spec.Spec) { s.Brokers[2].Ports.SSL = 19194 },
		"internal moved":  func(s *spec.Spec) { s.Brokers[0].Ports.Internal = 39092 },
		"rack renamed":    func(s *spec.Spec) { s.Brokers[0].Rack = "bench-7" },
		"tls off":         func(s *spec.Spec) { s.TLS.Enabled = false },
		"ui on":           func(s *spec.Spec) { s.Kafka.UI = true },
		"fourth broker": func(s *spec.Spec) {
			s.Brokers = append(s.Brokers, spec.Broker{ID: 4, Host: "kafka-broker-4", Rack: "lab-d", Ports: spec.BrokerPorts{Plaintext: 9095, SSL: 9195, Internal: 29095}})
		},
		"password variable": func(s *spec.Spec) { s.TLS.PasswordEnv = "LAB_KEYSTORE_PW" },
		"sasl":              func(s *spec.Spec) { *s = *saslSpec("/repo") },
		"sasl password file": func(s *spec.Spec) {
			*s = *saslSpec("/repo")
			s.Kafka.SASL.PasswordEnv, s.Kafka.SASL.PasswordFile = "", "/repo/secrets/admin.password"
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			s := loadExample("/repo")
			mutate(s)
			doc, files := renderCompose(t, s)
			for _, p := range composeProblems(s, doc, files) {
				t.Error(p)
			}
		})
	}
}

// TestComposeProblemsCatchesBreakage makes sure the trace is not vacuous: output from one spec does
// not pass as output of a changed spec.
func TestComposeProblemsCatchesBreakage(t *testing.T) {
	base := loadExample("/repo")
	doc, files := renderCompose(t, base)
	cases := map[string]struct {
		mutate func(s *spec.Spec)
		want   string
	}{
		"plaintext port": {func(s *spec.Spec) { s.Brokers[1].Ports.Plaintext = 19093 }, "kafka-broker-2: published ports"},
		"rack":           {func(s *spec.Spec) { s.Brokers[0].Rack = "bench-7" }, `broker.rack "lab-a", spec says "bench-7"`},
		"ui":             {func(s *spec.Spec) { s.Kafka.UI = true }, "services"},
		"tls":            {func(s *spec.Spec) { s.TLS.Enabled = false }, "TLS material mounted = true"},
		"sasl":           {func(s *spec.Spec) { *s = *saslSpec("/repo") }, "kafka-broker-1: published ports"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := loadExample("/repo")
			tc.mutate(s)
			problems := composeProblems(s, doc, files)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Fatalf("want a problem containing %q, got %q", tc.want, problems)
			}
		})
	}
}

func TestComposeShape(t *testing.T) {
	s := loadExample("/repo")
	s.Kafka.UI = true
	doc, _ := renderCompose(t, s)
	b1 := doc.Services["kafka-broker-1"]
	if b1.ContainerName != "kafka-broker-1" || b1.Image != "apache/kafka:3.9.0" {
		t.Errorf("kafka-broker-1: container %q image %q", b1.ContainerName, b1.Image)
	}
	// Compose interpolates "$" itself, so the start script must escape the shell's variables.
	if script := b1.Command[len(b1.Command)-1]; !strings.Contains(script, `"$$CLUSTER_ID"`) || strings.Contains(strings.ReplaceAll(script, "$$", ""), "$") {
		t.Errorf("start script does not escape $ for Compose:\n%s", script)
	}
	if got := b1.Environment[envExternalHost]; got != "${"+ExternalHostVar+":-localhost}" {
		t.Errorf("%s = %q", envExternalHost, got)
	}
	if !slices.Contains(b1.Volumes, "../ssl-certs:"+secretsDir+":ro") {
		t.Errorf("TLS directory not mounted relative to the compose file: %v", b1.Volumes)
	}
	ui := doc.Services["kafka-ui"]
	if ui.Environment["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] != "kafka-broker-1:29092,kafka-broker-2:29093,kafka-broker-3:29094" {
		t.Errorf("kafka-ui bootstrap: %q", ui.Environment["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"])
	}
	if len(doc.Volumes) != 3 {
		t.Errorf("volumes: %v", doc.Volumes)
	}
}

// TestComposeSASLPasswordFile: kafka.sasl.passwordFile becomes a Compose secret beside the
// keystore's, read by the start script; neither password is expected from the environment.
func TestComposeSASLPasswordFile(t *testing.T) {
	s := saslSpec("/repo")
	s.TLS.PasswordEnv, s.TLS.PasswordFile = "", "/repo/secrets/keystore-password"
	s.Kafka.SASL.PasswordEnv, s.Kafka.SASL.PasswordFile = "", "/repo/secrets/admin.password"
	doc, files := renderCompose(t, s)
	if got := doc.Secrets[SASLAdminSecret]["file"]; got != "../secrets/admin.password" {
		t.Errorf("secret file %q, want the admin password file relative to the compose file", got)
	}
	svc := doc.Services["kafka-broker-1"]
	if !slices.Equal(svc.Secrets, []string{PasswordSecret, SASLAdminSecret}) || svc.Environment[envSASLAdminPassword+"_FILE"] != "/run/secrets/"+SASLAdminSecret {
		t.Errorf("secrets %v, environment %v", svc.Secrets, svc.Environment)
	}
	if _, ok := svc.Environment[envSASLAdminPassword]; ok {
		t.Error("admin password also expected from the environment")
	}
	if script := svc.Command[len(svc.Command)-1]; !strings.Contains(script, `KAFKA_SASL_ADMIN_PASSWORD="$$(cat "$$KAFKA_SASL_ADMIN_PASSWORD_FILE")"`) {
		t.Errorf("start script does not read the admin password file:\n%s", script)
	}
	for _, p := range composeProblems(s, doc, files) {
		t.Error(p)
	}
}

func TestComposePasswordFile(t *testing.T) {
	s := loadExample("/repo")
	s.TLS.PasswordEnv, s.TLS.PasswordFile = "", "/repo/secrets/keystore-password"
	doc, files := renderCompose(t, s)
	if got := doc.Secrets[PasswordSecret]["file"]; got != "../secrets/keystore-password" {
		t.Errorf("secret file %q, want the password file relative to the compose file", got)
	}
	for _, b := range []string{"kafka-broker-1", "kafka-broker-2", "kafka-broker-3"} {
		svc := doc.Services[b]
		if !slices.Equal(svc.Secrets, []string{PasswordSecret}) || svc.Environment[envTLSPassword+"_FILE"] != "/run/secrets/"+PasswordSecret {
			t.Errorf("%s: secrets %v, environment %v", b, svc.Secrets, svc.Environment)
		}
		if _, ok := svc.Environment[envTLSPassword]; ok {
			t.Errorf("%s: password also expected from the environment", b)
		}
		script := svc.Command[len(svc.Command)-1]
		if !strings.HasPrefix(script, `if [ -n "$${KAFKA_TLS_PASSWORD_FILE:-}" ]; then KAFKA_TLS_PASSWORD="$$(cat "$$KAFKA_TLS_PASSWORD_FILE")"; export KAFKA_TLS_PASSWORD; fi`+"\n") {
			t.Errorf("%s: start script does not read the password file:\n%s", b, script)
		}
	}
	for _, p := range composeProblems(s, doc, files) {
		t.Error(p)
	}
}
