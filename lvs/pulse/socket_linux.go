package pulse

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tcPrioControl is TC_PRIO_CONTROL, the highest priority a socket can ask
// for its packets in the machine's own queues (pfifo_fast's first band).
const tcPrioControl = 7

// socket is the heartbeat's UDP socket, outside Go's netpoller: the
// heartbeat thread waits for it in ppoll and reads and writes it with
// non-blocking system calls, through buffers it keeps, so that a datagram
// costs no allocation and no goroutine hand-off.
type socket struct {
	fd     int
	family int
	// warn is what the socket could not be given (SO_PRIORITY without
	// CAP_NET_ADMIN, say), for the caller to log.
	warn []string

	// recvmsg's buffers: the structure points into itself, so a socket
	// lives on the heap and is never copied.
	buf  [2 * messageLen]byte // longer datagrams are malformed anyway
	oob  [64]byte
	name [unix.SizeofSockaddrInet6]byte
	iov  unix.Iovec
	msg  unix.Msghdr
}

// listen opens a socket bound to bind: AF_INET for an IPv4 address,
// AF_INET6 otherwise, taking IPv4 too when bind is "::".
func listen(bind netip.AddrPort) (*socket, error) {
	a := bind.Addr()
	s := &socket{family: unix.AF_INET}
	if a.Is6() {
		s.family = unix.AF_INET6
	}
	fd, err := unix.Socket(s.family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	s.fd = fd
	if s.family == unix.AF_INET6 {
		v6only := 1
		if a.IsUnspecified() {
			v6only = 0 // IPv4 peers arrive as ::ffff:a.b.c.d
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
			s.close()
			return nil, fmt.Errorf("IPV6_V6ONLY: %w", err)
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PRIORITY, tcPrioControl); err != nil {
		s.warn = append(s.warn, fmt.Sprintf("SO_PRIORITY %d (TC_PRIO_CONTROL, needs CAP_NET_ADMIN): %v", tcPrioControl, err))
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS_NEW, 1); err != nil {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS_OLD, 1); err != nil {
			s.warn = append(s.warn, fmt.Sprintf("SO_TIMESTAMPNS: %v: silence is measured from when the heartbeat thread reads a datagram, not when it came", err))
		}
	}
	sa, salen, err := sockaddr(s.family, bind)
	if err != nil {
		s.close()
		return nil, err
	}
	if _, _, e := unix.Syscall(unix.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(&sa[0])), uintptr(salen)); e != 0 {
		s.close()
		return nil, e
	}
	return s, nil
}

func (s *socket) close() {
	if s.fd >= 0 {
		unix.Close(s.fd)
		s.fd = -1
	}
}

// dest is a destination in the form sendto takes.
type dest struct {
	to    netip.AddrPort
	sa    [unix.SizeofSockaddrInet6]byte
	salen int
}

// sockaddr encodes a as a struct sockaddr_in or sockaddr_in6 for a socket
// of family: an IPv4 address becomes ::ffff:a.b.c.d on an IPv6 socket, and
// an IPv6 zone its interface's index.
func sockaddr(family int, a netip.AddrPort) (sa [unix.SizeofSockaddrInet6]byte, salen int, err error) {
	ip := a.Addr()
	binary.NativeEndian.PutUint16(sa[0:], uint16(family))
	binary.BigEndian.PutUint16(sa[2:], a.Port())
	if family == unix.AF_INET {
		if !ip.Is4() {
			return sa, 0, fmt.Errorf("%v: not an IPv4 address", ip)
		}
		b := ip.As4()
		copy(sa[4:8], b[:])
		return sa, unix.SizeofSockaddrInet4, nil
	}
	b := ip.As16()
	copy(sa[8:24], b[:])
	if z := ip.Zone(); z != "" {
		ifi, err := net.InterfaceByName(z)
		if err != nil {
			return sa, 0, fmt.Errorf("%v: zone: %w", ip, err)
		}
		binary.NativeEndian.PutUint32(sa[24:], uint32(ifi.Index))
	}
	return sa, unix.SizeofSockaddrInet6, nil
}

// send sends b to d without blocking.
func (s *socket) send(b []byte, d *dest) error {
	_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(s.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, uintptr(unsafe.Pointer(&d.sa[0])), uintptr(d.salen))
	if e != 0 {
		return e
	}
	return nil
}

// read reads one queued datagram without blocking; ok is false when none
// is queued. The data is valid until the next read. stamp is the kernel's
// receive timestamp (wall clock, Unix nanoseconds), 0 if there is none.
func (s *socket) read() (data []byte, from netip.AddrPort, stamp int64, ok bool, err error) {
	s.iov.Base = &s.buf[0]
	s.iov.SetLen(len(s.buf))
	s.msg = unix.Msghdr{Name: &s.name[0], Namelen: uint32(len(s.name)), Iov: &s.iov, Iovlen: 1, Control: &s.oob[0]}
	s.msg.SetControllen(len(s.oob))
	n, _, e := unix.RawSyscall(unix.SYS_RECVMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.msg)), unix.MSG_DONTWAIT)
	switch e {
	case 0:
	case unix.EAGAIN, unix.EINTR:
		return nil, from, 0, false, nil
	default:
		return nil, from, 0, false, e
	}
	switch binary.NativeEndian.Uint16(s.name[0:]) {
	case unix.AF_INET:
		from = netip.AddrPortFrom(netip.AddrFrom4([4]byte(s.name[4:8])), binary.BigEndian.Uint16(s.name[2:]))
	case unix.AF_INET6:
		from = netip.AddrPortFrom(netip.AddrFrom16([16]byte(s.name[8:24])), binary.BigEndian.Uint16(s.name[2:]))
	}
	return s.buf[:n], from, s.stamp(), true, nil
}

// stamp finds the receive timestamp in what recvmsg left in oob.
func (s *socket) stamp() int64 {
	oob := s.oob[:s.msg.Controllen]
	for len(oob) > 0 {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return 0
		}
		if h.Level == unix.SOL_SOCKET {
			switch {
			case h.Type == unix.SO_TIMESTAMPNS_NEW && len(data) >= 16: // struct __kernel_timespec
				return int64(binary.NativeEndian.Uint64(data))*1e9 + int64(binary.NativeEndian.Uint64(data[8:]))
			case h.Type == unix.SO_TIMESTAMPNS_OLD && len(data) >= int(unsafe.Sizeof(unix.Timespec{})):
				return (*unix.Timespec)(unsafe.Pointer(&data[0])).Nano()
			}
		}
		oob = rest
	}
	return 0
}

// waitReady waits in ppoll until one of fds is readable or timeout passes.
// It is the heartbeat thread's only blocking call: the Go scheduler is not
// involved in the wait, only in giving the thread its P back afterwards.
func waitReady(fds []unix.PollFd, timeout time.Duration) error {
	for i := range fds {
		fds[i].Revents = 0
	}
	ts := unix.NsecToTimespec(int64(max(timeout, 0)))
	_, err := unix.Ppoll(fds, &ts, nil)
	if err == unix.EINTR {
		return nil
	}
	return err
}
