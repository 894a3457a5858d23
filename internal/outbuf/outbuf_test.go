package outbuf

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// countingWriter counts the writes that reach it (each would be a system call on a file).
type countingWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(p)
}

func (w *countingWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func always(io.Writer) bool { return true }

// TestOutputsBatchWrites: 10,000 lines (a plan creating topics) reach a file in a handful of
// writes, not 10,000 (issue 23).
func TestOutputsBatchWrites(t *testing.T) {
	var file countingWriter
	o := New(&file, io.Discard, always, time.Hour)
	stdout, _ := o.Writers()
	var want strings.Builder
	for i := range 10000 {
		line := fmt.Sprintf("  + create topic avatar.topic-%05d (3 partitions × 3 replicas)\n", i)
		want.WriteString(line)
		fmt.Fprint(stdout, line)
	}
	if err := o.Flush(); err != nil {
		t.Fatal(err)
	}
	if file.String() != want.String() {
		t.Fatal("the file does not hold exactly what was written")
	}
	if max := want.Len()/(64<<10) + 1; file.writes > max {
		t.Errorf("%d writes reached the file; want at most %d", file.writes, max)
	}
}

// TestOutputsKeepOrder: with stdout and stderr going to one file (2>&1), lines arrive in the order
// they were written, whichever stream each went to.
func TestOutputsKeepOrder(t *testing.T) {
	var file countingWriter
	o := New(&file, &file, always, time.Hour)
	stdout, stderr := o.Writers()
	var want strings.Builder
	for i := range 300 {
		w, name := stdout, "out"
		if i%7 < 3 {
			w, name = stderr, "err"
		}
		line := fmt.Sprintf("%s %d\n", name, i)
		want.WriteString(line)
		fmt.Fprint(w, line)
	}
	if err := o.Flush(); err != nil {
		t.Fatal(err)
	}
	if file.String() != want.String() {
		t.Errorf("order lost:\n%s\nwant:\n%s", file.String(), want.String())
	}
}

// TestOutputsFlushSoon: a line written by a command that then waits (the watch daemon's log, dev
// up's "bootstrap:" line, a prompt) appears without an explicit flush.
func TestOutputsFlushSoon(t *testing.T) {
	var file countingWriter
	o := New(&file, io.Discard, always, 10*time.Millisecond)
	stdout, _ := o.Writers()
	fmt.Fprintln(stdout, "bootstrap: 127.0.0.1:9092")
	deadline := time.Now().Add(10 * time.Second)
	for file.String() == "" {
		if time.Now().After(deadline) {
			t.Fatal("the line never reached the file without a flush")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := file.String(); got != "bootstrap: 127.0.0.1:9092\n" {
		t.Errorf("file holds %q", got)
	}
}

// TestOutputsLeaveTerminalsAlone: main buffers files and pipes only; a terminal (and anything that
// is not an *os.File) is handed over as it is, so colour and in-place redraws still detect it.
func TestOutputsLeaveTerminalsAlone(t *testing.T) {
	f, err := os.Create(t.TempDir() + "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !NotTerminal(f) {
		t.Error("a regular file is not buffered")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if !NotTerminal(w) {
		t.Error("a pipe is not buffered")
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	if !NotTerminal(devNull) {
		t.Error("/dev/null (a character device, not a terminal) is not buffered")
	}
	if tty := openPseudoTerminal(t); NotTerminal(tty) {
		t.Error("a terminal is buffered")
	}
	var buf bytes.Buffer
	o := New(f, &buf, NotTerminal, time.Hour)
	stdout, stderr := o.Writers()
	if stdout == io.Writer(f) || stderr != io.Writer(&buf) {
		t.Errorf("writers() = %T, %T; want the file buffered and the rest as given", stdout, stderr)
	}
}

// openPseudoTerminal opens the terminal side of a new pseudo-terminal pair (Linux's /dev/ptmx), so
// the terminal case is checked where the tests have no controlling terminal (CI).
func openPseudoTerminal(t *testing.T) *os.File {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pseudo-terminal number: %v", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open the terminal side: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return tty
}
