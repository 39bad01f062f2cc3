package ipvs

import (
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/lvsconsole/lvsconsole/lvs/internal/netns"
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
	fd := 0
	if o != nil {
		fd = o.NetNS
	}
	if f, err := openProc(fd); err == nil {
		c.procF, c.proc = f, readProc(f)
	}
	return c, nil
}

// openProc opens /proc/net/ip_vs of the network namespace open as fd (0:
// the calling thread's). The file lists the namespace of the thread that
// opened it, for as long as it is open.
func openProc(fd int) (*os.File, error) {
	const path = "/proc/thread-self/net/ip_vs"
	if fd == 0 {
		return os.Open(path)
	}
	// On a goroutine of its own: a thread that cannot leave the namespace
	// stays locked to it, and ends with it.
	done := make(chan struct{})
	var f *os.File
	var err error
	go func() {
		defer close(done)
		err = netns.DoFD(fd, func() (err error) {
			f, err = os.Open(path)
			return err
		})
	}()
	<-done
	if err != nil && f != nil {
		f.Close()
		f = nil
	}
	return f, err
}

// maxProc bounds what readProc reads: some 6 MB at 10,000 x 10, 64 MB is
// about a million destinations. A bigger table is read by the dumps.
const maxProc = 64 << 20

// readProc reads f from its start each time, appending to buf, at most
// maxProc bytes.
func readProc(f *os.File) func(buf []byte) ([]byte, error) {
	return func(buf []byte) ([]byte, error) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return buf, err
		}
		for {
			if len(buf) == cap(buf) {
				buf = slices.Grow(buf, max(64<<10, cap(buf)))
			}
			n, err := f.Read(buf[len(buf):min(cap(buf), maxProc+1)])
			buf = buf[:len(buf)+n]
			if len(buf) > maxProc {
				return buf[:0], fmt.Errorf("more than %d MB: the table is read by the dumps", maxProc>>20)
			}
			if err == io.EOF || err == nil && n == 0 {
				return buf, nil
			}
			if err != nil {
				return buf, err
			}
		}
	}
}
