package ipvs

import (
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Dial opens a generic netlink socket, in o.NetNS if set, and looks up the
// IPVS family. Without IPVS in the kernel the error matches ErrNoIPVS;
// off Linux (dial_others.go), errors.ErrUnsupported.
func Dial(o *Options) (*Client, error) {
	var cfg netlink.Config
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
