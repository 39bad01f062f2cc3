package ipvs

import (
	"io"
	"os"
	"runtime"
	"slices"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Dial opens a generic netlink socket, in o.NetNS if set, and looks up the
// IPVS family. Without IPVS in the kernel the error matches ErrNoIPVS;
// off Linux (dial_others.go), errors.ErrUnsupported.
func Dial(o *Options) (*Client, error) {
	// A fixed receive buffer: without one, every read is two system
	// calls (a peek for the size, then the read), and the kernel sizes a
	// dump's datagrams by the reads it has seen (max_recvmsg_len), so
	// peeks keep them at a page. With 64 KiB it fills 32 KiB datagrams,
	// its cap, and a full read of 10,000 x 10 takes a third fewer calls.
	cfg := netlink.Config{MessageBufferSize: receiveBuffer}
	if o != nil {
		cfg.NetNS = o.NetNS
	}
	nc, err := netlink.Dial(unix.NETLINK_GENERIC, &cfg)
	if err != nil {
		return nil, &Error{Op: opDial, Err: err}
	}
	// Lets the kernel say which attribute it refused; old kernels refuse
	// the option, which is harmless.
	_ = nc.SetOption(netlink.ExtendedAcknowledge, true)

	c, err := NewNetlink(nc)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	// /proc/net/ip_vs lists the whole table in one read (ProcServices);
	// without it (an old kernel, no /proc) reads take the dumps.
	ns := 0
	if o != nil {
		ns = o.NetNS
	}
	if f, err := openProc(ns); err == nil {
		c.procF, c.proc = f, readProc(f)
	}
	return c, nil
}

// openProc opens /proc/net/ip_vs of the network namespace netns (0: the
// calling thread's). The file lists the namespace of the thread that
// opened it, for as long as it is open: it is opened from a thread moved
// into netns for the purpose.
func openProc(netns int) (*os.File, error) {
	const path = "/proc/thread-self/net/ip_vs"
	if netns == 0 {
		return os.Open(path)
	}
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		back, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{nil, err}
			return
		}
		defer back.Close()
		if err := unix.Setns(netns, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{nil, err}
			return
		}
		f, err := os.Open(path)
		// A thread that cannot go back stays locked: the runtime ends
		// it with this goroutine rather than reuse it elsewhere.
		if unix.Setns(int(back.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		done <- result{f, err}
	}()
	r := <-done
	return r.f, r.err
}

// readProc reads f from its start each time, appending to buf.
func readProc(f *os.File) func(buf []byte) ([]byte, error) {
	return func(buf []byte) ([]byte, error) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return buf, err
		}
		for {
			if len(buf) == cap(buf) {
				buf = slices.Grow(buf, max(64<<10, cap(buf)))
			}
			n, err := f.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF || err == nil && n == 0 {
				return buf, nil
			}
			if err != nil {
				return buf, err
			}
		}
	}
}
