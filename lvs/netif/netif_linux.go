package netif

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

func linkState(m *rtnetlink.LinkMessage) LinkState {
	s := LinkState{
		Index:  int(m.Index),
		Exists: true,
		// IFF_RUNNING is the kernel's "operationally up" (carrier and no
		// lower layer down); IFF_UP alone is only the administrator's wish.
		Up: m.Flags&unix.IFF_UP != 0 && m.Flags&unix.IFF_RUNNING != 0,
	}
	if m.Attributes != nil {
		s.Device = m.Attributes.Name
		if len(m.Attributes.Address) > 0 {
			s.MAC = append(net.HardwareAddr(nil), m.Attributes.Address...)
		}
	}
	return s
}

// Handle is one rtnetlink connection. It is bound to the network namespace
// of the thread that opened it and may then be used from any goroutine;
// calls are serialised.
type Handle struct {
	mu sync.Mutex
	c  *rtnetlink.Conn // nil after a cancelled call until the next one redials
	// ns is the namespace c lives in, kept to redial there: a call cut
	// short by its context can leave the kernel's reply queued, which the
	// next call would otherwise read as its own.
	ns     *os.File
	closed bool
}

// Open opens a Handle in the calling thread's network namespace.
func Open() (*Handle, error) {
	c, err := rtnetlink.Dial(nil)
	if err != nil {
		return nil, fmt.Errorf("netif: open rtnetlink: %w", err)
	}
	// Unlocked goroutines may move between threads, but all such threads
	// share the process's namespace, so ns and c agree either way.
	ns, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("netif: open rtnetlink: %w", err)
	}
	return &Handle{c: c, ns: ns}, nil
}

// Close releases the connection.
func (h *Handle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	var err error
	if h.c != nil {
		err = h.c.Close()
		h.c = nil
	}
	if cerr := h.ns.Close(); err == nil {
		err = cerr
	}
	return err
}

var errClosed = errors.New("handle is closed")

// longAgo is a deadline already past, to wake a blocked read at once.
var longAgo = time.Unix(1, 0)

// do runs fn on the connection with ctx's deadline and cancellation applied
// to its reads.
func (h *Handle) do(ctx context.Context, fn func(c *rtnetlink.Conn) error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if h.c == nil {
		c, err := rtnetlink.Dial(&netlink.Config{NetNS: int(h.ns.Fd())})
		if err != nil {
			return fmt.Errorf("reopen rtnetlink: %w", err)
		}
		h.c = c
	}
	c := h.c
	dl, _ := ctx.Deadline() // zero: no deadline
	if err := c.SetReadDeadline(dl); err != nil {
		return err
	}
	woke := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(woke)
		c.SetReadDeadline(longAgo)
	})
	err := fn(c)
	if !stop() {
		<-woke // so that it cannot touch the next call's deadline
	}
	if err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || ctx.Err() != nil) {
		c.Close()
		h.c = nil
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if !dl.IsZero() && !time.Now().Before(dl) {
			return context.DeadlineExceeded // the socket's timer beat ctx's
		}
	}
	return err
}

// linkByName asks the kernel for one link by name.
func linkByName(c *rtnetlink.Conn, dev string) (*rtnetlink.LinkMessage, error) {
	msgs, err := c.Execute(&rtnetlink.LinkMessage{
		Attributes: &rtnetlink.LinkAttributes{Name: dev},
	}, unix.RTM_GETLINK, netlink.Request)
	if err != nil {
		if errors.Is(err, unix.ENODEV) {
			return nil, ErrNoDevice
		}
		return nil, err
	}
	for _, m := range msgs {
		if lm, ok := m.(*rtnetlink.LinkMessage); ok {
			return lm, nil
		}
	}
	return nil, ErrNoDevice
}

// addressMessage builds the request for a on the link with index idx.
func addressMessage(a Addr, idx uint32, withLabel bool) *rtnetlink.AddressMessage {
	ip := a.Prefix.Addr()
	m := &rtnetlink.AddressMessage{
		Family:       unix.AF_INET6,
		PrefixLength: uint8(a.Prefix.Bits()),
		Index:        idx,
		Attributes: &rtnetlink.AddressAttributes{
			Address: ip.AsSlice(),
			Local:   ip.AsSlice(),
		},
	}
	if ip.Is4() {
		m.Family = unix.AF_INET
		if withLabel {
			m.Attributes.Label = a.Label
		}
		// As ifconfig and `ip addr add ... brd +` do: hosts on the VIP's
		// subnet may still send to the directed broadcast.
		if bits := a.Prefix.Bits(); bits <= 30 {
			b := ip.As4()
			for i := bits; i < 32; i++ {
				b[i/8] |= 0x80 >> (i % 8)
			}
			m.Attributes.Broadcast = b[:]
		}
	} else {
		// Without NODAD the address is "tentative" for a second or more
		// after a failover, and sockets cannot bind to it.
		m.Flags = unix.IFA_F_NODAD
		m.Attributes.Flags = unix.IFA_F_NODAD
	}
	return m
}

// Add puts a on its device. Adding an address that is already there (same
// address and mask length, whatever its label) is not an error. IPv6
// addresses are added with IFA_F_NODAD so that they are usable at once.
func (h *Handle) Add(ctx context.Context, a Addr) error {
	if err := a.validate(); err != nil {
		return fmt.Errorf("netif: add %s: %w", a, err)
	}
	err := h.do(ctx, func(c *rtnetlink.Conn) error {
		l, err := linkByName(c, a.Device)
		if err != nil {
			return err
		}
		return c.Address.New(addressMessage(a, l.Index, true))
	})
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("netif: add %s: %w", a, err)
	}
	return nil
}

// Del removes a (matched by address and mask length, whatever its label).
// Removing an absent address is not an error; a missing device is.
func (h *Handle) Del(ctx context.Context, a Addr) error {
	if err := a.validate(); err != nil {
		return fmt.Errorf("netif: delete %s: %w", a, err)
	}
	err := h.do(ctx, func(c *rtnetlink.Conn) error {
		l, err := linkByName(c, a.Device)
		if err != nil {
			return err
		}
		return c.Address.Delete(addressMessage(a, l.Index, false))
	})
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("netif: delete %s: %w", a, err)
	}
	return nil
}

// Has reports whether any interface holds ip (how pulse decides that it
// is the primary director). Tentative IPv6 addresses count as held.
func (h *Handle) Has(ctx context.Context, ip netip.Addr) (bool, error) {
	if !ip.IsValid() {
		return false, errors.New("netif: has: invalid address")
	}
	ip = ip.WithZone("").Unmap()
	var found bool
	err := h.do(ctx, func(c *rtnetlink.Conn) error {
		family := uint8(unix.AF_INET6)
		if ip.Is4() {
			family = unix.AF_INET
		}
		msgs, err := c.Execute(&rtnetlink.AddressMessage{Family: family}, unix.RTM_GETADDR, netlink.Request|netlink.Dump)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			am, ok := m.(*rtnetlink.AddressMessage)
			if !ok || am.Attributes == nil || am.Family != family {
				continue
			}
			// IFA_LOCAL is this host's address; IFA_ADDRESS is the peer's
			// on point-to-point links and only stands for it otherwise.
			own := am.Attributes.Local
			if own == nil {
				own = am.Attributes.Address
			}
			if a, ok := netip.AddrFromSlice(own); ok && a.Unmap() == ip {
				found = true
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("netif: look for %s: %w", ip, err)
	}
	return found, nil
}

// Link reports whether device exists (Exists) and whether its link is up
// (Up: running, i.e. carrier present, not just administratively up). A
// missing device is not an error: it is reported with Exists false.
func (h *Handle) Link(ctx context.Context, device string) (LinkState, error) {
	if err := checkDevice(device); err != nil {
		return LinkState{Device: device}, fmt.Errorf("netif: link %s: %w", device, err)
	}
	var s LinkState
	err := h.do(ctx, func(c *rtnetlink.Conn) error {
		l, err := linkByName(c, device)
		if err != nil {
			return err
		}
		s = linkState(l)
		return nil
	})
	if errors.Is(err, ErrNoDevice) {
		return LinkState{Device: device}, nil
	}
	if err != nil {
		return LinkState{Device: device}, fmt.Errorf("netif: link %s: %w", device, err)
	}
	return s, nil
}
