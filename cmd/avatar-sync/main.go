// Command avatar-sync owns the Avatar project's Kafka cluster declaratively: it validates
// avatar.yaml, renders deployments from it, plans and applies topic changes, and probes the lab's
// devices. Each subcommand is thin wiring around one library call; see README.md for usage.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/avatar-project/avatar-sync/internal/outbuf"
)

func main() {
	// SIGINT/SIGTERM cancel the context so every network call and wait unwinds cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, restore the default handling: a second Ctrl-C ends the process at
		// once, as users expect when a clean shutdown takes longer than they want to wait.
		<-ctx.Done()
		stop()
	}()
	out := outbuf.New(os.Stdout, os.Stderr, outbuf.NotTerminal, outbuf.FlushDelay)
	stdout, stderr := out.Writers()
	code := run(ctx, os.Args[1:], os.Stdin, stdout, stderr)
	_ = out.Flush() // nothing is left to report a failed write to
	stop()
	os.Exit(code)
}

// Exit codes, documented in README.md ("Exit codes").
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2 // plan --detailed-exitcode: changes pending
)

// exitCodeError carries a specific exit code up to run; a nil err means "exit quietly with code".
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitCodeError) Unwrap() error { return e.err }

// withExitCode makes a command end with code; err (may be nil) is printed by run.
func withExitCode(code int, err error) error { return &exitCodeError{code: code, err: err} }

// run executes one invocation and returns the process exit code; main is the only caller that exits.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(&streams{in: stdin, out: stdout, err: stderr})
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitError
	var ec *exitCodeError
	if errors.As(err, &ec) {
		code = ec.code
		if ec.err == nil {
			return code
		}
	}
	fmt.Fprintf(stderr, "avatar-sync: %v\n", err)
	return code
}
