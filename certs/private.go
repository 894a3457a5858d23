package certs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/avatar-project/avatar-sync/spec"
)

// ErrUnsafeTLSDir marks a tls.dir (or a key in it) that someone other than the user could have
// planted or read. Every command that reads tls.dir refuses it: certs generate would otherwise sign
// every certificate with a planted CA, certs inspect would call that CA ok, dev up would serve it
// and render would package it into the brokers' Secret (issue 10).
var ErrUnsafeTLSDir = errors.New("unsafe TLS material")

// CheckPrivate refuses, as ssh's StrictModes does, certificate material others could have written
// or read: tls.dir (after following a symbolic link) or any file in it that is group- or
// world-writable or owned by another user (root excepted), and a CA key (ca.key, ca.next.key,
// tls.ca.keyFile) or keystore.password readable by group or others. Leaf keys readable by others are
// not refused here: Status reports them as mismatch and generate re-issues them with a new key. A
// tls.dir that does not exist yet passes (certs creates it 0700). Every problem is reported, each
// with its path and the command that fixes it.
func CheckPrivate(s *spec.Spec) error {
	dir := SettingsOf(s).Dir
	var errs []error
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("tls.dir: %w", err)
	case !info.IsDir():
		return fmt.Errorf("tls.dir %s is not a directory", dir)
	}
	shown := dir
	if real, err := filepath.EvalSymlinks(dir); err == nil && real != filepath.Clean(dir) {
		shown = fmt.Sprintf("%s (a link to %s)", dir, real)
	}
	errs = append(errs, checkOwnerAndMode(shown, dir, info, 0o022, "chmod 700 "+dir))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("tls.dir: %w", err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		if err != nil {
			continue // a dangling link is not material anyone reads
		}
		errs = append(errs, checkOwnerAndMode(p, p, fi, privateMask(e.Name()), "chmod "+modeFix(e.Name())+" "+p))
	}
	if ca := s.TLS.CA; ca != nil && ca.KeyFile != "" {
		p := ca.KeyFile // resolved against the spec file by spec.Parse
		if fi, err := os.Stat(p); err == nil {
			errs = append(errs, checkOwnerAndMode(p+" (tls.ca.keyFile)", p, fi, 0o077, "chmod 600 "+p))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrUnsafeTLSDir, err)
	}
	return nil
}

// privateMask is the permission bits name must not have: every file must be writable by its owner
// only; the keys that cannot be re-issued without every client noticing must also be unreadable.
func privateMask(name string) fs.FileMode {
	switch name {
	case "ca.key", "ca.next.key", PasswordFileName:
		return 0o077
	}
	return 0o022
}

func modeFix(name string) string {
	if privateMask(name) == 0o077 || strings.HasSuffix(name, ".key") {
		return "600"
	}
	return "644"
}

// checkOwnerAndMode reports shown when info (the file at p) is owned by another user or has a bit
// of mask set.
func checkOwnerAndMode(shown, p string, info fs.FileInfo, mask fs.FileMode, chmod string) error {
	var errs []error
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		if me := os.Geteuid(); int(st.Uid) != me && st.Uid != 0 {
			errs = append(errs, fmt.Errorf("%s is owned by uid %d, not by you (uid %d): someone else may have planted it; check it, then `chown %d %s` (or remove it to have it generated anew)", shown, st.Uid, me, me, p))
		}
	}
	if bad := info.Mode().Perm() & mask; bad != 0 {
		who := "group and others"
		switch {
		case bad&0o070 == 0:
			who = "others"
		case bad&0o007 == 0:
			who = "its group"
		}
		what := "write"
		if bad&0o044 != 0 {
			what = "read"
		}
		if bad&0o022 != 0 && bad&0o044 != 0 {
			what = "read and write"
		}
		hint := "`" + chmod + "`"
		if mask == 0o077 && bad&0o044 != 0 {
			hint += " if you are sure it was not copied; otherwise replace it (certs rotate --ca, or a new tls.ca)"
		}
		errs = append(errs, fmt.Errorf("%s has mode %04o: %s can %s it; %s", shown, info.Mode().Perm(), who, what, hint))
	}
	return errors.Join(errs...)
}
