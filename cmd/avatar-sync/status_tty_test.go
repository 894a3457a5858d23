package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestStatusWatchRedrawsInATerminal: on a terminal (a pseudo-terminal here) --watch redraws in
// place: each sample starts with "cursor home, clear screen" and no "--- time" header.
func TestStatusWatchRedrawsInATerminal(t *testing.T) {
	_, f := labCluster(t)
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("posix_openpt: %v", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	master := os.NewFile(uintptr(fd), "ptmx")
	defer master.Close()
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	screen := &lockedBuffer{}
	go func() { _, _ = io.Copy(screen, master) }()

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"status", "-f", f, "--cluster", "lab", "--no-color", "--watch", "1s"}, strings.NewReader(""), tty, io.Discard)
	}()
	waitLog(t, screen, "Healthy.", 2)
	cancel()
	<-done
	out := screen.String()
	if strings.Count(out, "\x1b[H\x1b[2J") < 2 || strings.Contains(out, "--- ") {
		t.Errorf("in a terminal each sample should redraw the screen:\n%q", out)
	}
}
