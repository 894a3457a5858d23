package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/internal/tooltest"

	"gopkg.in/yaml.v3"
)

// renderRepo copies examples/avatar.yaml into a fresh directory with placeholder certificates where
// the certs command would write them, and returns the spec path.
func renderRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "avatar.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	specPath := filepath.Join(root, "avatar.yaml")
	if err := os.WriteFile(specPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	certs := filepath.Join(root, "ssl-certs")
	if err := os.MkdirAll(certs, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ca.crt", "kafka-broker-1.keystore.p12", "kafka-broker-1.truststore.p12", "kafka-broker-2.keystore.p12",
		"kafka-broker-2.truststore.p12", "kafka-broker-3.keystore.p12", "kafka-broker-3.truststore.p12"} {
		if err := os.WriteFile(filepath.Join(certs, f), []byte("placeholder\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return specPath
}

func TestRenderCommand(t *testing.T) {
	specPath := renderRepo(t)
	root := filepath.Dir(specPath)
	dir := filepath.Join(root, "deploy")

	code, out, errOut := runCLI(t, "render", "-f", specPath, "-d", dir)
	if code != exitOK {
		t.Fatalf("render: code %d, stderr %s", code, errOut)
	}
	for _, want := range []string{"Rendered kustomize tree into " + dir + ": 13 written, 0 removed, 0 unchanged.",
		"kubectl apply -k " + filepath.Join(dir, "overlays", "microk8s"),
		`kubectl -n avatar create secret generic kafka-tls-password --from-literal=password="$AVATAR_KEYSTORE_PASSWORD"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, p := range []string{"base/kafka-broker-1.yaml", "overlays/microk8s/kustomization.yaml", ".avatar-sync-render", "../ssl-certs/kustomization.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}

	// Unchanged spec: nothing written, and --check agrees.
	code, out, _ = runCLI(t, "render", "-f", specPath, "-d", dir)
	if code != exitOK || !strings.Contains(out, "0 written, 0 removed, 13 unchanged") {
		t.Errorf("re-render: code %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "render", "--check", "-f", specPath, "-d", dir)
	if code != exitOK || !strings.Contains(out, "is up to date (13 files)") {
		t.Errorf("--check on a fresh tree: code %d\n%s", code, out)
	}

	// A spec change makes --check exit 2 and name the file, without writing it.
	data, _ := os.ReadFile(specPath)
	if err := os.WriteFile(specPath, []byte(strings.Replace(string(data), "rack: lab-a", "rack: bench-7", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, "render", "--check", "-f", specPath, "-d", dir, "-o", "json")
	var rep struct {
		Changed bool     `json:"changed"`
		Written []string `json:"written"`
		Removed []string `json:"removed"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--check -o json: %v\n%s", err, out)
	}
	if code != exitChanges || !rep.Changed || len(rep.Written) != 1 || rep.Written[0] != "base/config/kafka-broker-1.properties" {
		t.Errorf("--check after a rack change: code %d, report %+v", code, rep)
	}
	props, _ := os.ReadFile(filepath.Join(dir, "base", "config", "kafka-broker-1.properties"))
	if strings.Contains(string(props), "bench-7") {
		t.Error("--check wrote the file")
	}
	code, _, _ = runCLI(t, "render", "-f", specPath, "-d", dir)
	props, _ = os.ReadFile(filepath.Join(dir, "base", "config", "kafka-broker-1.properties"))
	if code != exitOK || !strings.Contains(string(props), "broker.rack=bench-7") {
		t.Errorf("render after the change: code %d, properties:\n%s", code, props)
	}
}

func TestRenderBuild(t *testing.T) {
	specPath := renderRepo(t)
	dir := filepath.Join(filepath.Dir(specPath), "deploy")
	// The example has one Kubernetes target, so --cluster may be left out.
	for _, args := range [][]string{
		{"render", "--build", "--cluster", "microk8s", "-f", specPath, "-d", dir},
		{"render", "--build", "-f", specPath, "-d", dir},
	} {
		code, out, errOut := runCLI(t, args...)
		if code != exitOK {
			t.Fatalf("%v: code %d, stderr %s", args, code, errOut)
		}
		for _, want := range []string{"kind: StatefulSet", "name: kafka-broker-3", "namespace: avatar", "kind: PodDisruptionBudget", "kind: Secret"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: output lacks %q", args, want)
			}
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("--build wrote %s", dir)
	}
}

func TestRenderCompose(t *testing.T) {
	specPath := renderRepo(t)
	dir := filepath.Join(filepath.Dir(specPath), "deploy")
	code, out, errOut := runCLI(t, "render", "--target", "compose", "-f", specPath, "-d", dir)
	if code != exitOK || !strings.Contains(out, "docker compose -f "+filepath.Join(dir, "docker-compose.yml")+" up -d") {
		t.Fatalf("code %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	data, err := os.ReadFile(filepath.Join(dir, "docker-compose.yml"))
	if err != nil || !strings.Contains(string(data), "../ssl-certs:/etc/kafka/secrets:ro") {
		t.Errorf("docker-compose.yml: %v\n%s", err, data)
	}
	// Both targets can share the directory; neither removes the other's files.
	if code, _, errOut := runCLI(t, "render", "-f", specPath, "-d", dir); code != exitOK {
		t.Fatalf("kustomize after compose: %s", errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "docker-compose.yml")); err != nil {
		t.Error("kustomize render removed docker-compose.yml")
	}
}

func TestRenderErrors(t *testing.T) {
	specPath := renderRepo(t)
	root := filepath.Dir(specPath)
	foreign := filepath.Join(root, "mine")
	if err := os.MkdirAll(foreign, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		args []string
		want string
	}{
		"foreign dir":           {[]string{"-d", foreign}, "holds files but no .avatar-sync-render marker"},
		"unknown target":        {[]string{"--target", "helm"}, `--target "helm": use kustomize or compose`},
		"build with compose":    {[]string{"--build", "--target", "compose"}, "--build builds the kustomize overlay"},
		"build and check":       {[]string{"--build", "--check"}, "--build and --check are exclusive"},
		"build json":            {[]string{"--build", "-o", "json"}, `-o/--output "json" is not supported`},
		"build non-k8s target":  {[]string{"--build", "--cluster", "dev"}, `--cluster "dev" has no kubernetes: block; targets with one: microk8s`},
		"directory given to -o": {[]string{"-o", "deploy/"}, "the directory is -d/--out-dir (render -d deploy/)"},
		"missing spec":          {[]string{"-f", filepath.Join(root, "nope.yaml")}, "no such file (point -f/--file at your avatar.yaml)"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"render", "-f", specPath, "-d", filepath.Join(root, "deploy")}, tc.args...)
			code, _, errOut := runCLI(t, args...)
			if code != exitError || !strings.Contains(errOut, tc.want) {
				t.Fatalf("code %d, stderr %q; want 1 and %q", code, errOut, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(foreign, ".avatar-sync-render")); !os.IsNotExist(err) {
		t.Error("render marked a foreign directory as its own")
	}
}

func TestRenderCompletion(t *testing.T) {
	code, out, _ := runCLI(t, "__complete", "render", "--target", "c")
	if code != exitOK || !strings.Contains(out, "compose\tdocker-compose.yml") || strings.Contains(out, "kustomize") {
		t.Errorf("completion of --target: code %d\n%s", code, out)
	}
}

// TestRenderWithGeneratedCerts is the seam between two commands: the TLS Secret render builds must
// carry exactly the keystores, truststores and CA that `certs generate` writes, for each keystore
// type, and kubectl must be able to build the overlay from them.
func TestRenderWithGeneratedCerts(t *testing.T) {
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "changeit-render-test")
	for _, ksType := range []string{"PKCS12", "JKS", "PEM"} {
		t.Run(ksType, func(t *testing.T) {
			specPath := filepath.Join(t.TempDir(), "avatar.yaml")
			data, err := os.ReadFile(filepath.Join("..", "..", "examples", "avatar.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			data = []byte(strings.Replace(string(data), "keystoreType: PKCS12", "keystoreType: "+ksType, 1))
			if err := os.WriteFile(specPath, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if code, _, errOut := runCLI(t, "certs", "generate", "-f", specPath); code != exitOK {
				t.Fatalf("certs generate: %s", errOut)
			}
			code, out, errOut := runCLI(t, "render", "--build", "-f", specPath)
			if code != exitOK {
				t.Fatalf("render --build: %s", errOut)
			}
			var keys []string
			dec := yaml.NewDecoder(strings.NewReader(out))
			for {
				var obj struct {
					Kind     string `yaml:"kind"`
					Metadata struct{ Name string }
					Data     map[string]string `yaml:"data"`
				}
				if err := dec.Decode(&obj); err != nil {
					break
				}
				if obj.Kind == "Secret" && strings.HasPrefix(obj.Metadata.Name, "kafka-tls-") {
					for k := range obj.Data {
						keys = append(keys, k)
					}
				}
			}
			sort.Strings(keys)
			var want []string
			entries, _ := os.ReadDir(filepath.Join(filepath.Dir(specPath), "ssl-certs"))
			for _, e := range entries {
				if n := e.Name(); n == "ca.crt" || strings.Contains(n, ".keystore.") || strings.Contains(n, ".truststore.") {
					want = append(want, n)
				}
			}
			ext := map[string]string{"PKCS12": ".p12", "JKS": ".jks", "PEM": ".pem"}[ksType]
			if len(want) != 7 || !strings.HasSuffix(want[1], ext) || strings.Join(keys, ",") != strings.Join(want, ",") {
				t.Errorf("TLS Secret keys %v, certs wrote %v", keys, want)
			}
			// The files render points kubectl at are the real ones.
			{
				kubectl := tooltest.Require(t, "kubectl", "the Kubernetes apt repository")
				dir := filepath.Join(filepath.Dir(specPath), "deploy")
				if code, _, errOut := runCLI(t, "render", "-f", specPath, "-d", dir); code != exitOK {
					t.Fatal(errOut)
				}
				if out, err := exec.Command(kubectl, "kustomize", filepath.Join(dir, "overlays", "microk8s")).CombinedOutput(); err != nil {
					t.Errorf("kubectl kustomize: %v\n%s", err, out)
				}
			}
		})
	}
}

// TestRenderHintsFollowTheKeystorePassword: when $AVATAR_KEYSTORE_PASSWORD is unset, certs generate
// writes the password into tls.dir/keystore.password, so the printed next steps must read that file;
// "$AVATAR_KEYSTORE_PASSWORD" would create a Secret with an empty password. Without certificates,
// render says to generate them first.
func TestRenderHintsFollowTheKeystorePassword(t *testing.T) {
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "")
	specPath := renderRepo(t)
	root := filepath.Dir(specPath)
	dir := filepath.Join(root, "deploy")
	pwFile := filepath.Join(root, "ssl-certs", "keystore.password")
	if err := os.WriteFile(pwFile, []byte("generated-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "render", "-f", specPath, "-d", dir)
	want := `kubectl -n avatar create secret generic kafka-tls-password --from-literal=password="$(cat ` + pwFile + `)"`
	if code != exitOK || !strings.Contains(out, want) || strings.Contains(errOut, "no certificates") {
		t.Errorf("code %d; want %q in stdout and no note:\n%s\nstderr: %s", code, want, out, errOut)
	}
	code, out, errOut = runCLI(t, "render", "--target", "compose", "-f", specPath, "-d", dir)
	want = `Next: AVATAR_KEYSTORE_PASSWORD="$(cat ` + pwFile + `)" docker compose -f`
	if code != exitOK || !strings.Contains(out, want) {
		t.Errorf("compose: code %d; want %q in:\n%s\nstderr: %s", code, want, out, errOut)
	}

	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "from-the-environment")
	if _, out, _ := runCLI(t, "render", "-f", specPath, "-d", dir); !strings.Contains(out, `--from-literal=password="$AVATAR_KEYSTORE_PASSWORD"`) {
		t.Errorf("with the variable set, the hint should use it:\n%s", out)
	}

	if err := os.Remove(filepath.Join(root, "ssl-certs", "ca.crt")); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, "render", "-f", specPath, "-d", dir)
	if code != exitOK || !strings.Contains(errOut, "holds no certificates yet; run `avatar-sync certs generate -f "+specPath+"`") {
		t.Errorf("without ca.crt: code %d, stderr %q", code, errOut)
	}
}

// TestRenderCreatesTLSDirPrivate: render may be the first to create tls.dir (it writes the Secret's
// kustomization there, before any certs generate); the directory will hold private keys, so it is
// created 0700 as the certs command does, not 0755.
func TestRenderCreatesTLSDirPrivate(t *testing.T) {
	specPath := renderRepo(t)
	root := filepath.Dir(specPath)
	if err := os.RemoveAll(filepath.Join(root, "ssl-certs")); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "render", "-f", specPath, "-d", filepath.Join(root, "deploy")); code != exitOK {
		t.Fatalf("render: code %d, stderr %s", code, errOut)
	}
	fi, err := os.Stat(filepath.Join(root, "ssl-certs"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("ssl-certs created with mode %v, want 0700", fi.Mode().Perm())
	}
}

// render names the SCRAM admin's Secret and how to create it, by the variable it comes from and
// never by its value (issue 14).
func TestRenderPrintsTheSASLAdminSecretCommand(t *testing.T) {
	specPath := saslRepo(t)
	t.Setenv("AVATAR_ADMIN_PASSWORD", "never-printed-pw")
	code, out, errOut := runCLI(t, "render", "-f", specPath, "-d", filepath.Join(filepath.Dir(specPath), "deploy"))
	if code != exitOK {
		t.Fatalf("render: exit %d\n%s%s", code, out, errOut)
	}
	if want := `kubectl -n avatar create secret generic kafka-sasl-admin --from-literal=password="$AVATAR_ADMIN_PASSWORD"`; !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	if strings.Contains(out+errOut, "never-printed-pw") {
		t.Error("render printed the SCRAM admin password")
	}
}
