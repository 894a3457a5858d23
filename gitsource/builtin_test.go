package gitsource

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/internal/gittest"
	"github.com/avatar-project/avatar-sync/internal/tooltest"
)

// TestBuiltinWithoutGitOnPath: with no git binary on PATH and Repo.Git unset (the image), Fetch
// and Checkout use the built-in client, and a relative --git path resolves against the working
// directory as git would.
func TestBuiltinWithoutGitOnPath(t *testing.T) {
	ctx := testCtx(t)
	remote := gittest.New(t)
	head := remote.Commit("spec", map[string]string{"avatar.yaml": "x\n"})
	t.Chdir(filepath.Dir(remote.URL))
	t.Setenv("PATH", t.TempDir())
	repo := &Repo{URL: filepath.Base(remote.URL), Branch: "main", Dir: filepath.Join(t.TempDir(), "clone")}
	if !repo.UsesBuiltin() {
		t.Fatal("no git on PATH, yet the CLI client is chosen")
	}
	rev, err := repo.Fetch(ctx)
	if err != nil || rev.Hash != head {
		t.Fatalf("fetch without git: %+v %v, want %s", rev, err, head)
	}
	tree, err := repo.Checkout(ctx, rev)
	if err != nil || readTree(t, tree, "avatar.yaml") != "x\n" {
		t.Fatalf("checkout without git: %v", err)
	}
	if (&Repo{Git: "/usr/bin/git"}).UsesBuiltin() {
		t.Error("an explicit git binary must be used, not the built-in client")
	}
}

// TestBuiltinCheckoutMatchesGit: a tree with an executable, a symbolic link inside the tree, one
// leading out of it and a multi-line message is checked out by the built-in client exactly as by
// git checkout-index (mode bits, link targets), and either client continues the other's clone.
func TestBuiltinCheckoutMatchesGit(t *testing.T) {
	ctx := testCtx(t)
	bare := symlinkRepo(t)

	cli := &Repo{URL: bare, Branch: "main", Dir: filepath.Join(t.TempDir(), "clone")}
	rev, err := cli.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := cli.Checkout(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	// The same clone, continued by the built-in client.
	builtin := &Repo{URL: bare, Branch: "main", Dir: cli.Dir, Git: Builtin}
	brev, err := builtin.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if brev != rev || rev.Subject != "a tree with links: second line of the subject" {
		t.Fatalf("built-in fetch %+v, git %+v", brev, rev)
	}
	got := filepath.Join(t.TempDir(), "tree")
	if err := os.Mkdir(got, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := builtin.writeTreeBuiltin(ctx, rev.Hash, got); err != nil {
		t.Fatal(err)
	}
	if _, err := SpecFile(got, "lab/alias.yaml"); err != nil {
		t.Errorf("a link inside the tree: %v", err)
	}
	if _, err := SpecFile(got, "lab/evil.yaml"); err == nil || !strings.Contains(err.Error(), "leading out of the repository") {
		t.Errorf("a link leading out of the built-in checkout: %v", err)
	}
	// Checkout removes links leading out of the tree once either client has written it (issue 21).
	if _, err := scrubLinks(got); err != nil {
		t.Fatal(err)
	}
	for _, tree := range []string{want, got} {
		if _, err := os.Lstat(filepath.Join(tree, "lab/evil.yaml")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: the link leading out of the tree is still there: %v", tree, err)
		}
	}
	for _, p := range []string{"lab/avatar.yaml", "lab/alias.yaml", "bin/run.sh"} {
		wi, err1 := os.Lstat(filepath.Join(want, p))
		gi, err2 := os.Lstat(filepath.Join(got, p))
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: git %v, built-in %v", p, err1, err2)
		}
		if wi.Mode() != gi.Mode() {
			t.Errorf("%s: mode %v, git checks it out as %v", p, gi.Mode(), wi.Mode())
		}
		if wi.Mode()&os.ModeSymlink != 0 {
			wl, _ := os.Readlink(filepath.Join(want, p))
			gl, _ := os.Readlink(filepath.Join(got, p))
			if wl != gl {
				t.Errorf("%s: link to %q, git's links to %q", p, gl, wl)
			}
		}
	}

	// And the other way round: a clone the built-in client made, continued by git.
	fresh := &Repo{URL: bare, Branch: "main", Dir: filepath.Join(t.TempDir(), "clone2"), Git: Builtin}
	if _, err := fresh.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	fresh.Git = ""
	if r, err := fresh.Fetch(ctx); err != nil || r != rev {
		t.Fatalf("git continuing the built-in clone: %+v %v", r, err)
	}
}

// TestBuiltinFetchFailures: a missing branch, an unreachable remote (password redacted) and an
// option-like branch fail as with the CLI client.
func TestBuiltinFetchFailures(t *testing.T) {
	ctx := testCtx(t)
	remote := gittest.New(t)
	remote.Commit("spec", map[string]string{"avatar.yaml": "x\n"})

	missing := &Repo{URL: remote.URL, Branch: "release", Dir: filepath.Join(t.TempDir(), "clone"), Git: Builtin}
	if _, err := missing.Fetch(ctx); !errors.Is(err, ErrBranchMissing) || !strings.Contains(err.Error(), "release") {
		t.Errorf("missing branch: %v", err)
	}
	secret := &Repo{URL: "http://deploy:s3cr3t-token@127.0.0.1:1/avatar.git", Branch: "main", Dir: filepath.Join(t.TempDir(), "clone"), Git: Builtin}
	_, err := secret.Fetch(ctx)
	if err == nil {
		t.Fatal("fetch from a closed port succeeded")
	}
	if strings.Contains(err.Error(), "s3cr3t-token") || !strings.Contains(err.Error(), "//***@127.0.0.1:1") {
		t.Errorf("error leaks the password or does not name the remote: %v", err)
	}
	if _, err := (&Repo{URL: remote.URL, Branch: "--upload-pack=touch", Dir: t.TempDir(), Git: Builtin}).Fetch(ctx); err == nil || !strings.Contains(err.Error(), "not a branch name") {
		t.Errorf("option-like branch: %v", err)
	}
}

func TestSubject(t *testing.T) {
	tests := map[string]string{
		"add the spec\n":                     "add the spec",
		"two\nlines\n\nbody\n":               "two lines",
		"\nleading blank\n":                  "leading blank",
		"subject only":                       "subject only",
		"spaces  kept   as git's %s folds\n": "spaces kept as git's %s folds",
	}
	for in, want := range tests {
		if got := subject(in); got != want {
			t.Errorf("subject(%q) = %q, want %q", in, got, want)
		}
	}
}

// symlinkRepo makes a bare repository (with git) whose main branch holds an executable, a link
// inside the tree and a link leading out of it.
func symlinkRepo(t *testing.T) string {
	t.Helper()
	tooltest.Require(t, "git", "apt-get install git")
	dir := t.TempDir()
	work, bare := filepath.Join(dir, "work"), filepath.Join(dir, "remote.git")
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@example.org", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	for p, content := range map[string]string{"lab/avatar.yaml": "x\n", "bin/run.sh": "#!/bin/sh\n"} {
		if err := os.MkdirAll(filepath.Join(work, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(work, "bin/run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("avatar.yaml", filepath.Join(work, "lab/alias.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(work, "lab/evil.yaml")); err != nil {
		t.Fatal(err)
	}
	run("init", "--quiet", "--initial-branch=main")
	run("add", "-A")
	run("commit", "--quiet", "-m", "a tree with links:\nsecond line of the subject\n\nbody")
	run("init", "--quiet", "--bare", "--initial-branch=main", bare)
	run("push", "--quiet", bare, "HEAD:refs/heads/main")
	return bare
}
