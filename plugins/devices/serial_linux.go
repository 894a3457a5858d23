package devices

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	for rate, speed := range map[int]uint32{
		9600: unix.B9600, 19200: unix.B19200, 38400: unix.B38400, 57600: unix.B57600,
		115200: unix.B115200, 230400: unix.B230400, 460800: unix.B460800, 921600: unix.B921600,
	} {
		baudRates[rate] = speed
	}
}

// accessRW asks the kernel whether this process may read and write path (access(2) uses the real
// uid, which is what a user running avatar-sync has).
func accessRW(path string) error { return unix.Access(path, unix.R_OK|unix.W_OK) }

// requireTTY refuses to open a character device the kernel files under another class than tty.
// The path comes from the spec, which may come from an unreviewed pull request (plan with
// preflight: true in its target): opening some devices read-write acts by itself (/dev/watchdog
// arms the machine's watchdog), so the class of the device number is read from sysfs first,
// without opening the device (issue 10). Devices sysfs does not list (pseudo-terminals) are
// opened and must then answer the terminal ioctl, as before.
func requireTTY(path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return err
	}
	link, err := os.Readlink(fmt.Sprintf("/sys/dev/char/%d:%d/subsystem", unix.Major(st.Rdev), unix.Minor(st.Rdev)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot tell whether it is a terminal (tty) device, so it is not opened: %w", err)
	}
	if sub := filepath.Base(link); sub != "tty" {
		return fmt.Errorf("not a serial port: a %s device, not a terminal (tty) device, so it is not opened", sub)
	}
	return nil
}

// pollSlice bounds each poll(2) so cancellation is noticed promptly.
const pollSlice = 100 * time.Millisecond

// querySerial opens path raw 8N1 at baud, sends cmd and reads until the answer contains eom or
// ctx ends (errNoEOM, with what arrived so far).
func querySerial(ctx context.Context, path string, baud int, cmd, eom string) (string, error) {
	speed, ok := baudRates[baud]
	if !ok {
		return "", fmt.Errorf("unsupported baud rate %d", baud)
	}
	if err := requireTTY(path); err != nil {
		return "", err
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open: %w", err)
	}
	defer unix.Close(fd)
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", fmt.Errorf("read terminal settings (not a serial port?): %w", err)
	}
	// Exclusive use while probing, so a second program cannot interleave with our query.
	if err := unix.IoctlSetInt(fd, unix.TIOCEXCL, 0); err != nil {
		return "", fmt.Errorf("lock: %w", err)
	}
	// cfmakeraw plus 8N1 at the requested speed: the board speaks bytes, not lines.
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CSTOPB | unix.CBAUD
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL | speed
	t.Ispeed, t.Ospeed = speed, speed
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 0, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return "", fmt.Errorf("set %d baud raw mode: %w", baud, err)
	}
	// Drop bytes the board sent before we asked (e.g. a stream left running).
	_ = unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCIFLUSH)
	if _, err := unix.Write(fd, []byte(cmd)); err != nil {
		return "", fmt.Errorf("write %q: %w", cmd, err)
	}

	var got strings.Builder
	buf := make([]byte, 512)
	for { // bounded: each poll waits at most pollSlice and the loop ends when ctx does
		if strings.Contains(got.String(), eom) {
			return got.String(), nil
		}
		wait := pollSlice
		if dl, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(dl))
		}
		if ctx.Err() != nil || wait <= 0 {
			return got.String(), errNoEOM
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(max(wait.Milliseconds(), 1)))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return got.String(), fmt.Errorf("poll: %w", err)
		}
		if n == 0 {
			continue
		}
		if fds[0].Revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
			return got.String(), fmt.Errorf("the port reported an error (dongle unplugged?)")
		}
		if fds[0].Revents&unix.POLLHUP != 0 && fds[0].Revents&unix.POLLIN == 0 {
			return got.String(), fmt.Errorf("the port hung up (dongle unplugged?)")
		}
		r, err := unix.Read(fd, buf)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil {
			return got.String(), fmt.Errorf("read: %w", err)
		}
		got.Write(buf[:r])
	}
}

// fileGID is the group owning the file (dialout, uucp, plugdev for serial adapters).
func fileGID(st fs.FileInfo) (uint32, bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return sys.Gid, true
}
