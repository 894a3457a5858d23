package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The hostile cases of issue 10 item 7, through the real CLI: a spec from a pull request names
// plugin: ./evil.sh.

// evilSpec writes, in a fresh working directory, avatar.yaml with a device served by plugin:
// ./evil.sh, an evil.sh next to it and a same-named evil.sh on $PATH. Each script records its runs
// (and its environment) in its own file. It returns the two record files.
func evilSpec(t *testing.T) (besideSpec, onPath string) {
	t.Helper()
	path := specWithDevices(t, `  - { name: lidar-1, kind: lidar, address: "127.0.0.1:7000", plugin: ./evil.sh, env: [LIDAR_TOKEN] }
`)
	work, pathDir, records := filepath.Dir(path), t.TempDir(), t.TempDir()
	besideSpec, onPath = filepath.Join(records, "beside-spec"), filepath.Join(records, "on-path")
	script := func(file, record string) {
		body := "#!/bin/sh\nreq=$(cat)\nenv >>" + record + "\n" +
			`case "$req" in *'"op":"validate"'*) echo '{"protocol":"avatar-sync.device/v1","diagnostics":[]}';; ` +
			`*) echo '{"protocol":"avatar-sync.device/v1","findings":[{"ok":true,"message":"probed"}]}';; esac` + "\n"
		if err := os.WriteFile(file, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script(filepath.Join(work, "evil.sh"), besideSpec)
	script(filepath.Join(pathDir, "evil.sh"), onPath)
	t.Setenv("PATH", pathDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Chdir(work)
	return besideSpec, onPath
}

// TestValidateRunsNoPluginWithoutFlag: reviewers validate untrusted pull requests, so a plain
// validate starts no plugin (and says which devices went unchecked); --plugins runs the one next
// to the spec.
func TestValidateRunsNoPluginWithoutFlag(t *testing.T) {
	besideSpec, onPath := evilSpec(t)
	code, out, errOut := runCLI(t, "validate", "-f", "avatar.yaml")
	if code != exitOK {
		t.Fatalf("validate: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, f := range []string{besideSpec, onPath} {
		if _, err := os.Stat(f); err == nil {
			t.Fatalf("validate without --plugins ran a plugin (%s exists)", filepath.Base(f))
		}
	}
	if !strings.Contains(errOut, "note: the parameters of 1 device served by external plugins (lidar-1) were not checked; --plugins runs") {
		t.Errorf("validate did not say what it left unchecked:\n%s", errOut)
	}
	code, out, _ = runCLI(t, "validate", "-f", "avatar.yaml", "-o", "json")
	if code != exitOK || !strings.Contains(out, `"pluginsNotRun": [`) {
		t.Errorf("validate -o json: exit %d, want pluginsNotRun listed:\n%s", code, out)
	}

	if code, out, errOut := runCLI(t, "validate", "--plugins", "-f", "avatar.yaml"); code != exitOK || strings.Contains(errOut, "note:") {
		t.Fatalf("validate --plugins: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(besideSpec); err != nil {
		t.Errorf("validate --plugins did not run the plugin next to the spec: %v", err)
	}
	if _, err := os.Stat(onPath); err == nil {
		t.Error("validate --plugins ran the evil.sh found on $PATH")
	}
}

// TestPlanRunsNoPluginWithoutFlag: CI runs plan on pull requests, so plan starts no external
// plugin, neither to validate nor with --preflight to probe (issue 10 item 7, as validate); it says
// which devices went unchecked. With --plugins it runs the one next to the spec, and probes it.
func TestPlanRunsNoPluginWithoutFlag(t *testing.T) {
	besideSpec, onPath := evilSpec(t)
	state := t.TempDir()
	code, out, errOut := runCLI(t, "plan", "--preflight", "-f", "avatar.yaml", "--state-dir", state)
	if code != exitOK {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, f := range []string{besideSpec, onPath} {
		if _, err := os.Stat(f); err == nil {
			t.Fatalf("plan without --plugins ran a plugin (%s exists)\n%s", filepath.Base(f), errOut)
		}
	}
	for _, want := range []string{
		"note: 1 device served by external plugins (lidar-1) not checked and not probed: --plugins runs the plugins",
		"Preflight: every device is served by an external plugin, which runs only with --plugins.",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("plan did not say %q:\n%s", want, errOut)
		}
	}

	code, out, errOut = runCLI(t, "plan", "--preflight", "--plugins", "-f", "avatar.yaml", "--state-dir", state)
	if code != exitOK || strings.Contains(errOut, "note:") || !strings.Contains(errOut, "probed") {
		t.Fatalf("plan --plugins --preflight: exit %d\n%s\n%s", code, out, errOut)
	}
	if ops := string(mustRead(t, besideSpec)); strings.Count(ops, "AVATAR_SYNC_PLUGIN_PROTOCOL=") != 2 {
		t.Errorf("plan --plugins --preflight ran the plugin %d times, want 2 (validate, check)", strings.Count(ops, "AVATAR_SYNC_PLUGIN_PROTOCOL="))
	}
	if _, err := os.Stat(onPath); err == nil {
		t.Error("plan --plugins ran the evil.sh found on $PATH")
	}
}

// TestPluginSeesNoSecrets: check with a relative -f (the default avatar.yaml) runs ./evil.sh next to
// the spec — never the evil.sh on $PATH — and the plugin's environment holds none of
// avatar-sync's secrets, only the allow-list and the variable its device names under env:.
func TestPluginSeesNoSecrets(t *testing.T) {
	besideSpec, onPath := evilSpec(t)
	t.Setenv("AVATAR_KEYSTORE_PASSWORD", "keystore-secret")
	t.Setenv("KAFKA_SASL_PASSWORD", "sasl-secret")
	t.Setenv("LIDAR_TOKEN", "lidar-token")
	code, out, errOut := runCLI(t, "check", "-f", "avatar.yaml")
	if code != exitOK || !strings.Contains(out, "probed") {
		t.Fatalf("check: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(onPath); err == nil {
		t.Fatal("check ran the evil.sh found on $PATH instead of the one next to the spec")
	}
	env := string(mustRead(t, besideSpec))
	if strings.Contains(env, "secret") {
		t.Errorf("the plugin received a secret:\n%s", env)
	}
	if !strings.Contains(env, "LIDAR_TOKEN=lidar-token") || !strings.Contains(env, "AVATAR_SYNC_PLUGIN_PROTOCOL=avatar-sync.device/v1") {
		t.Errorf("the plugin lacks the variables it is due:\n%s", env)
	}
}

// TestPluginTextCannotReachTheTerminal: BEL, escape sequences and line breaks in a plugin's
// diagnostics, findings and stderr are printed escaped (\x07), never raw (issue 10 item 16).
func TestPluginTextCannotReachTheTerminal(t *testing.T) {
	dir := t.TempDir()
	plugin := filepath.Join(dir, "noisy.sh")
	body := "#!/bin/sh\nreq=$(cat)\n" +
		`case "$req" in *'"op":"validate"'*) printf '{"protocol":"avatar-sync.device/v1","diagnostics":[{"param":"rate","severity":"warning","message":"ring\u0007 \u001b[2Jcleared\\nforged line"}]}';; ` +
		`*'"name":"a"'*) printf '{"protocol":"avatar-sync.device/v1","findings":[{"ok":false,"message":"bell\u0007\u001b]0;title\u0007"}]}';; ` +
		`*) printf 'oops\a\033[31m\n' >&2; exit 3;; esac` + "\n"
	if err := os.WriteFile(plugin, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	path := specWithDevices(t, `  - { name: a, kind: noisy, address: x, plugin: `+plugin+`, rate: 5 }
  - { name: b, kind: noisy, address: x, plugin: `+plugin+` }
`)
	runs := map[string][]string{
		"validate": {"validate", "--plugins", "-f", path},
		"check":    {"check", "-f", path},
	}
	for name, args := range runs {
		_, out, errOut := runCLI(t, args...)
		all := out + errOut
		for _, c := range all {
			if c < 0x20 && c != '\n' || c == 0x7f {
				t.Errorf("%s printed the control character %q:\n%q", name, c, all)
				break
			}
		}
		if !strings.Contains(all, `\x07`) || !strings.Contains(all, `\x1b[`) {
			t.Errorf("%s does not show the escaped characters:\n%s", name, all)
		}
		if strings.Contains(all, "\nforged line") {
			t.Errorf("%s let a plugin forge a line of output:\n%s", name, all)
		}
	}
}
