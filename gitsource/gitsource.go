// Package gitsource follows one branch of a git repository for `watch --git` (issue 12): a
// private bare clone fetched on demand, and each revision checked out whole into its own
// directory before anything reads it. Source (source.go) polls the branch for the watch loop: it
// implements reconcile.Source, the only project package gitsource imports (issue 20), and reports a
// failed fetch through the loop, so it is a failed pass retried with the loop's back-off.
//
// It drives the git command-line tool rather than go-git, so fetching authenticates exactly as
// the host's git is configured: ~/.ssh/config and keys, ssh-agent, known_hosts, credential
// helpers, url.<base>.insteadOf, proxies. go-git implements only part of that (no credential
// helpers, no ssh_config Include/ProxyJump), so a repository the operator can `git fetch` by hand
// could fail in the daemon; with the CLI what works by hand works here. git is on every host the
// daemon runs on, and the tests drive the same binary. Where there is no git binary (the container
// image, issue 25), builtin.go does the same with go-git.
package gitsource

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Revision is one commit of the followed branch.
type Revision struct {
	// Hash is the full commit id; Subject the first line of its message.
	Hash    string
	Subject string
}

// Short is the abbreviated commit id people read in logs (12 hex digits).
func (r Revision) Short() string {
	if len(r.Hash) > 12 {
		return r.Hash[:12]
	}
	return r.Hash
}

// IsZero reports whether no revision has been fetched.
func (r Revision) IsZero() bool { return r.Hash == "" }

// Repo is a private clone that follows Branch of URL. Only this package writes under Dir:
//
//	Dir/repo.git       bare repository; the branch lands in refs/remotes/origin/<branch>
//	Dir/trees/<hash>/  the complete tree of one revision (written as .tmp-*, then renamed)
type Repo struct {
	// URL is anything `git fetch` accepts: a path, file://, https://, ssh://, user@host:path.
	URL    string
	Branch string
	// Dir is the clone's directory (cmd puts it under --state-dir).
	Dir string
	// Git is the git executable; "" finds git on PATH, or uses the built-in client (go-git,
	// builtin.go) when there is none, as in the container image; Builtin forces it.
	Git string
	// Timeout bounds one git command (default 2m) so a hanging remote fails the pass.
	Timeout time.Duration

	kept    string              // the tree of the last revision handed out, kept while a newer one is checked out
	skipped map[string][]string // per revision, the committed links removed from its tree (see scrubLinks)
}

// absDir makes Dir absolute once, before any git command runs: git resolves a relative
// GIT_INDEX_FILE against the --work-tree, not against the daemon's working directory, so with
// the default relative --state-dir every checkout failed (issue 21).
func (r *Repo) absDir() error {
	if filepath.IsAbs(r.Dir) {
		return nil
	}
	abs, err := filepath.Abs(r.Dir)
	if err != nil {
		return fmt.Errorf("the private clone's directory %s: %w", r.Dir, err)
	}
	r.Dir = abs
	return nil
}

func (r *Repo) remember(rev Revision, skipped []string) {
	if r.skipped == nil {
		r.skipped = map[string][]string{}
	}
	r.skipped[rev.Hash] = skipped
}

// Skipped lists the symbolic links (paths relative to the repository root) that rev's checkout
// left out because they lead out of the repository or nowhere: a committed link to a host file
// must never make the daemon read that file (issue 21). Empty when none, or when the tree was
// checked out by an earlier process.
func (r *Repo) Skipped(rev Revision) []string { return r.skipped[rev.Hash] }

// scrubLinks removes from tree every symbolic link that does not resolve to a file or directory
// inside tree: absolute links, links climbing out with .., links through other links that do, and
// dangling ones (a later link could make them lead out). What stays is a tree in which any path,
// followed by the kernel, stays inside the tree: the spec directory's *.yaml files, tls.dir,
// passwordFile, everything. It returns the removed links relative to tree, sorted.
func scrubLinks(tree string) ([]string, error) {
	root, err := filepath.EvalSymlinks(tree)
	if err != nil {
		return nil, err
	}
	var removed []string
	// Removing a link can leave another dangling (it pointed through it): repeat until stable.
	for {
		var bad []string
		err := filepath.WalkDir(tree, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type()&os.ModeSymlink == 0 {
				return nil // WalkDir never follows links, so the walk itself stays inside
			}
			if !inside(root, p) {
				bad = append(bad, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("check the tree's symbolic links: %w", err)
		}
		if len(bad) == 0 {
			break
		}
		for _, p := range bad {
			if err := os.Remove(p); err != nil {
				return nil, fmt.Errorf("remove the symbolic link %s leading out of the repository: %w", p, err)
			}
			rel, _ := filepath.Rel(tree, p)
			removed = append(removed, filepath.ToSlash(rel))
		}
	}
	slices.Sort(removed)
	return removed, nil
}

// inside reports whether the link at p resolves to an existing path under root.
func inside(root, p string) bool {
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(root, resolved)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// DirFor names the private clone of url's branch under base: readable, and distinct for every
// (url, branch) so switching --git never reuses another repository's clone.
func DirFor(base, rawURL, branch string) string {
	sum := sha256.Sum256([]byte(rawURL + "\x00" + branch))
	name := regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(strings.TrimSuffix(filepath.Base(Redact(rawURL)), ".git"), "_")
	if name == "" || name == "." || name == ".." {
		name = "repo"
	}
	return filepath.Join(base, name+"-"+hex.EncodeToString(sum[:6]))
}

// ErrBranchMissing is matched when the remote has no such branch.
var ErrBranchMissing = errors.New("branch not found on the remote")

// Fetch brings the branch up to date and returns its head. The refspec forces the update, so a
// force-pushed or rewritten branch is followed rather than refused as a non-fast-forward.
func (r *Repo) Fetch(ctx context.Context) (Revision, error) {
	if err := r.absDir(); err != nil {
		return Revision{}, err
	}
	if r.UsesBuiltin() {
		return r.fetchBuiltin(ctx)
	}
	if err := r.init(ctx); err != nil {
		return Revision{}, err
	}
	ref := "refs/remotes/origin/" + r.Branch
	if _, err := r.git(ctx, nil, "fetch", "--quiet", "--no-tags", "--force", "--prune", "origin", "+refs/heads/"+r.Branch+":"+ref); err != nil {
		if strings.Contains(err.Error(), "couldn't find remote ref") {
			return Revision{}, fmt.Errorf("fetch %s: %w: %s", Redact(r.URL), ErrBranchMissing, r.Branch)
		}
		return Revision{}, fmt.Errorf("fetch branch %s of %s: %w", r.Branch, Redact(r.URL), err)
	}
	out, err := r.git(ctx, nil, "log", "-1", "--format=%H%x00%s", ref, "--")
	if err != nil {
		return Revision{}, fmt.Errorf("read the head of %s: %w", r.Branch, err)
	}
	hash, subject, _ := strings.Cut(strings.TrimRight(out, "\n"), "\x00")
	return Revision{Hash: hash, Subject: subject}, nil
}

// init creates the bare clone on first use and points origin at URL every time, so a changed
// --git URL is followed.
func (r *Repo) init(ctx context.Context) error {
	if r.Branch == "" || strings.HasPrefix(r.Branch, "-") || strings.ContainsAny(r.Branch, " \t\n:^~?*[\\") {
		return fmt.Errorf("--branch %q is not a branch name", r.Branch)
	}
	if _, err := os.Stat(filepath.Join(r.gitDir(), "HEAD")); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(r.Dir, 0o700); err != nil {
			return fmt.Errorf("create the private clone: %w", err)
		}
		if _, err := r.gitIn(ctx, "", []string{"init", "--quiet", "--bare", r.gitDir()}); err != nil {
			return fmt.Errorf("create the private clone in %s: %w", r.gitDir(), err)
		}
	}
	// `remote set-url` fails before the remote exists; config works either way.
	if _, err := r.git(ctx, nil, "config", "remote.origin.url", r.URL); err != nil {
		return fmt.Errorf("configure the private clone: %w", err)
	}
	return nil
}

// Checkout writes rev's whole tree into a directory of its own and returns it. The tree is
// written under a temporary name and renamed when complete, so a reader never sees a half-written
// tree, even after a crash mid-checkout (issue 12). It keeps the previous tree (the revision in
// force until the caller switches) and removes older ones and leftovers.
func (r *Repo) Checkout(ctx context.Context, rev Revision) (string, error) {
	if err := r.absDir(); err != nil {
		return "", err
	}
	trees := filepath.Join(r.Dir, "trees")
	final := filepath.Join(trees, rev.Hash)
	if fi, err := os.Stat(final); err == nil && fi.IsDir() {
		if _, seen := r.skipped[rev.Hash]; !seen {
			// A tree checked out by an earlier process (an older version) may still hold links out of it.
			skipped, err := scrubLinks(final)
			if err != nil {
				return "", fmt.Errorf("check out %s: %w", rev.Short(), err)
			}
			r.remember(rev, skipped)
		}
		r.cleanTrees(final)
		return final, nil
	}
	if err := os.MkdirAll(trees, 0o700); err != nil {
		return "", fmt.Errorf("check out %s: %w", rev.Short(), err)
	}
	tmp, err := os.MkdirTemp(trees, ".tmp-"+rev.Short()+"-")
	if err != nil {
		return "", fmt.Errorf("check out %s: %w", rev.Short(), err)
	}
	// A private index outside the tree: the bare clone has none, and the tree must hold only the
	// revision's files.
	env := []string{"GIT_INDEX_FILE=" + tmp + ".index"}
	defer os.Remove(tmp + ".index")
	if r.UsesBuiltin() {
		err = r.writeTreeBuiltin(ctx, rev.Hash, tmp)
	} else if _, err = r.git(ctx, env, "--work-tree="+tmp, "read-tree", rev.Hash); err == nil {
		_, err = r.git(ctx, env, "--work-tree="+tmp, "checkout-index", "--all", "--force")
	}
	var skipped []string
	if err == nil {
		skipped, err = scrubLinks(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("check out %s: %w", rev.Short(), err)
	}
	r.remember(rev, skipped)
	r.cleanTrees(final)
	return final, nil
}

// cleanTrees removes every tree but current and the one handed out before it.
func (r *Repo) cleanTrees(current string) {
	entries, _ := os.ReadDir(filepath.Join(r.Dir, "trees"))
	for _, e := range entries {
		p := filepath.Join(r.Dir, "trees", e.Name())
		if p != current && p != r.kept {
			os.RemoveAll(p)
		}
	}
	r.kept = current
}

// SpecFile is the path of the file named path (relative to the repository root) inside tree. It
// refuses a path that leaves the tree, also through a symbolic link committed to the repository:
// the daemon reads only what the revision holds, never a host file a commit points at.
func SpecFile(tree, path string) (string, error) {
	clean := filepath.Clean(filepath.FromSlash(path))
	if filepath.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("--path %q must name a file inside the repository, relative to its root", path)
	}
	full := filepath.Join(tree, clean)
	resolved, err := filepath.EvalSymlinks(full)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s: not in this revision (--path names the spec relative to the repository root): %w", filepath.ToSlash(clean), os.ErrNotExist)
		}
		return "", fmt.Errorf("%s: %w", filepath.ToSlash(clean), err)
	}
	root, err := filepath.EvalSymlinks(tree)
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(root, resolved); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s: is a symbolic link leading out of the repository; the daemon reads only files the revision holds", filepath.ToSlash(clean))
	}
	return full, nil
}

func (r *Repo) gitDir() string { return filepath.Join(r.Dir, "repo.git") }

func (r *Repo) git(ctx context.Context, env []string, args ...string) (string, error) {
	return r.gitIn(ctx, r.gitDir(), args, env...)
}

// gitIn runs git (with --git-dir when gitDir is set). It never prompts: a daemon has no terminal,
// and a credential prompt would hang the pass until its time-out. Its output is redacted, since
// git quotes the remote's URL, which may carry a password.
func (r *Repo) gitIn(ctx context.Context, gitDir string, args []string, env ...string) (string, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	bin := r.Git
	if bin == "" {
		bin = "git"
	}
	sub := args[0]
	if gitDir != "" {
		args = append([]string{"--git-dir=" + gitDir}, args...)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), append([]string{"GIT_TERMINAL_PROMPT=0", "GCM_INTERACTIVE=never", "LC_ALL=C"}, env...)...)
	// git fetches through helpers (git-remote-https, ssh) that outlive a killed git and keep the
	// connection open: run git in a process group of its own and end the whole group on
	// cancellation (shutdown, time-out), then stop waiting for stray pipes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(r.redactText(stderr.String()))
		if ctx.Err() != nil {
			return "", fmt.Errorf("git %s: gave up after %s: %w", sub, timeout, ctx.Err())
		}
		if msg == "" {
			return "", fmt.Errorf("git: %w", err)
		}
		return "", fmt.Errorf("git: %s", msg)
	}
	return stdout.String(), nil
}

// redactText removes the URL's credentials from git's messages (git 2.39 quotes the URL as given):
// the whole user information before "@", and the password wherever it appears.
func (r *Repo) redactText(s string) string {
	u, err := url.Parse(r.URL)
	if err != nil || u.User == nil {
		return s
	}
	s = strings.ReplaceAll(s, r.URL, Redact(r.URL))
	s = strings.ReplaceAll(s, u.User.String()+"@", "***@")
	if raw, _, ok := strings.Cut(strings.TrimPrefix(r.URL, u.Scheme+"://"), "@"); ok && !strings.Contains(raw, "/") {
		s = strings.ReplaceAll(s, raw+"@", "***@")
	}
	for _, c := range Credentials(r.URL) {
		s = strings.ReplaceAll(s, c, "***")
	}
	return s
}

// Redact returns rawURL without its user information, for logs and notifications:
// https://deploy:token@host/repo and https://token@host/repo (GitHub's token-as-user form) both
// become https://***@host/repo. Any user information is hidden (issue 21): a user name can be the
// token itself.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return rawURL
	}
	u.User = url.User("***")
	// url.String escapes the asterisks; they are ours, keep them readable.
	return strings.Replace(u.String(), "%2A%2A%2A", "***", 1)
}

// Password returns the password written into rawURL, if any, so callers can keep it out of
// everything they send elsewhere.
func Password(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		pw, _ := u.User.Password()
		return pw
	}
	return ""
}

// Credentials returns the secrets written into rawURL's user information: the password, and for
// http(s) the user name too (https://<token>@host/… puts the token there). An ssh user name
// (ssh://git@host/…) is no secret and is not returned: scrubbing "git" would mangle every text.
func Credentials(rawURL string) []string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return nil
	}
	var out []string
	if pw, ok := u.User.Password(); ok && pw != "" {
		out = append(out, pw)
	}
	if name := u.User.Username(); name != "" && (u.Scheme == "http" || u.Scheme == "https") {
		out = append(out, name)
	}
	return out
}
