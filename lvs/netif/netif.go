// Package netif puts floating addresses on interfaces, watches link state,
// announces addresses to the LAN (gratuitous ARP / unsolicited neighbour
// advertisement) and reads the forwarding sysctls, for the failover daemon.
//
// Everything works in the network namespace of the calling OS thread (the
// process's own unless the caller locked its goroutine to a thread that
// entered another one); a Handle stays in the namespace it was opened in.
//
// It is Linux's (rtnetlink, packet sockets, /proc/sys): elsewhere Open,
// Announce, WatchLinks and Forwarding fail with an error that matches
// errors.ErrUnsupported.
package netif

//lint:file-ignore ST1005 the errors of Addr.validate start with the field they are about (Prefix, Device, Label).

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ErrNoDevice is wrapped by the errors about an interface that does not
// exist, so that callers can tell a missing NIC from other failures.
var ErrNoDevice = errors.New("no such interface")

// ifNameSize is the kernel's IFNAMSIZ: an interface name and its NUL.
const ifNameSize = 16

// Addr is a floating address on an interface.
type Addr struct {
	Prefix netip.Prefix // address and mask length, e.g. 192.168.1.100/24
	Device string       // interface name, e.g. "eth0"
	// Label is an IPv4 label such as "eth0:1" (piranha's device alias); ""
	// means none (the kernel then uses Device). It must be Device or start
	// with Device+":": rtnetlink takes any label, but ip and ifconfig
	// (the kernel's ioctl path) insist, and an alias named after another
	// device misleads both. IPv6 has no labels.
	Label string
}

// String gives the address the way errors and logs name it:
// "192.168.1.100/24 on eth0 label eth0:1".
func (a Addr) String() string {
	s := a.Prefix.String() + " on " + a.Device
	if a.Label != "" {
		s += " label " + a.Label
	}
	return s
}

// validate checks a before anything is sent, so that a mistake in the
// configuration is reported by field rather than as a kernel errno.
func (a Addr) validate() error {
	if !a.Prefix.IsValid() {
		return errors.New("Prefix: not a valid address/length")
	}
	ip := a.Prefix.Addr()
	if ip.Is4In6() {
		return errors.New("Prefix: IPv4-mapped IPv6 address; write it as IPv4")
	}
	if ip.IsUnspecified() || ip.IsMulticast() {
		return fmt.Errorf("Prefix: %s is not a unicast address", ip)
	}
	if err := checkDevice(a.Device); err != nil {
		return err
	}
	if a.Label == "" {
		return nil
	}
	if ip.Is6() {
		return fmt.Errorf("Label %q: IPv6 addresses have no labels", a.Label)
	}
	if a.Label != a.Device && !strings.HasPrefix(a.Label, a.Device+":") {
		return fmt.Errorf("Label %q: must be %q or start with %q", a.Label, a.Device, a.Device+":")
	}
	if len(a.Label) >= ifNameSize {
		return fmt.Errorf("Label %q: longer than %d characters", a.Label, ifNameSize-1)
	}
	return nil
}

func checkDevice(dev string) error {
	switch {
	case dev == "":
		return errors.New("Device: empty")
	case len(dev) >= ifNameSize:
		return fmt.Errorf("Device %q: longer than %d characters", dev, ifNameSize-1)
	case strings.ContainsAny(dev, "/: \t\n"):
		return fmt.Errorf("Device %q: not an interface name", dev)
	}
	return nil
}

// LinkState is what Link and WatchLinks report about an interface.
type LinkState struct {
	Device string
	Index  int
	// Exists is false when the device is not there (Link) or has just been
	// removed or moved to another namespace (WatchLinks).
	Exists bool
	// Up is true when the link can carry packets: administratively up and
	// running (carrier present), not merely configured up.
	Up  bool
	MAC net.HardwareAddr
}
