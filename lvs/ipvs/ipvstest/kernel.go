// Package ipvstest is an in-memory IPVS for tests: a generic netlink
// "kernel" that answers the IPVS family as net/netfilter/ipvs/ip_vs_ctl.c
// does, refuses what it refuses with the same errno, and keeps a table
// that tests can inspect.
//
// The conns it hands out behave like a netlink socket, not like genltest's:
// the messages of a datagram are handled one after the other, each
// answered on its own; dumps arrive as multipart messages split over
// several datagrams and closed by NLMSG_DONE; a message is answered when
// it fails or asks for NLM_F_ACK, otherwise not at all (a GET that asks
// gets its acknowledgement in a second datagram, as from the kernel); a
// read with nothing to come waits, as on a kernel, for the deadline or
// Close; answers that overflow the receive buffer are dropped and the
// next read fails with ENOBUFS; and deadlines work.
//
// It is a model: routes, local addresses, interfaces, connections and the
// destination trash are not modelled. The real check is a kernel with
// ipvsadm as an independent reader.
package ipvstest

import (
	"encoding/binary"
	"fmt"
	"iter"
	"math/bits"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
)

// FamilyID is the generic netlink family id the fake gives IPVS. A kernel
// assigns one at run time; clients must look it up by name.
const FamilyID = 0x24

// DefaultSchedulers returns the schedulers of current kernels, all
// "loaded" in a new Kernel.
func DefaultSchedulers() []string {
	return []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"}
}

// Request is one IPVS request as the fake received it.
type Request struct {
	Cmd  uint8 // IPVS_CMD_*
	Dump bool  // NLM_F_DUMP
	Ack  bool  // NLM_F_ACK

	// Service and Dest are what the request names, decoded as the kernel
	// decodes them (ports big-endian); zero if absent or undecodable.
	Service ipvs.ServiceKey
	Dest    ipvs.DestKey

	Errno    syscall.Errno // the answer; 0 for success
	Deadline time.Time     // the socket's read deadline when it arrived
}

// Kernel is an IPVS table in memory, one network namespace's worth. It is
// safe for concurrent use by any number of conns.
type Kernel struct {
	mu         sync.Mutex
	services   []*service // in order of creation
	byKey      map[ipvs.ServiceKey]*service
	schedulers map[string]bool
	timeouts   [3]int32 // seconds: TCP, TCP FIN-WAIT, UDP
	daemons    [2]*daemon
	mixed      int // destinations whose family is not their service's
	log        []Request
	failures   map[uint8]*failure
	delay      time.Duration
	nextPID    uint32
}

type service struct {
	key     ipvs.ServiceKey
	sched   string
	pe      string
	flags   uint32
	timeout uint32 // jiffies
	netmask [4]byte
	stats   ipvs.Stats
	dests   []*dest // newest first
}

type dest struct {
	af                     uint16
	addr                   netip.Addr
	port                   uint16
	fwd                    uint32
	weight                 int32
	uThresh, lThresh       uint32
	tunType                uint8
	tunPort, tunFlags      uint16
	active, inact, persist uint32
	stats                  ipvs.Stats
}

type failure struct {
	errno syscall.Errno
	times int
}

// New returns an empty table with every scheduler of DefaultSchedulers and
// the kernel's default timeouts (900, 120 and 300 seconds).
func New() *Kernel {
	k := &Kernel{
		byKey:    make(map[ipvs.ServiceKey]*service),
		timeouts: [3]int32{15 * 60, 2 * 60, 5 * 60},
		failures: make(map[uint8]*failure),
	}
	k.SetSchedulers(DefaultSchedulers()...)
	return k
}

// Conn returns a new connection to the table, as a socket opened in the
// same network namespace would be.
func (k *Kernel) Conn() *genetlink.Conn { return genetlink.NewConn(k.NetlinkConn()) }

// NetlinkConn is Conn without the generic netlink wrapper, for clients
// that send several messages per datagram.
func (k *Kernel) NetlinkConn() *netlink.Conn {
	k.mu.Lock()
	k.nextPID++
	pid := k.nextPID
	k.mu.Unlock()
	s := &socket{k: k, pid: pid, wake: make(chan struct{}), rcvbuf: rmemDefault, sndbuf: wmemDefault}
	return netlink.NewConn(s, pid)
}

// SetSchedulers sets the schedulers that are "loaded"; NEW_SERVICE and
// SET_SERVICE with any other fail with ENOENT. "none" is always accepted,
// as the kernel accepts it.
func (k *Kernel) SetSchedulers(names ...string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.schedulers = make(map[string]bool, len(names))
	for _, n := range names {
		k.schedulers[n] = true
	}
}

// Fail makes the next times requests with command cmd fail with errno,
// before the fake looks at them.
func (k *Kernel) Fail(cmd uint8, errno int, times int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.failures[cmd] = &failure{errno: syscall.Errno(errno), times: times}
}

// SetReplyDelay makes replies readable only d after their request. A
// kernel answers inside sendmsg, except for the later parts of a long dump;
// the delay lets tests exercise deadlines and cancellation.
func (k *Kernel) SetReplyDelay(d time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.delay = d
}

// Requests returns the IPVS requests received since New or Reset.
func (k *Kernel) Requests() []Request {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]Request(nil), k.log...)
}

// Reset clears the request log; the table stays.
func (k *Kernel) Reset() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.log = nil
}

// Services returns the services in dump order, as a reader sees them:
// without the kernel's HASHED flag, the netmask decoded for the family.
// Stats are the fake's counters.
func (k *Kernel) Services() []ipvs.Service {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []ipvs.Service
	for _, fwm := range []bool{false, true} {
		for _, s := range k.services {
			if (s.key.FWMark != 0) == fwm {
				out = append(out, s.snapshot())
			}
		}
	}
	return out
}

func (s *service) snapshot() ipvs.Service {
	key := s.key
	if key.FWMark != 0 {
		key = ipvs.ServiceKey{Family: key.Family, FWMark: key.FWMark}
	}
	mask := binary.BigEndian.Uint32(s.netmask[:])
	if key.Family == afINET6 {
		mask = binary.NativeEndian.Uint32(s.netmask[:])
	}
	return ipvs.Service{
		ServiceKey: key,
		Scheduler:  s.sched,
		Flags:      ipvs.Flags(s.flags &^ svcFHashed),
		Timeout:    s.timeout / hz,
		Netmask:    mask,
		PEName:     s.pe,
		Stats:      s.stats,
	}
}

// Destinations returns a service's destinations, newest first as the
// kernel lists them; nil for a service that does not exist.
func (k *Kernel) Destinations(key ipvs.ServiceKey) []ipvs.Destination {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.byKey[normalize(key)]
	if s == nil {
		return nil
	}
	out := make([]ipvs.Destination, 0, len(s.dests))
	for _, d := range s.dests {
		out = append(out, ipvs.Destination{
			Addr: d.addr, Port: d.port, Family: d.af,
			Forward: ipvs.Forward(d.fwd), Weight: d.weight,
			UpperThreshold: d.uThresh, LowerThreshold: d.lThresh,
			TunnelType: ipvs.TunnelType(d.tunType), TunnelPort: d.tunPort, TunnelFlags: d.tunFlags,
			ActiveConns: d.active, InactiveConns: d.inact, PersistConns: d.persist,
			Stats: d.stats,
		})
	}
	return out
}

// Timeouts returns the connection timeouts.
func (k *Kernel) Timeouts() ipvs.Timeouts {
	k.mu.Lock()
	defer k.mu.Unlock()
	return ipvs.Timeouts{
		TCP:    time.Duration(k.timeouts[0]) * time.Second,
		TCPFin: time.Duration(k.timeouts[1]) * time.Second,
		UDP:    time.Duration(k.timeouts[2]) * time.Second,
	}
}

// Daemons returns the running sync daemons, master first.
func (k *Kernel) Daemons() []ipvs.Daemon {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []ipvs.Daemon
	for i, c := range k.daemons {
		if c != nil {
			out = append(out, ipvs.Daemon{
				State: ipvs.DaemonState(i + 1), Interface: c.ifn, SyncID: c.syncID,
				MaxLen: c.maxLen, McastGroup: c.group, McastPort: c.port, McastTTL: c.ttl,
			})
		}
	}
	return out
}

// SetStats sets the counters of a service, or of one of its destinations
// if dest is not nil, as traffic would.
func (k *Kernel) SetStats(key ipvs.ServiceKey, d *ipvs.DestKey, st ipvs.Stats) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.byKey[normalize(key)]
	if s == nil {
		return fmt.Errorf("ipvstest: no service %v", key)
	}
	if d == nil {
		s.stats = st
		return nil
	}
	x := s.destByKey(*d)
	if x == nil {
		return fmt.Errorf("ipvstest: service %v has no destination %v", key, *d)
	}
	x.stats = st
	return nil
}

// SetConns sets a destination's connection counts, as traffic would.
func (k *Kernel) SetConns(key ipvs.ServiceKey, d ipvs.DestKey, active, inactive, persistent uint32) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.byKey[normalize(key)]
	if s == nil {
		return fmt.Errorf("ipvstest: no service %v", key)
	}
	x := s.destByKey(d)
	if x == nil {
		return fmt.Errorf("ipvstest: service %v has no destination %v", key, d)
	}
	x.active, x.inact, x.persist = active, inactive, persistent
	return nil
}

// normalize turns a caller's key into the fake's: a firewall-mark service
// is found by family and mark alone (__ip_vs_svc_fwm_find).
func normalize(k ipvs.ServiceKey) ipvs.ServiceKey {
	if k.FWMark != 0 {
		return ipvs.ServiceKey{Family: k.Family, FWMark: k.FWMark}
	}
	k.Addr = k.Addr.Unmap()
	if k.Family == afINET6 {
		k.Addr = netip.AddrFrom16(k.Addr.As16())
	}
	return k
}

func (s *service) dest(af uint16, a netip.Addr, port uint16) *dest {
	for _, d := range s.dests { // ip_vs_lookup_dest walks the list too
		if d.af == af && d.addr == a && d.port == port {
			return d
		}
	}
	return nil
}

func (s *service) destByKey(k ipvs.DestKey) *dest {
	af := uint16(afINET6)
	if k.Addr.Is4() {
		af = afINET
	}
	return s.dest(af, k.Addr, k.Port)
}

// handle answers one message, as netlink_rcv_skb does each message of a
// datagram: the datagrams to queue on the socket, and whether they are a
// dump's.
func (k *Kernel) handle(req netlink.Message, deadline time.Time) (dgs [][]netlink.Message, dump bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	h := req.Header
	if h.Flags&netlink.Request == 0 || h.Type < nlmsgMinType {
		// netlink_rcv_skb only acknowledges what is not a request, and
		// the control messages.
		if h.Flags&netlink.Acknowledge != 0 {
			return [][]netlink.Message{{ack(req, 0)}}, false
		}
		return nil, false
	}

	var ans answer
	switch h.Type {
	case genlIDCtrl:
		ans = ctrl(req)
	case FamilyID:
		var r Request
		r, ans = k.serveIPVS(req)
		r.Errno, r.Deadline = syscall.Errno(ans.errno), deadline
		r.Ack = h.Flags&netlink.Acknowledge != 0
		k.log = append(k.log, r)
	default:
		ans.errno = syscall.ENOENT // genl_rcv_msg: no such family
	}

	switch {
	case ans.errno != 0:
		// Answered with or without NLM_F_ACK: an error always is.
		return [][]netlink.Message{{ack(req, ans.errno)}}, false
	case ans.dump:
		// netlink_dump_start: no acknowledgement, NLM_F_ACK or not.
		return multipart(req, ans.replies), true
	}
	var out [][]netlink.Message
	for _, m := range ans.replies {
		out = append(out, []netlink.Message{reply(req, m, 0)})
	}
	if h.Flags&netlink.Acknowledge != 0 {
		out = append(out, []netlink.Message{ack(req, 0)})
	}
	return out, false
}

// ctrl answers the generic netlink controller's GETFAMILY for "IPVS"
// (ctrl_getfamily); any other name is ENOENT, as on a kernel without it.
func ctrl(req netlink.Message) answer {
	var gm genetlink.Message
	if err := gm.UnmarshalBinary(req.Data); err != nil || gm.Header.Command != ctrlCmdGetFamily {
		return answer{errno: syscall.EOPNOTSUPP}
	}
	a, errno := parse(gm.Data, policy{ctrlAttrFamilyName: {kind: nlaNulString, len: genlNameSize - 1}})
	if errno != 0 {
		return answer{errno: errno}
	}
	if cstring(a[ctrlAttrFamilyName]) != "IPVS" {
		return answer{errno: syscall.ENOENT}
	}
	var m skb
	m.str(ctrlAttrFamilyName, "IPVS")
	m.u16(ctrlAttrFamilyID, FamilyID)
	m.u32(ctrlAttrVersion, 1) // IPVS_GENL_VERSION
	m.u32(ctrlAttrHdrSize, 0)
	m.u32(ctrlAttrMaxAttr, aTimeoutUDP) // IPVS_CMD_ATTR_MAX
	reply := m.message(ctrlCmdNewFamily)
	reply.Header.Version = 2
	return answer{replies: []genetlink.Message{reply}}
}

// dumpBytes is about the size of the skb a dump fills before it waits for
// the reader (netlink_dump), so long dumps take several datagrams.
const dumpBytes = 16 << 10

// multipart frames a dump: NLM_F_MULTI on every message, datagrams of
// about dumpBytes, NLMSG_DONE at the end.
func multipart(req netlink.Message, msgs []genetlink.Message) [][]netlink.Message {
	var out [][]netlink.Message
	var cur []netlink.Message
	size := 0
	for _, m := range msgs {
		nm := reply(req, m, netlink.Multi)
		if size+int(nm.Header.Length) > dumpBytes && len(cur) > 0 {
			out, cur, size = append(out, cur), nil, 0
		}
		cur = append(cur, nm)
		size += int(nm.Header.Length)
	}
	done := netlink.Message{
		Header: netlink.Header{Type: netlink.Done, Flags: netlink.Multi, Sequence: req.Header.Sequence, PID: req.Header.PID},
		Data:   make([]byte, 4), // dump_done_errno: 0
	}
	done.Header.Length = uint32(16 + len(done.Data))
	return append(out, append(cur, done))
}

func reply(req netlink.Message, m genetlink.Message, flags netlink.HeaderFlags) netlink.Message {
	b, _ := m.MarshalBinary()
	typ := netlink.HeaderType(FamilyID)
	if req.Header.Type == genlIDCtrl {
		typ = genlIDCtrl
	}
	return netlink.Message{
		Header: netlink.Header{Length: uint32(16 + len(b)), Type: typ, Flags: flags,
			Sequence: req.Header.Sequence, PID: req.Header.PID},
		Data: b,
	}
}

// ack is netlink_ack: an NLMSG_ERROR carrying the errno (0 acknowledges)
// and the request's header, and for an error its payload too.
func ack(req netlink.Message, errno syscall.Errno) netlink.Message {
	h := req.Header
	b := binary.NativeEndian.AppendUint32(nil, uint32(-int32(errno)))
	b = binary.NativeEndian.AppendUint32(b, uint32(16+len(req.Data)))
	b = binary.NativeEndian.AppendUint16(b, uint16(h.Type))
	b = binary.NativeEndian.AppendUint16(b, uint16(h.Flags))
	b = binary.NativeEndian.AppendUint32(b, h.Sequence)
	b = binary.NativeEndian.AppendUint32(b, h.PID)
	flags := netlink.Capped
	if errno != 0 {
		b, flags = append(b, req.Data...), 0
	}
	return netlink.Message{
		Header: netlink.Header{Length: uint32(16 + len(b)), Type: netlink.Error, Flags: flags,
			Sequence: h.Sequence, PID: h.PID},
		Data: b,
	}
}

// Socket buffer sizes, as on a stock kernel.
const (
	rmemDefault = 212992 // net.core.rmem_default, and rmem_max
	wmemDefault = 212992 // net.core.wmem_default, and wmem_max
	sockMinBuf  = 4608   // SOCK_MIN_RCVBUF, SOCK_MIN_SNDBUF
)

// nlmsgMinType is NLMSG_MIN_TYPE: types below are control messages.
const nlmsgMinType = 0x10

// The generic netlink controller, as <linux/genetlink.h> numbers it: the
// fake answers Linux's protocol whatever the host's OS.
const (
	genlIDCtrl         = nlmsgMinType // GENL_ID_CTRL
	genlNameSize       = 16           // GENL_NAMSIZ
	ctrlCmdNewFamily   = 1            // CTRL_CMD_NEWFAMILY
	ctrlCmdGetFamily   = 3            // CTRL_CMD_GETFAMILY
	ctrlAttrFamilyID   = 1            // CTRL_ATTR_FAMILY_ID
	ctrlAttrFamilyName = 2            // CTRL_ATTR_FAMILY_NAME
	ctrlAttrVersion    = 3            // CTRL_ATTR_VERSION
	ctrlAttrHdrSize    = 4            // CTRL_ATTR_HDRSIZE
	ctrlAttrMaxAttr    = 5            // CTRL_ATTR_MAXATTR
)

// truesize is what an answer of n bytes costs the receive buffer: its
// skb's data and skb_shared_info (320 bytes), rounded up to a kmalloc
// size, plus the sk_buff (256).
func truesize(n int) int {
	return 1<<bits.Len(uint((n+63)&^63+320-1)) + 256
}

// socket is a netlink socket on the fake: a datagram is handled when sent,
// answers queue as datagrams, and Receive takes one datagram at a time.
type socket struct {
	k   *Kernel
	pid uint32

	mu        sync.Mutex
	queue     []datagram
	rmem      int   // the truesize of the queued answers (sk_rmem_alloc)
	rcvbuf    int   // sk_rcvbuf
	sndbuf    int   // sk_sndbuf
	congested bool  // answers are dropped until the queue is read empty
	err       error // for the next read (sk_err)
	deadline  time.Time
	wake      chan struct{} // closed when the deadline or the queue changes, or on Close
	closed    bool
}

type datagram struct {
	msgs  []netlink.Message
	ready time.Time
	size  int // charged to rmem
}

var errClosed = fmt.Errorf("ipvstest: %w", net.ErrClosed)

func (s *socket) Send(m netlink.Message) error { return s.SendMessages([]netlink.Message{m}) }

// SendMessages is sendmsg of one datagram: netlink_sendmsg refuses one
// bigger than the send buffer, and netlink_rcv_skb handles its messages in
// order, each answered on its own.
func (s *socket) SendMessages(ms []netlink.Message) error {
	s.mu.Lock()
	closed, deadline, sndbuf := s.closed, s.deadline, s.sndbuf
	s.mu.Unlock()
	if closed {
		return errClosed
	}
	n := 0
	for _, m := range ms {
		n += int(m.Header.Length+3) &^ 3
	}
	if n > sndbuf-32 {
		return os.NewSyscallError("sendmsg", syscall.EMSGSIZE)
	}

	for _, m := range ms {
		dgs, dump := s.k.handle(m, deadline)
		s.k.mu.Lock()
		ready := time.Now().Add(s.k.delay)
		s.k.mu.Unlock()
		for _, d := range dgs {
			s.attach(d, ready, dump)
		}
	}
	return nil
}

// attach queues an answer as netlink_unicast does from the kernel: one
// that does not fit the receive buffer is dropped, and so is every answer
// after it until a read empties the queue; the next read fails with
// ENOBUFS (netlink_attachskb, netlink_overrun). Dumps do not count: the
// kernel makes a dump's next part only when the reader has made room
// (netlink_dump), so they never overflow.
func (s *socket) attach(msgs []netlink.Message, ready time.Time, dump bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	size := 0
	if !dump {
		n := 0
		for _, m := range msgs {
			n += int(m.Header.Length)
		}
		size = truesize(n)
		if s.congested || s.rmem > 0 && s.rmem+size > s.rcvbuf {
			if !s.congested {
				s.congested = true
				s.err = os.NewSyscallError("recvmsg", syscall.ENOBUFS)
			}
			return
		}
	}
	s.rmem += size
	s.queue = append(s.queue, datagram{msgs: msgs, ready: ready, size: size})
	s.wakeLocked()
}

func (s *socket) Receive() ([]netlink.Message, error) { return s.receive() }

func (s *socket) ReceiveIter() iter.Seq2[netlink.Message, error] {
	return func(yield func(netlink.Message, error) bool) {
		msgs, err := s.receive()
		if err != nil {
			yield(netlink.Message{}, err)
			return
		}
		for _, m := range msgs {
			if !yield(m, nil) {
				return
			}
		}
	}
}

// receive waits for the next datagram, the deadline or Close. Like a
// kernel, it waits forever for an answer that will not come.
func (s *socket) receive() ([]netlink.Message, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, errClosed
		}
		now := time.Now()
		wait := time.Duration(-1)
		switch {
		case s.err != nil:
			// sock_error comes before the queue.
			err := s.err
			s.err = nil
			s.mu.Unlock()
			return nil, err
		case len(s.queue) > 0 && !s.queue[0].ready.After(now):
			d := s.queue[0]
			s.queue = s.queue[1:]
			s.rmem -= d.size
			if len(s.queue) == 0 {
				s.congested = false // netlink_rcv_wake
			}
			s.mu.Unlock()
			return d.msgs, nil
		case len(s.queue) > 0:
			wait = s.queue[0].ready.Sub(now)
		}
		if !s.deadline.IsZero() {
			left := s.deadline.Sub(now)
			if left <= 0 {
				s.mu.Unlock()
				return nil, os.ErrDeadlineExceeded
			}
			if wait < 0 || left < wait {
				wait = left
			}
		}
		wake := s.wake
		s.mu.Unlock()

		if wait < 0 {
			<-wake
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (s *socket) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.wake)
	}
	return nil
}

func (s *socket) SetDeadline(t time.Time) error     { return s.setDeadline(t) }
func (s *socket) SetReadDeadline(t time.Time) error { return s.setDeadline(t) }

// SetWriteDeadline does nothing: sending never blocks.
func (s *socket) SetWriteDeadline(time.Time) error { return nil }

func (s *socket) setDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	s.deadline = t
	s.wakeLocked()
	return nil
}

func (s *socket) wakeLocked() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// SetReadBuffer is SO_RCVBUF: capped at net.core.rmem_max, then doubled
// for the kernel's overhead.
func (s *socket) SetReadBuffer(n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcvbuf = max(min(n, rmemDefault)*2, sockMinBuf)
	return nil
}

// SetWriteBuffer is SO_SNDBUF, as SetReadBuffer.
func (s *socket) SetWriteBuffer(n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sndbuf = max(min(n, wmemDefault)*2, sockMinBuf)
	return nil
}

func (s *socket) ReadBuffer() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcvbuf, nil
}

func (s *socket) WriteBuffer() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sndbuf, nil
}
