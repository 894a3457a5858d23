package spec

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "avatar.yaml")
	if err := WriteFile(path, []byte("a: 1\n"), false); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("a: 2\n"), false); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("an existing file without overwrite: %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "a: 1\n" {
		t.Fatalf("a refused write changed the file: %q", got)
	}
	if err := WriteFile(path, []byte("a: 3\n"), true); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	st, err := os.Stat(path)
	if err != nil || string(got) != "a: 3\n" || st.Mode().Perm() != 0o644 {
		t.Fatalf("overwrite: %q, mode %v, %v", got, st.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".avatar-sync-*")); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x.yaml"), nil, false); err == nil {
		t.Error("a missing directory is an error")
	}
}
