package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// The console examples of README.md and docs/*.md run as tests, so the docs cannot drift from the
// tool (issue 21). An example is a ```sh or ```console block with at least one avatar-sync
// command (`go run ./cmd/avatar-sync` counts as one). Every such block of a page runs, in the
// order of the page, in one testscript, as a user who cloned the repository would run them:
// relative paths, default flags, the embedded cluster (its state under .avatar-sync/ carries from
// one block to the next, as it would for the user). README.md starts in a copy of the repository
// root (its examples/ directory), as its set-up does; the pages under docs/ start in examples/,
// the directory of the example avatar.yaml, where their commands without -f read it. A block
// that cannot run here is marked on the line before it with <!-- not-run: why -->; its
// avatar-sync lines are still checked to name a real command with flags it has.
//
// Within a block:
//   - `$ cmd` lines (console) or every line (sh) are commands; `\` continues a line; `a && b` is two
//     commands; a trailing `# comment` is prose, except one starting `# exit N`: the exit status
//     expected (else 0).
//   - In a console block, the lines after a command are its expected output: each must appear, as a
//     whole line, in what the command printed (stdout then stderr); `…` stands for any text.
//   - `export NAME=value` sets a variable for the following commands (the placeholder `...` gives
//     a test password), `cd DIR` changes directory, `< file` feeds standard input, `> file` saves
//     standard output. Any other program is an error: make the block runnable or mark it.

// docPages are the pages whose examples run (relative to this package).
var docPages = func() []string {
	pages, _ := filepath.Glob("../../docs/*.md")
	return append([]string{"../../README.md"}, pages...)
}()

// docCommand is one command of an example, where it is written and what it should do.
type docCommand struct {
	line int      // line in the page
	args []string // the words of the command, first "avatar-sync", "export", "cd" or another program
	in   string   // file for standard input ("" = none)
	out  string   // file standard output is saved to ("" = none)
	exit int      // expected exit status
	want []string // expected output lines (console blocks)
}

// docBlock is one fenced example.
type docBlock struct {
	page   string
	line   int
	notRun string // the reason given by <!-- not-run: … -->; "" = runs
	cmds   []docCommand
}

var (
	notRunMarker = regexp.MustCompile(`^<!--\s*not-run:\s*(.+?)\s*-->$`)
	exitComment  = regexp.MustCompile(`^#\s*exit (\d)\b`)
)

// parseDocBlocks returns the blocks of a page that hold an avatar-sync command.
func parseDocBlocks(page string, data []byte) ([]docBlock, error) {
	var blocks []docBlock
	lines := strings.Split(string(data), "\n")
	prev := "" // the last non-blank line before the current one
	for i := 0; i < len(lines); i++ {
		fence := strings.TrimSpace(lines[i])
		if fence != "```sh" && fence != "```console" {
			if fence != "" {
				prev = fence
			}
			continue
		}
		b := docBlock{page: page, line: i + 1}
		if m := notRunMarker.FindStringSubmatch(prev); m != nil {
			b.notRun = m[1]
		}
		console := fence == "```console"
		i++
		for ; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			line, start := lines[i], i+1
			for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
				i++
				line = strings.TrimSuffix(line, "\\") + " " + strings.TrimSpace(lines[i])
			}
			text := strings.TrimSpace(line)
			if console {
				cmdText, ok := strings.CutPrefix(text, "$ ")
				if !ok {
					if text != "" && len(b.cmds) > 0 {
						last := &b.cmds[len(b.cmds)-1]
						last.want = append(last.want, text)
					}
					continue
				}
				text = cmdText
			}
			if text == "" || strings.HasPrefix(text, "#") {
				continue
			}
			cmds, err := parseDocLine(text)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", page, start, err)
			}
			for _, c := range cmds {
				c.line = start
				b.cmds = append(b.cmds, c)
			}
		}
		if prev = ""; b.runsAvatarSync() {
			blocks = append(blocks, b)
		}
	}
	return blocks, nil
}

func (b docBlock) runsAvatarSync() bool {
	for _, c := range b.cmds {
		if c.args[0] == "avatar-sync" {
			return true
		}
	}
	return false
}

// parseDocLine splits one shell line into its commands.
func parseDocLine(text string) ([]docCommand, error) {
	words, comment, err := shellWords(text)
	if err != nil {
		return nil, err
	}
	exit := 0
	if m := exitComment.FindStringSubmatch(comment); m != nil {
		exit, _ = strconv.Atoi(m[1])
	}
	var cmds []docCommand
	cur := docCommand{}
	flush := func() {
		if len(cur.args) > 0 {
			cmds = append(cmds, cur)
		}
		cur = docCommand{}
	}
	for i := 0; i < len(words); i++ {
		switch w := words[i]; {
		case w == "&&":
			flush()
		case (w == "<" || w == ">") && i+1 < len(words):
			if w == "<" {
				cur.in = words[i+1]
			} else {
				cur.out = words[i+1]
			}
			i++
		default:
			cur.args = append(cur.args, w)
		}
	}
	flush()
	for i := range cmds {
		if a := cmds[i].args; len(a) >= 3 && a[0] == "go" && a[1] == "run" && a[2] == "./cmd/avatar-sync" {
			cmds[i].args = append([]string{"avatar-sync"}, a[3:]...)
		}
	}
	if len(cmds) > 0 {
		cmds[len(cmds)-1].exit = exit // the comment is about the line's last command
	}
	return cmds, nil
}

// shellWords splits a line as sh would for the simple lines docs hold: '…' and "…" quoting, and a
// trailing # comment (returned apart).
func shellWords(s string) (words []string, comment string, err error) {
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, "", fmt.Errorf("unterminated %c quote in %q", c, s)
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words, inWord = append(words, w.String()), false
				w.Reset()
			}
		case c == '#' && !inWord:
			return words, s[i:], nil
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, "", nil
}

// quoteScript quotes a word for a testscript line.
func quoteScript(w string) string {
	return "'" + strings.ReplaceAll(w, "'", "''") + "'"
}

// docScript turns a page's runnable blocks into a testscript; problems are blocks that are neither
// runnable nor marked.
func docScript(blocks []docBlock) (script string, problems []string) {
	var b strings.Builder
	for _, blk := range blocks {
		if blk.notRun != "" {
			continue
		}
		fmt.Fprintf(&b, "# %s:%d\n", filepath.Base(blk.page), blk.line)
		for _, c := range blk.cmds {
			where := fmt.Sprintf("%s:%d", filepath.Base(blk.page), c.line)
			switch c.args[0] {
			case "avatar-sync":
				if c.in != "" {
					fmt.Fprintf(&b, "stdin %s\n", quoteScript(c.in))
				}
				fmt.Fprintf(&b, "docrun %s %d", where, c.exit)
				for _, a := range c.args[1:] {
					b.WriteString(" " + quoteScript(a))
				}
				b.WriteString("\n")
				if c.out != "" {
					fmt.Fprintf(&b, "cp stdout %s\n", quoteScript(c.out))
				}
				for _, want := range c.want {
					fmt.Fprintf(&b, "docout %s %s\n", where, quoteScript(want))
				}
			case "export":
				for _, kv := range c.args[1:] {
					k, v, _ := strings.Cut(kv, "=")
					if v == "..." || v == "…" {
						v = "docs-example-password"
					}
					fmt.Fprintf(&b, "env %s=%s\n", k, quoteScript(v))
				}
			case "cd":
				fmt.Fprintf(&b, "cd %s\n", quoteScript(c.args[1]))
			default:
				problems = append(problems, fmt.Sprintf("%s: %q is not avatar-sync: make the block runnable here or mark it <!-- not-run: why -->", where, strings.Join(c.args, " ")))
			}
		}
	}
	return b.String(), problems
}

// TestDocsExamplesRun runs every console example of README.md and docs/*.md (see the top of the
// file) against the embedded cluster.
func TestDocsExamplesRun(t *testing.T) {
	examples, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ran, marked := 0, 0
	for _, page := range docPages {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := parseDocBlocks(page, data)
		if err != nil {
			t.Fatal(err)
		}
		checkDocFlags(t, blocks)
		script, problems := docScript(blocks)
		for _, p := range problems {
			t.Error(p)
		}
		for _, blk := range blocks {
			if blk.notRun != "" {
				marked++
				t.Logf("%s:%d not run: %s", filepath.Base(page), blk.line, blk.notRun)
			} else {
				ran++
			}
		}
		if script == "" {
			continue
		}
		if filepath.Base(page) != "README.md" {
			// The pages under docs/ run where the user's avatar.yaml is: the example's directory.
			script = "cd examples\n" + script
		}
		name := strings.TrimSuffix(filepath.Base(page), ".md") + ".txtar"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if ran < 10 {
		t.Fatalf("%d example blocks ran; README.md alone has more", ran)
	}
	t.Logf("%d example blocks run, %d marked not-run", ran, marked)
	testscript.Run(t, testscript.Params{
		Dir: dir,
		Setup: func(env *testscript.Env) error {
			// The user's fresh checkout: the example specs (and the plugin source) under examples/.
			return copyCheckout(examples, filepath.Join(env.WorkDir, "examples"))
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"docrun": docRun,
			"docout": docOut,
		},
		RequireExplicitExec: true,
	})
}

// copyCheckout copies the example directory as a fresh clone has it: without what commands run in
// it write (keys from certs generate, the embedded cluster's state, rendered trees), which a
// developer's own runs may have left there.
func copyCheckout(from, to string) error {
	return filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		switch {
		case d.IsDir() && (rel == "ssl-certs" || rel == ".avatar-sync" || rel == "deploy"):
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
}

// docRun is `docrun WHERE EXIT ARGS…`: run avatar-sync ARGS and expect exit status EXIT.
func docRun(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: docrun WHERE EXIT ARGS…")
	}
	want, _ := strconv.Atoi(args[1])
	err := ts.Exec("avatar-sync", args[2:]...)
	got := 0
	if ee, ok := err.(*exec.ExitError); ok {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("%s: %v", args[0], err)
	}
	if got != want {
		ts.Fatalf("%s: avatar-sync %s exited %d; the doc says %d", args[0], strings.Join(args[2:], " "), got, want)
	}
}

// docOut is `docout WHERE LINE`: the last command printed LINE (… matches any text).
func docOut(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: docout WHERE LINE")
	}
	parts := strings.Split(args[1], "…")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	re := regexp.MustCompile(`(?m)^\s*` + strings.Join(parts, ".*") + `\s*$`)
	if out := ts.ReadFile("stdout") + ts.ReadFile("stderr"); !re.MatchString(out) {
		ts.Fatalf("%s: the output lacks the documented line %q", args[0], args[1])
	}
}

// checkDocFlags: every avatar-sync line, run or not, names a real command with flags it has.
func checkDocFlags(t *testing.T, blocks []docBlock) {
	t.Helper()
	for _, blk := range blocks {
		for _, c := range blk.cmds {
			if c.args[0] != "avatar-sync" {
				continue
			}
			var args []string
			for _, a := range c.args[1:] {
				if a != "…" && a != "..." {
					args = append(args, a)
				}
			}
			root := newRootCmd(&streams{})
			cmd, rest, err := root.Find(args)
			if err != nil || cmd == root && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
				t.Errorf("%s:%d: %q: not a command: %v", filepath.Base(blk.page), c.line, strings.Join(c.args, " "), err)
				continue
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Errorf("%s:%d: %q: %v", filepath.Base(blk.page), c.line, strings.Join(c.args, " "), err)
			}
		}
	}
}

// TestMakeTestQuick keeps the inner-loop target README.md offers what it says (issue 21): the
// whole tree, without -race and without -count=1 (so Go's test cache skips unchanged packages).
func TestMakeTestQuick(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	_, recipe, ok := strings.Cut(string(mk), "\ntest-quick:\n")
	recipe, _, _ = strings.Cut(recipe, "\n\n")
	vars := regexp.MustCompile(`(?m)^QUICKFLAGS \?= (.*)$`).FindStringSubmatch(string(mk))
	if !ok || vars == nil || !strings.Contains(recipe, "$(GO) test $(QUICKFLAGS) $(PKGS)") {
		t.Fatalf("Makefile has no test-quick target running $(GO) test $(QUICKFLAGS) $(PKGS):\n%s", recipe)
	}
	if flags := vars[1]; strings.Contains(flags, "-race") || strings.Contains(flags, "-count") || !strings.Contains(flags, "-short") {
		t.Errorf("QUICKFLAGS %q: want -short, without -race and -count (the test cache)", flags)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "make test-quick") {
		t.Error("README.md does not offer make test-quick")
	}
}
