package check

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

func (h *HalfOpen) openSockets() error {
	// Reserve a port for both families (a dual-stack socket), so that no
	// connection of this host uses it: the kernel then answers every
	// SYN-ACK to it with the reset that ends the half-open connection.
	fd, err := syscall.Socket(syscall.AF_INET6, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("reserve a source port: %w", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 0); err != nil {
		syscall.Close(fd)
		return fmt.Errorf("reserve a source port: %w", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet6{}); err != nil {
		syscall.Close(fd)
		return fmt.Errorf("reserve a source port: %w", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		return fmt.Errorf("reserve a source port: %w", err)
	}
	h.hold, h.port = fd, uint16(sa.(*syscall.SockaddrInet6).Port)

	// A raw TCP socket sees every TCP segment the host receives: the filter
	// keeps only those to the reserved port, in the kernel.
	v4, err := h.listen("ip4:tcp", "0.0.0.0", func(port uint32) []unix.SockFilter {
		return []unix.SockFilter{
			{Code: unix.BPF_LDX | unix.BPF_B | unix.BPF_MSH, K: 0}, // x = IPv4 header length
			{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_IND, K: 2},  // destination port
			{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: port},
			{Code: unix.BPF_RET | unix.BPF_K, K: 0xffff},
			{Code: unix.BPF_RET | unix.BPF_K, K: 0},
		}
	})
	if err != nil {
		return err
	}
	h.v4 = v4
	// IPv6 raw sockets get the segment without the IPv6 header.
	v6, err := h.listen("ip6:tcp", "::", func(port uint32) []unix.SockFilter {
		return []unix.SockFilter{
			{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 2},
			{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: port},
			{Code: unix.BPF_RET | unix.BPF_K, K: 0xffff},
			{Code: unix.BPF_RET | unix.BPF_K, K: 0},
		}
	})
	if err != nil {
		// A host without IPv6 still checks IPv4 servers.
		h.v6 = nil
	} else {
		h.v6 = v6
	}
	go h.read(h.v4, false)
	if h.v6 != nil {
		go h.read(h.v6, true)
	}
	go h.expire()
	return nil
}

// closeSockets closes what openSockets opened; h.mu is held.
func (h *HalfOpen) closeSockets() error {
	var errs []error
	if h.v4 != nil {
		errs = append(errs, h.v4.Close())
		h.v4 = nil
	}
	if h.v6 != nil {
		errs = append(errs, h.v6.Close())
		h.v6 = nil
	}
	if h.hold >= 0 {
		errs = append(errs, syscall.Close(h.hold))
		h.hold = -1
	}
	return errors.Join(errs...)
}

func (h *HalfOpen) listen(network, addr string, filter func(port uint32) []unix.SockFilter) (*net.IPConn, error) {
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		return nil, fmt.Errorf("open a raw %s socket (the syn check needs CAP_NET_RAW): %w", network, err)
	}
	c := pc.(*net.IPConn)
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	var serr error
	cerr := rc.Control(func(fd uintptr) {
		prog := filter(uint32(h.port))
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
			&unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
		if serr == nil && network == "ip6:tcp" {
			// The kernel fills in the IPv6 checksum (offset 16 in the TCP
			// header); IPv4 raw sockets have no such option.
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, unix.IPV6_CHECKSUM, 16)
		}
	})
	if err := errors.Join(cerr, serr); err != nil {
		c.Close()
		return nil, fmt.Errorf("set up the raw %s socket: %w", network, err)
	}
	return c, nil
}

// read hands the answers that arrive on c to the probes waiting for them.
func (h *HalfOpen) read(c *net.IPConn, v6 bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 1500)
	for {
		var (
			n    int
			from unix.Sockaddr
			rerr error
		)
		// Raw reads skip the net package's per-packet address allocation.
		err := rc.Read(func(fd uintptr) bool {
			if v6 {
				n, from, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			} else {
				n, rerr = unix.Read(int(fd), buf) // with the IPv4 header
			}
			return rerr != unix.EAGAIN
		})
		if err != nil {
			return // closed
		}
		if rerr != nil {
			continue // a transient error loses one answer at worst: its probe times out
		}
		var src netip.Addr
		seg := buf[:n]
		if v6 {
			sa, ok := from.(*unix.SockaddrInet6)
			if !ok {
				continue
			}
			src = netip.AddrFrom16(sa.Addr)
		} else {
			if n < 20 {
				continue
			}
			hl := int(buf[0]&0x0f) * 4
			if hl < 20 || n < hl {
				continue
			}
			src = netip.AddrFrom4([4]byte(buf[12:16]))
			seg = buf[hl:n]
		}
		if len(seg) < 20 {
			continue
		}
		h.answer(netip.AddrPortFrom(src, binary.BigEndian.Uint16(seg[0:])), binary.BigEndian.Uint32(seg[8:]), seg[13])
	}
}

// send sends seg to dst on c, without the net package's allocations.
func send(c *net.IPConn, seg []byte, dst netip.Addr) error {
	var sa unix.Sockaddr
	if dst.Is4() {
		sa = &unix.SockaddrInet4{Addr: dst.As4()}
	} else {
		sa = &unix.SockaddrInet6{Addr: dst.As16()}
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), seg, 0, sa)
		return serr != unix.EAGAIN
	}); err != nil {
		return err
	}
	return serr
}
