package spec

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// countingReader yields n bytes of 'a' and counts how many were asked of it.
type countingReader struct{ left, read int }

func (r *countingReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.left)
	for i := range p[:n] {
		p[i] = 'a'
	}
	r.left -= n
	r.read += n
	return n, nil
}

// readWithin runs Read and fails the test if it has not returned within a few seconds: the bugs
// this guards against (issue 10 item 6) hang forever, and a hanging test must fail, not stall.
func readWithin(t *testing.T, ctx context.Context, path string, stdin io.Reader) ([]byte, Diagnostics) {
	t.Helper()
	type result struct {
		data  []byte
		diags Diagnostics
	}
	done := make(chan result, 1)
	go func() {
		data, diags := Read(ctx, path, stdin)
		done <- result{data, diags}
	}()
	select {
	case r := <-done:
		return r.data, r.diags
	case <-time.After(10 * time.Second):
		t.Fatalf("Read(%q) did not return within 10s", path)
		return nil, nil
	}
}

// TestReadRefusesWhatIsNotASpecFile: every case used to read without bound or hang (issue 10 item 6).
func TestReadRefusesWhatIsNotASpecFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "avatar.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, bytes.Repeat([]byte("# padding\n"), MaxFileBytes/10+1), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		path string
		want string
	}{
		"/dev/zero is a device, refused before reading":   {"/dev/zero", "/dev/zero: is not a regular file (a character device); avatar-sync reads the spec from a file, or from standard input with -f -"},
		"a FIFO with no writer is refused, not waited on": {fifo, fifo + ": is not a regular file (a named pipe (FIFO))"},
		"a file over the limit names its size":            {big, big + ": the file is 16.0 MiB, more than a spec can sensibly be (limit 16MiB)"},
		"a directory":                                     {dir, dir + ": is a directory"},
		"a missing file":                                  {filepath.Join(dir, "nope.yaml"), "nope.yaml: no such file (point -f/--file at your avatar.yaml)"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			data, diags := readWithin(t, t.Context(), tc.path, nil)
			if data != nil || len(diags) != 1 || !strings.Contains(diags[0].String(), tc.want) {
				t.Fatalf("Read = %d bytes, %v; want a refusal containing %q", len(data), diags, tc.want)
			}
		})
	}
}

// TestReadStdinStopsAtTheLimit: 200 MB on stdin used 437 MB before the limit was checked; now the
// reader is asked for at most the limit plus one byte.
func TestReadStdinStopsAtTheLimit(t *testing.T) {
	r := &countingReader{left: 50 << 20}
	data, diags := readWithin(t, t.Context(), Stdin, r)
	if data != nil || len(diags) != 1 || !strings.Contains(diags[0].String(), "<stdin>: standard input holds more than 16MiB") {
		t.Fatalf("Read = %d bytes, %v; want a refusal", len(data), diags)
	}
	if r.read > MaxFileBytes+1 {
		t.Errorf("read %d bytes of standard input; want at most %d", r.read, MaxFileBytes+1)
	}

	exact := &countingReader{left: MaxFileBytes}
	if data, diags := readWithin(t, t.Context(), Stdin, exact); len(data) != MaxFileBytes || diags != nil {
		t.Errorf("a spec of exactly the limit: %d bytes, %v", len(data), diags)
	}
}

// TestReadStdinHonoursCancellation: `-f -` with a writer that never writes ignored SIGTERM; the
// signal cancels the context, and Read must return.
func TestReadStdinHonoursCancellation(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	data, diags := readWithin(t, ctx, Stdin, pr)
	if data != nil || len(diags) != 1 || !strings.Contains(diags[0].Message, "interrupted") {
		t.Fatalf("Read = %q, %v; want an interruption", data, diags)
	}
}

func TestReadRegularFileAndStdin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "avatar.yaml")
	if err := os.WriteFile(path, []byte("kind: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, diags := Read(t.Context(), path, nil); string(data) != "kind: x\n" || diags != nil {
		t.Errorf("file: %q, %v", data, diags)
	}
	if data, diags := Read(t.Context(), Stdin, strings.NewReader("kind: y\n")); string(data) != "kind: y\n" || diags != nil {
		t.Errorf("stdin: %q, %v", data, diags)
	}
}
