package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// ErrNoPassword is returned by ResolvePassword when the reference yields no password: neither key set,
// the variable unset or empty, or the file missing or empty. Callers with a fallback (certs generates
// a keystore password) check it with errors.Is.
var ErrNoPassword = errors.New("no password")

// ResolvePassword is the one reading of a passwordEnv/passwordFile pair (tls, clusters.*.sasl), so
// every command agrees on it (issue 9: two resolvers, one documented with the opposite order from its
// code). Order: $env when it is set and not empty, else the file (resolved by Parse); validation
// allows only one of them, so the order decides only for a Spec built in memory. A file's trailing line feeds are
// dropped, as the shell's $(cat) does. A password holding a carriage return or an inner line break is
// refused: the brokers and the printed kubectl/compose commands would not read the same password.
// from says where the value came from ("$NAME" or the path), for messages; the value never appears in
// one. getenv and readFile are the process's (os.Getenv, os.ReadFile) outside tests.
func ResolvePassword(env, file string, getenv func(string) string, readFile func(string) ([]byte, error)) (value, from string, err error) {
	var missing []string
	if env != "" {
		if value = getenv(env); value != "" {
			return checkPassword(value, "$"+env)
		}
		missing = append(missing, fmt.Sprintf("environment variable %s is not set (export it or use a password file)", env))
	}
	if file != "" {
		b, rerr := readFile(file)
		switch {
		case errors.Is(rerr, fs.ErrNotExist):
			missing = append(missing, file+": no such file")
		case rerr != nil:
			return "", file, fmt.Errorf("read %s: %w", file, rerr)
		default:
			if value = strings.TrimRight(string(b), "\n"); value != "" {
				return checkPassword(value, file)
			}
			missing = append(missing, file+" is empty")
		}
	}
	if len(missing) == 0 {
		return "", "", fmt.Errorf("neither passwordEnv nor passwordFile is set: %w", ErrNoPassword)
	}
	return "", "", fmt.Errorf("%s: %w", strings.Join(missing, "; "), ErrNoPassword)
}

func checkPassword(value, from string) (string, string, error) {
	if strings.ContainsAny(value, "\r\n") {
		return "", from, fmt.Errorf("the password from %s contains a carriage return or line break; save it as one line with Unix line endings (dos2unix %s)", from, from)
	}
	return value, from, nil
}
