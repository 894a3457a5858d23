package gitsource

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/internal/gittest"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func readTree(t *testing.T, tree, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(tree, path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFetchFollowsPushesAndForcePushes: each push is fetched with its subject; a force-push that
// rewrites the branch is followed, not refused as a non-fast-forward; each checkout holds exactly
// its revision's files — with the git CLI and with the built-in client (issue 25: the container
// image has no git binary).
func TestFetchFollowsPushesAndForcePushes(t *testing.T) {
	for name, client := range map[string]string{"git": "", "built-in": Builtin} {
		t.Run(name, func(t *testing.T) { followsPushes(t, client) })
	}
}

func followsPushes(t *testing.T, client string) {
	ctx := testCtx(t)
	remote := gittest.New(t)
	first := remote.Commit("add the spec", map[string]string{"lab/avatar.yaml": "one\n"})
	repo := &Repo{URL: remote.URL, Branch: "main", Dir: filepath.Join(t.TempDir(), "clone"), Git: client}

	rev, err := repo.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rev.Hash != first || rev.Subject != "add the spec" {
		t.Fatalf("fetched %+v, want %s \"add the spec\"", rev, first)
	}
	tree1, err := repo.Checkout(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, tree1, "lab/avatar.yaml"); got != "one\n" {
		t.Fatalf("checkout holds %q", got)
	}
	if rev, err = repo.Fetch(ctx); err != nil || rev.Hash != first {
		t.Fatalf("a fetch with nothing new: %+v %v", rev, err)
	}

	second := remote.Commit("second", map[string]string{"lab/avatar.yaml": "two\n", "lab/other": "x"})
	if rev, err = repo.Fetch(ctx); err != nil || rev.Hash != second {
		t.Fatalf("after a push: %+v %v, want %s", rev, err, second)
	}
	tree2, err := repo.Checkout(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	if readTree(t, tree2, "lab/avatar.yaml") != "two\n" || readTree(t, tree1, "lab/avatar.yaml") != "one\n" {
		t.Fatal("the new tree must not overwrite the previous one, which stays in force until the switch")
	}

	// Rewrite history: drop "second", push a different commit with --force.
	remote.Rewind(first)
	rewritten := remote.Commit("rewritten", map[string]string{"lab/avatar.yaml": "three\n"})
	rev, err = repo.Fetch(ctx)
	if err != nil {
		t.Fatalf("a force-pushed branch wedged the clone: %v", err)
	}
	if rev.Hash != rewritten || rev.Subject != "rewritten" {
		t.Fatalf("after a force-push: %+v, want %s", rev, rewritten)
	}
	tree3, err := repo.Checkout(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	if readTree(t, tree3, "lab/avatar.yaml") != "three\n" {
		t.Fatal("rewritten tree has the wrong content")
	}
	if _, err := os.Stat(filepath.Join(tree3, "lab/other")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file of the dropped commit is in the rewritten tree: %v", err)
	}
	// Only the current tree and the one before it are kept.
	if _, err := os.Stat(tree1); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("tree of an old revision left behind: %v", err)
	}
}

// TestCheckoutLeavesNoHalfTree: a checkout interrupted by its context leaves no directory a reader
// could take for the revision's tree.
func TestCheckoutLeavesNoHalfTree(t *testing.T) {
	ctx := testCtx(t)
	remote := gittest.New(t)
	remote.Commit("spec", map[string]string{"avatar.yaml": "x\n"})
	repo := &Repo{URL: remote.URL, Branch: "main", Dir: filepath.Join(t.TempDir(), "clone")}
	rev, err := repo.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := repo.Checkout(cancelled, rev); err == nil {
		t.Fatal("checkout with a cancelled context succeeded")
	}
	entries, _ := os.ReadDir(filepath.Join(repo.Dir, "trees"))
	for _, e := range entries {
		t.Errorf("left behind: %s", e.Name())
	}
	if tree, err := repo.Checkout(ctx, rev); err != nil || readTree(t, tree, "avatar.yaml") != "x\n" {
		t.Fatalf("checkout after an interrupted one: %v", err)
	}
}

// TestFetchFailures: an unreachable remote and a missing branch are errors naming what failed,
// and a password in the URL never appears in them.
func TestFetchFailures(t *testing.T) {
	ctx := testCtx(t)
	remote := gittest.New(t)
	remote.Commit("spec", map[string]string{"avatar.yaml": "x\n"})

	missing := &Repo{URL: remote.URL, Branch: "release", Dir: filepath.Join(t.TempDir(), "clone")}
	if _, err := missing.Fetch(ctx); !errors.Is(err, ErrBranchMissing) || !strings.Contains(err.Error(), "release") {
		t.Errorf("missing branch: %v", err)
	}

	secret := &Repo{URL: "http://deploy:s3cr3t-token@127.0.0.1:1/avatar.git", Branch: "main", Dir: filepath.Join(t.TempDir(), "clone")}
	_, err := secret.Fetch(ctx)
	if err == nil {
		t.Fatal("fetch from a closed port succeeded")
	}
	if strings.Contains(err.Error(), "s3cr3t-token") {
		t.Errorf("error leaks the URL's password: %v", err)
	}
	if !strings.Contains(err.Error(), "http://***@127.0.0.1:1") || strings.Contains(err.Error(), "deploy") { // issue 21: all user information hidden
		t.Errorf("error does not name the remote: %v", err)
	}
	if _, err := (&Repo{URL: remote.URL, Branch: "--upload-pack=touch", Dir: t.TempDir()}).Fetch(ctx); err == nil || !strings.Contains(err.Error(), "not a branch name") {
		t.Errorf("option-like branch: %v", err)
	}
}

func TestSpecFileStaysInTree(t *testing.T) {
	tree := t.TempDir()
	if err := os.MkdirAll(filepath.Join(tree, "lab"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "lab", "avatar.yaml"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("password"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(tree, "lab", "evil.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("avatar.yaml", filepath.Join(tree, "lab", "alias.yaml")); err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"lab/avatar.yaml": "",
		"lab/alias.yaml":  "",
		"lab/evil.yaml":   "leading out of the repository",
		"../x":            "inside the repository",
		"/etc/passwd":     "inside the repository",
		"lab/missing":     "not in this revision",
	}
	for path, wantErr := range tests {
		t.Run(path, func(t *testing.T) {
			_, err := SpecFile(tree, path)
			switch {
			case wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
				t.Errorf("error %v, want %q", err, wantErr)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := map[string]string{
		"https://deploy:tok@git.example.org/lab/avatar.git": "https://***@git.example.org/lab/avatar.git",
		// issue 21: GitHub's token-as-user form, and any other user information.
		"https://ghp_T0KEN@github.com/lab/avatar.git":     "https://***@github.com/lab/avatar.git",
		"https://x-access-token:ghs_T0KEN@github.com/lab": "https://***@github.com/lab",
		"ssh://git@git.example.org/lab/avatar.git":        "ssh://***@git.example.org/lab/avatar.git",
		"https://git.example.org/lab/avatar.git":          "https://git.example.org/lab/avatar.git",
		"git@github.com:lab/avatar.git":                   "git@github.com:lab/avatar.git",
		"/srv/git/avatar.git":                             "/srv/git/avatar.git",
	}
	for in, want := range tests {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestGitErrorsHideTheToken: git quotes the remote's URL in its errors; a token written as the
// user name (https://<token>@host/…) never reaches the returned error (issue 21).
func TestGitErrorsHideTheToken(t *testing.T) {
	gittest.New(t) // requires git
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	const token = "ghp_T0KEN4u5er"
	u := strings.Replace(srv.URL, "http://", "http://"+token+"@", 1) + "/lab.git"
	_, err := (&Repo{URL: u, Branch: "main", Dir: t.TempDir()}).Fetch(testCtx(t))
	if err == nil {
		t.Fatal("fetch from a 404 server succeeded")
	}
	if strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "***@") {
		t.Errorf("error %q shows the token (or names no URL at all)", err)
	}
}

// BenchmarkFetchUnchanged is the cost of one poll of a branch that did not move (a local remote:
// the git processes, not the network). Every watch --git pass pays it once.
func BenchmarkFetchUnchanged(b *testing.B) {
	remote := gittest.New(b)
	remote.Commit("spec", map[string]string{"lab/avatar.yaml": strings.Repeat("x: 1\n", 1000)})
	repo := &Repo{URL: remote.URL, Branch: "main", Dir: filepath.Join(b.TempDir(), "clone")}
	ctx := context.Background()
	if _, err := repo.Fetch(ctx); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := repo.Fetch(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckoutNewRevision is the cost of materialising a new revision's tree (100 files).
func BenchmarkCheckoutNewRevision(b *testing.B) {
	remote := gittest.New(b)
	files := map[string]string{}
	for i := 0; i < 100; i++ {
		files[fmt.Sprintf("dir%d/file%d.yaml", i%10, i)] = strings.Repeat("x: 1\n", 100)
	}
	remote.Commit("tree", files)
	repo := &Repo{URL: remote.URL, Branch: "main", Dir: filepath.Join(b.TempDir(), "clone")}
	ctx := context.Background()
	rev, err := repo.Fetch(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		tree, err := repo.Checkout(ctx, rev)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(tree) // the next iteration checks it out anew
		repo.kept = ""
		b.StartTimer()
	}
}

// TestCheckoutRelativeDir is issue 21's default: watch's --state-dir is relative, so the clone's
// directory is too. git resolved the relative private index inside --work-tree and every checkout
// was empty ("not in this revision"). Run from a working directory, as users run it.
func TestCheckoutRelativeDir(t *testing.T) {
	ctx := testCtx(t)
	remote := gittest.New(t)
	remote.Commit("add the spec", map[string]string{"lab/avatar.yaml": "one\n"})
	t.Chdir(t.TempDir())
	repo := &Repo{URL: remote.URL, Branch: "main", Dir: DirFor(filepath.Join(".avatar-sync", "git"), remote.URL, "main")}
	rev, err := repo.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := repo.Checkout(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	f, err := SpecFile(tree, "lab/avatar.yaml")
	if err != nil {
		t.Fatalf("the spec is not in the checkout made under a relative directory: %v", err)
	}
	if got := readTree(t, filepath.Dir(f), "avatar.yaml"); got != "one\n" {
		t.Fatalf("checkout holds %q", got)
	}
	if !filepath.IsAbs(tree) {
		t.Errorf("tree %s is relative: a later chdir would lose it", tree)
	}
}

// TestCheckoutSkipsLinksOutOfTree is issue 21's hostile commit: symbolic links to a host file
// (absolute, climbing with .., through another in-tree link, dangling) are left out of the
// checkout, so no reader of the tree (a spec directory, tls.dir, passwordFile) can reach the host
// file; a link inside the tree stays.
func TestCheckoutSkipsLinksOutOfTree(t *testing.T) {
	ctx := testCtx(t)
	host := filepath.Join(t.TempDir(), "host.env")
	if err := os.WriteFile(host, []byte("KEYSTORE_PASSWORD=hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	remote := gittest.New(t)
	remote.Commit("add the spec", map[string]string{"lab/avatar.yaml": "one\n"})
	remote.Link("absolute", "lab/host.yaml", host)
	remote.Link("climbing", "lab/up.yaml", strings.Repeat("../", 30)+strings.TrimPrefix(host, "/"))
	remote.Link("dot", "lab/here", ".")
	remote.Link("through a link", "lab/via.yaml", "here/"+strings.Repeat("../", 30)+strings.TrimPrefix(host, "/"))
	remote.Link("dir out", "lab/etc", filepath.Dir(host))
	remote.Link("dangling", "lab/gone.yaml", "nowhere.yaml")
	remote.Link("alias", "lab/alias.yaml", "avatar.yaml")
	repo := &Repo{URL: remote.URL, Branch: "main", Dir: filepath.Join(t.TempDir(), "clone")}
	rev, err := repo.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := repo.Checkout(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"lab/etc", "lab/gone.yaml", "lab/host.yaml", "lab/up.yaml", "lab/via.yaml"}
	if got := repo.Skipped(rev); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Skipped = %v, want %v", got, want)
	}
	err = filepath.WalkDir(tree, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Type()&os.ModeSymlink == 0 {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), "hunter2") {
			t.Errorf("%s reads the host file", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, tree, "lab/alias.yaml"); got != "one\n" {
		t.Errorf("the in-tree link must stay: %q", got)
	}
	if _, err := os.Lstat(filepath.Join(tree, "lab", "here")); err != nil {
		t.Errorf("the in-tree link to its own directory must stay: %v", err)
	}
}

// TestFetchWithCredentialStore proves the rendered watch Deployment's way of authenticating
// (issue 21, render/watch.go): the URL carries no credentials; git's credential store reads them
// from the file the Secret avatar-sync-watch-git is mounted as, configured through GIT_CONFIG_* in
// the environment. The server (git http-backend) demands basic authentication.
func TestFetchWithCredentialStore(t *testing.T) {
	remote := gittest.New(t)
	head := remote.Commit("add the spec", map[string]string{"avatar.yaml": "one\n"})
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	backend := &cgi.Handler{Path: gitBin, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + filepath.Dir(remote.URL), "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pw, ok := r.BasicAuth(); !ok || user != "deploy" || pw != "T0K/EN" {
			w.Header().Set("WWW-Authenticate", `Basic realm="lab"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	defer srv.Close()
	repoURL := srv.URL + "/" + filepath.Base(remote.URL)

	// The git CLI (a host) and the built-in client (the container image, issue 25) read the same
	// mounted Secret: git-credential-store's file, a percent-encoded URL per line.
	for name, client := range map[string]string{"git": "", "built-in": Builtin} {
		t.Run(name, func(t *testing.T) {
			if _, err := (&Repo{URL: repoURL, Branch: "main", Dir: t.TempDir(), Git: client}).Fetch(testCtx(t)); err == nil {
				t.Fatal("the server let a fetch without credentials through: the test proves nothing")
			}
			store := filepath.Join(t.TempDir(), "credentials") // the Secret's key, as mounted
			lines := "https://other:wrong@example.invalid\n" + strings.Replace(srv.URL, "http://", "http://deploy:T0K%2FEN@", 1) + "\n"
			if err := os.WriteFile(store, []byte(lines), 0o440); err != nil {
				t.Fatal(err)
			}
			t.Setenv("GIT_CONFIG_COUNT", "1")
			t.Setenv("GIT_CONFIG_KEY_0", "credential.helper")
			t.Setenv("GIT_CONFIG_VALUE_0", "store --file="+store)
			rev, err := (&Repo{URL: repoURL, Branch: "main", Dir: t.TempDir(), Git: client}).Fetch(testCtx(t))
			if err != nil || rev.Hash != head {
				t.Fatalf("fetch with the credential store: %+v %v", rev, err)
			}
		})
	}
}
