package render

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/avatar-project/avatar-sync/spec"
)

// saslSpec is the internal-tls case with SASL_SSL listeners on 9292-9294 (issue 14): the SCRAM admin
// of kafka.sasl is formatted into the storage, a SCRAM service user is declared for apply to create,
// and the microk8s target connects as the admin.
func saslSpec(root string) *spec.Spec {
	s := internalTLSSpec(root)
	for i := range s.Brokers {
		s.Brokers[i].Ports.SASL = 9292 + i
	}
	s.Kafka.SASL = &spec.SASL{Mechanism: spec.MechanismSCRAM512, Username: "admin", PasswordEnv: "AVATAR_ADMIN_PASSWORD"}
	s.Users = append(s.Users, spec.User{Name: "prediction-service", Mechanism: spec.MechanismSCRAM512, PasswordEnv: "AVATAR_PREDICTION_PASSWORD"})
	for i, c := range s.Clusters {
		if c.Name == "microk8s" {
			s.Clusters[i].Bootstrap = []string{"kafka-broker-1:9292", "kafka-broker-2:9293", "kafka-broker-3:9294"}
			s.Clusters[i].Security = spec.SecuritySASLSSL
			s.Clusters[i].SASL = &spec.SASL{Mechanism: spec.MechanismSCRAM512, Username: "admin", PasswordEnv: "AVATAR_ADMIN_PASSWORD"}
		}
	}
	return s
}

// TestSASLProperties pins the exact lines Kafka's documentation names for a SCRAM listener: the
// SASL_SSL listener (bound, advertised to outside clients, mapped to its protocol), both SCRAM
// mechanisms, one JAAS entry per listener and mechanism, and the admin among the super users. The
// mTLS settings of the SSL listener stay as they were.
func TestSASLProperties(t *testing.T) {
	m, err := newModel(saslSpec("/repo"))
	if err != nil {
		t.Fatal(err)
	}
	props := m.formatProperties(m.brokers[0], m.brokerProperties(m.brokers[0], composeNetwork()))
	for _, want := range []string{
		"listeners=INTERNAL://:29092,CONTROLLER://:9090,PLAINTEXT://:9092,SSL://:9192,SASL_SSL://:9292",
		"advertised.listeners=INTERNAL://kafka-broker-1:29092,PLAINTEXT://${env:KAFKA_EXTERNAL_HOST}:9092,SSL://${env:KAFKA_EXTERNAL_HOST}:9192,SASL_SSL://${env:KAFKA_EXTERNAL_HOST}:9292",
		"listener.security.protocol.map=CONTROLLER:SSL,INTERNAL:SSL,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL",
		"sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512",
		"listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
		"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
		"ssl.client.auth=requested",
		"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users=User:CN=avatar-sync,O=avatar-sync;User:CN=kafka-broker-1,O=avatar-sync;User:CN=kafka-broker-2,O=avatar-sync;User:CN=kafka-broker-3,O=avatar-sync;User:admin",
	} {
		if !strings.Contains(props, "\n"+want+"\n") {
			t.Errorf("server.properties lacks the line %q:\n%s", want, props)
		}
	}
	for _, never := range []string{"ANONYMOUS", "SASL_PLAINTEXT", "listener.name.sasl_ssl.ssl.client.auth", "sasl.mechanism.inter.broker.protocol"} {
		if strings.Contains(props, never) {
			t.Errorf("server.properties has %q:\n%s", never, props)
		}
	}
	// Without SASL ports nothing of it is rendered, even with kafka.sasl declared.
	s := saslSpec("/repo")
	for i := range s.Brokers {
		s.Brokers[i].Ports.SASL = 0
	}
	m, err = newModel(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.formatProperties(m.brokers[0], m.brokerProperties(m.brokers[0], composeNetwork())); strings.Contains(got, "SASL") || strings.Contains(got, "sasl") {
		t.Errorf("SASL rendered without ports.sasl:\n%s", got)
	}
}

// TestRenderedFilesNeverHoldTheSASLPassword renders both targets with the admin password set in
// the environment and in a password file render could read, builds every overlay, and fails if the
// password appears anywhere: it reaches the brokers only through the Secret (Kubernetes) or the
// variable or secret file Compose reads at `docker compose up`.
func TestRenderedFilesNeverHoldTheSASLPassword(t *testing.T) {
	const password = "s3cret-Admin-Pw-4711"
	t.Setenv("AVATAR_ADMIN_PASSWORD", password)
	t.Setenv("AVATAR_PREDICTION_PASSWORD", password+"-svc")
	for name, fromFile := range map[string]bool{"passwordEnv": false, "passwordFile": true} {
		t.Run(name, func(t *testing.T) {
			s := saslSpec("/repo")
			fSys := filesys.MakeFsInMemory()
			if fromFile {
				s.Kafka.SASL.PasswordEnv, s.Kafka.SASL.PasswordFile = "", "/repo/secrets/admin.password"
				if err := fSys.WriteFile(s.Kafka.SASL.PasswordFile, []byte(password+"\n")); err != nil {
					t.Fatal(err)
				}
			}
			writeCerts(t, fSys, s)
			if _, err := Kustomize(s, fSys, "/repo/deploy"); err != nil {
				t.Fatal(err)
			}
			if _, err := Compose(s, fSys, "/repo/deploy"); err != nil {
				t.Fatal(err)
			}
			outputs := map[string]string{}
			err := fSys.Walk("/repo", func(p string, info os.FileInfo, err error) error {
				if err != nil || info.IsDir() || p == s.Kafka.SASL.PasswordFile {
					return err
				}
				data, err := fSys.ReadFile(p)
				outputs[p] = string(data)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range overlayClusters(s) {
				out, err := Build(fSys, "/repo/deploy", c)
				if err != nil {
					t.Fatal(err)
				}
				outputs["build "+c] = string(out)
			}
			if len(outputs) < 10 || !strings.Contains(outputs["/repo/deploy/"+ComposeFile], "--add-scram") {
				t.Fatalf("the test reads too little: %d outputs", len(outputs))
			}
			for p, content := range outputs {
				if strings.Contains(content, password) {
					t.Errorf("%s holds the SCRAM admin password", p)
				}
			}
		})
	}
}

// runStartScript runs a rendered start script with /bin/sh, the Kafka tools replaced by stubs that
// record their arguments (one per line) and whether the admin password is in their environment.
func runStartScript(t *testing.T, script, password string) (formatArgs []string, serverEnv string, err error) {
	t.Helper()
	dir := t.TempDir()
	stub := `#!/bin/sh
for a in "$@"; do printf '%s\n' "$a"; done > "` + dir + `/$(basename "$0").args"
printf '%s' "${KAFKA_SASL_ADMIN_PASSWORD-unset}" > "` + dir + `/$(basename "$0").env"
`
	for _, tool := range []string{"kafka-storage.sh", "kafka-server-start.sh"} {
		if err := os.WriteFile(filepath.Join(dir, tool), []byte(stub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("/bin/sh", "-ec", strings.ReplaceAll(script, "/opt/kafka/bin/", dir+"/"))
	cmd.Env = []string{"PATH=/usr/bin:/bin", "CLUSTER_ID=test-cluster", envSASLAdminPassword + "=" + password}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, "", &exec.ExitError{ProcessState: cmd.ProcessState, Stderr: out}
	}
	args, _ := os.ReadFile(filepath.Join(dir, "kafka-storage.sh.args"))
	env, _ := os.ReadFile(filepath.Join(dir, "kafka-server-start.sh.env"))
	return strings.Split(strings.TrimSuffix(string(args), "\n"), "\n"), string(env), nil
}

// TestSASLStartScriptFormatsTheAdmin runs the Kubernetes and the Compose start scripts for real:
// the password reaches kafka-storage format as one argument, unchanged whatever shell characters it
// holds; a password Kafka's --add-scram parser would store differently (a comma, enclosing double
// quotes) or an empty one stops the broker before it formats anything; and the broker process
// starts without the password in its environment.
func TestSASLStartScriptFormatsTheAdmin(t *testing.T) {
	s := saslSpec("/repo")
	m, err := newModel(s)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := renderCompose(t, s)
	composeCmd := doc.Services["kafka-broker-1"].Command
	scripts := map[string]string{
		"kubernetes": m.startScript(),
		// Compose turns "$$" into "$" before the container's shell sees the script.
		"compose": strings.ReplaceAll(composeCmd[len(composeCmd)-1], "$$", "$"),
	}
	for target, script := range scripts {
		for _, pw := range []string{`plain`, `sp ace $HOME "q" 'x' ` + "`id`" + ` ] [ = ; \ *`, `tail"`} {
			args, serverEnv, err := runStartScript(t, script, pw)
			if err != nil {
				t.Fatalf("%s: password %q: %v", target, pw, err)
			}
			want := "SCRAM-SHA-512=[name=admin,password=" + pw + "]"
			if i := slices.Index(args, "--add-scram"); i < 0 || i+1 >= len(args) || args[i+1] != want {
				t.Errorf("%s: kafka-storage format got %q, want --add-scram %q", target, args, want)
			}
			if !slices.Contains(args, "--ignore-formatted") || !slices.Contains(args, "--cluster-id=test-cluster") {
				t.Errorf("%s: format arguments %q", target, args)
			}
			if serverEnv != "unset" {
				t.Errorf("%s: the broker process sees the admin password", target)
			}
		}
		for _, pw := range []string{"", "a,b", `"quoted"`} {
			args, _, err := runStartScript(t, script, pw)
			if err == nil || args != nil {
				t.Errorf("%s: password %q was accepted (format args %q)", target, pw, args)
			} else if !strings.Contains(err.(*exec.ExitError).String()+string(err.(*exec.ExitError).Stderr), "choose another") {
				t.Errorf("%s: password %q: %s", target, pw, err.(*exec.ExitError).Stderr)
			}
			if CheckSCRAMAdminPassword(pw) == nil {
				t.Errorf("CheckSCRAMAdminPassword(%q) accepts what the start script refuses", pw)
			}
		}
	}
	if CheckSCRAMAdminPassword(`sp ace $HOME "q" ] =`) != nil {
		t.Error("CheckSCRAMAdminPassword refuses a password the start script carries")
	}
}
