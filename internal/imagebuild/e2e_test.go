package imagebuild

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/avatar-project/avatar-sync/internal/gittest"
	"github.com/avatar-project/avatar-sync/internal/tooltest"
)

const repoRoot = "../.."

// runMake runs `make target vars...` in the repository, as a user would.
func runMake(t *testing.T, args ...string) string {
	t.Helper()
	tooltest.Require(t, "make", "apt-get install make")
	cmd := exec.Command("make", append([]string{"--no-print-directory"}, args...)...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// layoutIndex reads the layout tarball's index.json: the image index's digest and name.
func layoutIndex(t *testing.T, data []byte) v1.Descriptor {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no index.json in the image tarball: %v", err)
		}
		if h.Name == "index.json" {
			var im v1.IndexManifest
			if err := json.NewDecoder(tr).Decode(&im); err != nil || len(im.Manifests) != 1 {
				t.Fatalf("index.json: %v %+v", err, im)
			}
			return im.Manifests[0]
		}
	}
}

// TestMakeImage is issue 25 end to end: two `make image` runs from the same commit (binaries
// rebuilt each time) give the same tarball and digest; the image index holds linux/amd64 and
// linux/arm64; the amd64 image's layers unpacked into an empty root file system run the binary as
// uid 65532 — version (naming the image render defaults to, which is the one make tagged),
// validate of the example, and watch --git following a local bare repository with the built-in
// git client, applying to the embedded cluster — with nothing from the host's file system.
func TestMakeImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds avatar-sync for two platforms, twice")
	}
	tmp := t.TempDir()
	runMake(t, "image", "IMAGE_TAR="+tmp+"/a.tar", "IMAGE_BIN_DIR="+tmp+"/a")
	runMake(t, "image", "IMAGE_TAR="+tmp+"/b.tar", "IMAGE_BIN_DIR="+tmp+"/b")
	a, err := os.ReadFile(tmp + "/a.tar")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(tmp + "/b.tar")
	if err != nil {
		t.Fatal(err)
	}
	da, db := layoutIndex(t, a), layoutIndex(t, b)
	if da.Digest != db.Digest || !bytes.Equal(a, b) {
		t.Fatalf("two make image runs from the same commit differ: %s vs %s", da.Digest, db.Digest)
	}
	ref := da.Annotations["io.containerd.image.name"]
	if !strings.HasPrefix(ref, "ghcr.io/avatar-project/avatar-sync:") {
		t.Fatalf("the image is named %q", ref)
	}

	dir := filepath.Join(tmp, "layout")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	untar(t, a, dir)
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	outer, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := outer.ImageIndex(da.Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]v1.Image{}
	for _, desc := range im.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		images[desc.Platform.OS+"/"+desc.Platform.Architecture] = img
	}
	if len(images) != 2 || images["linux/amd64"] == nil || images["linux/arm64"] == nil {
		t.Fatalf("platforms in the index: %v, want linux/amd64 and linux/arm64", im.Manifests)
	}
	if runtime.GOARCH != "amd64" {
		t.Skipf("the chroot runs the linux/amd64 image; this host is %s", runtime.GOARCH)
	}
	runInChroot(t, images["linux/amd64"], ref)
}

func runInChroot(t *testing.T, img v1.Image, ref string) {
	if os.Geteuid() != 0 {
		tooltest.Missing(t, "root: the image's binary runs in a chroot as uid 65532")
		return
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "rootfs")
	unpack(t, img, root)
	// Test data only: the example spec to validate, and the bare repository watch follows.
	example, err := os.ReadFile(filepath.Join(repoRoot, "examples/avatar.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "work"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "work/avatar.yaml"), example, 0o644); err != nil {
		t.Fatal(err)
	}
	remote := gittest.New(t)
	head := remote.Commit("the lab's spec", map[string]string{"lab/avatar.yaml": string(example)})
	copyTree(t, remote.URL, filepath.Join(root, "srv/lab.git"))

	run := func(ctx context.Context, stderr io.Writer, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, cfg.Config.Entrypoint[0], args...)
		cmd.Env = append(append([]string(nil), cfg.Config.Env...), "AVATAR_KEYSTORE_PASSWORD=changeit")
		cmd.Dir = cfg.Config.WorkingDir
		cmd.Stderr = stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root, Credential: &syscall.Credential{Uid: UID, Gid: UID}}
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = 30 * time.Second
		return cmd
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var stderr bytes.Buffer
	out, err := run(ctx, &stderr, "version", "-o", "json").Output()
	if err != nil {
		t.Fatalf("version in the image: %v\n%s", err, stderr.String())
	}
	var info map[string]string
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("version -o json: %v\n%s", err, out)
	}
	if info["image"] != ref || info["commit"] == "" || info["date"] == "" || info["platform"] != "linux/amd64" {
		t.Errorf("version in the image %v: want image %s (what render names) with commit and date", info, ref)
	}

	stderr.Reset()
	if out, err := run(ctx, &stderr, "validate", "-f", "/work/avatar.yaml").Output(); err != nil {
		t.Fatalf("validate in the image: %v\n%s%s", err, out, stderr.String())
	}

	log := &syncBuffer{}
	watch := run(ctx, log, "watch", "--git", "/srv/lab.git", "--branch", "main", "--path", "lab/avatar.yaml",
		"--git-interval", "1s", "--state-dir", "/var/lib/avatar-sync", "-o", "json")
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(log.String(), `"msg":"applied"`) {
		if time.Now().After(deadline) {
			watch.Process.Signal(syscall.SIGTERM)
			watch.Wait()
			t.Fatalf("no applied pass within 2 minutes:\n%s", log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := watch.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := watch.Wait(); err != nil {
		t.Errorf("watch did not exit cleanly on SIGTERM: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), `"revision":"`+head[:12]+`"`) || !strings.Contains(log.String(), "create topic drone-commands") {
		t.Errorf("watch did not apply the repository's revision %s:\n%s", head[:12], log.String())
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// unpack applies img's layers to root with their owners and modes (the image has no whiteouts).
func unpack(t *testing.T, img v1.Image, root string) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(root, filepath.FromSlash(h.Name))
			switch h.Typeflag {
			case tar.TypeDir:
				err = os.MkdirAll(p, 0o755)
			case tar.TypeReg:
				var data []byte
				if data, err = io.ReadAll(tr); err == nil {
					err = os.WriteFile(p, data, 0o600)
				}
			default:
				t.Fatalf("%s: unexpected entry type %c", h.Name, h.Typeflag)
			}
			if err == nil {
				err = os.Lchown(p, h.Uid, h.Gid)
			}
			if err == nil {
				err = os.Chmod(p, os.FileMode(h.Mode&0o777)|modeBits(h.Mode))
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		rc.Close()
	}
}

func modeBits(m int64) os.FileMode {
	if m&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}

// copyTree copies a directory of regular files (a bare repository) to dst, readable by all.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
