package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The fleet as users run it (issue 20): two `avatar-sync dev up --ports` processes, a spec with a
// target for each, and the commands of docs/ci.md's fleet recipe run from the spec's directory with
// relative paths, by the avatar-sync binary as its own process. The tests read the CLI's text and
// JSON only, never the plan's Go types.

// fleetDevUpSpec is the spec the fleet tests work in, its targets named as in docs/ci.md's fleet
// recipe (TARGETS: dev,lab): dev bootstraps from a `dev up` of the plaintext embedded target, lab
// from a `dev up --cluster lab-local`, which enforces SASL SCRAM and ACLs, and logs in as docs/ci.md's
// CI principal does, its password in the variable the target names (KAFKA_CI_PASSWORD). Ports are
// filled in.
const fleetDevUpSpec = `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar, namespace: avatar }
brokers:
  - { id: 1, host: kafka-broker-1, rack: lab-a, ports: { plaintext: 9092 } }
  - { id: 2, host: kafka-broker-2, rack: lab-b, ports: { plaintext: 9093 } }
  - { id: 3, host: kafka-broker-3, rack: lab-c, ports: { plaintext: 9094 } }
topicDefaults: { partitions: 3, replicationFactor: 3, config: { min.insync.replicas: 2 } }
topics:
  - { name: eeg-brainwave-data, retention: 1h }
  - { name: prediction-results, retention: 6h }
  - { name: drone-commands, retention: 24h }
clusters:
  embedded: {}
  lab-local: { security: sasl_plaintext, sasl: { mechanism: SCRAM-SHA-512, username: avatar-ci, passwordEnv: KAFKA_CI_PASSWORD } }
  dev: { bootstrap: [localhost:%d, localhost:%d, localhost:%d] }
  lab: { bootstrap: [localhost:%d, localhost:%d, localhost:%d], security: sasl_plaintext,
         sasl: { mechanism: SCRAM-SHA-512, username: avatar-ci, passwordEnv: KAFKA_CI_PASSWORD } }
`

// avatarSyncBinary is the avatar-sync command as a program: TestMain (testscript.Main) installs
// this test binary under that name at the front of PATH, where it runs main, the real entry point.
func avatarSyncBinary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("avatar-sync")
	if err != nil {
		t.Fatalf("the avatar-sync command TestMain installs is not on PATH: %v", err)
	}
	return bin
}

// runIn runs avatar-sync as its own process in dir, as a user in that directory would, with this
// process's environment.
func runIn(t testing.TB, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runInEnv(t, dir, os.Environ(), args...)
}

// runInEnv is runIn with the environment env.
func runInEnv(t testing.TB, dir string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, avatarSyncBinary(t), args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr, cmd.Env = dir, &out, &errOut, env
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("avatar-sync %s: %v", strings.Join(args, " "), err)
	}
	return code, out.String(), errOut.String()
}

// devUpProcess is one `avatar-sync dev up` serving until it is stopped.
type devUpProcess struct {
	id        string   // the cluster id its banner prints
	bootstrap []string // its "bootstrap:" line
	stateDir  string
	cmd       *exec.Cmd
	out, errs syncBuffer
	done      chan error
	stopped   bool
}

var devUpBanner = regexp.MustCompile(`(?m)^Embedded Kafka cluster (\S+): 3 brokers, state in (.+)\nbootstrap: (\S+)\n`)

// errPortTaken is startDevUpProcess's error when a port freePorts found was taken before dev up
// bound it (another test of the machine): the caller picks other ports.
var errPortTaken = errors.New("a port was taken meanwhile")

// startDevUpProcess runs `avatar-sync dev up -f avatar.yaml --cluster TARGET --ports P1,P2,P3
// --state-dir STATE --plaintext` in dir as its own process and waits for its banner; the test's
// cleanup stops it.
func startDevUpProcess(t *testing.T, dir, target, stateDir string, ports []int) (*devUpProcess, error) {
	t.Helper()
	d := &devUpProcess{stateDir: stateDir, done: make(chan error, 1)}
	d.cmd = exec.Command(avatarSyncBinary(t), "dev", "up", "-f", "avatar.yaml", "--cluster", target,
		"--ports", fmt.Sprintf("%d,%d,%d", ports[0], ports[1], ports[2]), "--state-dir", stateDir, "--plaintext")
	d.cmd.Dir, d.cmd.Stdout, d.cmd.Stderr = dir, &d.out, &d.errs
	dieWithTest(d.cmd)
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		if !d.stopped {
			d.stop(t)
		}
	})
	deadline := time.After(30 * time.Second)
	for {
		if m := devUpBanner.FindStringSubmatch(d.out.String()); m != nil {
			if m[2] != stateDir {
				t.Errorf("dev up --state-dir %s: banner says state in %s", stateDir, m[2])
			}
			d.id, d.bootstrap = m[1], strings.Split(m[3], ",")
			break
		}
		select {
		case err := <-d.done:
			d.stopped = true
			if strings.Contains(d.errs.String(), "a port is already in use") {
				return nil, errPortTaken
			}
			t.Fatalf("dev up --ports %v exited before its banner (%v):\n%s%s", ports, err, d.out.String(), d.errs.String())
		case <-deadline:
			t.Fatalf("dev up --ports %v printed no banner within 30s:\n%s%s", ports, d.out.String(), d.errs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	want := make([]string, len(ports))
	for i, p := range ports {
		want[i] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	if got := strings.Join(d.bootstrap, ","); got != strings.Join(want, ",") {
		t.Fatalf("dev up --ports %v serves %s", ports, got)
	}
	return d, nil
}

// stop ends dev up as Ctrl-C does and expects a clean exit that saved the state.
func (d *devUpProcess) stop(t testing.TB) {
	t.Helper()
	d.stopped = true
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Errorf("interrupt dev up: %v", err)
	}
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("dev up after Ctrl-C: %v\n%s", err, d.errs.String())
		}
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		t.Errorf("dev up did not stop within 30s of Ctrl-C")
		return
	}
	if want := "Stopped; state saved in " + d.stateDir; !strings.Contains(d.errs.String(), want) {
		t.Errorf("dev up's stderr lacks %q:\n%s", want, d.errs.String())
	}
}

// fleetDevUps starts the two dev up processes on free ports in a fresh directory holding avatar.yaml
// (fleetDevUpSpec), then pins each target to its cluster's id, as docs/ci.md asks of CI targets.
func fleetDevUps(t *testing.T) (dir string, dev, lab *devUpProcess) {
	t.Helper()
	dir = t.TempDir()
	for attempt := 1; ; attempt++ {
		p := freePorts(t, 6)
		if err := os.WriteFile(filepath.Join(dir, "avatar.yaml"), fmt.Appendf(nil, fleetDevUpSpec, p[0], p[1], p[2], p[3], p[4], p[5]), 0o644); err != nil {
			t.Fatal(err)
		}
		var err error
		if dev, err = startDevUpProcess(t, dir, "embedded", ".dev-state", p[:3]); err == nil {
			if lab, err = startDevUpProcess(t, dir, "lab-local", ".lab-state", p[3:]); err != nil {
				dev.stop(t)
			}
		}
		if err == nil {
			break
		} else if attempt == 3 {
			t.Fatalf("dev up, three times: %v", err)
		}
		for _, state := range []string{".dev-state", ".lab-state"} {
			if err := os.RemoveAll(filepath.Join(dir, state)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if dev.id == lab.id {
		t.Fatalf("both dev up processes serve cluster %s", dev.id)
	}
	f := filepath.Join(dir, "avatar.yaml")
	editSpec(t, f, "  dev: { bootstrap:", "  dev: { clusterId: "+dev.id+", bootstrap:")
	editSpec(t, f, "  lab: { bootstrap:", "  lab: { clusterId: "+lab.id+", bootstrap:")
	return dir, dev, lab
}

// ciFleetRecipe is the fleet workflow of docs/ci.md: the avatar-sync command lines of its
// pull-request job (plan) and of its merge job (promote), with the workflow's env (SPEC, TARGETS)
// expanded. The tests run exactly these lines.
type ciFleetRecipe struct {
	env            map[string]string
	comment, merge []docCommand // the lines of job plan and of job promote
	commentExample string       // the example comment (```markdown) after the workflow
}

func readCIFleetRecipe(t *testing.T) ciFleetRecipe {
	t.Helper()
	data, err := os.ReadFile("../../docs/ci.md")
	if err != nil {
		t.Fatal(err)
	}
	var block string
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(data), -1) {
		if strings.HasPrefix(m[1], "name: kafka-fleet\n") {
			block = m[1]
		}
	}
	if block == "" {
		t.Fatal("docs/ci.md has no workflow named kafka-fleet")
	}
	checkRehearsalClusters(t, data)
	r := ciFleetRecipe{}
	rest := string(data)[strings.Index(string(data), block):]
	if m := regexp.MustCompile("(?s)```markdown\n(.*?)```").FindStringSubmatch(rest); m != nil {
		r.commentExample = m[1]
	} else {
		t.Fatal("docs/ci.md shows no example comment (```markdown) after the kafka-fleet workflow")
	}
	var wf struct {
		Env  map[string]string `yaml:"env"`
		Jobs map[string]struct {
			Steps []struct {
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal([]byte(block), &wf); err != nil {
		t.Fatalf("docs/ci.md kafka-fleet: %v", err)
	}
	r.env = wf.Env
	lines := func(job string) []docCommand {
		var cmds []docCommand
		for _, step := range wf.Jobs[job].Steps {
			for _, line := range strings.Split(step.Run, "\n") {
				line = strings.TrimSpace(line)
				if !strings.HasPrefix(line, "avatar-sync ") {
					continue
				}
				expanded := os.Expand(line, func(name string) string {
					v, ok := wf.Env[name]
					if !ok {
						t.Errorf("docs/ci.md kafka-fleet: %q uses $%s, which the workflow's env does not set", line, name)
					}
					return v
				})
				parsed, err := parseDocLine(expanded)
				if err != nil {
					t.Fatalf("docs/ci.md kafka-fleet: %v", err)
				}
				cmds = append(cmds, parsed...)
			}
		}
		if len(cmds) == 0 {
			t.Fatalf("docs/ci.md kafka-fleet: job %s runs no avatar-sync command", job)
		}
		return cmds
	}
	r.comment, r.merge = lines("plan"), lines("promote")
	return r
}

// run runs one recipe line in dir (its `> file` into that file) and returns the exit code and
// what it printed (stdout unless redirected, then stderr).
func (r ciFleetRecipe) run(t *testing.T, dir string, c docCommand) (code int, stdout, stderr string) {
	t.Helper()
	if c.args[0] != "avatar-sync" || c.in != "" {
		t.Fatalf("docs/ci.md kafka-fleet: %q is not an avatar-sync line the test can run", strings.Join(c.args, " "))
	}
	code, stdout, stderr = runIn(t, dir, c.args[1:]...)
	if c.out != "" {
		if err := os.WriteFile(filepath.Join(dir, c.out), []byte(stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return code, stdout, stderr
}

// fleetPlanJSON is what the tests read of `plan -o json` and of a saved plan (docs/plan-json.md).
type fleetPlanJSON struct {
	FormatVersion int              `json:"formatVersion"`
	Digest        string           `json:"digest"`
	Targets       []planTargetJSON `json:"targets"`
	Summary       map[string]int   `json:"summary"`
	HasChanges    bool             `json:"hasChanges"`
}

// planTargetJSON is one target of a plan document: its plan is one part per plane of the target
// (formatVersion 5), each with its own fingerprint and changes.
type planTargetJSON struct {
	Target    string `json:"target"`
	Cluster   string `json:"cluster"`
	ClusterID string `json:"clusterId"`
	Parts     []struct {
		Plane       string           `json:"plane"`
		Fingerprint string           `json:"fingerprint"`
		Changes     []planChangeJSON `json:"changes"`
	} `json:"parts"`
	Summary    map[string]int `json:"summary"`
	HasChanges bool           `json:"hasChanges"`
}

// planChangeJSON is one change of a plan document.
type planChangeJSON struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Action string `json:"action"`
	Risk   string `json:"risk"`
	Topic  *struct {
		Partitions        int               `json:"partitions"`
		ReplicationFactor int               `json:"replicationFactor"`
		Configs           map[string]string `json:"configs"`
	} `json:"topic"`
}

// changes are the target's changes, of every part.
func (tp planTargetJSON) changes() []planChangeJSON {
	var all []planChangeJSON
	for _, part := range tp.Parts {
		all = append(all, part.Changes...)
	}
	return all
}

// fingerprint is the target's live-state fingerprint, each plane's ("kafka=sha256:…").
func (tp planTargetJSON) fingerprint() string {
	fps := make([]string, len(tp.Parts))
	for i, part := range tp.Parts {
		fps[i] = part.Plane + "=" + part.Fingerprint
	}
	return strings.Join(fps, ";")
}

func decodeFleetPlan(t *testing.T, what string, data []byte) fleetPlanJSON {
	t.Helper()
	var doc fleetPlanJSON
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s is not a plan document: %v\n%s", what, err, data)
	}
	return doc
}

// fingerprints maps each target of a plan document to its live-state fingerprint.
func (p fleetPlanJSON) fingerprints() map[string]string {
	m := map[string]string{}
	for _, tp := range p.Targets {
		m[tp.Target] = tp.fingerprint()
	}
	return m
}

// livePlan plans one target now (-o json) and returns its section: its fingerprint shows whether
// the cluster changed since another plan, its changes what is still pending there.
func livePlan(t *testing.T, dir, target string) fleetPlanJSON {
	t.Helper()
	code, out, errOut := runIn(t, dir, "plan", "-f", "avatar.yaml", "--cluster", target, "-o", "json")
	if code != exitOK {
		t.Fatalf("plan --cluster %s -o json: code %d\n%s", target, code, errOut)
	}
	doc := decodeFleetPlan(t, "plan --cluster "+target+" -o json", []byte(out))
	if len(doc.Targets) != 1 || doc.Targets[0].Target != target {
		t.Fatalf("plan --cluster %s -o json: targets %+v", target, doc.Targets)
	}
	return doc
}

// changeNames lists a target's pending changes as "action kind name".
func (p fleetPlanJSON) changeNames(i int) []string {
	var names []string
	for _, c := range p.Targets[i].changes() {
		names = append(names, c.Action+" "+c.Kind+" "+c.Name)
	}
	return names
}

// TestFleetOnDevUp is issue 20's fleet list on two `dev up --ports` clusters, in one pair of
// processes whose state carries from one step to the next: the pull-request plan (without lab's
// secret, then text, markdown, JSON, exit codes), a saved plan refused as a whole when the second
// target changed, a saved plan applied as one, the apply line plan --out prints, an opt-in the
// second target needs refusing the run before the first, promotion stopping at the first failing
// target, and an unreachable target failing only its own section. Every docs/ci.md fleet command
// line runs verbatim from the spec's directory.
func TestFleetOnDevUp(t *testing.T) {
	recipe := readCIFleetRecipe(t)
	if got := recipe.env["SPEC"] + " " + recipe.env["TARGETS"]; got != "avatar.yaml dev,lab" {
		t.Fatalf("docs/ci.md kafka-fleet env: SPEC TARGETS = %q; the test's spec is avatar.yaml with targets dev,lab", got)
	}
	if len(recipe.comment) != 1 || len(recipe.merge) != 2 || recipe.merge[0].args[1] != "plan" || recipe.merge[1].args[1] != "apply" {
		t.Fatalf("docs/ci.md kafka-fleet: want one plan line in job plan and plan then apply in job promote, got %v and %v", recipe.comment, recipe.merge)
	}
	prComment := recipe.comment[0]
	planOut, applyPlan := recipe.merge[0], recipe.merge[1]
	t.Setenv("KAFKA_CI_PASSWORD", "ci-secret-for-tests") // the job's secret (dev up and every command inherit it)
	dir, dev, lab := fleetDevUps(t)
	if !strings.Contains(lab.out.String(), "SASL: every listener asks for SCRAM") {
		t.Fatalf("lab's dev up does not enforce SASL:\n%s", lab.out.String())
	}
	specFile := filepath.Join(dir, "avatar.yaml")
	const threeCreates = "Plan: 3 to create, 0 to update, 0 to delete."

	ok := t.Run("pull request plan without lab's secret", func(t *testing.T) {
		// A job that lacks KAFKA_CI_PASSWORD still comments dev's plan; lab's section names the
		// variable, and the job fails.
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "KAFKA_CI_PASSWORD=") {
				env = append(env, kv)
			}
		}
		code, out, errOut := runInEnv(t, dir, env, prComment.args[1:]...)
		if code != exitError {
			t.Errorf("%v without KAFKA_CI_PASSWORD: code %d, want %d", prComment.args, code, exitError)
		}
		for _, want := range []string{"<b>dev</b> (id <code>" + dev.id + "</code>): " + threeCreates, ":x: <b>lab</b>: not planned",
			`target lab: cluster "lab": sasl password: environment variable KAFKA_CI_PASSWORD is not set`} {
			if !strings.Contains(out, want) {
				t.Errorf("the comment without lab's secret lacks %q:\n%s%s", want, out, errOut)
			}
		}
		// lab authenticates: a wrong secret is refused there, dev's plan still shows.
		code, out, errOut = runInEnv(t, dir, append(env, "KAFKA_CI_PASSWORD=not-the-secret"), prComment.args[1:]...)
		if code != exitError || !strings.Contains(out, "wrong SASL username, password or mechanism?") || !strings.Contains(out, "<b>dev</b> (id <code>"+dev.id) {
			t.Errorf("%v with a wrong KAFKA_CI_PASSWORD: code %d, want %d, lab not planned\n%s%s", prComment.args, code, exitError, out, errOut)
		}
	})
	if !ok {
		return
	}

	ok = t.Run("pull request plan of both targets", func(t *testing.T) {
		code, _, errOut := recipe.run(t, dir, prComment)
		if code != exitChanges {
			t.Fatalf("%v: code %d, want %d (changes pending)\n%s", prComment.args, code, exitChanges, errOut)
		}
		md, err := os.ReadFile(filepath.Join(dir, prComment.out))
		if err != nil {
			t.Fatal(err)
		}
		comment := string(md)
		for _, want := range []string{
			"**Fleet: 2 targets, 2 with changes (6 to create, 0 to update, 0 to delete).**",
			"<b>dev</b> (id <code>" + dev.id + "</code>): " + threeCreates,
			"<b>lab</b> (id <code>" + lab.id + "</code>): " + threeCreates,
			"| `+` | create topic drone-commands |",
		} {
			if !strings.Contains(comment, want) {
				t.Errorf("the pull-request comment lacks %q:\n%s", want, comment)
			}
		}
		if strings.Index(comment, "<b>dev</b>") > strings.Index(comment, "<b>lab</b>") {
			t.Errorf("the comment's sections are not in --cluster order:\n%s", comment)
		}
		if strings.Contains(errOut, "is not pinned") {
			t.Errorf("pinned targets are reported unpinned:\n%s", errOut)
		}

		code, out, errOut := runIn(t, dir, "plan", "-f", "avatar.yaml", "--cluster", "dev,lab", "--detailed-exitcode")
		if code != exitChanges {
			t.Fatalf("plan --detailed-exitcode: code %d, want %d\n%s%s", code, exitChanges, out, errOut)
		}
		devAt, labAt := strings.Index(out, "Target dev (cluster id "+dev.id+")\n"), strings.Index(out, "Target lab (cluster id "+lab.id+")\n")
		fleetAt := strings.Index(out, "Fleet: 2 targets, 2 with changes (6 to create, 0 to update, 0 to delete).")
		if devAt < 0 || labAt < devAt || fleetAt < labAt {
			t.Errorf("plan: want dev's section, lab's, then the fleet summary:\n%s", out)
		}
		if n := strings.Count(out, threeCreates); n != 2 {
			t.Errorf("%d sections plan three creates, want 2:\n%s", n, out)
		}

		code, out, errOut = runIn(t, dir, "plan", "-f", "avatar.yaml", "--cluster", "dev,lab", "-o", "json")
		if code != exitOK {
			t.Fatalf("plan -o json: code %d\n%s", code, errOut)
		}
		doc := decodeFleetPlan(t, "plan -o json", []byte(out))
		if doc.FormatVersion != 5 || !strings.HasPrefix(doc.Digest, "sha256:") || !doc.HasChanges {
			t.Errorf("plan -o json: formatVersion %d, digest %q, hasChanges %v", doc.FormatVersion, doc.Digest, doc.HasChanges)
		}
		if want := map[string]int{"targets": 2, "withChanges": 2, "failed": 0, "create": 6, "update": 0, "delete": 0, "unsupported": 0}; !subMap(doc.Summary, want) {
			t.Errorf("plan -o json: fleet summary %v, want %v", doc.Summary, want)
		}
		if len(doc.Targets) != 2 {
			t.Fatalf("plan -o json: %d targets, want dev and lab", len(doc.Targets))
		}
		for i, want := range []*devUpProcess{dev, lab} {
			tp := doc.Targets[i]
			name := []string{"dev", "lab"}[i]
			if tp.Target != name || tp.Cluster != name || tp.ClusterID != want.id || !strings.HasPrefix(tp.fingerprint(), "kafka=sha256:") || len(tp.Parts) != 1 || !tp.HasChanges {
				t.Errorf("plan -o json: targets[%d] = %s/%s id %s fingerprint %q hasChanges %v; want %s, cluster id %s",
					i, tp.Target, tp.Cluster, tp.ClusterID, tp.fingerprint(), tp.HasChanges, name, want.id)
			}
			if !subMap(tp.Summary, map[string]int{"create": 3, "update": 0, "delete": 0}) {
				t.Errorf("plan -o json: %s summary %v", name, tp.Summary)
			}
			retention := map[string]string{"drone-commands": "86400000", "eeg-brainwave-data": "3600000", "prediction-results": "21600000"}
			if got := strings.Join(doc.changeNames(i), ", "); got != "create topic drone-commands, create topic eeg-brainwave-data, create topic prediction-results" {
				t.Errorf("plan -o json: %s changes %s", name, got)
			}
			for _, c := range tp.changes() {
				if c.Risk != "none" || c.Topic == nil || c.Topic.Partitions != 3 || c.Topic.ReplicationFactor != 3 ||
					c.Topic.Configs["retention.ms"] != retention[c.Name] || c.Topic.Configs["min.insync.replicas"] != "2" {
					t.Errorf("plan -o json: %s change %s: risk %q, topic %+v", name, c.Name, c.Risk, c.Topic)
				}
			}
		}
		if doc.Targets[0].fingerprint() == doc.Targets[1].fingerprint() {
			t.Errorf("plan -o json: both clusters have fingerprint %s", doc.Targets[0].fingerprint())
		}
	})
	if !ok {
		return
	}

	ok = t.Run("stale second target refuses the whole saved plan", func(t *testing.T) {
		code, _, errOut := recipe.run(t, dir, planOut)
		if want := "apply exactly this plan with: avatar-sync apply --plan plan.json --cluster dev,lab"; code != exitOK || !strings.Contains(errOut, want) {
			t.Fatalf("%v: code %d, want 0 and %q\n%s", planOut.args, code, want, errOut)
		}
		saved := readSavedPlan(t, dir)
		// Someone applies lab alone between the plan and the merge job: lab's part of the plan is stale.
		if code, out, errOut := runIn(t, dir, "apply", "-f", "avatar.yaml", "--cluster", "lab", "--auto-approve"); code != exitOK {
			t.Fatalf("apply --cluster lab: code %d\n%s%s", code, out, errOut)
		}
		// The fleet's exit code: 2 while any target has changes, here dev alone.
		code, out, errOut := runIn(t, dir, "plan", "-f", "avatar.yaml", "--cluster", "dev,lab", "--detailed-exitcode")
		if code != exitChanges || !strings.Contains(out, "Fleet: 2 targets, 1 with changes (3 to create, 0 to update, 0 to delete).") {
			t.Errorf("plan --detailed-exitcode with lab in sync and dev pending: code %d, want %d\n%s%s", code, exitChanges, out, errOut)
		}
		code, out, errOut = recipe.run(t, dir, applyPlan)
		if code != exitError {
			t.Errorf("%v of a plan stale on lab: code %d, want %d", applyPlan.args, code, exitError)
		}
		for _, want := range []string{"the saved plan is refused, no target was changed", "target lab: stale plan", "the cluster changed since the plan was computed"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("apply --plan of a plan stale on lab: stderr lacks %q:\n%s%s", want, out, errOut)
			}
		}
		if strings.Contains(errOut, "target dev:") || strings.Contains(errOut, "Applying target") {
			t.Errorf("apply --plan touched or blamed dev, unchanged since the plan:\n%s%s", out, errOut)
		}
		// dev is exactly as planned: the same live-state fingerprint, the same three creates pending.
		now := livePlan(t, dir, "dev")
		if now.Targets[0].fingerprint() != saved.fingerprints()["dev"] || len(now.Targets[0].changes()) != 3 {
			t.Errorf("dev changed although the plan was refused: fingerprint %s (plan %s), changes %v",
				now.Targets[0].fingerprint(), saved.fingerprints()["dev"], now.changeNames(0))
		}
	})
	if !ok {
		return
	}

	ok = t.Run("saved plan applied as one", func(t *testing.T) {
		// The pull request: drone-commands keeps two days. dev still lacks every topic (3 creates),
		// lab has them all (1 update).
		editSpec(t, specFile, "{ name: drone-commands, retention: 24h }", "{ name: drone-commands, retention: 48h }")
		if code, _, errOut := recipe.run(t, dir, prComment); code != exitChanges {
			t.Fatalf("%v: code %d, want %d\n%s", prComment.args, code, exitChanges, errOut)
		}
		md, err := os.ReadFile(filepath.Join(dir, prComment.out))
		if err != nil {
			t.Fatal(err)
		}
		if err := matchExcerpt(recipe.commentExample, string(md)); err != nil {
			t.Errorf("docs/ci.md's example comment is not what the plan job posts: %v\n%s", err, md)
		}
		if code, _, errOut := recipe.run(t, dir, planOut); code != exitOK {
			t.Fatalf("%v: code %d\n%s", planOut.args, code, errOut)
		}
		saved := readSavedPlan(t, dir)
		if got := strings.Join(saved.changeNames(1), ", "); len(saved.Targets) != 2 || len(saved.Targets[0].changes()) != 3 || got != "update config drone-commands" {
			t.Fatalf("plan.json: dev %v, lab %s", saved.changeNames(0), got)
		}
		for _, tc := range []struct{ cluster, want string }{
			{"lab,dev", "was computed for targets dev,lab, but --cluster is lab,dev"},
			{"dev", "was computed for targets dev,lab, but --cluster is dev"},
		} {
			code, out, errOut := runIn(t, dir, "apply", "-f", "avatar.yaml", "--plan", "plan.json", "--cluster", tc.cluster, "--auto-approve")
			if code != exitError || !strings.Contains(errOut, tc.want) {
				t.Errorf("apply --plan plan.json --cluster %s: code %d, want %q\n%s%s", tc.cluster, code, tc.want, out, errOut)
			}
		}
		code, out, errOut := recipe.run(t, dir, applyPlan)
		if code != exitOK {
			t.Fatalf("%v: code %d\n%s%s", applyPlan.args, code, out, errOut)
		}
		devDone := strings.Index(out, "Target dev:\nApply complete: 3 applied, 0 failed, 0 unknown, 0 not attempted.")
		labDone := strings.Index(out, "Target lab:\nApply complete: 1 applied, 0 failed, 0 unknown, 0 not attempted.")
		if devDone < 0 || labDone < devDone {
			t.Errorf("apply --plan: want dev applied completely, then lab:\n%s", out)
		}
		if d, l := strings.Index(errOut, "Applying target dev:\n"), strings.Index(errOut, "Applying target lab:\n"); d < 0 || l < d {
			t.Errorf("apply --plan: the progress does not name dev, then lab:\n%s", errOut)
		}
		code, out, errOut = runIn(t, dir, "plan", "-f", "avatar.yaml", "--cluster", "dev,lab", "--detailed-exitcode")
		if code != exitOK || strings.Count(out, "No changes.") != 2 || !strings.Contains(out, "Fleet: 2 targets, none with changes.") {
			t.Errorf("a fresh plan after apply --plan: code %d, want 0 and no changes on either target\n%s%s", code, out, errOut)
		}
		for _, target := range []string{"dev", "lab"} {
			if now := livePlan(t, dir, target); len(now.Targets[0].changes()) != 0 {
				t.Errorf("plan --cluster %s after apply --plan: %v", target, now.changeNames(0))
			}
		}
		code, out, errOut = runIn(t, dir, "status", "-f", "avatar.yaml", "--cluster", "dev,lab")
		// docs/status.md: one section per target, in order, headed by its Cluster line.
		d := strings.Index(out, `Cluster "dev" (cluster id `+dev.id+"): HEALTHY\n")
		l := strings.Index(out, `Cluster "lab" (cluster id `+lab.id+"): HEALTHY\n")
		if code != exitOK || d != 0 || l < d {
			t.Errorf("status --cluster dev,lab after apply: code %d, want 0 and dev's section, then lab's\n%s%s", code, out, errOut)
		}
		code, out, errOut = runIn(t, dir, "status", "-f", "avatar.yaml", "--cluster", "dev,lab", "-o", "json")
		var status fleetStatusJSON
		if err := json.Unmarshal([]byte(out), &status); err != nil || code != exitOK || !status.Healthy || len(status.Targets) != 2 ||
			status.Targets[0].Cluster != "dev" || status.Targets[1].Cluster != "lab" || !status.Targets[0].Healthy || !status.Targets[1].Healthy {
			t.Errorf("status --cluster dev,lab -o json after apply: code %d, %v, %+v\n%s", code, err, status, errOut)
		}
	})
	if !ok {
		return
	}

	ok = t.Run("the apply line plan --out prints runs as printed", func(t *testing.T) {
		// From a directory of its own with -f ../avatar.yaml, first lab alone, then the fleet: the
		// printed line must carry the spec and the targets (it once said `avatar-sync apply --plan
		// FILE`, which read ./avatar.yaml and the default target, and was refused).
		editSpec(t, specFile, "{ name: prediction-results, retention: 6h }", "{ name: prediction-results, retention: 12h }")
		work := filepath.Join(dir, "ci")
		if err := os.Mkdir(work, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ cluster, out, applied string }{
			{"lab", "lab.json", "Apply complete: 1 applied, 0 failed, 0 unknown, 0 not attempted."},
			{"dev,lab", "fleet.json", "Target dev:\nApply complete: 1 applied, 0 failed, 0 unknown, 0 not attempted."},
		} {
			code, _, errOut := runIn(t, work, "plan", "-f", "../avatar.yaml", "--cluster", tc.cluster, "--out", tc.out)
			_, line, found := strings.Cut(strings.TrimSpace(errOut), "apply exactly this plan with: ")
			if code != exitOK || !found {
				t.Fatalf("plan --cluster %s --out %s: code %d, no apply line\n%s", tc.cluster, tc.out, code, errOut)
			}
			words, _, err := shellWords(line)
			if err != nil || len(words) < 2 || words[0] != "avatar-sync" {
				t.Fatalf("plan --out printed %q: %v", line, err)
			}
			code, out, errOut := runIn(t, work, append(words[1:], "--auto-approve")...)
			if code != exitOK || !strings.Contains(out, tc.applied) {
				t.Errorf("%s --auto-approve (as plan --out printed it): code %d, want 0 and %q\n%s%s", line, code, tc.applied, out, errOut)
			}
		}
		if code, out, errOut := runIn(t, dir, "plan", "-f", "avatar.yaml", "--cluster", "dev,lab", "--detailed-exitcode"); code != exitOK {
			t.Errorf("plan after applying the printed lines: code %d, want 0\n%s%s", code, out, errOut)
		}
	})
	if !ok {
		return
	}

	ok = t.Run("an opt-in lab needs refuses the run before dev", func(t *testing.T) {
		// The pull request keeps drone-commands three days (both targets) and lab's eeg-brainwave-data
		// ten minutes instead of an hour, which can lose data: the merge job's apply line has no
		// --allow-data-loss, so nothing is applied, dev included.
		before, err := os.ReadFile(specFile)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := os.WriteFile(specFile, before, 0o644); err != nil {
				t.Fatal(err)
			}
		}()
		editSpec(t, specFile, "{ name: drone-commands, retention: 48h }", "{ name: drone-commands, retention: 72h }")
		editSpec(t, specFile, "  lab: { clusterId: ", "  lab: { overrides: { topics: [{ name: eeg-brainwave-data, retention: 10m }] }, clusterId: ")
		if code, _, errOut := recipe.run(t, dir, planOut); code != exitOK {
			t.Fatalf("%v: code %d\n%s", planOut.args, code, errOut)
		}
		saved := readSavedPlan(t, dir)
		if d, l := strings.Join(saved.changeNames(0), ", "), strings.Join(saved.changeNames(1), ", "); d != "update config drone-commands" || l != "update config drone-commands, update config eeg-brainwave-data" {
			t.Fatalf("plan.json: dev %s; lab %s", d, l)
		}
		code, out, errOut := recipe.run(t, dir, applyPlan)
		if code != exitError || !strings.Contains(errOut, "target lab: apply refused, nothing was changed") || !strings.Contains(errOut, "it needs --allow-data-loss") {
			t.Errorf("%v with lab's data loss not allowed: code %d, want %d naming lab and --allow-data-loss\n%s%s", applyPlan.args, code, exitError, out, errOut)
		}
		if strings.Contains(errOut, "Applying target") || strings.Contains(errOut, "target dev: ") {
			t.Errorf("apply touched or blamed dev:\n%s%s", out, errOut)
		}
		for _, target := range []string{"dev", "lab"} {
			if now := livePlan(t, dir, target); now.Targets[0].fingerprint() != saved.fingerprints()[target] {
				t.Errorf("%s changed although the run was refused", target)
			}
		}
	})
	if !ok {
		return
	}

	ok = t.Run("promotion stops at the first failing target", func(t *testing.T) {
		// Another spec applied to dev by hand created ml_features; the pull request adds ml.features,
		// which Kafka refuses next to it (the two names collide in metric names). lab has neither.
		scratch := filepath.Join(dir, "scratch")
		if err := os.Mkdir(scratch, 0o755); err != nil {
			t.Fatal(err)
		}
		other := fmt.Sprintf(scratchSpec, dev.id, strings.Join(dev.bootstrap, ", "))
		if err := os.WriteFile(filepath.Join(scratch, "avatar.yaml"), []byte(other), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, out, errOut := runIn(t, scratch, "apply", "-f", "avatar.yaml", "--cluster", "dev", "--auto-approve"); code != exitOK {
			t.Fatalf("apply the scratch spec to dev: code %d\n%s%s", code, out, errOut)
		}
		editSpec(t, specFile, "topics:\n", "topics:\n  - { name: ml.features, retention: 1h }\n")
		if code, _, errOut := recipe.run(t, dir, planOut); code != exitOK {
			t.Fatalf("%v: code %d\n%s", planOut.args, code, errOut)
		}
		saved := readSavedPlan(t, dir)
		code, out, errOut := recipe.run(t, dir, applyPlan)
		if code != exitError {
			t.Errorf("%v with dev failing: code %d, want %d", applyPlan.args, code, exitError)
		}
		if !strings.Contains(out, "Target dev:\nApply incomplete: 0 applied, 1 failed, 0 unknown, 0 not attempted.") {
			t.Errorf("dev's result is not shown as failed:\n%s%s", out, errOut)
		}
		if strings.Contains(out, "Target lab:") || strings.Contains(errOut, "Applying target lab") {
			t.Errorf("lab was applied after dev failed:\n%s%s", out, errOut)
		}
		for _, want := range []string{"create topic ml.features: FAILED", "collides with existing topic: ml_features", "(not attempted: lab; fix dev and apply again)"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("stderr lacks %q:\n%s", want, errOut)
			}
		}
		// lab is untouched: its live state is the plan's, and ml.features is still to create there.
		now := livePlan(t, dir, "lab")
		if now.Targets[0].fingerprint() != saved.fingerprints()["lab"] || strings.Join(now.changeNames(0), ",") != "create topic ml.features" {
			t.Errorf("lab changed although dev failed first: fingerprint %s (plan %s), pending %v",
				now.Targets[0].fingerprint(), saved.fingerprints()["lab"], now.changeNames(0))
		}
		// apply without a saved plan stops the same way, and -o json says so per target.
		code, out, errOut = runIn(t, dir, "apply", "-f", "avatar.yaml", "--cluster", "dev,lab", "--auto-approve", "-o", "json")
		var result struct {
			Targets []struct{ Target, State string }
			Error   string
		}
		if err := json.Unmarshal([]byte(out), &result); err != nil || code != exitError {
			t.Fatalf("apply -o json with dev failing: code %d, %v\n%s%s", code, err, out, errOut)
		}
		if len(result.Targets) != 2 || result.Targets[0].Target != "dev" || result.Targets[0].State != "failed" ||
			result.Targets[1].Target != "lab" || result.Targets[1].State != "not-attempted" || !strings.Contains(result.Error, "not attempted: lab") {
			t.Errorf("apply -o json with dev failing: %+v", result)
		}
		if now := livePlan(t, dir, "lab"); now.Targets[0].fingerprint() != saved.fingerprints()["lab"] {
			t.Errorf("lab changed by apply -o json although dev failed first")
		}
	})
	if !ok {
		return
	}

	t.Run("unreachable target fails its own section", func(t *testing.T) {
		lab.stop(t)
		if err := os.Remove(filepath.Join(dir, "plan.json")); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := recipe.run(t, dir, prComment)
		if code != exitError {
			t.Errorf("%v with lab down: code %d, want %d", prComment.args, code, exitError)
		}
		md, err := os.ReadFile(filepath.Join(dir, prComment.out))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"<b>dev</b> (id <code>" + dev.id + "</code>): Plan: 1 to create", ":x: <b>lab</b>: not planned", `target lab: cannot reach cluster "lab" at localhost:`} {
			if !strings.Contains(string(md), want) {
				t.Errorf("the comment with lab down lacks %q (dev's plan must still show):\n%s", want, md)
			}
		}
		if want := "1 of 2 targets could not be planned (lab)"; !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
		code, out, errOut := runIn(t, dir, "plan", "-f", "avatar.yaml", "--cluster", "dev,lab", "--detailed-exitcode")
		if code != exitError {
			t.Errorf("plan --detailed-exitcode with lab down: code %d, want %d", code, exitError)
		}
		for _, want := range []string{"Target dev (cluster id " + dev.id + ")", "Plan: 1 to create, 0 to update, 0 to delete.", "Target lab: not planned", `target lab: cannot reach cluster "lab"`, "1 failed (lab)"} {
			if !strings.Contains(out, want) {
				t.Errorf("plan with lab down lacks %q:\n%s%s", want, out, errOut)
			}
		}
		code, out, errOut = runIn(t, dir, "status", "-f", "avatar.yaml", "--cluster", "dev,lab", "-o", "json")
		var status fleetStatusJSON
		if err := json.Unmarshal([]byte(out), &status); err != nil || code != exitError || status.Healthy || len(status.Targets) != 2 ||
			status.Targets[1].Cluster != "lab" || status.Targets[1].Healthy || len(status.Targets[1].Problems) == 0 ||
			!strings.Contains(status.Targets[1].Problems[0], "cannot read the cluster") || status.Targets[0].Cluster != "dev" {
			t.Errorf("status --cluster dev,lab -o json with lab down: code %d, %v, %+v\n%s", code, err, status, errOut)
		}
		code, _, errOut = recipe.run(t, dir, planOut)
		if _, err := os.Stat(filepath.Join(dir, "plan.json")); code != exitError || !os.IsNotExist(err) || !strings.Contains(errOut, "The plan was not saved to plan.json") {
			t.Errorf("%v with lab down: code %d, plan.json %v\n%s", planOut.args, code, err, errOut)
		}
	})
}

// checkRehearsalClusters: the targets docs/ci.md's "Rehearse the fleet on one machine" shows are
// the test's, but for the pins and the ports (which the test finds at run time).
func checkRehearsalClusters(t *testing.T, doc []byte) {
	t.Helper()
	type clusters struct {
		Clusters map[string]map[string]any `yaml:"clusters"`
	}
	read := func(what string, data []byte) map[string]map[string]any {
		var c clusters
		if err := yaml.Unmarshal(data, &c); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for _, target := range c.Clusters {
			delete(target, "clusterId")
			delete(target, "bootstrap")
		}
		return c.Clusters
	}
	m := regexp.MustCompile("(?s)```yaml\n(clusters:\n  embedded: \\{\\}.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/ci.md shows no clusters: block to rehearse the fleet")
	}
	want := read("the test's spec", fmt.Appendf(nil, fleetDevUpSpec, 1, 2, 3, 4, 5, 6))
	if got := read("docs/ci.md's rehearsal clusters", m[1]); !reflect.DeepEqual(got, want) {
		t.Errorf("docs/ci.md's rehearsal targets are not the test's:\n%v\nwant\n%v", got, want)
	}
}

// readSavedPlan reads plan.json, the merge job's saved plan, in dir.
func readSavedPlan(t *testing.T, dir string) fleetPlanJSON {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	return decodeFleetPlan(t, "plan.json", data)
}

// scratchSpec is another spec someone applies to dev (its cluster id and bootstrap filled in): it
// creates ml_features, which collides with the fleet spec's ml.features.
const scratchSpec = `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: scratch, namespace: avatar }
brokers:
  - { id: 1, host: kafka-broker-1, ports: { plaintext: 9092 } }
  - { id: 2, host: kafka-broker-2, ports: { plaintext: 9093 } }
  - { id: 3, host: kafka-broker-3, ports: { plaintext: 9094 } }
topics:
  - { name: ml_features, partitions: 1, replicationFactor: 1 }
clusters:
  dev: { clusterId: %s, bootstrap: [%s] }
`

// matchExcerpt checks that every non-blank line of a docs excerpt is a whole line of got, in the
// excerpt's order; "…" stands for any text (a line of its own: any lines).
func matchExcerpt(excerpt, got string) error {
	lines := strings.Split(got, "\n")
	at := 0
	for _, want := range strings.Split(excerpt, "\n") {
		if want = strings.TrimSpace(want); want == "" || want == "…" {
			continue
		}
		re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(want), "…", ".*") + "$")
		for at < len(lines) && !re.MatchString(strings.TrimSpace(lines[at])) {
			at++
		}
		if at == len(lines) {
			return fmt.Errorf("no line %q (in this order)", want)
		}
		at++
	}
	return nil
}

// subMap reports whether got holds every key of want with want's value.
func subMap(got, want map[string]int) bool {
	for k, v := range want {
		if n, ok := got[k]; !ok || n != v {
			return false
		}
	}
	return true
}

// fleetStatusJSON is what the fleet tests read of `status --cluster a,b -o json`.
type fleetStatusJSON struct {
	Healthy bool `json:"healthy"`
	Targets []struct {
		Cluster  string   `json:"cluster"`
		Healthy  bool     `json:"healthy"`
		Problems []string `json:"problems"`
	} `json:"targets"`
}
