package proc

import (
	"fmt"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// Securebits for a thread whose uid 0 must mean nothing: exec as root
// gains no capabilities (NOROOT), changing uids neither (NO_SETUID_FIXUP),
// capabilities are not kept over setuid (KEEP_CAPS off), all locked.
// (linux/securebits.h; x/sys/unix has not got them.)
const rootless = secbitNoroot | secbitNorootLocked | secbitNoSetuidFixup | secbitNoSetuidFixupLocked | secbitKeepCapsLocked

const (
	secbitNoroot              = 1 << 0
	secbitNorootLocked        = 1 << 1
	secbitNoSetuidFixup       = 1 << 2
	secbitNoSetuidFixupLocked = 1 << 3
	secbitKeepCapsLocked      = 1 << 5
)

// start starts cmd with no capabilities at all, whatever serve has (root's
// full set when run by hand, a service's ambient set), and unable to gain
// any (no_new_privs: setuid and file capabilities do nothing).
//
// Credentials are a thread's own in Linux, and os/exec forks on the
// calling thread (clone with CLONE_VFORK|CLONE_VM), so the child copies
// the credentials of the thread that calls Start. Start is called on a
// thread of its own, locked and never unlocked, whose capabilities are
// dropped first: the runtime ends that thread with the goroutine, and
// creates no thread from it meanwhile (newm asks its template thread
// instead of cloning a locked one), so the rest of the process keeps its
// capabilities.
func start(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go startLocked(cmd, errc)
	return <-errc
}

func startLocked(cmd *exec.Cmd, errc chan<- error) {
	runtime.LockOSThread() // never unlocked once dropped: this thread must end with the goroutine
	if unix.Gettid() == unix.Getpid() {
		// The main thread is never ended (a goroutine that ends locked
		// to it wedges it), and its credentials are the ones
		// /proc/PID/status shows: start from another thread. While this
		// goroutine holds the main thread, the new one cannot run on it.
		again := make(chan error, 1)
		go startLocked(cmd, again)
		err := <-again
		runtime.UnlockOSThread() // nothing was changed on this one
		errc <- err
		return
	}
	if err := dropCapabilities(); err != nil {
		errc <- fmt.Errorf("cannot drop capabilities: %w", err)
		return
	}
	errc <- cmd.Start()
}

// dropCapabilities empties the calling thread's capability sets. With
// CAP_SETPCAP (root) it also empties the bounding set and makes uid 0
// powerless, so that exec as root gains nothing back; without it, exec
// gains nothing anyway: no_new_privs ignores setuid bits and file
// capabilities, and empty ambient, permitted and inheritable sets leave a
// program that is not root nothing to start with.
func dropCapabilities() error {
	setpcap, err := effective(unix.CAP_SETPCAP)
	if err != nil {
		return err
	}
	if setpcap {
		if err := unix.Prctl(unix.PR_SET_SECUREBITS, rootless, 0, 0, 0); err != nil {
			return fmt.Errorf("securebits: %w", err)
		}
		for c := 0; ; c++ {
			err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
			if err == unix.EINVAL { // past the last capability this kernel has
				break
			}
			if err != nil {
				return fmt.Errorf("bounding set, capability %d: %w", c, err)
			}
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("ambient set: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	// tid 0 is this thread.
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var none [2]unix.CapUserData
	if err := unix.Capset(&hdr, &none[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}

// effective reports whether the calling thread has capability c in its
// effective set.
func effective(c int) (bool, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false, fmt.Errorf("capget: %w", err)
	}
	return data[c/32].Effective&(1<<(c%32)) != 0, nil
}
