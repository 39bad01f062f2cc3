package check

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"unsafe"

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
	// route's socket: connecting it routes, and sends nothing.
	udp, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open a socket to look up routes: %w", err)
	}
	h.udp = udp

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
	if h.udp >= 0 {
		errs = append(errs, syscall.Close(h.udp))
		h.udp = -1
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
		if serr == nil {
			// At 10,000 checks a second the answers of a reader kept
			// from a CPU for 20 ms overflow the default buffer (about
			// 200 segments): those checks would time out. Beyond
			// net.core.rmem_max only with CAP_NET_ADMIN; else as much as
			// it allows.
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf) != nil {
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
			}
		}
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

// route is the source address of the kernel's route to the IPv4 address
// dst: where h.udp is bound once connected to it (three system calls, where
// a net.DialUDP took five and a poller registration). h.mu is held.
func (h *HalfOpen) route(dst netip.Addr) (netip.Addr, error) {
	// Disconnect first: a connected socket keeps the source address of its
	// first connect.
	unspec := unix.RawSockaddrInet4{Family: unix.AF_UNSPEC}
	if _, _, errno := unix.Syscall(unix.SYS_CONNECT, uintptr(h.udp), uintptr(unsafe.Pointer(&unspec)), unsafe.Sizeof(unspec)); errno != 0 {
		return netip.Addr{}, errno
	}
	if err := unix.Connect(h.udp, &unix.SockaddrInet4{Port: 9, Addr: dst.As4()}); err != nil {
		return netip.Addr{}, err
	}
	sa, err := unix.Getsockname(h.udp)
	if err != nil {
		return netip.Addr{}, err
	}
	sa4, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		return netip.Addr{}, fmt.Errorf("source address %T, want IPv4", sa)
	}
	return netip.AddrFrom4(sa4.Addr), nil
}

// rcvBuf is the receive buffer of the raw sockets: about 4 MB of
// kernel memory each at most, for about 5,000 answers (half a second at
// 10,000 checks a second).
const rcvBuf = 4 << 20

// read hands the answers that arrive on c to the probes waiting for them,
// as many as are queued per system call (recvmmsg).
func (h *HalfOpen) read(c *net.IPConn, v6 bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	var (
		bufs  [readBatch][128]byte // an IPv4 header with options and a TCP header with some
		iovs  [readBatch]unix.Iovec
		names [readBatch]unix.RawSockaddrInet6
		hdrs  [readBatch]mmsghdr
		ans   []answer
	)
	for i := range hdrs {
		iovs[i] = unix.Iovec{Base: &bufs[i][0]}
		iovs[i].SetLen(len(bufs[i]))
		hdrs[i].hdr.Iov = &iovs[i]
		hdrs[i].hdr.SetIovlen(1)
	}
	for {
		var (
			n    int
			rerr error
		)
		err := rc.Read(func(fd uintptr) bool {
			for i := range hdrs {
				hdrs[i].len = 0
				if v6 {
					hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&names[i]))
					hdrs[i].hdr.Namelen = unix.SizeofSockaddrInet6
				}
			}
			r, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&hdrs[0])), readBatch, unix.MSG_DONTWAIT, 0, 0)
			n, rerr = int(r), nil
			if errno != 0 {
				n, rerr = 0, errno
			}
			return rerr != unix.EAGAIN
		})
		if err != nil {
			return // closed
		}
		if rerr != nil {
			continue // a transient error loses answers at worst: their probes time out
		}
		ans = ans[:0]
		for i := range n {
			m := int(min(hdrs[i].len, uint32(len(bufs[i]))))
			if a, ok := parse(bufs[i][:m], &names[i], v6); ok {
				ans = append(ans, a)
			}
		}
		h.answer(ans)
	}
}

// parse reads the source, acknowledgement number and flags of a segment
// read from a raw socket: for IPv4 with its IP header, for IPv6 without,
// the source then in name.
func parse(b []byte, name *unix.RawSockaddrInet6, v6 bool) (answer, bool) {
	var src netip.Addr
	seg := b
	if v6 {
		if name.Family != unix.AF_INET6 {
			return answer{}, false
		}
		src = netip.AddrFrom16(name.Addr)
	} else {
		if len(b) < 20 {
			return answer{}, false
		}
		hl := int(b[0]&0x0f) * 4
		if hl < 20 || len(b) < hl {
			return answer{}, false
		}
		src = netip.AddrFrom4([4]byte(b[12:16]))
		seg = b[hl:]
	}
	if len(seg) < 20 {
		return answer{}, false
	}
	return answer{from: netip.AddrPortFrom(src, binary.BigEndian.Uint16(seg[0:])), ack: binary.BigEndian.Uint32(seg[8:]), flags: seg[13]}, true
}

// sendBatch is Flush's buffers for sendmmsg, reused from one Flush to the
// next.
type sendBatch struct {
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // big enough for either family
}

// mmsghdr is struct mmsghdr (the C layout: Go pads it as C does).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// send sends the SYNs of ps (all of c's family) with sendmmsg, and returns
// how many went before an error.
func (b *sendBatch) send(c *net.IPConn, ps []pending) (int, error) {
	if len(ps) > maxBatch {
		ps = ps[:maxBatch]
	}
	n := len(ps)
	if cap(b.hdrs) < n {
		b.hdrs = make([]mmsghdr, maxBatch)
		b.iovs = make([]unix.Iovec, maxBatch)
		b.names = make([]unix.RawSockaddrInet6, maxBatch)
	}
	hdrs, iovs, names := b.hdrs[:n], b.iovs[:n], b.names[:n]
	for i := range ps {
		p := &ps[i]
		iovs[i] = unix.Iovec{Base: &p.seg[0]}
		iovs[i].SetLen(synLen)
		names[i] = unix.RawSockaddrInet6{}
		var nlen uint32
		if a := p.dst.Addr(); a.Is4() {
			sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&names[i]))
			sa.Family, sa.Addr = unix.AF_INET, a.As4()
			nlen = unix.SizeofSockaddrInet4
		} else {
			names[i].Family, names[i].Addr = unix.AF_INET6, a.As16()
			nlen = unix.SizeofSockaddrInet6
		}
		hdrs[i] = mmsghdr{hdr: unix.Msghdr{Name: (*byte)(unsafe.Pointer(&names[i])), Namelen: nlen, Iov: &iovs[i]}}
		hdrs[i].hdr.SetIovlen(1)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var (
		sent int
		serr error
	)
	if err := rc.Write(func(fd uintptr) bool {
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&hdrs[0])), uintptr(n), 0, 0, 0)
		sent, serr = int(r), nil
		if errno != 0 {
			sent, serr = 0, errno
		}
		return serr != unix.EAGAIN
	}); err != nil {
		return 0, err
	}
	runtime.KeepAlive(ps)
	return sent, serr
}
