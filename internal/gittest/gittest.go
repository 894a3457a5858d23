// Package gittest makes real git repositories for tests (issue 12): a bare "remote" and a working
// clone that commits and pushes with the git binary, as a person merging a pull request would.
package gittest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/internal/tooltest"
)

// Remote is a bare repository (URL is its path) and a working clone that pushes to it.
type Remote struct {
	t      testing.TB
	URL    string
	work   string
	Branch string
}

// New makes an empty bare remote whose branch is main.
func New(t testing.TB) *Remote {
	t.Helper()
	tooltest.Require(t, "git", "apt-get install git")
	dir := t.TempDir()
	r := &Remote{t: t, URL: filepath.Join(dir, "remote.git"), work: filepath.Join(dir, "work"), Branch: "main"}
	r.run("", "init", "--quiet", "--bare", "--initial-branch=main", r.URL)
	r.run("", "init", "--quiet", "--initial-branch=main", r.work)
	r.run(r.work, "remote", "add", "origin", r.URL)
	return r
}

// Commit writes files (path relative to the repository root → content; "" content deletes the
// file), commits them with subject and pushes; it returns the commit's full hash.
func (r *Remote) Commit(subject string, files map[string]string) string {
	r.t.Helper()
	for p, content := range files {
		full := filepath.Join(r.work, filepath.FromSlash(p))
		if content == "" {
			r.run(r.work, "rm", "--quiet", "--", p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
		r.run(r.work, "add", "--", p)
	}
	r.run(r.work, "commit", "--quiet", "--allow-empty", "-m", subject)
	r.run(r.work, "push", "--quiet", "--force", "origin", "HEAD:refs/heads/"+r.Branch)
	return r.Head()
}

// Link commits a symbolic link at path (relative to the repository root) pointing at target, as
// given (absolute or relative), and pushes; it returns the commit's full hash. git stores the
// link itself (mode 120000), never the file it points at (issue 21's hostile commit).
func (r *Remote) Link(subject, path, target string) string {
	r.t.Helper()
	full := filepath.Join(r.work, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Symlink(target, full); err != nil {
		r.t.Fatal(err)
	}
	r.run(r.work, "add", "--", path)
	r.run(r.work, "commit", "--quiet", "-m", subject)
	r.run(r.work, "push", "--quiet", "--force", "origin", "HEAD:refs/heads/"+r.Branch)
	return r.Head()
}

// Executable commits an executable file (mode 100755: a script a spec's plugin: names) and
// pushes; it returns the commit's full hash.
func (r *Remote) Executable(subject, path, content string) string {
	r.t.Helper()
	full := filepath.Join(r.work, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o755); err != nil {
		r.t.Fatal(err)
	}
	r.run(r.work, "add", "--chmod=+x", "--", path)
	r.run(r.work, "commit", "--quiet", "-m", subject)
	r.run(r.work, "push", "--quiet", "--force", "origin", "HEAD:refs/heads/"+r.Branch)
	return r.Head()
}

// Rewind resets the working clone to rev (a hash or HEAD~1), so the next Commit force-pushes a
// rewritten branch.
func (r *Remote) Rewind(rev string) {
	r.t.Helper()
	r.run(r.work, "reset", "--quiet", "--hard", rev)
}

// Head is the working clone's current commit.
func (r *Remote) Head() string {
	r.t.Helper()
	return strings.TrimSpace(r.run(r.work, "rev-parse", "HEAD"))
}

func (r *Remote) run(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.org",
		"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.org", "GIT_CONFIG_NOSYSTEM=1", "HOME="+filepath.Dir(r.URL))
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
