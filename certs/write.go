package certs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write applies r to dir: every file is written to a temporary file in dir, given its final mode,
// synced and renamed over the old one, so a crash never leaves a half-written key or a key with a
// looser mode; then the files r retires are removed. The directory is created 0700 when missing.
func Write(ctx context.Context, dir string, r *Result) error {
	if !r.Changed() {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create tls.dir: %w", err)
	}
	for _, f := range r.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := writeAtomic(dir, f); err != nil {
			return err
		}
	}
	for _, name := range r.Remove {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", filepath.Join(dir, name), err)
		}
	}
	// Persist the renames themselves, not only the file contents.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func writeAtomic(dir string, f File) (err error) {
	final := filepath.Join(dir, f.Name)
	// CreateTemp opens with 0600, so a secret is never readable by others, not even for a moment.
	tmp, err := os.CreateTemp(dir, "."+f.Name+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", final, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(f.Data); err != nil {
		return fmt.Errorf("write %s: %w", final, err)
	}
	if err = tmp.Chmod(f.Mode); err != nil {
		return fmt.Errorf("chmod %s: %w", final, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", final, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", final, err)
	}
	if err = os.Rename(tmp.Name(), final); err != nil {
		return fmt.Errorf("rename into %s: %w", final, err)
	}
	return nil
}
