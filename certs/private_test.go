package certs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

// nobody is the "another user" of these tests (they run as root in CI, so chown works).
const nobody = 65534

// TestPlantedOrExposedMaterialIsRefused plays issue 10 item 5: a CA planted by another user in a
// world-writable tls.dir, keys others can read, a symlinked tls.dir. Load (used by generate,
// inspect, dev up and plan) and CheckPrivate (render) refuse with the path and the fix, and
// nothing is rewritten: the evidence stays as it was found.
func TestPlantedOrExposedMaterialIsRefused(t *testing.T) {
	cases := map[string]struct {
		plant func(t *testing.T, h *harness) (path string)
		want  []string // %s is replaced by the returned path
	}{
		"CA planted by another user in a world-writable dir": {func(t *testing.T, h *harness) string {
			chmod(t, h.dir, 0o777)
			chown(t, filepath.Join(h.dir, "ca.key"), nobody)
			chown(t, filepath.Join(h.dir, "ca.crt"), nobody)
			chmod(t, filepath.Join(h.dir, "ca.key"), 0o644)
			return h.dir
		}, []string{"%s has mode 0777: group and others can write it; `chmod 700 %s`", "ca.key is owned by uid 65534, not by you", "ca.key has mode 0644: group and others can read it"}},
		"CA key readable by others": {func(t *testing.T, h *harness) string {
			p := filepath.Join(h.dir, "ca.key")
			chmod(t, p, 0o604)
			return p
		}, []string{"%s has mode 0604: others can read it; `chmod 600 %s` if you are sure it was not copied"}},
		"CA key owned by another user": {func(t *testing.T, h *harness) string {
			p := filepath.Join(h.dir, "ca.key")
			chown(t, p, nobody)
			return p
		}, []string{"%s is owned by uid 65534, not by you (uid 0)", "`chown 0 %s`"}},
		"tls.dir owned by another user": {func(t *testing.T, h *harness) string {
			chown(t, h.dir, nobody)
			return h.dir
		}, []string{"%s is owned by uid 65534"}},
		"group-writable trust bundle": {func(t *testing.T, h *harness) string {
			p := filepath.Join(h.dir, "ca.crt")
			chmod(t, p, 0o664)
			return p
		}, []string{"%s has mode 0664: its group can write it; `chmod 644 %s`"}},
		"tls.dir is a link to a world-writable directory": {func(t *testing.T, h *harness) string {
			real := h.dir + ".real"
			if err := os.Rename(h.dir, real); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(real, h.dir); err != nil {
				t.Fatal(err)
			}
			chmod(t, real, 0o757)
			return h.dir
		}, []string{"%s (a link to ", ".real) has mode 0757: others can write it"}},
		"external CA key readable by group": {func(t *testing.T, h *harness) string {
			ext := t.TempDir()
			certPEM, keyPEM, err := NewCA("corp", t0, CAValidity, seeded(3))
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(ext, "corp-ca.key")
			must(t, os.WriteFile(filepath.Join(ext, "corp-ca.pem"), certPEM, 0o644))
			must(t, os.WriteFile(p, keyPEM, 0o640))
			h.spec.TLS.CA = &spec.CARef{CertFile: filepath.Join(ext, "corp-ca.pem"), KeyFile: p}
			return p
		}, []string{"%s (tls.ca.keyFile) has mode 0640: its group can read it"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, "")
			h.generate(t0, nil)
			p := tc.plant(t, h)
			before := snapshotWithOwners(t, h.dir)
			_, err := Load(h.spec)
			if !errors.Is(err, ErrUnsafeTLSDir) {
				t.Fatalf("Load: want ErrUnsafeTLSDir, got %v", err)
			}
			for _, w := range tc.want {
				if w = strings.ReplaceAll(w, "%s", p); !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if err2 := CheckPrivate(h.spec); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("CheckPrivate and Load disagree: %v", err2)
			}
			if after := snapshotWithOwners(t, h.dir); after != before {
				t.Errorf("a refused load changed tls.dir:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// TestPrivateMaterialPasses: what certs itself writes, a missing tls.dir and a 0755 tls.dir pass.
func TestPrivateMaterialPasses(t *testing.T) {
	h := newHarness(t, "")
	if err := CheckPrivate(h.spec); err != nil {
		t.Fatalf("missing tls.dir: %v", err)
	}
	h.generate(t0, nil)
	if err := CheckPrivate(h.spec); err != nil {
		t.Fatalf("as generated: %v", err)
	}
	chmod(t, h.dir, 0o755)
	if err := CheckPrivate(h.spec); err != nil {
		t.Fatalf("0755 tls.dir: %v", err)
	}
}

// TestGenerateNeverTightensALooseCAKey: Generate handed a CA key others could read refuses rather
// than rewriting it 0600, which would hide the exposure (issue 10).
func TestGenerateNeverTightensALooseCAKey(t *testing.T) {
	h := newHarness(t, "")
	h.generate(t0, nil)
	pw := h.password()
	src := Source{Dir: os.DirFS(h.dir), DirPath: h.dir} // not through Load, which would refuse first
	chmod(t, filepath.Join(h.dir, "ca.key"), 0o644)
	_, err := Generate(h.spec, src, Options{Now: t0, Rand: h.rand, Password: Password{Value: pw}})
	if !errors.Is(err, ErrUnsafeTLSDir) || !strings.Contains(err.Error(), "certs rotate --ca") {
		t.Fatalf("want a refusal naming certs rotate --ca, got %v", err)
	}
}

func snapshotWithOwners(t *testing.T, dir string) string {
	t.Helper()
	var sb strings.Builder
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		fmt.Fprintf(&sb, "%s %s uid=%d %q\n", e.Name(), fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid, b)
	}
	return sb.String()
}

func chmod(t *testing.T, p string, m os.FileMode) {
	t.Helper()
	must(t, os.Chmod(p, m))
}

func chown(t *testing.T, p string, uid int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("simulating another user's file needs root (chown); CI runs as root")
	}
	must(t, os.Lchown(p, uid, uid))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
