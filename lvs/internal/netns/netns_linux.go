package netns

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Do runs fn on a thread that is in namespace name. Sockets made there stay
// in name after fn returns, so a listener or a connection can be made inside
// and used from anywhere.
func Do(name string, fn func() error) error {
	target, err := os.Open("/run/netns/" + name)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := DoFD(int(target.Fd()), fn); err != nil {
		return fmt.Errorf("netns %s: %w", name, err)
	}
	return nil
}

// DoFD is Do in the network namespace open as fd (/proc/PID/ns/net, a
// file of /run/netns). A file opened there under /proc/thread-self/net
// shows that namespace for as long as it is open.
func DoFD(fd int, fn func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("entering the namespace: %w", err)
	}
	ferr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: it dies with its goroutine rather than
		// run other goroutines in the wrong namespace.
		return fmt.Errorf("leaving the namespace: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}
