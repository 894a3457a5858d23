package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSpecReadIsBounded: issue 10 item 6 through the command line. `validate -f /dev/zero` grew to
// 23.8 GB, a FIFO with no writer hung forever, and `-f -` waited on stdin through SIGTERM (which
// main turns into a cancelled context). Each must end promptly in a refusal naming the input.
func TestSpecReadIsBounded(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "avatar.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	never, writer := io.Pipe()
	defer writer.Close()
	tests := map[string]struct {
		args  []string
		stdin io.Reader
		want  string
	}{
		"validate /dev/zero":         {[]string{"validate", "-f", "/dev/zero"}, nil, "/dev/zero: is not a regular file (a character device)"},
		"plan on a FIFO":             {[]string{"plan", "-f", fifo}, nil, fifo + ": is not a regular file (a named pipe (FIFO))"},
		"validate a FIFO":            {[]string{"validate", "-f", fifo}, nil, fifo + ": is not a regular file (a named pipe (FIFO))"},
		"big stdin":                  {[]string{"validate", "-f", "-"}, strings.NewReader(strings.Repeat("#", 17<<20)), "<stdin>: standard input holds more than 16MiB"},
		"silent stdin, then SIGTERM": {[]string{"validate", "-f", "-"}, never, "<stdin>: read standard input: interrupted"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			stdin := tc.stdin
			if stdin == nil {
				stdin = strings.NewReader("")
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.stdin == never {
				// As main does on SIGTERM; only here, so a slow (-race) read of the big input is
				// never cut short and reported as an interrupt instead of its size.
				time.AfterFunc(200*time.Millisecond, cancel)
			}
			var out, errOut bytes.Buffer
			done := make(chan int, 1)
			go func() { done <- run(ctx, tc.args, stdin, &out, &errOut) }()
			select {
			case code := <-done:
				if code != exitError || !strings.Contains(errOut.String(), tc.want) {
					t.Errorf("code %d, stderr %q; want 1 and %q", code, errOut.String(), tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%v did not end within 10s", tc.args)
			}
		})
	}
}
