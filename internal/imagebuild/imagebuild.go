// Package imagebuild writes the watch daemon's OCI image without a container engine (issue 25):
// an image is a tarball of layers plus a configuration, so go-containerregistry assembles one in
// process from static avatar-sync binaries, and WriteLayout writes the OCI image layout tarball
// that `microk8s images import` and `ctr image import` load.
//
// The image is reproducible: every file time, the configuration's creation time and the history
// are the given Created (the commit's time), owners and modes are fixed, entries are sorted and
// the layers are gzipped by the standard library at a fixed level, so the same binaries give the
// same digest.
package imagebuild

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	// UID is the image's user (and group): distroless "nonroot", as the rendered Deployment runs.
	UID = 65532
	// Entrypoint is where the binary lives in the image.
	Entrypoint = "/usr/local/bin/avatar-sync"
	// StateDir is the daemon's state directory (render's --state-dir), owned by UID.
	StateDir = "/var/lib/avatar-sync"
	// CACertsPath is where Go's crypto/x509 looks first on Linux.
	CACertsPath = "/etc/ssl/certs/ca-certificates.crt"
	home        = "/home/nonroot"
)

// Options are the inputs of one image index. Equal options (and equal files) give equal digests.
type Options struct {
	// Name is the repository (ghcr.io/avatar-project/avatar-sync) and Version its tag.
	Name, Version string
	// Revision (the commit) and Source (the repository's URL) become OCI labels.
	Revision, Source string
	// Created is every timestamp in the image: use the commit's time (SOURCE_DATE_EPOCH).
	Created time.Time
	// Binaries maps a platform ("linux/amd64") to a static avatar-sync binary for it.
	Binaries map[string]string
	// CACerts is a PEM bundle of CA certificates (the host's /etc/ssl/certs/ca-certificates.crt).
	CACerts string
}

var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// Ref is the image's full name, Name:Version.
func (o Options) Ref() string { return o.Name + ":" + o.Version }

// Labels are the OCI labels of the image configuration (and annotations of its manifests).
func (o Options) Labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":    "avatar-sync",
		"org.opencontainers.image.version":  o.Version,
		"org.opencontainers.image.revision": o.Revision,
		"org.opencontainers.image.source":   o.Source,
		"org.opencontainers.image.created":  o.Created.UTC().Format(time.RFC3339),
	}
}

func (o Options) check() error {
	if o.Name == "" || strings.ContainsAny(o.Name, ": @") {
		return fmt.Errorf("image name %q: want a repository such as ghcr.io/avatar-project/avatar-sync, without a tag", o.Name)
	}
	if !tagPattern.MatchString(o.Version) {
		return fmt.Errorf("version %q is not a valid image tag (letters, digits, _ . -; at most 128): set VERSION", o.Version)
	}
	if len(o.Binaries) == 0 {
		return fmt.Errorf("no binaries: give at least one platform=path")
	}
	if o.Created.IsZero() {
		return fmt.Errorf("no creation time: set SOURCE_DATE_EPOCH (the commit's time) so the image is reproducible")
	}
	return nil
}

// Build assembles the image index: one image per platform, each a base layer (users, CA
// certificates, the home and state directories) and a layer holding the binary.
func Build(o Options) (v1.ImageIndex, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(o.CACerts)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w (set CA_CERTS to a PEM bundle)", err)
	}
	base, err := tarLayer(o.Created, baseFiles(ca))
	if err != nil {
		return nil, err
	}
	platforms := make([]string, 0, len(o.Binaries))
	for p := range o.Binaries {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		img, platform, err := o.image(p, base)
		if err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: platform, Annotations: o.Labels()}})
	}
	return mutate.Annotations(idx, o.Labels()).(v1.ImageIndex), nil
}

func (o Options) image(platform string, base v1.Layer) (v1.Image, *v1.Platform, error) {
	osName, arch, ok := strings.Cut(platform, "/")
	if !ok || osName != "linux" || arch == "" {
		return nil, nil, fmt.Errorf("platform %q: want linux/<arch>, e.g. linux/arm64", platform)
	}
	bin, err := os.ReadFile(o.Binaries[platform])
	if err != nil {
		return nil, nil, fmt.Errorf("binary for %s: %w", platform, err)
	}
	if err := checkStatic(bin, arch); err != nil {
		return nil, nil, fmt.Errorf("%s (%s): %w", o.Binaries[platform], platform, err)
	}
	binLayer, err := tarLayer(o.Created, []file{
		{name: "usr/", dir: true}, {name: "usr/local/", dir: true}, {name: "usr/local/bin/", dir: true},
		{name: strings.TrimPrefix(Entrypoint, "/"), mode: 0o755, data: bin},
	})
	if err != nil {
		return nil, nil, err
	}
	created := v1.Time{Time: o.Created.UTC()}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1),
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "avatar-sync base: users, CA certificates, " + StateDir}},
		mutate.Addendum{Layer: binLayer, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "avatar-sync " + o.Version + " (" + platform + ")"}})
	if err != nil {
		return nil, nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Created = created
	cfg.OS, cfg.Architecture = osName, arch
	cfg.Author = "avatar-project"
	cfg.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", UID, UID),
		Entrypoint: []string{Entrypoint},
		Cmd:        []string{"--help"},
		WorkingDir: home,
		Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "SSL_CERT_FILE=" + CACertsPath},
		Labels:     o.Labels(),
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, nil, err
	}
	return img, &v1.Platform{OS: osName, Architecture: arch}, nil
}

// checkStatic refuses a binary that is not an ELF executable for arch or that needs a dynamic
// loader: the image has no libc (build with CGO_ENABLED=0).
func checkStatic(bin []byte, arch string) error {
	machine := map[string]uint16{"amd64": 62, "arm64": 183, "arm": 40, "386": 3, "riscv64": 243, "ppc64le": 21, "s390x": 22}
	if len(bin) < 20 || string(bin[:4]) != "\x7fELF" {
		return fmt.Errorf("not an ELF executable")
	}
	if want, ok := machine[arch]; ok && uint16(bin[18])|uint16(bin[19])<<8 != want {
		return fmt.Errorf("not built for %s (GOARCH)", arch)
	}
	if bytes.Contains(bin, []byte("/lib64/ld-linux")) || bytes.Contains(bin, []byte("/lib/ld-linux")) {
		return fmt.Errorf("dynamically linked; build it with CGO_ENABLED=0")
	}
	return nil
}

type file struct {
	name string
	dir  bool
	mode int64
	uid  int
	data []byte
}

func baseFiles(ca []byte) []file {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:%s:/sbin/nologin\n", UID, UID, home)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", UID)
	return []file{
		{name: "etc/", dir: true},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/ssl/", dir: true},
		{name: "etc/ssl/certs/", dir: true},
		{name: strings.TrimPrefix(CACertsPath, "/"), mode: 0o644, data: ca},
		{name: "home/", dir: true},
		{name: strings.TrimPrefix(home, "/") + "/", dir: true, mode: 0o700, uid: UID},
		{name: "tmp/", dir: true, mode: 0o1777},
		{name: "var/", dir: true},
		{name: "var/lib/", dir: true},
		{name: strings.TrimPrefix(StateDir, "/") + "/", dir: true, mode: 0o700, uid: UID},
	}
}

// tarLayer is a layer of files in the given order, every time set to t.
func tarLayer(t time.Time, files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.uid, ModTime: t.UTC(), Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag = tar.TypeDir
			if h.Mode == 0 {
				h.Mode = 0o755
			}
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if f.uid != 0 {
			h.Uname, h.Gname = "nonroot", "nonroot"
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
}

// WriteLayout writes idx as an OCI image layout tarball (oci-layout, index.json, blobs/sha256/…)
// naming it o.Ref(): containerd (ctr, microk8s images import) takes the name from the
// io.containerd.image.name annotation, other tools from org.opencontainers.image.ref.name (the tag,
// as docker save writes it). Entries are sorted and dated t, so equal indexes give equal files.
func WriteLayout(w io.Writer, idx v1.ImageIndex, o Options) error {
	blobs := map[string][]byte{}
	if err := collect(idx, blobs); err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return err
	}
	layoutIndex, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{{
		MediaType: types.OCIImageIndex, Digest: digest, Size: int64(len(raw)),
		Annotations: map[string]string{"io.containerd.image.name": o.Ref(), "org.opencontainers.image.ref.name": o.Version},
	}}})
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	put := func(name string, data []byte, dir bool) error {
		h := &tar.Header{Name: name, Mode: 0o644, ModTime: o.Created.UTC(), Typeflag: tar.TypeReg, Size: int64(len(data)), Format: tar.FormatPAX}
		if dir {
			h.Mode, h.Typeflag, h.Size = 0o755, tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := put("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`), false); err != nil {
		return err
	}
	if err := put("index.json", layoutIndex, false); err != nil {
		return err
	}
	if err := put("blobs/", nil, true); err != nil {
		return err
	}
	if err := put("blobs/sha256/", nil, true); err != nil {
		return err
	}
	names := make([]string, 0, len(blobs))
	for n := range blobs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := put("blobs/sha256/"+n, blobs[n], false); err != nil {
			return err
		}
	}
	return tw.Close()
}

// collect gathers every blob of idx (its manifest, each image's manifest, config and layers),
// keyed by the hex of its sha256.
func collect(idx v1.ImageIndex, blobs map[string][]byte) error {
	raw, err := idx.RawManifest()
	if err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	blobs[d.Hex] = raw
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, desc := range im.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return err
		}
		if blobs[desc.Digest.Hex], err = img.RawManifest(); err != nil {
			return err
		}
		cfgName, err := img.ConfigName()
		if err != nil {
			return err
		}
		if blobs[cfgName.Hex], err = img.RawConfigFile(); err != nil {
			return err
		}
		layers, err := img.Layers()
		if err != nil {
			return err
		}
		for _, l := range layers {
			ld, err := l.Digest()
			if err != nil {
				return err
			}
			rc, err := l.Compressed()
			if err != nil {
				return err
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return err
			}
			blobs[ld.Hex] = data
		}
	}
	return nil
}
