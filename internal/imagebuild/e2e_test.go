package imagebuild

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	t.Run("containerd", func(t *testing.T) { importIntoContainerd(t, tmp+"/a.tar", ref) })

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

// importIntoContainerd is the one import command of docs/watch.md done by the real thing: a
// private containerd (Debian's, its own root, state and socket under the test's temp dir, the CRI
// plugin off) imports the tarball into the k8s.io namespace as `microk8s images import` does, lists
// it under the name render gives the Deployment with both platforms, and runc runs the imported
// image's entrypoint (`version -o json` naming that image).
func importIntoContainerd(t *testing.T, tarball, ref string) {
	if os.Geteuid() != 0 {
		tooltest.Missing(t, "root: containerd and runc run as root")
		return
	}
	containerd := tooltest.Require(t, "containerd", "apt-get install containerd")
	ctrBin := tooltest.Require(t, "ctr", "apt-get install containerd")
	tooltest.Require(t, "runc", "apt-get install runc")
	dir, err := os.MkdirTemp("", "ctd") // a short path: a unix socket's name is limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "containerd.sock")
	config := fmt.Sprintf("version = 2\nroot = %q\nstate = %q\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"+
		"[grpc]\n  address = %q\n[ttrpc]\n  address = %q\n[debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc")
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var daemonLog bytes.Buffer
	daemon := exec.Command(containerd, "--config", filepath.Join(dir, "config.toml"))
	daemon.Stdout, daemon.Stderr = &daemonLog, &daemonLog
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = daemon.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- daemon.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = daemon.Process.Kill()
			<-done
		}
	})
	ctr := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, ctrBin, append([]string{"--address", sock, "-n", "k8s.io"}, args...)...).CombinedOutput()
		return string(out), err
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := ctr("version"); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("containerd did not answer within 30s: %v\n%s", err, daemonLog.String())
		}
	}
	// The native snapshotter: overlayfs inside a temp dir is not available everywhere tests run.
	if out, err := ctr("images", "import", "--snapshotter", "native", tarball); err != nil {
		t.Fatalf("ctr images import: %v\n%s", err, out)
	}
	out, err := ctr("images", "ls")
	if err != nil {
		t.Fatalf("ctr images ls: %v\n%s", err, out)
	}
	listed := false
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == ref {
			listed = strings.Contains(line, "linux/amd64") && strings.Contains(line, "linux/arm64")
		}
	}
	if !listed {
		t.Fatalf("containerd does not list %s with linux/amd64 and linux/arm64:\n%s", ref, out)
	}
	if runtime.GOARCH != "amd64" {
		return
	}
	out, err = ctr("run", "--rm", "--snapshotter", "native", ref, "avatar-sync-image-test", Entrypoint, "version", "-o", "json")
	if err != nil {
		t.Fatalf("runc running the imported image: %v\n%s\n%s", err, out, daemonLog.String())
	}
	var info map[string]string
	start := max(strings.Index(out, "{"), 0)
	if err := json.Unmarshal([]byte(out[start:]), &info); err != nil || info["image"] != ref || info["platform"] != "linux/amd64" {
		t.Fatalf("version in the imported image = %v %v, want image %s on linux/amd64:\n%s", info, err, ref, out)
	}
}
