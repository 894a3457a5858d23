package spec

import (
	"os"
	"strings"
	"testing"
)

// TestDeviceEnvNamesNoSecret (issue 21): a device's env: naming any of the full spec's password
// variables (the cloud target's SASL password, a SCRAM user's) is refused at the entry's
// file:line:col, and every device carries the spec's password variables for the plugin runner.
func TestDeviceEnvNamesNoSecret(t *testing.T) {
	data, err := os.ReadFile("testdata/valid/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, diags := Parse("full.yaml", data)
	if len(diags.Errors()) > 0 {
		t.Fatal(diags)
	}
	if got := strings.Join(s.Devices[0].SecretEnv, ","); got != "CLOUD_KAFKA_PASSWORD,GUI5_PASSWORD" {
		t.Errorf("SecretEnv = %s", got)
	}
	bad := strings.Replace(string(data), "devices:\n", "devices:\n  - { name: leak, kind: lidar, address: 'l:1', env: [OK_TOKEN, GUI5_PASSWORD] }\n", 1)
	_, diags = Parse("full.yaml", []byte(bad))
	errs := diags.Errors()
	if len(errs) != 1 || !strings.Contains(errs[0].String(), `devices[0].env[1] "GUI5_PASSWORD" is the variable users[0].passwordEnv reads a password from`) ||
		errs[0].Pos.File != "full.yaml" || errs[0].Pos.Line == 0 || errs[0].Pos.Col == 0 {
		t.Errorf("want one error at the env entry, got %v", errs)
	}
}

// TestSecretEnvNamesDefaultKeystoreVariable: with neither tls.passwordEnv nor tls.passwordFile the
// keystore password is read from AVATAR_KEYSTORE_PASSWORD, so a device may not name that either.
func TestSecretEnvNamesDefaultKeystoreVariable(t *testing.T) {
	tests := map[string]struct {
		tls  TLS
		want bool
	}{
		"defaulted":        {TLS{Enabled: true}, true},
		"named elsewhere":  {TLS{Enabled: true, PasswordEnv: "LAB_PW"}, false},
		"from a file":      {TLS{Enabled: true, PasswordFile: "/run/secrets/pw"}, false},
		"named explicitly": {TLS{Enabled: true, PasswordEnv: DefaultKeystorePasswordEnv}, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, got := (&Spec{TLS: tc.tls}).SecretEnvNames()[DefaultKeystorePasswordEnv]
			if got != tc.want {
				t.Errorf("AVATAR_KEYSTORE_PASSWORD secret = %v, want %v", got, tc.want)
			}
		})
	}
}
