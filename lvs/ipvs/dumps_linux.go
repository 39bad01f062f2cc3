package ipvs

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgReader reads up to two datagrams per system call (recvmmsg), into
// buffers it reuses: what read returns is valid until the next read.
type mmsgReader struct {
	bufs [2][]byte
	iovs [2]unix.Iovec
	hdrs [2]mmsghdr
	dgs  [2][]byte
}

// mmsghdr is struct mmsghdr, which x/sys/unix does not define.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

// read waits for at least one datagram and returns those that were
// queued, two at most.
func (r *mmsgReader) read(rc syscall.RawConn) ([][]byte, error) {
	for i := range r.bufs {
		if r.bufs[i] == nil {
			r.bufs[i] = make([]byte, receiveBuffer)
		}
		r.iovs[i] = unix.Iovec{Base: &r.bufs[i][0]}
		r.iovs[i].SetLen(len(r.bufs[i]))
		r.hdrs[i] = mmsghdr{hdr: unix.Msghdr{Iov: &r.iovs[i], Iovlen: 1}}
	}
	var n int
	var errno syscall.Errno
	err := rc.Read(func(fd uintptr) bool {
		r0, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		n, errno = int(r0), e
		return errno != unix.EAGAIN
	})
	if err != nil {
		return nil, err
	}
	if errno != 0 {
		return nil, errno
	}
	for i := range n {
		if r.hdrs[i].hdr.Flags&unix.MSG_TRUNC != 0 {
			return nil, errTruncated
		}
		r.dgs[i] = r.bufs[i][:r.hdrs[i].n]
	}
	return r.dgs[:n], nil
}
