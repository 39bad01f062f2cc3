package ipvs

import (
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
	return c, nil
}
