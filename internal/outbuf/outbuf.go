// Package outbuf batches a command's writes to stdout and stderr when they are files or pipes.
package outbuf

import (
	"bufio"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// Output buffering (issue 23): creating 10,000 topics wrote 60,008 times to stdout and stderr, one
// system call per line. When stdout or stderr is a file or a pipe (CI logs, `| tee`, the watch
// daemon under systemd), avatar-sync's main batches its writes: each stream is flushed when its buffer fills,
// within flushDelay of the first unflushed byte (so progress, the watch daemon's log and dev up's
// "bootstrap:" line still appear as they happen), before the other stream is written (so
// `2>&1` keeps the order lines were written in), and at exit. A terminal is written directly: colours,
// in-place redraws and prompts behave as before.

// FlushDelay bounds how long a written line may wait in the buffer.
const FlushDelay = 50 * time.Millisecond

// Outputs are stdout and stderr behind one lock, so that a write to one flushes the other first.
type Outputs struct {
	mu      sync.Mutex
	streams [2]*outputStream
	delay   time.Duration
	timer   *time.Timer
}

// outputStream is one of Outputs' streams; buf is nil for a stream written directly (and then
// never written through outputStream).
type outputStream struct {
	o   *Outputs
	w   io.Writer
	buf *bufio.Writer
}

// New wraps stdout and stderr; a stream is buffered only where buffer says so.
func New(stdout, stderr io.Writer, buffer func(io.Writer) bool, delay time.Duration) *Outputs {
	o := &Outputs{delay: delay}
	for i, w := range []io.Writer{stdout, stderr} {
		s := &outputStream{o: o, w: w}
		if buffer(w) {
			s.buf = bufio.NewWriterSize(w, 64<<10)
		}
		o.streams[i] = s
	}
	return o
}

// Writers are the streams to hand to the commands. A stream that is not buffered is the original
// writer, so terminal detection (colour, in-place redraws) still sees the *os.File; its order with
// a buffered stream does not matter, since a terminal and a file are not the same destination.
func (o *Outputs) Writers() (stdout, stderr io.Writer) {
	var ws [2]io.Writer
	for i, s := range o.streams {
		ws[i] = s.w
		if s.buf != nil {
			ws[i] = s
		}
	}
	return ws[0], ws[1]
}

func (s *outputStream) Write(p []byte) (int, error) {
	o := s.o
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, other := range o.streams {
		if other != s && other.buf != nil && other.buf.Buffered() > 0 {
			_ = other.buf.Flush() // its error shows again on its next write
		}
	}
	n, err := s.buf.Write(p)
	if s.buf.Buffered() > 0 && o.timer == nil {
		o.timer = time.AfterFunc(o.delay, func() { _ = o.Flush() })
	}
	return n, err
}

// Flush writes out whatever both streams hold.
func (o *Outputs) Flush() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
	var first error
	for _, s := range o.streams {
		if s.buf != nil {
			if err := s.buf.Flush(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// NotTerminal reports whether w is a file, a pipe or a device other than a terminal: what main
// buffers. A terminal is what answers the terminal ioctl, not any character device: `apply >
// /dev/null` in a cron job wrote every progress line with a system call of its own.
func NotTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	tty := true
	if err := rc.Control(func(fd uintptr) { tty = term.IsTerminal(int(fd)) }); err != nil {
		return false
	}
	return !tty
}
