// Package kubetest runs a real Kubernetes API server for tests (issue 11): Debian's etcd on loopback
// and kube-apiserver v1.35.4, built once by scripts/kube-apiserver.sh into the user cache. There are
// no nodes, so nothing is scheduled; tests that need a rollout act as the kubelet by writing status.
//
// One server serves a whole test package: the first test that calls Shared starts it, and the
// package's TestMain calls Stop after m.Run. A test that needs options (an audit log to count its
// requests, issue 23) starts one of its own with Start. A missing binary fails the test under
// AVATAR_SYNC_REQUIRE_TOOLS=1 (CI) and skips it otherwise, as internal/tooltest decides.
package kubetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/internal/tooltest"
)

// Version is the kube-apiserver release the tests run against; scripts/kube-apiserver.sh builds it.
const Version = "v1.35.4"

// BinaryEnv names a kube-apiserver binary to use instead of the cached build.
const BinaryEnv = "AVATAR_SYNC_KUBE_APISERVER"

// readyTimeout bounds the start: 6-11 s on an idle machine, much more on a loaded shared one.
const readyTimeout = 3 * time.Minute

// Server is a running etcd + kube-apiserver pair.
type Server struct {
	// URL is the API server's https address on 127.0.0.1.
	URL string
	// Token authenticates as a member of system:masters.
	Token string
	// Kubeconfig is a kubeconfig file with one context, ContextName, for this server.
	Kubeconfig string
	// CAFile verifies the server's self-signed certificate (kube-apiserver writes it with its CA
	// into --cert-dir), as a pod's service account ca.crt does.
	CAFile string

	// AuditLog is the API server's audit log (JSON lines, level Metadata, every request), when
	// started with Options.Audit; Requests reads it.
	AuditLog string

	dir        string
	etcd, kube *exec.Cmd
	waits      []chan struct{}
}

// Options are how Start starts a server.
type Options struct {
	// Audit makes kube-apiserver log every request at level Metadata (--audit-policy-file,
	// --audit-log-path) to Server.AuditLog, so a test can count the requests a client made.
	Audit bool
}

// ContextName is the context the kubeconfig file defines.
const ContextName = "kubetest"

var (
	shared    *Server
	sharedErr error
	once      sync.Once
)

// Binary returns the kube-apiserver path: $AVATAR_SYNC_KUBE_APISERVER, else the cached build.
func Binary() string {
	if p := os.Getenv(BinaryEnv); p != "" {
		return p
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "avatar-sync", "kube-apiserver", Version, "kube-apiserver")
}

// Shared returns the package's server, starting it on first use. Every test of the package shares
// it, so tests must use names (namespaces) of their own.
func Shared(t testing.TB) *Server {
	t.Helper()
	etcd := tooltest.Require(t, "etcd", "apt-get install etcd-server")
	bin := Binary()
	if _, err := os.Stat(bin); err != nil {
		tooltest.Missing(t, fmt.Sprintf("kube-apiserver %s is not built at %s (scripts/kube-apiserver.sh builds it once; `make test-k8s` runs it)", Version, bin))
	}
	once.Do(func() { shared, sharedErr = start(etcd, bin, Options{}) })
	if sharedErr != nil {
		t.Fatalf("start kube-apiserver: %v", sharedErr)
	}
	return shared
}

// Start starts a server of the test's own (not the shared one), stopped when the test ends: for a
// test that needs options, such as an audit log only its own requests reach.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	etcd := tooltest.Require(t, "etcd", "apt-get install etcd-server")
	bin := Binary()
	if _, err := os.Stat(bin); err != nil {
		tooltest.Missing(t, fmt.Sprintf("kube-apiserver %s is not built at %s (scripts/kube-apiserver.sh builds it once; `make test-k8s` runs it)", Version, bin))
	}
	s, err := start(etcd, bin, opts)
	if err != nil {
		t.Fatalf("start kube-apiserver: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

// Stop ends the shared server, if one was started; TestMain calls it after m.Run.
func Stop() {
	if shared != nil {
		shared.stop()
	}
}

func start(etcdBin, kubeBin string, opts Options) (_ *Server, err error) {
	dir, err := os.MkdirTemp("", "kubetest-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	s.etcd, err = s.run("etcd", etcdBin,
		"--name", "kubetest",
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "kubetest="+peerURL)
	if err != nil {
		return nil, err
	}

	token, err := randomHex(16)
	if err != nil {
		return nil, err
	}
	s.Token = token
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(token+",admin,admin-uid,system:masters\n"), 0o600); err != nil {
		return nil, err
	}
	saKey := filepath.Join(dir, "sa.key")
	if err := writeRSAKey(saKey); err != nil {
		return nil, err
	}
	s.URL = fmt.Sprintf("https://127.0.0.1:%d", ports[2])
	var audit []string
	if opts.Audit {
		policy := filepath.Join(dir, "audit-policy.yaml")
		if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
			return nil, err
		}
		s.AuditLog = filepath.Join(dir, "audit.log")
		audit = []string{"--audit-policy-file", policy, "--audit-log-path", s.AuditLog,
			"--audit-log-format", "json", "--audit-log-mode", "blocking"}
	}
	s.kube, err = s.run("kube-apiserver", kubeBin, append([]string{
		"--etcd-servers", clientURL,
		"--bind-address", "127.0.0.1",
		"--advertise-address", "127.0.0.1",
		"--secure-port", fmt.Sprint(ports[2]),
		"--cert-dir", filepath.Join(dir, "certs"),
		"--token-auth-file", tokens,
		"--authorization-mode", "RBAC",
		"--service-account-key-file", saKey,
		"--service-account-signing-key-file", saKey,
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-cluster-ip-range", "10.152.183.0/24",
		// MicroK8s' setting that docs/render.md requires: the broker NodePorts are 9092-9094.
		"--service-node-port-range", "9000-32767"}, audit...)...)
	if err != nil {
		return nil, err
	}
	if err := s.waitReady(); err != nil {
		return nil, err
	}
	s.CAFile = filepath.Join(dir, "certs", "apiserver.crt")
	s.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(s.Kubeconfig, []byte(KubeconfigYAML(ContextName, s.URL, s.Token)), 0o600); err != nil {
		return nil, err
	}
	return s, nil
}

// KubeconfigYAML is a kubeconfig with one context for server and token (TLS unverified: the test
// server signs its own certificate).
func KubeconfigYAML(context, server, token string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: %[2]s
    insecure-skip-tls-verify: true
users:
- name: %[1]s
  user:
    token: %[3]s
contexts:
- name: %[1]s
  context:
    cluster: %[1]s
    user: %[1]s
current-context: %[1]s
`, context, server, token)
}

// run starts a process whose output goes to a log file in the server's directory.
func (s *Server) run(name, bin string, args ...string) (*exec.Cmd, error) {
	log, err := os.Create(filepath.Join(s.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	done := make(chan struct{})
	s.waits = append(s.waits, done)
	go func() { _ = cmd.Wait(); log.Close(); close(done) }()
	return cmd, nil
}

// waitReady polls /readyz until it answers 200, the API server exits, or readyTimeout passes.
func (s *Server) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+s.Token)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if exited(s.waits[len(s.waits)-1]) {
			return fmt.Errorf("kube-apiserver exited: %s", s.logTail("kube-apiserver"))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("/readyz not ready after %s (last: %s): %s", readyTimeout, last, s.logTail("kube-apiserver"))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func exited(done chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

func (s *Server) logTail(name string) string {
	b, _ := os.ReadFile(filepath.Join(s.dir, name+".log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// stop ends the API server before etcd (bounded), then removes the data.
func (s *Server) stop() {
	for _, c := range []*exec.Cmd{s.kube, s.etcd} {
		if c != nil && c.Process != nil {
			_ = c.Process.Kill()
		}
	}
	for _, done := range s.waits {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

// freePorts asks the kernel for n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func writeRSAKey(path string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// Namespace returns a namespace name unique to the test (lowercase, at most 63 characters).
func Namespace(t testing.TB) string {
	n := strings.ToLower(t.Name())
	var b strings.Builder
	for _, r := range n {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > 50 {
		out = out[:50]
	}
	suffix, _ := randomHex(3)
	return strings.Trim(out, "-") + "-" + suffix
}
