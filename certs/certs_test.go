package certs

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/avatar-project/avatar-sync/internal/tooltest"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/cryptotest"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/avatar-project/avatar-sync/spec"
)

// t0 is the injected "now" of every test; nothing here reads the wall clock.
var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// seeded is a deterministic random source for serials, salts and signatures.
func seeded(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	s[0] = byte(seed)
	return rand.NewChaCha8(s)
}

// avatarSpec is the reference cluster of examples/avatar.yaml, built in Go.
func avatarSpec(dir, keystoreType string) *spec.Spec {
	return &spec.Spec{
		Metadata: spec.Metadata{Name: "avatar", Namespace: "avatar"},
		Brokers: []spec.Broker{
			{ID: 1, Host: "kafka-broker-1", Ports: spec.BrokerPorts{Plaintext: 9092, SSL: 9192}},
			{ID: 2, Host: "kafka-broker-2", Ports: spec.BrokerPorts{Plaintext: 9093, SSL: 9193}},
			{ID: 3, Host: "kafka-broker-3", Ports: spec.BrokerPorts{Plaintext: 9094, SSL: 9194}},
		},
		TLS: spec.TLS{
			Enabled: true, Dir: dir, KeystoreType: keystoreType,
			Validity: 825 * 24 * time.Hour, RenewBefore: 30 * 24 * time.Hour,
			Clients: []string{"prediction-service"},
		},
	}
}

// harness runs Load → ResolvePassword → Generate → Write like `certs generate` does.
type harness struct {
	t    *testing.T
	spec *spec.Spec
	dir  string
	env  map[string]string
	rand *rand.ChaCha8
}

func newHarness(t *testing.T, keystoreType string) *harness {
	t.Helper()
	cryptotest.SetGlobalRandom(t, 1) // key generation ignores the injected reader since Go 1.26
	dir := filepath.Join(t.TempDir(), "ssl-certs")
	return &harness{t: t, spec: avatarSpec(dir, keystoreType), dir: dir, env: map[string]string{}, rand: seeded(7)}
}

func (h *harness) source() Source {
	h.t.Helper()
	src, err := Load(h.spec)
	if err != nil {
		h.t.Fatalf("Load: %v", err)
	}
	return src
}

func (h *harness) generate(now time.Time, mod func(*Options)) *Result {
	h.t.Helper()
	src := h.source()
	pw, err := ResolvePassword(h.spec, src, func(k string) string { return h.env[k] }, h.rand)
	if err != nil {
		h.t.Fatalf("ResolvePassword: %v", err)
	}
	opts := Options{Now: now, Rand: h.rand, Password: pw}
	if mod != nil {
		mod(&opts)
	}
	res, err := Generate(h.spec, src, opts)
	if err != nil {
		h.t.Fatalf("Generate: %v", err)
	}
	if err := Write(context.Background(), h.dir, res); err != nil {
		h.t.Fatalf("Write: %v", err)
	}
	return res
}

func (h *harness) status(now time.Time) map[string]CertStatus {
	h.t.Helper()
	sts, err := Status(h.spec, h.source(), now)
	if err != nil {
		h.t.Fatalf("Status: %v", err)
	}
	out := map[string]CertStatus{}
	for _, s := range sts {
		out[s.Name] = s
	}
	return out
}

func (h *harness) password() string {
	h.t.Helper()
	pw, err := ResolvePassword(h.spec, h.source(), func(k string) string { return h.env[k] }, seeded(99))
	if err != nil {
		h.t.Fatal(err)
	}
	if pw.File != nil {
		h.t.Fatal("password not persisted by the first run")
	}
	return pw.Value
}

func files(r *Result) []string {
	var out []string
	for _, f := range r.Files {
		out = append(out, f.Name)
	}
	return out
}

func TestBrokerSANs(t *testing.T) {
	tests := map[string]struct {
		mod     func(*spec.Spec)
		wantDNS []string
		wantIPs []string
	}{
		"namespace from metadata": {
			mod: func(*spec.Spec) {},
			wantDNS: []string{
				"kafka-broker-1",
				"kafka-broker-1-0.kafka-headless",
				"kafka-broker-1-0.kafka-headless.avatar", "kafka-broker-1-0.kafka-headless.avatar.svc",
				"kafka-broker-1-0.kafka-headless.avatar.svc.cluster.local",
				"kafka-broker-1.avatar", "kafka-broker-1.avatar.svc", "kafka-broker-1.avatar.svc.cluster.local",
				"localhost",
			},
			wantIPs: []string{"127.0.0.1", "::1"},
		},
		"target namespace, external host and extra SANs": {
			mod: func(s *spec.Spec) {
				s.Metadata.Namespace = ""
				s.Clusters = []spec.Cluster{{Name: "microk8s", Kubernetes: &spec.Kubernetes{Namespace: "lab", ExternalHost: "MicroK8s.local"}}}
				s.TLS.ExtraSANs = []string{"kafka.avatar.example", "10.0.0.5", "localhost"}
			},
			wantDNS: []string{
				"kafka-broker-1",
				"kafka-broker-1-0.kafka-headless",
				"kafka-broker-1-0.kafka-headless.lab", "kafka-broker-1-0.kafka-headless.lab.svc",
				"kafka-broker-1-0.kafka-headless.lab.svc.cluster.local",
				"kafka-broker-1.lab", "kafka-broker-1.lab.svc", "kafka-broker-1.lab.svc.cluster.local",
				"kafka.avatar.example", "localhost", "microk8s.local",
			},
			wantIPs: []string{"10.0.0.5", "127.0.0.1", "::1"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := avatarSpec("x", "")
			tc.mod(s)
			dns, ips := BrokerSANs(s, s.Brokers[0])
			var gotIPs []string
			for _, ip := range ips {
				gotIPs = append(gotIPs, ip.String())
			}
			if d := cmp.Diff(tc.wantDNS, dns); d != "" {
				t.Errorf("DNS SANs (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantIPs, gotIPs); d != "" {
				t.Errorf("IP SANs (-want +got):\n%s", d)
			}
		})
	}
}

func TestLeavesRejectsEveryBadName(t *testing.T) {
	s := avatarSpec("x", "")
	s.Brokers[1].Host = "kafka-broker-1"
	s.TLS.Clients = []string{"ca", "../etc/passwd", "ok-client"}
	_, err := Leaves(s)
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{`broker 2 host "kafka-broker-1": broker 1 host already uses this name`, `"ca": the name is reserved`, `"../etc/passwd": certificate files are named after it`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestLeafTemplateIsPure(t *testing.T) {
	l := Leaf{Name: "b", Role: RoleBroker, CommonName: "b", DNSNames: []string{"b"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}}
	caEnd := t0.Add(100 * 24 * time.Hour)
	a := LeafTemplate(l, nil, t0, 825*24*time.Hour, caEnd)
	b := LeafTemplate(l, nil, t0, 825*24*time.Hour, caEnd)
	if !cmp.Equal(a, b) {
		t.Fatal("same inputs, different templates")
	}
	if !a.NotAfter.Equal(caEnd) {
		t.Errorf("NotAfter %v: a leaf must not outlive its CA (%v)", a.NotAfter, caEnd)
	}
	if !a.NotBefore.Equal(t0.Add(-clockSkew)) {
		t.Errorf("NotBefore %v, want now minus clock skew", a.NotBefore)
	}
}

func TestGenerateWritesEverythingWithModes(t *testing.T) {
	h := newHarness(t, "")
	res := h.generate(t0, nil)
	want := []string{"keystore.password", "ca.key", "ca.crt"}
	for _, n := range []string{"kafka-broker-1", "kafka-broker-2", "kafka-broker-3", "prediction-service"} {
		want = append(want, n+".key", n+".crt")
	}
	for _, n := range []string{"kafka-broker-1", "kafka-broker-2", "kafka-broker-3", "prediction-service"} {
		want = append(want, n+".keystore.p12", n+".truststore.p12")
	}
	if d := cmp.Diff(want, files(res)); d != "" {
		t.Fatalf("files (-want +got):\n%s", d)
	}
	for _, n := range want {
		info, err := os.Stat(filepath.Join(h.dir, n))
		if err != nil {
			t.Fatal(err)
		}
		wantMode := fs.FileMode(0o644)
		if strings.HasSuffix(n, ".key") || strings.Contains(n, ".keystore.") || n == "keystore.password" {
			wantMode = 0o600
		}
		if info.Mode().Perm() != wantMode {
			t.Errorf("%s: mode %04o, want %04o", n, info.Mode().Perm(), wantMode)
		}
	}
	if info, _ := os.Stat(h.dir); info.Mode().Perm() != 0o700 {
		t.Errorf("tls.dir mode %04o, want 0700", info.Mode().Perm())
	}
	if leftovers, _ := filepath.Glob(filepath.Join(h.dir, ".*tmp*")); len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
	for name, st := range h.status(t0) {
		if st.Status != StateOK {
			t.Errorf("%s right after generate: %s (%s)", name, st.Status, st.Reason)
		}
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, "generated a keystore password") }) {
		t.Errorf("notes do not say a password was generated: %q", res.Notes)
	}
	pw := h.password()
	for _, n := range res.Notes {
		if strings.Contains(n, pw) {
			t.Errorf("a note prints the password: %q", n)
		}
	}
}

func TestGenerateIsIdempotent(t *testing.T) {
	for _, kt := range []string{spec.KeystorePKCS12, spec.KeystoreJKS, spec.KeystorePEM} {
		t.Run(kt, func(t *testing.T) {
			h := newHarness(t, kt)
			h.env["KS_PW"] = "s3cret-pw"
			h.spec.TLS.PasswordEnv = "KS_PW"
			h.generate(t0, nil)
			before := snapshot(t, h.dir)
			if res := h.generate(t0.Add(24*time.Hour), nil); res.Changed() {
				t.Fatalf("second generate wants to write: %+v", res.Actions)
			}
			if d := cmp.Diff(before, snapshot(t, h.dir)); d != "" {
				t.Fatalf("files changed on disk:\n%s", d)
			}
		})
	}
}

// snapshot maps every file in dir to its content and mode.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		info, _ := e.Info()
		out[e.Name()] = info.Mode().String() + " " + string(b)
	}
	return out
}

func TestSANChangeReissuesOnlyThatBroker(t *testing.T) {
	h := newHarness(t, "")
	h.generate(t0, nil)
	h.spec.Brokers[1].Host = "kafka-broker-2b"
	st := h.status(t0)
	if st["kafka-broker-2b"].Status != StateMissing {
		t.Fatalf("renamed broker: %+v", st["kafka-broker-2b"])
	}
	res := h.generate(t0, nil)
	want := []string{"kafka-broker-2b.key", "kafka-broker-2b.crt", "kafka-broker-2b.keystore.p12", "kafka-broker-2b.truststore.p12"}
	if d := cmp.Diff(want, files(res)); d != "" {
		t.Fatalf("files (-want +got):\n%s", d)
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, "kafka-broker-2.crt is not in the spec any more") }) {
		t.Errorf("the old broker's files are not pointed out: %q", res.Notes)
	}

	// A SAN that only the spec changed: the certificate on disk no longer names a new namespace.
	h.spec.Clusters = []spec.Cluster{{Name: "microk8s", Kubernetes: &spec.Kubernetes{Namespace: "lab"}}}
	st = h.status(t0)
	if got := st["kafka-broker-1"]; got.Status != StateMismatch || !strings.Contains(got.Reason, "missing kafka-broker-1-0.kafka-headless.lab") {
		t.Fatalf("after namespace change: %s %q", got.Status, got.Reason)
	}
}

func TestInspectReportsRenewAndExpired(t *testing.T) {
	h := newHarness(t, "")
	h.generate(t0, nil)
	validity := h.spec.TLS.Validity

	st := h.status(t0.Add(validity - 10*24*time.Hour))
	if got := st["kafka-broker-1"]; got.Status != StateRenew || got.DaysLeft != 10 {
		t.Errorf("10 days before expiry: %s, %d days left (%s)", got.Status, got.DaysLeft, got.Reason)
	}
	if st["ca"].Status != StateOK {
		t.Errorf("CA lives ten years: %+v", st["ca"])
	}
	st = h.status(t0.Add(validity + 24*time.Hour))
	if got := st["kafka-broker-1"]; got.Status != StateExpired || got.DaysLeft >= 0 || !got.Status.Bad() {
		t.Errorf("after expiry: %s, %d days left", got.Status, got.DaysLeft)
	}

	// generate inside the renew window renews the leaves and their keystores, nothing else.
	res := h.generate(t0.Add(validity-10*24*time.Hour), nil)
	for _, a := range res.Actions {
		if strings.HasPrefix(filepath.Base(a.File), "ca.") || strings.Contains(a.File, "truststore") {
			t.Errorf("renewal touched %s (%s)", a.File, a.Reason)
		}
	}
	if len(res.Files) != 4*3 {
		t.Errorf("want key, crt, keystore for 4 leaves, got %v", files(res))
	}
}

func TestLooseKeyModeIsReissued(t *testing.T) {
	h := newHarness(t, "")
	h.generate(t0, nil)
	if err := os.Chmod(filepath.Join(h.dir, "kafka-broker-3.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := h.status(t0)["kafka-broker-3"]; got.Status != StateMismatch || !strings.Contains(got.Reason, "0644") {
		t.Fatalf("world-readable key: %s %q", got.Status, got.Reason)
	}
	res := h.generate(t0, nil)
	want := []string{"kafka-broker-3.key", "kafka-broker-3.crt", "kafka-broker-3.keystore.p12"}
	if d := cmp.Diff(want, files(res)); d != "" {
		t.Fatalf("files (-want +got):\n%s", d)
	}
}

// TestWrongKeystorePasswordIsRefused: a password that does not open the existing stores (a typo,
// the wrong variable) must not re-key every store and break running brokers (issue 10 item 13);
// only --force changes the password, and then every store opens with the new one.
func TestWrongKeystorePasswordIsRefused(t *testing.T) {
	h := newHarness(t, spec.KeystoreJKS)
	h.generate(t0, nil) // generated password
	before := snapshot(t, h.dir)
	h.spec.TLS.PasswordEnv = "KS_PW"
	h.env["KS_PW"] = "another-password"
	src := h.source()
	pw, err := ResolvePassword(h.spec, src, func(k string) string { return h.env[k] }, h.rand)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Generate(h.spec, src, Options{Now: t0, Rand: h.rand, Password: pw})
	if !errors.Is(err, ErrWrongKeystorePassword) || !strings.Contains(err.Error(), "from $KS_PW: 8 stores in "+h.dir+" (kafka-broker-1.keystore.jks,") ||
		!strings.Contains(err.Error(), "certs generate --force") {
		t.Fatalf("want a refusal naming the stores and --force, got %v", err)
	}
	if d := cmp.Diff(before, snapshot(t, h.dir)); d != "" {
		t.Errorf("a refused generate changed tls.dir:\n%s", d)
	}

	_, err = Generate(h.spec, src, Options{Now: t0, Rand: h.rand, Password: pw, Force: true})
	if !errors.Is(err, ErrWrongKeystorePassword) {
		t.Errorf("Force alone (certs rotate) must not change the password: %v", err)
	}
	res := h.generate(t0, func(o *Options) { o.Force, o.NewPassword = true, true })
	var stores int
	for _, f := range res.Files {
		if strings.Contains(f.Name, "store.jks") {
			stores++
		}
	}
	if stores != 8 {
		t.Errorf("--force: want 8 stores rewritten, got %v", files(res))
	}
	if ks := keytoolList(t, filepath.Join(h.dir, "kafka-broker-1.keystore.jks"), "another-password"); !strings.Contains(ks, "PrivateKeyEntry") {
		t.Errorf("keytool with the new password:\n%s", ks)
	}
	if res := h.generate(t0, nil); res.Changed() {
		t.Errorf("after --force the new password opens everything, yet generate wrote %v", files(res))
	}
}

func TestPasswordSources(t *testing.T) {
	dir := t.TempDir()
	s := avatarSpec(dir, "")
	s.TLS.PasswordEnv = "KS_PW"
	s.TLS.PasswordFile = "missing.pass"
	src := Source{Dir: os.DirFS(dir), DirPath: dir}
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }

	pw, err := ResolvePassword(s, src, getenv, seeded(1))
	if err != nil {
		t.Fatal(err)
	}
	if pw.File == nil || pw.File.Mode != 0o600 || len(pw.Value) != 48 {
		t.Fatalf("want a generated 0600 password file, got %+v", pw.File)
	}
	if !strings.Contains(pw.Note, "$KS_PW (tls.passwordEnv) is not set") || !strings.Contains(pw.Note, "missing.pass (tls.passwordFile) is missing") {
		t.Errorf("note does not explain the fallback: %q", pw.Note)
	}
	src.PasswordFile = []byte("from-the-file\n")
	if pw, _ = ResolvePassword(s, src, getenv, seeded(1)); pw.Value != "from-the-file" || pw.File != nil {
		t.Errorf("password file: %+v", pw)
	}
	env["KS_PW"] = "from-the-env"
	if pw, _ = ResolvePassword(s, src, getenv, seeded(1)); pw.Value != "from-the-env" || pw.From != "$KS_PW" {
		t.Errorf("env: %+v", pw)
	}
	// With stores already on disk, a forgotten export must not silently re-key them.
	withStores := Source{Dir: fstest.MapFS{"kafka-broker-1.keystore.p12": {Data: []byte("x")}}, DirPath: "ssl-certs"}
	if _, err := ResolvePassword(s, withStores, func(string) string { return "" }, seeded(1)); err == nil ||
		!strings.Contains(err.Error(), "already holds keystores") {
		t.Errorf("unset password with existing stores: %v", err)
	}
	env["KS_PW"] = "short"
	if _, err = ResolvePassword(s, src, getenv, seeded(1)); err == nil || !strings.Contains(err.Error(), "at least 6") {
		t.Errorf("short password: %v", err)
	}
	// A file saved with Windows line endings: the brokers' $(cat) would keep the CR that the
	// keystores would not have, so it is refused rather than silently trimmed.
	delete(env, "KS_PW")
	src.PasswordFile = []byte("from-the-file\r\n")
	if _, err = ResolvePassword(s, src, getenv, seeded(1)); err == nil || !strings.Contains(err.Error(), "Unix line endings") {
		t.Errorf("CRLF password file: %v", err)
	}
	src.PasswordFile = []byte("from-the-file\n\n")
	if pw, err = ResolvePassword(s, src, getenv, seeded(1)); err != nil || pw.Value != "from-the-file" {
		t.Errorf("trailing line feeds ($(cat) drops them too): %+v, %v", pw, err)
	}
}

// TestOpenSSLVerifiesEveryLeaf cross-checks with a verifier no one here wrote.
func TestOpenSSLVerifiesEveryLeaf(t *testing.T) {
	need(t, "openssl")
	h := newHarness(t, spec.KeystorePEM)
	h.generate(t0, nil)
	for _, n := range []string{"kafka-broker-1", "kafka-broker-2", "kafka-broker-3", "prediction-service"} {
		opensslVerify(t, h.dir, n+".crt", t0)
	}
	// Kafka's native PEM keystore: key + chain, which openssl reads back.
	out, err := exec.Command("openssl", "pkey", "-in", filepath.Join(h.dir, "kafka-broker-1.keystore.pem"), "-noout").CombinedOutput()
	if err != nil {
		t.Errorf("openssl pkey on the PEM keystore: %v\n%s", err, out)
	}
	// openssl checks the host name against the SANs too.
	out, err = exec.Command("openssl", "verify", "-attime", epoch(t0), "-CAfile", filepath.Join(h.dir, "ca.crt"),
		"-verify_hostname", "kafka-broker-2-0.kafka-headless.avatar.svc.cluster.local", filepath.Join(h.dir, "kafka-broker-2.crt")).CombinedOutput()
	if err != nil {
		t.Errorf("headless pod name not accepted: %v\n%s", err, out)
	}
	out, err = exec.Command("openssl", "verify", "-attime", epoch(t0), "-CAfile", filepath.Join(h.dir, "ca.crt"),
		"-verify_hostname", "kafka-broker-3", filepath.Join(h.dir, "kafka-broker-2.crt")).CombinedOutput()
	if err == nil {
		t.Errorf("broker 2's certificate accepted for kafka-broker-3:\n%s", out)
	}
}

func epoch(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func opensslVerify(t *testing.T, dir, leaf string, at time.Time) {
	t.Helper()
	out, err := exec.Command("openssl", "verify", "-attime", epoch(at), "-CAfile", filepath.Join(dir, "ca.crt"), filepath.Join(dir, leaf)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ": OK") {
		t.Errorf("openssl verify %s: %v\n%s", leaf, err, out)
	}
}

func need(t *testing.T, tool string) {
	t.Helper()
	tooltest.Require(t, tool, map[string]string{"openssl": "apt-get install openssl", "keytool": "apt-get install default-jre-headless"}[tool])
}

func keytoolList(t *testing.T, path, password string) string {
	t.Helper()
	need(t, "keytool")
	out, err := exec.Command("keytool", append(jvmFast, "-list", "-keystore", path, "-storepass", password)...).CombinedOutput()
	if err != nil {
		t.Fatalf("keytool -list %s: %v\n%s", filepath.Base(path), err, out)
	}
	return string(out)
}

// TestKeytoolOpensEveryStore opens each store with Java's own tool, which knows both formats, and
// matches the entries by SHA-256 fingerprint against the PEM files. JVM start-up dominates, so the
// keytool runs go concurrently.
func TestKeytoolOpensEveryStore(t *testing.T) {
	need(t, "keytool")
	type check struct {
		path, password string
		want           []string // substrings of keytool's listing
		mustFail       bool
	}
	var checks []check
	for _, kt := range []string{spec.KeystorePKCS12, spec.KeystoreJKS} {
		h := newHarness(t, kt)
		h.generate(t0, nil)
		pw := h.password()
		ext := storeExt(kt)
		caFP := fingerprint(t, readFile(t, h.dir, "ca.crt"))
		for _, n := range []string{"kafka-broker-1", "kafka-broker-2", "kafka-broker-3", "prediction-service"} {
			// JKS aliases are ours; go-pkcs12 writes no friendlyName for the key, so Java says "1".
			alias := n
			if kt == spec.KeystorePKCS12 {
				alias = "1"
			}
			checks = append(checks,
				check{path: filepath.Join(h.dir, n+".keystore."+ext), password: pw, want: []string{
					"Keystore type: " + kt, "Your keystore contains 1 entry", alias + ",", "PrivateKeyEntry", fingerprint(t, readFile(t, h.dir, n+".crt"))}},
				check{path: filepath.Join(h.dir, n+".truststore."+ext), password: pw, want: []string{
					"Keystore type: " + kt, "Your keystore contains 1 entry", "ca,", "trustedCertEntry", caFP}})
		}
		// A wrong password must not open them: the stores really are protected.
		checks = append(checks, check{path: filepath.Join(h.dir, "kafka-broker-1.keystore."+ext), password: "wrong-password", mustFail: true})
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out, err := exec.Command("keytool", append(jvmFast, "-list", "-keystore", c.path, "-storepass", c.password)...).CombinedOutput()
			switch {
			case c.mustFail && err == nil:
				t.Errorf("keytool opened %s with a wrong password:\n%s", c.path, out)
			case c.mustFail:
			case err != nil:
				t.Errorf("keytool -list %s: %v\n%s", c.path, err, out)
			default:
				for _, w := range c.want {
					if !strings.Contains(string(out), w) {
						t.Errorf("keytool -list %s lacks %q:\n%s", filepath.Base(c.path), w, out)
					}
				}
			}
		}()
	}
	wg.Wait()
}

// fingerprint renders a PEM certificate's SHA-256 the way keytool prints it.
func fingerprint(t *testing.T, pemData string) string {
	t.Helper()
	certs, _, err := parseCerts([]byte(pemData))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(certs[0].Raw)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

func TestCARotationTwoSteps(t *testing.T) {
	need(t, "openssl")
	h := newHarness(t, "")
	h.generate(t0, nil)
	oldCA := readFile(t, h.dir, "ca.crt")
	oldLeaf := readFile(t, h.dir, "kafka-broker-1.crt")

	// Step 1: the new CA joins every trust bundle; leaves are untouched.
	t1 := t0.Add(100 * 24 * time.Hour)
	res := h.generate(t1, func(o *Options) { o.RotateCA = true })
	for _, f := range files(res) {
		if strings.HasSuffix(f, ".crt") && f != "ca.crt" && f != "ca.next.crt" {
			t.Errorf("step 1 re-issued %s", f)
		}
	}
	if got := readFile(t, h.dir, "kafka-broker-1.crt"); got != oldLeaf {
		t.Error("step 1 changed a leaf")
	}
	if ts := keytoolList(t, filepath.Join(h.dir, "kafka-broker-1.truststore.p12"), h.password()); !strings.Contains(ts, "contains 2 entries") || !strings.Contains(ts, "ca-next,") {
		t.Errorf("truststore after step 1:\n%s", ts)
	}
	opensslVerify(t, h.dir, "kafka-broker-1.crt", t1)
	if st := h.status(t1); st["ca.next"].Status != StateOK {
		t.Errorf("ca.next: %+v", st["ca.next"])
	}
	if res := h.generate(t1, nil); res.Changed() {
		t.Errorf("generate between the steps wants to write: %+v", res.Actions)
	}

	// Step 2: the new CA signs, every leaf is re-issued, the old CA stays trusted.
	res = h.generate(t1, func(o *Options) { o.RotateCA = true })
	if got := readFile(t, h.dir, "ca.previous.crt"); !strings.HasPrefix(oldCA, got) {
		t.Error("ca.previous.crt is not the old CA")
	}
	for _, n := range []string{"ca.next.crt", "ca.next.key"} {
		if _, err := os.Stat(filepath.Join(h.dir, n)); !os.IsNotExist(err) {
			t.Errorf("%s still there after step 2", n)
		}
	}
	for _, n := range []string{"kafka-broker-1", "kafka-broker-2", "kafka-broker-3", "prediction-service"} {
		opensslVerify(t, h.dir, n+".crt", t1)
		if !slices.Contains(files(res), n+".crt") {
			t.Errorf("step 2 did not re-issue %s", n)
		}
	}
	st := h.status(t1)
	for name, s := range st {
		if s.Status != StateOK {
			t.Errorf("after step 2, %s: %s (%s)", name, s.Status, s.Reason)
		}
	}
	// An old leaf still verifies against the bundle: peers not yet restarted keep working.
	os.WriteFile(filepath.Join(h.dir, "old-leaf.pem"), []byte(oldLeaf), 0o600)
	opensslVerify(t, h.dir, "old-leaf.pem", t1)
	os.Remove(filepath.Join(h.dir, "old-leaf.pem"))

	// Finally the old CA is dropped; the bundle holds one CA again.
	res = h.generate(t1, func(o *Options) { o.DropPreviousCA = true })
	if d := cmp.Diff([]string{"ca.previous.crt"}, res.Remove); d != "" {
		t.Errorf("removed (-want +got):\n%s", d)
	}
	if ts := keytoolList(t, filepath.Join(h.dir, "kafka-broker-2.truststore.p12"), h.password()); !strings.Contains(ts, "contains 1 entry") {
		t.Errorf("truststore after dropping the old CA:\n%s", ts)
	}
	if res := h.generate(t1, nil); res.Changed() {
		t.Errorf("not idempotent after the rotation: %+v", res.Actions)
	}
}

func TestForceReissuesLeavesKeepsCA(t *testing.T) {
	h := newHarness(t, "")
	h.generate(t0, nil)
	ca := readFile(t, h.dir, "ca.crt")
	res := h.generate(t0, func(o *Options) { o.Force = true })
	if readFile(t, h.dir, "ca.crt") != ca {
		t.Error("--force replaced the CA")
	}
	if len(res.Files) != 4*4 {
		t.Errorf("want key, crt and both stores for 4 leaves, got %v", files(res))
	}
}

func TestExternalCA(t *testing.T) {
	need(t, "openssl")
	h := newHarness(t, "")
	extDir := t.TempDir()
	certPEM, keyPEM, err := NewCA("corp", t0, CAValidity, seeded(3))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(extDir, "corp-ca.pem"), certPEM, 0o644)
	os.WriteFile(filepath.Join(extDir, "corp-ca.key"), keyPEM, 0o600)
	h.spec.TLS.CA = &spec.CARef{CertFile: filepath.Join(extDir, "corp-ca.pem"), KeyFile: filepath.Join(extDir, "corp-ca.key")}
	res := h.generate(t0, nil)
	if slices.Contains(files(res), "ca.key") {
		t.Error("an external CA's key was copied into tls.dir")
	}
	if readFile(t, h.dir, "ca.crt") != string(certPEM) {
		t.Error("ca.crt is not the external CA")
	}
	opensslVerify(t, h.dir, "kafka-broker-1.crt", t0)

	h.generate(t0, nil)
	// rotate --ca makes no sense for a CA someone else issues.
	src := h.source()
	_, err = Generate(h.spec, src, Options{Now: t0, Rand: h.rand, Password: Password{Value: h.password()}, RotateCA: true})
	if err == nil || !strings.Contains(err.Error(), "external CA") {
		t.Errorf("rotate --ca with an external CA: %v", err)
	}
	// Without the key, checking works and issuing says what is missing.
	h.spec.TLS.CA.KeyFile = ""
	h.spec.Brokers = append(h.spec.Brokers, spec.Broker{ID: 4, Host: "kafka-broker-4"})
	_, err = Generate(h.spec, h.source(), Options{Now: t0, Rand: h.rand, Password: Password{Value: h.password()}})
	if err == nil || !strings.Contains(err.Error(), "kafka-broker-4 need issuing but tls.ca.keyFile is missing") {
		t.Errorf("issuing without the CA key: %v", err)
	}
}

func TestUnknownKeystoreType(t *testing.T) {
	s := avatarSpec(t.TempDir(), "BKS")
	if _, err := Status(s, Source{Dir: os.DirFS(s.TLS.Dir)}, t0); err == nil || !strings.Contains(err.Error(), `tls.keystoreType "BKS"`) {
		t.Errorf("got %v", err)
	}
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jvmFast trims keytool's JVM start-up (no C2 compiler, serial GC): these runs last milliseconds.
var jvmFast = []string{"-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC", "-J-Xshare:auto"}

func TestCANearAndPastExpiry(t *testing.T) {
	h := newHarness(t, "")
	h.generate(t0, nil)

	// Ten days before the CA ends, leaves renewed now are capped at the CA's expiry and so sit in
	// their renew window at once: generate must renew them once, then stop (idempotence), and say
	// that only a CA rotation helps.
	nearEnd := t0.Add(CAValidity - 10*24*time.Hour)
	res := h.generate(nearEnd, nil)
	if len(res.Files) != 4*3 {
		t.Fatalf("expired leaves not renewed: %v", files(res))
	}
	res = h.generate(nearEnd, nil)
	if res.Changed() {
		t.Fatalf("renews leaves capped by the CA on every run: %+v", res.Actions)
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, "certs rotate --ca") }) {
		t.Errorf("notes do not point at a CA rotation: %q", res.Notes)
	}
	if st := h.status(nearEnd)["ca"]; st.Status != StateRenew {
		t.Errorf("CA ten days before expiry: %+v", st)
	}

	// Past its end the CA is replaced and every leaf re-signed.
	past := t0.Add(CAValidity + 24*time.Hour)
	if st := h.status(past)["ca"]; st.Status != StateExpired {
		t.Fatalf("CA after expiry: %+v", st)
	}
	res = h.generate(past, nil)
	if !slices.Contains(files(res), "ca.key") || len(res.Files) != 2+4*4 {
		t.Errorf("expired CA: %v", files(res))
	}
	for name, st := range h.status(past) {
		if st.Status != StateOK {
			t.Errorf("after replacing the CA, %s: %s (%s)", name, st.Status, st.Reason)
		}
	}
}

// TestExternalCANearExpiryNote: a leaf capped by a short-lived external CA is not re-issued, and
// the note says to renew that CA at its source; "certs rotate --ca", which it used to suggest,
// refuses an external CA.
func TestExternalCANearExpiryNote(t *testing.T) {
	h := newHarness(t, "")
	extDir := t.TempDir()
	certPEM, keyPEM, err := NewCA("corp", t0, 20*24*time.Hour, seeded(4))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(extDir, "corp-ca.pem"), certPEM, 0o644)
	os.WriteFile(filepath.Join(extDir, "corp-ca.key"), keyPEM, 0o600)
	h.spec.TLS.CA = &spec.CARef{CertFile: filepath.Join(extDir, "corp-ca.pem"), KeyFile: filepath.Join(extDir, "corp-ca.key")}
	h.generate(t0, nil)
	res := h.generate(t0, nil)
	notes := strings.Join(res.Notes, "\n")
	if !strings.Contains(notes, "kafka-broker-1 expires together with the CA; renew the CA at its source") || strings.Contains(notes, "rotate --ca") {
		t.Errorf("notes:\n%s", notes)
	}
}
