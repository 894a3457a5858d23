package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/internal/tooltest"
)

// TestCompletionScripts: cobra's completion command prints a script for each shell it supports.
func TestCompletionScripts(t *testing.T) {
	for shell, marker := range map[string]string{
		"bash":       "__start_avatar-sync",
		"zsh":        "#compdef avatar-sync",
		"fish":       "complete -c avatar-sync",
		"powershell": "Register-ArgumentCompleter",
	} {
		code, out, errOut := runCLI(t, "completion", shell)
		if code != exitOK || errOut != "" || !strings.Contains(out, marker) {
			t.Errorf("completion %s: code %d, stderr %q, script lacks %q", shell, code, errOut, marker)
		}
	}
	if code, _, _ := runCLI(t, "completion", "tcsh"); code != exitError {
		t.Errorf("completion tcsh: code %d, want %d", code, exitError)
	}
}

// TestCompletionAnswers asks the hidden __complete command what the scripts ask: subcommands,
// --cluster targets from the spec named by -f, and -o formats.
func TestCompletionAnswers(t *testing.T) {
	// A spec mid-edit (a typo elsewhere) still completes its targets and devices.
	editing := writeSpec(t, `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: lab }
brokers:
  - { id: 1, host: b1, ports: { plaintext: 9092 }, rak: a }
clusters:
  dev: { bootstrap: [localhost:9092] }
devices:
  - { name: tello-1, kind: tello, address: "127.0.0.1:8889" }
  - { name: tello-2, kind: tello, address: "127.0.0.1:8890" }
`)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "val"}, []string{"validate\tCheck avatar.yaml and report every problem with its line and column"}},
		{[]string{"__complete", "-f", example, "--cluster", ""},
			[]string{"embedded\tin-process cluster", "dev\tplaintext localhost:9092", "microk8s\tssl kafka-broker-1:9192"}},
		{[]string{"__complete", "-f", "missing.yaml", "--cluster", ""}, []string{"embedded\tin-process cluster"}},
		{[]string{"__complete", "-o", "j"}, []string{"json\tmachine-readable"}},
		{[]string{"__complete", "-f", editing, "--cluster", ""}, []string{"dev\tplaintext localhost:9092", "embedded\tin-process cluster"}},
		{[]string{"__complete", "-f", example, "check", ""},
			[]string{"openbci-headset\topenbci-wifi 192.168.4.1:80", "tello-1\ttello 192.168.10.1:8889"}},
		{[]string{"__complete", "-f", editing, "check", "tello-1", "te"}, []string{"tello-2\ttello 127.0.0.1:8890"}},
	} {
		code, out, _ := runCLI(t, tc.args...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		// The last line is cobra's ":<directive>"; 4 = ShellCompDirectiveNoFileComp.
		if code != exitOK || len(lines) == 0 || lines[len(lines)-1] != ":4" {
			t.Errorf("%v: code %d, output %q", tc.args, code, out)
			continue
		}
		if got := strings.Join(lines[:len(lines)-1], "\n"); got != strings.Join(tc.want, "\n") {
			t.Errorf("%v:\ngot  %q\nwant %q", tc.args, got, strings.Join(tc.want, "\n"))
		}
	}
}

// TestCompletionInBash runs the generated bash script in a real bash against the built binary, the
// way a user's shell does when they press TAB after --cluster.
func TestCompletionInBash(t *testing.T) {
	bash := tooltest.Require(t, "bash", "apt-get install bash")
	dir := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "avatar-sync"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// bash-completion's _get_comp_words_by_ref, reduced to what cobra's script asks of it, so the
	// test does not depend on the bash-completion package.
	const script = `
_get_comp_words_by_ref() { cur="${COMP_WORDS[COMP_CWORD]}"; prev="${COMP_WORDS[COMP_CWORD-1]}"; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
source <(avatar-sync completion bash)
COMP_WORDS=(avatar-sync validate -f "$SPEC" --cluster "")
COMP_CWORD=5; COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
__start_avatar-sync 2>/dev/null
printf "%s\n" "${COMPREPLY[@]}"
`
	cmd := exec.Command(bash, "-c", script)
	abs, _ := filepath.Abs(example)
	cmd.Env = append(cmd.Environ(), "PATH="+dir+":/usr/bin:/bin", "SPEC="+abs)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "embedded\ndev\nmicrok8s" {
		t.Errorf("TAB after --cluster offered %q, want the example's three targets", got)
	}
}
