// Package release writes what `make release` ships beside the binaries (issue 25): a SHA256SUMS
// file in sha256sum's format and a software bill of materials of each binary's Go modules, read
// from the build information the Go linker embeds (debug/buildinfo), so the SBOM lists exactly
// what was compiled in, not what go.mod allows.
package release

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
)

// Checksums is SHA256SUMS for files: "<hex>  <base name>" lines, sorted by name, as `sha256sum
// -c SHA256SUMS` checks in the directory holding them.
func Checksums(files []string) (string, error) {
	lines := make([]string, 0, len(files))
	for _, f := range files {
		sum, err := fileSHA256(f)
		if err != nil {
			return "", err
		}
		lines = append(lines, sum+"  "+filepath.Base(f))
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i][66:] < lines[j][66:] })
	return strings.Join(lines, "\n") + "\n", nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SBOM is a CycloneDX 1.5 document (JSON) listing the binary's main module and every module
// compiled into it, as package URLs (pkg:golang/…), with the build's settings (GOOS, GOARCH,
// CGO_ENABLED, vcs.revision, …) as properties. Timestamp is the build's date (the commit's, for
// a reproducible document).
type SBOM struct {
	BOMFormat   string      `json:"bomFormat"`
	SpecVersion string      `json:"specVersion"`
	Version     int         `json:"version"`
	Metadata    Metadata    `json:"metadata"`
	Components  []Component `json:"components"`
}

// Metadata describes the binary itself.
type Metadata struct {
	Timestamp string    `json:"timestamp,omitempty"`
	Component Component `json:"component"`
}

// Component is one module.
type Component struct {
	Type       string     `json:"type"`
	BOMRef     string     `json:"bom-ref"`
	Name       string     `json:"name"`
	Version    string     `json:"version,omitempty"`
	PURL       string     `json:"purl"`
	Hashes     []Hash     `json:"hashes,omitempty"`
	Properties []Property `json:"properties,omitempty"`
}

// Hash is a component's digest.
type Hash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

// Property is a name/value pair.
type Property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ReadSBOM reads the build information of the Go binary at path. version is the stamped release
// version (the main module's own is "(devel)" in a build from a checkout).
func ReadSBOM(path, version, timestamp string) (*SBOM, error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: no Go build information: %w", path, err)
	}
	return fromBuildInfo(bi, version, timestamp), nil
}

// fromBuildInfo is the SBOM of one build's information.
func fromBuildInfo(bi *debug.BuildInfo, version, timestamp string) *SBOM {
	mainVersion := version
	if mainVersion == "" {
		mainVersion = bi.Main.Version
	}
	main := component("application", bi.Main.Path, mainVersion, "")
	main.Properties = append(main.Properties, Property{"go:toolchain", bi.GoVersion})
	for _, s := range bi.Settings {
		main.Properties = append(main.Properties, Property{"go:build:" + s.Key, s.Value})
	}
	doc := &SBOM{BOMFormat: "CycloneDX", SpecVersion: "1.5", Version: 1,
		Metadata: Metadata{Timestamp: timestamp, Component: main}, Components: []Component{}}
	for _, d := range bi.Deps {
		var c Component
		switch {
		case d.Replace == nil:
			c = component("library", d.Path, d.Version, d.Sum)
		case d.Replace.Version == "" || d.Replace.Version == "(devel)" || strings.HasPrefix(d.Replace.Path, "."):
			// Replaced by a directory of this repository (third_party/kfake): the code is
			// the module's, patched; name it and say where it came from.
			c = component("library", d.Path, d.Version, "")
			c.Properties = append(c.Properties, Property{"go:replaced-by", d.Replace.Path})
		default:
			c = component("library", d.Replace.Path, d.Replace.Version, d.Replace.Sum)
			c.Properties = append(c.Properties, Property{"go:replaces", d.Path + "@" + d.Version})
		}
		doc.Components = append(doc.Components, c)
	}
	sort.Slice(doc.Components, func(i, j int) bool { return doc.Components[i].PURL < doc.Components[j].PURL })
	return doc
}

func component(kind, path, version, sum string) Component {
	purl := "pkg:golang/" + path
	if version != "" {
		purl += "@" + version
	}
	c := Component{Type: kind, BOMRef: purl, Name: path, Version: version, PURL: purl}
	// go.sum's h1: is a SHA-256 (of the module's file list), base64; CycloneDX wants hex.
	if h, ok := strings.CutPrefix(sum, "h1:"); ok {
		if raw, err := base64.StdEncoding.DecodeString(h); err == nil {
			c.Hashes = []Hash{{Alg: "SHA-256", Content: hex.EncodeToString(raw)}}
		}
	}
	if sum != "" {
		c.Properties = append(c.Properties, Property{"go:sum", sum})
	}
	return c
}

// JSON is the document, indented, with a final newline.
func (s *SBOM) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
