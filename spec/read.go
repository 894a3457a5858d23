package spec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Stdin is the -f value that means "read the spec from standard input".
const Stdin = "-"

// StdinName is how positions name standard input.
const StdinName = "<stdin>"

// Read returns the bytes of the spec at path, or of stdin when path is Stdin, reading at most
// MaxFileBytes+1 bytes so that /dev/zero or a 200 MB dump costs 16 MiB, not all memory (issue 10
// item 6). Only regular files are read: a FIFO, device or socket is refused with a message naming
// the path, since it may never end or never answer. The file is opened non-blocking so a FIFO with
// no writer is refused at once rather than hanging in open(2). Reading standard input stops when ctx
// ends, so SIGINT/SIGTERM work while avatar-sync waits for input that never comes.
func Read(ctx context.Context, path string, stdin io.Reader) ([]byte, Diagnostics) {
	if path == Stdin {
		data, err := readLimited(ctx, stdin)
		if err != nil {
			return nil, readFailure(StdinName, fmt.Sprintf("read standard input: %v", err))
		}
		if len(data) > MaxFileBytes {
			return nil, tooBig(StdinName, "standard input holds")
		}
		return data, nil
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, readFailure(path, openMessage(path, err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, readFailure(path, fmt.Sprintf("cannot read the spec: %v", err))
	}
	if fi.IsDir() {
		return nil, readFailure(path, fmt.Sprintf("is a directory; point -f/--file at the spec file in it (e.g. -f %s)", filepath.Join(path, "avatar.yaml")))
	}
	if !fi.Mode().IsRegular() {
		return nil, readFailure(path, fmt.Sprintf("is not a regular file (%s); avatar-sync reads the spec from a file, or from standard input with -f -", fileType(fi.Mode())))
	}
	if fi.Size() > MaxFileBytes {
		return nil, readFailure(path, fmt.Sprintf("the file is %.1f MiB, more than a spec can sensibly be (limit %s); is -f pointing at the right file?", float64(fi.Size())/(1<<20), FormatBytes(MaxFileBytes)))
	}
	data, err := readLimited(ctx, f)
	if err != nil {
		return nil, readFailure(path, fmt.Sprintf("cannot read the spec: %v", err))
	}
	if len(data) > MaxFileBytes { // the file grew after the stat
		return nil, tooBig(path, "the file holds")
	}
	return data, nil
}

// readLimited reads r up to MaxFileBytes+1 bytes, giving up when ctx ends. A read from a pipe cannot
// be interrupted, so it runs in a goroutine that is abandoned on cancellation; the process is about to
// exit then anyway.
func readLimited(ctx context.Context, r io.Reader) ([]byte, error) {
	if r == nil {
		return nil, errors.New("no input")
	}
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
		done <- result{data, err}
	}()
	select {
	case res := <-done:
		return res.data, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
}

func readFailure(file, msg string) Diagnostics {
	// The whole file is at fault, so the position names the file only ("avatar.yaml: no such file").
	return Diagnostics{{Pos: Pos{File: file}, Severity: SeverityError, Message: msg}}
}

func tooBig(file, what string) Diagnostics {
	return readFailure(file, fmt.Sprintf("%s more than %s, more than a spec can sensibly be; avatar-sync stopped reading there", what, FormatBytes(MaxFileBytes)))
}

func openMessage(path string, err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file (point -f/--file at your avatar.yaml)"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied; avatar-sync needs to read the spec file"
	}
	return fmt.Sprintf("cannot read the spec: %v", err)
}

// fileType names a non-regular file's type for messages.
func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return m.Type().String()
}
