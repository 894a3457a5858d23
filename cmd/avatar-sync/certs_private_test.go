package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandsRefuseAPlantedCA: another user pre-created the CA in a world-writable tls.dir with a
// readable key (issue 10 item 5). generate, inspect, render and dev up all refuse, naming the
// directory and the fix, and the planted key is left exactly as found.
func TestCommandsRefuseAPlantedCA(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("simulating another user's CA needs chown, i.e. root; CI runs as root")
	}
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "lab-secret-42")
	specPath, tlsDir := certsWorkspace(t)
	if code, out, errOut := runCLI(t, "certs", "generate", "-f", specPath); code != exitOK {
		t.Fatalf("certs generate: %d\n%s%s", code, out, errOut)
	}
	// The "attacker's" CA: the generated one, handed to uid 65534 and left readable.
	key := filepath.Join(tlsDir, "ca.key")
	for _, f := range []string{key, filepath.Join(tlsDir, "ca.crt")} {
		if err := os.Chown(f, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tlsDir, 0o777); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"generate": {"certs", "generate"},
		"inspect":  {"certs", "inspect"},
		"render":   {"render", "-d", filepath.Join(filepath.Dir(specPath), "deploy")},
		"dev up":   {"dev", "up", "--state-dir", t.TempDir(), "--ports", "0,0,0"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append(args, "-f", specPath)...)
			for _, want := range []string{tlsDir + " has mode 0777", "`chmod 700 " + tlsDir + "`", key + " is owned by uid 65534"} {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q", want)
				}
			}
			if code != exitError {
				t.Errorf("exit %d, want %d\nstdout %s\nstderr %s", code, exitError, out, errOut)
			}
			fi, err := os.Stat(key)
			if err != nil || fi.Mode().Perm() != 0o644 {
				t.Errorf("the planted key was rewritten: %v %v", fi.Mode(), err)
			}
		})
	}
}

// TestCertsRefusesAWrongKeystorePassword (issue 10 item 13): a mistyped password re-keyed every
// store and exited 0, breaking the running brokers. generate and rotate refuse, exit 1 and write
// nothing; generate --force changes the password on purpose.
func TestCertsRefusesAWrongKeystorePassword(t *testing.T) {
	specPath, tlsDir := certsWorkspace(t)
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "lab-secret-42")
	if code, out, errOut := runCLI(t, "certs", "generate", "-f", specPath); code != exitOK {
		t.Fatalf("certs generate: %d\n%s%s", code, out, errOut)
	}
	store := filepath.Join(tlsDir, "kafka-broker-1.keystore.p12")
	before, err := os.ReadFile(store)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "lab-secret-43")
	for _, args := range [][]string{{"certs", "generate"}, {"certs", "rotate"}} {
		code, _, errOut := runCLI(t, append(args, "-f", specPath)...)
		if code != exitError || !strings.Contains(errOut, "keystores do not open with the keystore password from $AVATAR_KEYSTORE_PASSWORD") ||
			!strings.Contains(errOut, "certs generate --force") {
			t.Errorf("%v: code %d\n%s", args, code, errOut)
		}
		if after, _ := os.ReadFile(store); string(after) != string(before) {
			t.Fatalf("%v rewrote %s", args, store)
		}
	}
	if code, out, errOut := runCLI(t, "certs", "generate", "--force", "-f", specPath); code != exitOK {
		t.Fatalf("certs generate --force: %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := runCLI(t, "certs", "generate", "-f", specPath); code != exitOK || !strings.Contains(out, "up to date") {
		t.Errorf("after --force the new password should open every store: %d\n%s", code, out)
	}
}
