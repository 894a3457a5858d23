package gitsource

// The built-in git client (issue 25): go-git, used when the host has no git binary, as in the
// daemon's container image (a static binary on an empty base). It keeps the same private clone
// as the CLI path (Dir/repo.git, the branch in refs/remotes/origin/<branch>, a forced fetch,
// whole-tree checkouts), so either client can continue a clone the other made.
//
// What it cannot do is what go-git cannot: credential helpers, ssh_config Include/ProxyJump,
// url.<base>.insteadOf. It authenticates with a password in an https URL, with the one credential
// helper the rendered Deployment configures (git-credential-store's file, through GIT_CONFIG_*, so a
// pod follows a private repository with the Secret avatar-sync-watch-git), and over ssh with the
// ssh-agent and ~/.ssh/known_hosts (docs/watch.md).

import (
	"context"
	"errors"
	"fmt"
	"io"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
)

// Builtin, as Repo.Git, selects the built-in client even when a git binary is on PATH.
const Builtin = "builtin"

// UsesBuiltin reports whether r fetches with the built-in client: Git is Builtin, or Git is ""
// and no git binary is on PATH.
func (r *Repo) UsesBuiltin() bool {
	if r.Git == Builtin {
		return true
	}
	if r.Git != "" {
		return false
	}
	_, err := exec.LookPath("git")
	return err != nil
}

// go-git serves file:// and local paths by running git-upload-pack; without git there is none, so
// the built-in client reads local repositories with go-git's in-process server instead.
var localTransport sync.Once

func (r *Repo) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return 2 * time.Minute
}

// checkBranch refuses a branch name git would read as an option or a revision expression.
func checkBranch(branch string) error {
	if branch == "" || strings.HasPrefix(branch, "-") || strings.ContainsAny(branch, " \t\n:^~?*[\\") {
		return fmt.Errorf("--branch %q is not a branch name", branch)
	}
	return nil
}

// remoteURL is URL as go-git must see it: a local path made absolute (git resolves it against
// the working directory; go-git's loader would not).
func (r *Repo) remoteURL() (string, error) {
	ep, err := transport.NewEndpoint(r.URL)
	if err != nil {
		return "", fmt.Errorf("--git %s: %w", Redact(r.URL), err)
	}
	if ep.Protocol != "file" || strings.HasPrefix(r.URL, "file://") || filepath.IsAbs(r.URL) {
		return r.URL, nil
	}
	return filepath.Abs(r.URL)
}

// openBuiltin opens the private clone, creating it on first use.
func (r *Repo) openBuiltin() (*git.Repository, error) {
	repo, err := git.PlainOpen(r.gitDir())
	if errors.Is(err, git.ErrRepositoryNotExists) {
		if err := os.MkdirAll(r.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("create the private clone: %w", err)
		}
		repo, err = git.PlainInit(r.gitDir(), true)
	}
	if err != nil {
		return nil, fmt.Errorf("open the private clone %s: %w", r.gitDir(), err)
	}
	return repo, nil
}

// fetchBuiltin is Fetch with go-git: origin is pointed at URL, then the branch is fetched with
// the same forced refspec as the CLI path.
func (r *Repo) fetchBuiltin(ctx context.Context) (Revision, error) {
	if err := checkBranch(r.Branch); err != nil {
		return Revision{}, err
	}
	localTransport.Do(func() { client.InstallProtocol("file", server.NewClient(server.DefaultLoader)) })
	url, err := r.remoteURL()
	if err != nil {
		return Revision{}, err
	}
	repo, err := r.openBuiltin()
	if err != nil {
		return Revision{}, err
	}
	ref := plumbing.NewRemoteReferenceName("origin", r.Branch)
	refspec := config.RefSpec("+" + plumbing.NewBranchReferenceName(r.Branch).String() + ":" + ref.String())
	cfg, err := repo.Config()
	if err != nil {
		return Revision{}, fmt.Errorf("read the private clone's configuration: %w", err)
	}
	cfg.Remotes["origin"] = &config.RemoteConfig{Name: "origin", URLs: []string{url}, Fetch: []config.RefSpec{refspec}}
	if err := repo.SetConfig(cfg); err != nil {
		return Revision{}, fmt.Errorf("configure the private clone: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	auth, err := storedCredentials(url)
	if err != nil {
		return Revision{}, err
	}
	err = repo.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", RefSpecs: []config.RefSpec{refspec},
		Tags: git.NoTags, Force: true, Prune: true, Auth: auth})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
	case errors.Is(err, git.NoMatchingRefSpecError{}):
		return Revision{}, fmt.Errorf("fetch %s: %w: %s", Redact(r.URL), ErrBranchMissing, r.Branch)
	case ctx.Err() != nil:
		return Revision{}, fmt.Errorf("fetch branch %s of %s: gave up after %s: %w", r.Branch, Redact(r.URL), r.timeout(), ctx.Err())
	default:
		// go-git's messages may quote the URL, password included.
		return Revision{}, fmt.Errorf("fetch branch %s of %s: %s", r.Branch, Redact(r.URL), r.redactText(err.Error()))
	}
	head, err := repo.Reference(ref, true)
	if err != nil {
		return Revision{}, fmt.Errorf("read the head of %s: %w", r.Branch, err)
	}
	commit, err := repo.CommitObject(head.Hash())
	if err != nil {
		return Revision{}, fmt.Errorf("read the head of %s: %w", r.Branch, err)
	}
	return Revision{Hash: head.Hash().String(), Subject: subject(commit.Message)}, nil
}

// storedCredentials is git-credential-store for the built-in client: when the environment
// configures `credential.helper = store --file=F` (GIT_CONFIG_COUNT/KEY_n/VALUE_n, as the rendered
// watch Deployment does, issue 21), the first line of F whose scheme and host (and path, when the
// line has one) match the http(s) remote gives the user name and password, percent-decoded as git
// writes them. A URL that carries its own user information keeps it; any other helper is git's
// alone. nil means no credentials.
func storedCredentials(remote string) (transport.AuthMethod, error) {
	u, err := neturl.Parse(remote)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
		return nil, nil
	}
	n, _ := strconv.Atoi(os.Getenv("GIT_CONFIG_COUNT"))
	for i := 0; i < n; i++ {
		if !strings.EqualFold(os.Getenv(fmt.Sprintf("GIT_CONFIG_KEY_%d", i)), "credential.helper") {
			continue
		}
		args := strings.Fields(os.Getenv(fmt.Sprintf("GIT_CONFIG_VALUE_%d", i)))
		if len(args) == 0 || args[0] != "store" {
			continue
		}
		file := ""
		for j, a := range args[1:] {
			if f, ok := strings.CutPrefix(a, "--file="); ok {
				file = f
			} else if a == "--file" && j+2 < len(args) {
				file = args[j+2]
			}
		}
		if file == "" {
			home, _ := os.UserHomeDir()
			file = filepath.Join(home, ".git-credentials")
		}
		data, err := os.ReadFile(file)
		if errors.Is(err, os.ErrNotExist) {
			continue // an optional Secret that is not there: no credentials, as with git
		}
		if err != nil {
			return nil, fmt.Errorf("read the git credential store: %w", err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			c, err := neturl.Parse(strings.TrimSpace(line))
			if err != nil || c.User == nil || c.Scheme != u.Scheme || c.Host != u.Host ||
				(strings.Trim(c.Path, "/") != "" && strings.Trim(c.Path, "/") != strings.Trim(u.Path, "/")) {
				continue
			}
			pw, _ := c.User.Password()
			return &githttp.BasicAuth{Username: c.User.Username(), Password: pw}, nil
		}
	}
	return nil, nil
}

// subject is what git's %s prints: the message's first paragraph on one line.
func subject(message string) string {
	para, _, _ := strings.Cut(strings.TrimLeft(message, "\n"), "\n\n")
	return strings.Join(strings.Fields(strings.ReplaceAll(para, "\n", " ")), " ")
}

// writeTreeBuiltin writes the whole tree of commit hash into dir (which exists and is empty):
// regular and executable files, symbolic links as links (SpecFile refuses one leading out of the
// tree), and an empty directory for a submodule, as `git checkout-index --all` does.
func (r *Repo) writeTreeBuiltin(ctx context.Context, hash, dir string) error {
	repo, err := r.openBuiltin()
	if err != nil {
		return err
	}
	commit, err := repo.CommitObject(plumbing.NewHash(hash))
	if err != nil {
		return fmt.Errorf("read commit %s: %w", hash, err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return fmt.Errorf("read the tree of %s: %w", hash, err)
	}
	walker := object.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		name, entry, err := walker.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("walk the tree of %s: %w", hash, err)
		}
		// git refuses to check out such paths; so does this.
		if !filepath.IsLocal(name) || strings.EqualFold(filepath.Base(name), ".git") {
			return fmt.Errorf("%s: the commit names a path outside its tree or inside .git; refused", name)
		}
		full := filepath.Join(dir, filepath.FromSlash(name))
		switch entry.Mode {
		case filemode.Dir, filemode.Submodule:
			err = os.MkdirAll(full, 0o755)
		case filemode.Symlink:
			var target string
			if target, err = blobText(repo, entry.Hash); err == nil {
				err = os.Symlink(target, full)
			}
		case filemode.Regular, filemode.Deprecated, filemode.Executable:
			perm := os.FileMode(0o644)
			if entry.Mode == filemode.Executable {
				perm = 0o755
			}
			err = writeBlob(repo, entry.Hash, full, perm)
		default:
			err = fmt.Errorf("unsupported file mode %s", entry.Mode)
		}
		if err != nil {
			return fmt.Errorf("check out %s: %w", name, err)
		}
	}
}

func blobText(repo *git.Repository, h plumbing.Hash) (string, error) {
	blob, err := repo.BlobObject(h)
	if err != nil {
		return "", err
	}
	rd, err := blob.Reader()
	if err != nil {
		return "", err
	}
	defer rd.Close()
	b, err := io.ReadAll(rd)
	return string(b), err
}

func writeBlob(repo *git.Repository, h plumbing.Hash, path string, perm os.FileMode) error {
	blob, err := repo.BlobObject(h)
	if err != nil {
		return err
	}
	rd, err := blob.Reader()
	if err != nil {
		return err
	}
	defer rd.Close()
	// O_EXCL: never write through something already there (a link the tree put in place).
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rd); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
