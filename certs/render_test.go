package certs

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestRenderStatusGolden pins the inspect table for a tls.dir with one certificate in each state,
// produced by the real Status (injected clock and random source), not by hand-made rows.
func TestRenderStatusGolden(t *testing.T) {
	h := newHarness(t, "")
	h.spec.TLS.Validity = 90 * 24 * time.Hour
	h.generate(t0, nil)
	later := t0.Add(70 * 24 * time.Hour)
	// broker 1: renewed today, ok; broker 2: left alone, inside renewBefore; broker 3: mode too open;
	// the client: removed, missing.
	h.spec.Brokers = h.spec.Brokers[:1]
	h.generate(later, func(o *Options) { o.Force = true })
	h.spec = avatarSpec(h.dir, "")
	h.spec.TLS.Validity = 90 * 24 * time.Hour
	os.Chmod(filepath.Join(h.dir, "kafka-broker-3.key"), 0o640)
	os.Remove(filepath.Join(h.dir, "prediction-service.crt"))
	os.Remove(filepath.Join(h.dir, "prediction-service.key"))

	src := h.source()
	src.DirPath = "ssl-certs" // the golden file must not depend on the temp dir
	sts, err := Status(h.spec, src, later)
	if err != nil {
		t.Fatal(err)
	}
	// Subjects carry a random CA tag; pin them so the golden file is stable.
	for i := range sts {
		if sts[i].Role == RoleCA || sts[i].Issuer != "" {
			sts[i].Issuer = "CN=avatar CA 00000000,O=avatar-sync"
		}
		if sts[i].Role == RoleCA {
			sts[i].Subject = sts[i].Issuer
		}
	}
	var got bytes.Buffer
	if err := RenderStatus(&got, sts); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "inspect.golden")
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./certs -update)", err)
	}
	if d := cmp.Diff(string(want), got.String()); d != "" {
		t.Errorf("inspect table (-want +got):\n%s", d)
	}
}
