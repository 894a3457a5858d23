// Command ship is what `make image` and `make release` run after building the binaries (issue 25):
//
//	go run ./tools/ship image -o bin/image.tar -name ghcr.io/avatar-project/avatar-sync -version V \
//	    -revision COMMIT -source URL -created SOURCE_DATE_EPOCH -ca /etc/ssl/certs/ca-certificates.crt \
//	    linux/amd64=bin/image/linux-amd64/avatar-sync linux/arm64=bin/image/linux-arm64/avatar-sync
//	go run ./tools/ship release -dir bin/release -version V -created SOURCE_DATE_EPOCH BINARY...
//
// image writes the OCI image layout tarball and prints "<name>:<version> sha256:<index digest>";
// release writes <binary>.cdx.json (CycloneDX SBOM) for each binary and SHA256SUMS over all of them.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/avatar-project/avatar-sync/internal/imagebuild"
	"github.com/avatar-project/avatar-sync/internal/release"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ship image|release [flags] ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "image":
		err = image(os.Args[2:])
	case "release":
		err = releaseFiles(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want image or release", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ship:", err)
		os.Exit(1)
	}
}

func epoch(s string) (time.Time, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, fmt.Errorf("-created %q: want seconds since 1970 (SOURCE_DATE_EPOCH, e.g. git log -1 --format=%%ct)", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

func image(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	out := fs.String("o", "bin/image.tar", "write the OCI layout tarball here")
	var o imagebuild.Options
	fs.StringVar(&o.Name, "name", "ghcr.io/avatar-project/avatar-sync", "image repository")
	fs.StringVar(&o.Version, "version", "", "image tag and org.opencontainers.image.version")
	fs.StringVar(&o.Revision, "revision", "", "org.opencontainers.image.revision (the commit)")
	fs.StringVar(&o.Source, "source", "https://github.com/avatar-project/avatar-sync", "org.opencontainers.image.source")
	fs.StringVar(&o.CACerts, "ca", "/etc/ssl/certs/ca-certificates.crt", "CA certificates (PEM) to put in the image")
	created := fs.String("created", os.Getenv("SOURCE_DATE_EPOCH"), "every timestamp in the image, seconds since 1970")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if o.Created, err = epoch(*created); err != nil {
		return err
	}
	o.Binaries = map[string]string{}
	for _, a := range fs.Args() {
		platform, path, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("%q: want platform=binary, e.g. linux/arm64=bin/image/linux-arm64/avatar-sync", a)
		}
		o.Binaries[platform] = path
	}
	idx, err := imagebuild.Build(o)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := imagebuild.WriteLayout(&buf, idx, o); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s -> %s\n", o.Ref(), digest, *out)
	return nil
}

func releaseFiles(args []string) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	dir := fs.String("dir", "bin/release", "write SHA256SUMS and the SBOMs here")
	version := fs.String("version", "", "the release's version (the SBOM's main component)")
	created := fs.String("created", os.Getenv("SOURCE_DATE_EPOCH"), "the build's date, seconds since 1970")
	if err := fs.Parse(args); err != nil {
		return err
	}
	when, err := epoch(*created)
	if err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("no binaries given")
	}
	files := append([]string(nil), fs.Args()...)
	for _, bin := range fs.Args() {
		doc, err := release.ReadSBOM(bin, *version, when.Format(time.RFC3339))
		if err != nil {
			return err
		}
		data, err := doc.JSON()
		if err != nil {
			return err
		}
		name := filepath.Join(*dir, filepath.Base(bin)+".cdx.json")
		if err := os.WriteFile(name, data, 0o644); err != nil {
			return err
		}
		files = append(files, name)
	}
	sums, err := release.Checksums(files)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*dir, "SHA256SUMS"), []byte(sums), 0o644); err != nil {
		return err
	}
	fmt.Print(sums)
	return nil
}
