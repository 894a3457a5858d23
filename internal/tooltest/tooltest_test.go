package tooltest

import (
	"strings"
	"testing"
)

// recorder captures what Require does to a test without ending the real one.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Fatalf(f string, a ...any) { r.fatal = f; panic(r) }
func (r *recorder) Skip(a ...any)             { r.skip = "skip"; panic(r) }

func requireOn(t *testing.T, tool string) (r *recorder, path string) {
	r = &recorder{TB: t}
	defer func() {
		if v := recover(); v != nil && v != any(r) {
			panic(v)
		}
	}()
	return r, Require(r, tool, "test hint")
}

func TestRequire(t *testing.T) {
	const absent = "avatar-sync-no-such-tool-xyz"
	t.Run("missing tool fails under CI", func(t *testing.T) {
		t.Setenv(RequireEnv, "1")
		r, _ := requireOn(t, absent)
		if r.fatal == "" || r.skip != "" {
			t.Fatalf("want Fatal, got fatal=%q skip=%q", r.fatal, r.skip)
		}
	})
	t.Run("missing tool skips elsewhere", func(t *testing.T) {
		t.Setenv(RequireEnv, "")
		r, _ := requireOn(t, absent)
		if r.skip == "" || r.fatal != "" {
			t.Fatalf("want Skip, got fatal=%q skip=%q", r.fatal, r.skip)
		}
	})
	t.Run("present tool returns its path", func(t *testing.T) {
		t.Setenv(RequireEnv, "1")
		r, path := requireOn(t, "sh")
		if r.fatal != "" || r.skip != "" || !strings.HasSuffix(path, "/sh") {
			t.Fatalf("sh: path %q fatal=%q skip=%q", path, r.fatal, r.skip)
		}
	})
}
