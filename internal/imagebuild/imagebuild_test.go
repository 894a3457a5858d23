package imagebuild

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// fakeBinary is a static ELF header for arch: Build reads the machine field, nothing runs it here
// (the chroot test in e2e_test.go runs a real one).
func fakeBinary(t *testing.T, dir, arch string) string {
	t.Helper()
	b := make([]byte, 64)
	copy(b, "\x7fELF\x02\x01\x01")
	machine := map[string]byte{"amd64": 62, "arm64": 183}[arch]
	b[18] = machine
	b = append(b, []byte("avatar-sync for "+arch)...)
	p := filepath.Join(dir, "avatar-sync-"+arch)
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func testOptions(t *testing.T) Options {
	t.Helper()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return Options{Name: "ghcr.io/avatar-project/avatar-sync", Version: "v1.2.3-1-gabcdef0", Revision: "abcdef0123",
		Source: "https://github.com/avatar-project/avatar-sync", Created: time.Unix(1796500000, 0).UTC(), CACerts: ca,
		Binaries: map[string]string{"linux/amd64": fakeBinary(t, dir, "amd64"), "linux/arm64": fakeBinary(t, dir, "arm64")}}
}

func layoutTar(t *testing.T, o Options) ([]byte, v1.Hash) {
	t.Helper()
	idx, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteLayout(&buf, idx, o); err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), d
}

// TestBuildIsReproducible: the same inputs give the same index digest and the same tarball, byte
// for byte; another creation time (another commit) gives another digest.
func TestBuildIsReproducible(t *testing.T) {
	o := testOptions(t)
	tar1, d1 := layoutTar(t, o)
	tar2, d2 := layoutTar(t, o)
	if d1 != d2 || !bytes.Equal(tar1, tar2) {
		t.Fatalf("two builds of the same inputs differ: %s vs %s (tarballs equal: %v)", d1, d2, bytes.Equal(tar1, tar2))
	}
	o.Created = o.Created.Add(time.Second)
	if _, d3 := layoutTar(t, o); d3 == d1 {
		t.Fatal("a different creation time gave the same digest: the timestamps are not in the image")
	}
}

// untar writes the layout tarball into a directory.
func untar(t *testing.T, data []byte, dir string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, _ := io.ReadAll(tr)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestImageLayout: the tarball is a valid OCI layout (go-containerregistry's validate reads every
// blob back and checks digests, sizes and diff IDs) naming the image as containerd imports it;
// the index holds linux/amd64 and linux/arm64; each image runs the binary as 65532 with the OCI
// labels, and holds /etc/passwd, the CA bundle and the state directory owned by 65532.
func TestImageLayout(t *testing.T) {
	o := testOptions(t)
	data, digest := layoutTar(t, o)
	dir := t.TempDir()
	untar(t, data, dir)

	var top v1.IndexManifest
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].Digest != digest ||
		top.Manifests[0].Annotations["io.containerd.image.name"] != "ghcr.io/avatar-project/avatar-sync:v1.2.3-1-gabcdef0" ||
		top.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "v1.2.3-1-gabcdef0" {
		t.Fatalf("index.json does not name the image index as ctr import reads it: %s", raw)
	}
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	outer, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := outer.ImageIndex(digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Fatalf("invalid image index: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var archs []string
	for _, desc := range im.Manifests {
		archs = append(archs, desc.Platform.OS+"/"+desc.Platform.Architecture)
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Architecture != desc.Platform.Architecture || cfg.OS != "linux" {
			t.Errorf("%s: config says %s/%s", desc.Platform.Architecture, cfg.OS, cfg.Architecture)
		}
		c := cfg.Config
		if c.User != "65532:65532" || strings.Join(c.Entrypoint, " ") != "/usr/local/bin/avatar-sync" {
			t.Errorf("%s: user %q entrypoint %v", desc.Platform.Architecture, c.User, c.Entrypoint)
		}
		for k, want := range map[string]string{"org.opencontainers.image.version": o.Version, "org.opencontainers.image.revision": o.Revision,
			"org.opencontainers.image.source": o.Source, "org.opencontainers.image.created": "2026-12-05T19:46:40Z"} {
			if c.Labels[k] != want {
				t.Errorf("%s: label %s = %q, want %q", desc.Platform.Architecture, k, c.Labels[k], want)
			}
		}
		if !cfg.Created.Time.Equal(o.Created) {
			t.Errorf("created %v, want %v", cfg.Created, o.Created)
		}
		files := imageFiles(t, img)
		bin := files["usr/local/bin/avatar-sync"]
		if bin == nil || bin.Mode&0o777 != 0o755 || !strings.HasSuffix(string(bin.data), "avatar-sync for "+desc.Platform.Architecture) {
			t.Errorf("%s: the binary is missing, not executable or for another architecture", desc.Platform.Architecture)
		}
		if p := files["etc/passwd"]; p == nil || !strings.Contains(string(p.data), "nonroot:x:65532:65532:") {
			t.Errorf("%s: /etc/passwd lacks user 65532", desc.Platform.Architecture)
		}
		if ca := files["etc/ssl/certs/ca-certificates.crt"]; ca == nil || !strings.Contains(string(ca.data), "BEGIN CERTIFICATE") {
			t.Errorf("%s: no CA bundle", desc.Platform.Architecture)
		}
		if st := files["var/lib/avatar-sync/"]; st == nil || st.Uid != UID || st.Typeflag != tar.TypeDir {
			t.Errorf("%s: the state directory is not owned by 65532: %+v", desc.Platform.Architecture, st)
		}
		for name, f := range files {
			if !f.ModTime.Equal(o.Created) {
				t.Errorf("%s: %s dated %v, not the commit's time", desc.Platform.Architecture, name, f.ModTime)
			}
		}
	}
	if strings.Join(archs, ",") != "linux/amd64,linux/arm64" {
		t.Errorf("platforms %v, want linux/amd64 and linux/arm64", archs)
	}
}

type entry struct {
	*tar.Header
	data []byte
}

// imageFiles reads every layer of img (no whiteouts: the image has none).
func imageFiles(t *testing.T, img v1.Image) map[string]*entry {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*entry{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(tr)
			files[h.Name] = &entry{h, b}
		}
		rc.Close()
	}
	return files
}

func TestBuildRefuses(t *testing.T) {
	dynamic := func(o *Options) {
		p := filepath.Join(t.TempDir(), "dyn")
		b, _ := os.ReadFile(o.Binaries["linux/amd64"])
		os.WriteFile(p, append(b, "/lib64/ld-linux-x86-64.so.2"...), 0o755)
		o.Binaries["linux/amd64"] = p
	}
	cases := map[string]struct {
		edit func(*Options)
		want string
	}{
		"dynamic binary":  {dynamic, "CGO_ENABLED=0"},
		"wrong arch":      {func(o *Options) { o.Binaries["linux/arm64"] = o.Binaries["linux/amd64"] }, "not built for arm64"},
		"not a binary":    {func(o *Options) { o.Binaries["linux/arm64"] = o.CACerts }, "not an ELF executable"},
		"darwin":          {func(o *Options) { o.Binaries["darwin/arm64"] = o.Binaries["linux/arm64"] }, "want linux/<arch>"},
		"bad tag":         {func(o *Options) { o.Version = "feature/x" }, "not a valid image tag"},
		"tag in name":     {func(o *Options) { o.Name += ":latest" }, "without a tag"},
		"no time":         {func(o *Options) { o.Created = time.Time{} }, "SOURCE_DATE_EPOCH"},
		"no certificates": {func(o *Options) { o.CACerts = filepath.Join(t.TempDir(), "none") }, "CA_CERTS"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			o := testOptions(t)
			tc.edit(&o)
			if _, err := Build(o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
