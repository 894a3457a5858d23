package spec

import (
	"fmt"
	"slices"
)

// Issue 21: a device's env: names the variables its external plugin receives beyond the fixed
// allow-list. It must never name a variable the spec itself reads a password from: the keystore
// password, a target's or the rendered brokers' SASL password, a SCRAM user's password. validate
// refuses such a name at its position, and the plugin runner drops it even if named
// (Device.SecretEnv), so a spec that slipped past validation still leaks nothing.

// DefaultKeystorePasswordEnv is the variable the keystore password is read from when
// tls.passwordEnv and tls.passwordFile are both unset.
const DefaultKeystorePasswordEnv = "AVATAR_KEYSTORE_PASSWORD"

// SecretEnvNames returns the environment variables s reads passwords from, each with the key
// that names it (tls.passwordEnv, clusters.lab.sasl.passwordEnv, users[0].passwordEnv, ...).
func (s *Spec) SecretEnvNames() map[string]string {
	out := map[string]string{}
	add := func(name, where string) {
		if _, dup := out[name]; name != "" && !dup {
			out[name] = where
		}
	}
	add(s.TLS.PasswordEnv, "tls.passwordEnv")
	if s.TLS.PasswordEnv == "" && s.TLS.PasswordFile == "" {
		// render, certs and dev read the keystore password from this variable when the spec names
		// none.
		add(DefaultKeystorePasswordEnv, "tls.passwordEnv (its default)")
	}
	if s.Kafka.SASL != nil {
		add(s.Kafka.SASL.PasswordEnv, "kafka.sasl.passwordEnv")
	}
	for _, c := range s.Clusters {
		if c.SASL != nil {
			add(c.SASL.PasswordEnv, fmt.Sprintf("clusters.%s.sasl.passwordEnv", c.Name))
		}
	}
	for i, u := range s.Users {
		add(u.PasswordEnv, fmt.Sprintf("users[%d].passwordEnv", i))
	}
	return out
}

// markSecretEnv records the spec's password variables on every device, for the plugin runner.
func markSecretEnv(s *Spec) {
	names := s.SecretEnvNames()
	if len(names) == 0 {
		return
	}
	secret := make([]string, 0, len(names))
	for n := range names {
		secret = append(secret, n)
	}
	slices.Sort(secret)
	for i := range s.Devices {
		s.Devices[i].SecretEnv = secret
	}
}

// deviceEnv refuses an env: entry that names one of the spec's password variables.
func (v *validator) deviceEnv(path string, d Device) {
	secrets := v.s.SecretEnvNames()
	for j, name := range d.Env {
		if where, ok := secrets[name]; ok {
			p := fmt.Sprintf("%s.env[%d]", path, j)
			v.errorf(p, "%s %q is the variable %s reads a password from; a device plugin never receives the spec's secrets: remove it from env:", p, name, where)
		}
	}
}
