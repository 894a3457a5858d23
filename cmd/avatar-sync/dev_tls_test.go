package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/internal/tooltest"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/spec"
)

// tlsWorkspace is certsWorkspace with a client principal for mutual TLS and generated material.
func tlsWorkspace(t *testing.T) (specPath, tlsDir string) {
	t.Helper()
	specPath, tlsDir = certsWorkspace(t)
	data, _ := os.ReadFile(specPath)
	s := strings.Replace(string(data), "renewBefore: 30d }", "renewBefore: 30d, clients: [prediction-service] }", 1)
	if s == string(data) {
		t.Fatal("example spec changed shape; update tlsWorkspace")
	}
	os.WriteFile(specPath, []byte(s), 0o644)
	if code, out, errOut := runCLI(t, "certs", "generate", "-f", specPath); code != exitOK {
		t.Fatalf("certs generate: %d\n%s%s", code, out, errOut)
	}
	return specPath, tlsDir
}

// startDevUp runs `dev up` until the test ends and returns its bootstrap addresses.
func startDevUp(t *testing.T, ctx context.Context, args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"dev", "up"}, args...), strings.NewReader(""), &out, &errOut) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("dev up did not stop within 30s")
		}
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		for _, line := range strings.Split(out.String(), "\n") {
			if addrs, ok := strings.CutPrefix(line, "bootstrap: "); ok {
				return strings.Split(addrs, ",")
			}
		}
		select {
		case code := <-done:
			t.Fatalf("dev up exited early with %d: %s%s", code, out.String(), errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no bootstrap line after 30s: %q", out.String())
	return nil
}

// kcat runs the real librdkafka client with a bounded time and returns its combined output.
func kcat(t *testing.T, ctx context.Context, stdin string, args ...string) (string, error) {
	t.Helper()
	tooltest.Require(t, "kcat", "apt-get install kcat")
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kcat", args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestDevUpServesTLS is issue 5's "done when": certs generate && dev up gives a cluster kcat reaches
// over SSL with ca.crt, exactly as the reference README's Python example connects.
func TestDevUpServesTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "lab-secret-42")
	specPath, tlsDir := tlsWorkspace(t)
	stateDir := t.TempDir()
	bootstrap := startDevUp(t, ctx, "-f", specPath, "--state-dir", stateDir, "--ports", "0,0,0")
	if len(bootstrap) != 3 {
		t.Fatalf("bootstrap %v", bootstrap)
	}
	caFile := filepath.Join(tlsDir, "ca.crt")
	// Bootstrap by name as the reference README's Python client does (localhost:9192); metadata then
	// hands out 127.0.0.1 addresses, so both the DNS and the IP SAN are exercised.
	localhost := strings.Replace(bootstrap[0], "127.0.0.1:", "localhost:", 1)
	ssl := []string{"-b", localhost, "-X", "security.protocol=ssl", "-X", "ssl.ca.location=" + caFile}

	// avatar-sync itself joins the running cluster with verification on and creates an Avatar topic.
	sp, diags := spec.LoadFile(specPath)
	if sp == nil {
		t.Fatal(diags)
	}
	a, err := clusters.Open(ctx, sp, "embedded", clusters.Options{StateDir: stateDir})
	if err != nil {
		t.Fatalf("join the TLS dev up: %v", err)
	}
	res, err := a.CreateTopics(ctx, []spec.Topic{{Name: "eeg-brainwave-data", Partitions: 3, ReplicationFactor: 3}})
	a.Close()
	if err != nil || res["eeg-brainwave-data"] != nil {
		t.Fatalf("create topic over TLS: %v %v", err, res)
	}

	t.Run("kcat lists brokers and topics over SSL, metadata names SSL addresses", func(t *testing.T) {
		out, err := kcat(t, ctx, "", append(ssl, "-L", "-m", "10")...)
		if err != nil {
			t.Fatalf("kcat -L: %v\n%s", err, out)
		}
		if !strings.Contains(out, "3 brokers:") || !strings.Contains(out, `topic "eeg-brainwave-data" with 3 partitions`) {
			t.Errorf("kcat -L:\n%s", out)
		}
		for _, addr := range bootstrap {
			if !strings.Contains(out, " at "+addr) {
				t.Errorf("metadata does not advertise the SSL listener %s:\n%s", addr, out)
			}
		}
	})

	t.Run("kcat produce/consume round trip", func(t *testing.T) {
		topic := []string{"-t", "eeg-brainwave-data", "-p", "1"}
		if out, err := kcat(t, ctx, "alpha 8.1\nbeta 13.5\n", append(append(ssl, "-P"), topic...)...); err != nil {
			t.Fatalf("kcat -P: %v\n%s", err, out)
		}
		out, err := kcat(t, ctx, "", append(append(ssl, "-C", "-o", "beginning", "-c", "2", "-e", "-q"), topic...)...)
		if err != nil || strings.TrimSpace(out) != "alpha 8.1\nbeta 13.5" {
			t.Fatalf("kcat -C: %v\n%q", err, out)
		}
	})

	t.Run("mutual TLS with the generated client certificate", func(t *testing.T) {
		args := append(ssl, "-X", "ssl.certificate.location="+filepath.Join(tlsDir, "prediction-service.crt"),
			"-X", "ssl.key.location="+filepath.Join(tlsDir, "prediction-service.key"), "-L", "-m", "10")
		if out, err := kcat(t, ctx, "", args...); err != nil || !strings.Contains(out, "3 brokers:") {
			t.Fatalf("kcat with client certificate: %v\n%s", err, out)
		}
	})

	// A second, unrelated set of material: its CA and its client certificate must both be refused.
	_, otherDir := tlsWorkspace(t)

	t.Run("a client trusting only another CA is refused", func(t *testing.T) {
		out, err := kcat(t, ctx, "", "-b", bootstrap[0], "-X", "security.protocol=ssl",
			"-X", "ssl.ca.location="+filepath.Join(otherDir, "ca.crt"), "-L", "-m", "3")
		if err == nil || !strings.Contains(out, "certificate verify failed") {
			t.Fatalf("kcat trusting another CA: err %v\n%s", err, out)
		}
		other := &spec.Spec{Clusters: []spec.Cluster{{Name: "lab", Bootstrap: bootstrap, Security: spec.SecuritySSL, CAFile: filepath.Join(otherDir, "ca.crt")}}}
		if a, err := clusters.Open(ctx, other, "lab", clusters.Options{DialTimeout: 5 * time.Second}); err == nil {
			a.Close()
			t.Fatal("avatar-sync connected to brokers its CA did not sign")
		}
		// The explicit opt-out still works, for a lab whose CA is not at hand.
		a, err := clusters.Open(ctx, other, "lab", clusters.Options{InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("--insecure-skip-verify: %v", err)
		}
		a.Close()
	})

	t.Run("a client certificate from another CA is refused", func(t *testing.T) {
		out, err := kcat(t, ctx, "", append(ssl, "-X", "ssl.certificate.location="+filepath.Join(otherDir, "prediction-service.crt"),
			"-X", "ssl.key.location="+filepath.Join(otherDir, "prediction-service.key"), "-L", "-m", "3")...)
		// The broker aborts the handshake; librdkafka reports the TLS alert it received.
		if err == nil || !strings.Contains(out, "alert unknown ca") {
			t.Fatalf("kcat with a foreign client certificate: err %v\n%s", err, out)
		}
		t.Logf("refused as expected:\n%s", firstLines(out, 3))
	})

	t.Run("plan verifies the brokers; --insecure-skip-verify is opt-in and loud", func(t *testing.T) {
		// Joining dev up: the CA bundle it recorded is used, verification on.
		if code, out, errOut := runCLI(t, "plan", "-f", specPath, "--state-dir", stateDir); code != exitOK || strings.Contains(errOut, "WARNING") {
			t.Fatalf("plan on the TLS dev up: code %d\n%s%s", code, out, errOut)
		}
		data, _ := os.ReadFile(specPath)
		targets := "  embedded: {}\n" +
			"  labca: { bootstrap: [" + bootstrap[1] + "], security: ssl, caFile: ssl-certs/ca.crt }\n" +
			"  lab: { bootstrap: [" + bootstrap[1] + "], security: ssl }\n" +
			"  foreign: { bootstrap: [" + bootstrap[1] + "], security: ssl, caFile: " + filepath.Join(otherDir, "ca.crt") + " }\n"
		patched := strings.Replace(string(data), "  embedded: {}", targets, 1)
		os.WriteFile(specPath, []byte(patched), 0o644)
		defer os.WriteFile(specPath, data, 0o644)

		if code, out, errOut := runCLI(t, "plan", "-f", specPath, "--cluster", "labca"); code != exitOK {
			t.Fatalf("plan with caFile: code %d\n%s%s", code, out, errOut)
		}
		// Without caFile a TLS target trusts the CA `certs generate` wrote to tls.dir.
		if code, out, errOut := runCLI(t, "plan", "-f", specPath, "--cluster", "lab"); code != exitOK {
			t.Fatalf("plan without caFile (tls.dir's CA): code %d\n%s%s", code, out, errOut)
		}
		// A CA that did not sign the brokers: refused, not silently trusted.
		code, _, errOut := runCLI(t, "plan", "-f", specPath, "--cluster", "foreign")
		if code != exitError || !strings.Contains(errOut, "certificate") {
			t.Fatalf("plan trusting another CA: code %d\n%s", code, errOut)
		}
		code, out, errOut := runCLI(t, "plan", "-f", specPath, "--cluster", "foreign", "--insecure-skip-verify")
		if code != exitOK || !strings.Contains(errOut, "WARNING: --insecure-skip-verify: broker TLS certificates are NOT verified") {
			t.Fatalf("plan --insecure-skip-verify: code %d\n%s%s", code, out, errOut)
		}
	})

	t.Run("each SSL port presents its own broker's certificate", func(t *testing.T) {
		pem, _ := os.ReadFile(caFile)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		for i, addr := range bootstrap {
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
			if err != nil {
				t.Fatalf("dial %s: %v", addr, err)
			}
			cn := conn.ConnectionState().PeerCertificates[0].Subject.CommonName
			conn.Close()
			if want := sp.Brokers[i].Host; cn != want {
				t.Errorf("%s serves %q, want %q", addr, cn, want)
			}
		}
	})
}

func TestDevUpTLSNeedsCertificates(t *testing.T) {
	specPath, _ := certsWorkspace(t)
	code, _, errOut := runCLI(t, "dev", "up", "-f", specPath, "--state-dir", t.TempDir(), "--ports", "0,0,0")
	if code != exitError || !strings.Contains(errOut, "run avatar-sync certs generate") || !strings.Contains(errOut, "--plaintext") {
		t.Fatalf("code %d\n%s", code, errOut)
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// TestDevUpWarnsAboutExpiringCertificates (issue 10 item 15): certificates issued 815 days ago
// with validity 825d expire in 10 days, inside renewBefore 30d. dev up serves them, and says on
// stderr which ones and what to run.
func TestDevUpWarnsAboutExpiringCertificates(t *testing.T) {
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "lab-secret-42")
	issued := time.Now().AddDate(0, 0, -815)
	saved := certsClock
	certsClock = func() time.Time { return issued }
	specPath, tlsDir := tlsWorkspace(t)
	certsClock = saved

	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "up", "-f", specPath, "--state-dir", t.TempDir(), "--ports", "0,0,0"}, strings.NewReader(""), &out, &errOut)
	}()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "bootstrap: "); {
		if time.Now().After(deadline) {
			t.Fatalf("no bootstrap line after 30s: %q %q", out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("dev up did not stop within 30s")
	}
	want := "Warning: serving " + filepath.Join(tlsDir, "kafka-broker-1.crt") + " expires "
	if !strings.Contains(errOut.String(), want) || !strings.Contains(errOut.String(), "inside tls.renewBefore); run `avatar-sync certs generate -f "+specPath+"` and restart dev up") {
		t.Errorf("stderr lacks the expiry warning %q:\n%s", want, errOut.String())
	}
	if strings.Contains(errOut.String(), "ca.crt expires") {
		t.Errorf("the CA is not expiring, yet warned about:\n%s", errOut.String())
	}
}
