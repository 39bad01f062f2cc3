package check

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// HalfOpen sends the SYNs of the "syn" check kind and receives the answers,
// for every syn probe of a process: two raw sockets (IPv4, IPv6) opened on
// first use, one reader each, one reserved source port, and a UDP socket
// that looks up the IPv4 source addresses the checksums cover. SYNs are
// queued and sent in batches (Flush, sendmmsg), answers read in batches
// (recvmmsg): 100,000 real servers every 10 s cost about a fifth of a core
// (BENCHMARKS.md).
//
// A half-open check costs a fraction of a full connect (no socket, no
// connection set up and torn down at either end) and never reaches the real
// server's application, so it does not fill its logs. The price: it needs
// CAP_NET_RAW, it proves only that the kernel of the real server listens on
// the port, and an ICMP unreachable shows up as a timeout. It needs Linux
// (syn_linux.go): elsewhere every syn check is DOWN, saying so.
type HalfOpen struct {
	// sendMu serialises Flush, which owns out and batch.
	sendMu sync.Mutex
	out    []pending
	batch  sendBatch

	mu      sync.Mutex
	queue   []pending // SYNs built and not yet sent, in order
	opened  bool
	openErr error
	hold    int    // the reserved port's TCP socket, bound and never listening
	udp     int    // a UDP socket that route connects to look up source addresses
	port    uint16 // source port of every SYN
	v4, v6  *net.IPConn
	waiting map[netip.AddrPort]*synWait
	routes  map[netip.Addr]route // IPv4 source address per destination, for the checksum
}

// synWait is the SYN in flight to one target; probes that want the same
// target while it is in flight share its answer (a second SYN on the same
// four-tuple would make the server reset the first).
type synWait struct {
	isn      uint32
	deadline time.Time
	timeout  time.Duration
	dones    []func(Result)
	one      [1]func(Result) // dones' first, without an allocation of its own
}

// end delivers r to everyone waiting on w; h.mu is not held.
func (w *synWait) end(r Result) {
	for _, done := range w.dones {
		done(r)
	}
}

// synLen is the length of a SYN segment: 20 bytes of header and the MSS
// option.
const synLen = 24

// maxBatch bounds the SYNs queued before they are sent without waiting for
// Flush: one sendmmsg of at most this many.
const maxBatch = 64

// pending is one SYN waiting in the queue for Flush.
type pending struct {
	dst netip.AddrPort
	w   *synWait
	seg [synLen]byte
}

type route struct {
	src     netip.Addr
	expires time.Time
}

// routeTTL bounds how long a looked-up source address is trusted. A SYN
// that times out also drops its destination's (its checksum may be wrong
// since the route changed), so a changed source costs at most one failed
// check per destination, as a TTL of one interval did, with a sixth of the
// lookups at 10 s intervals.
const routeTTL = time.Minute

// NewHalfOpen returns a HalfOpen; its sockets open on the first check.
func NewHalfOpen() *HalfOpen {
	return &HalfOpen{hold: -1, udp: -1, waiting: map[netip.AddrPort]*synWait{}, routes: map[netip.Addr]route{}}
}

// Close closes the sockets; checks after Close fail.
func (h *HalfOpen) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.opened {
		h.opened, h.openErr = true, errors.New("closed")
		return nil
	}
	h.openErr = errors.New("closed")
	return h.closeSockets()
}

// open opens the sockets once; h.mu is held.
func (h *HalfOpen) open() error {
	if h.opened {
		return h.openErr
	}
	h.opened = true
	h.openErr = h.openSockets()
	return h.openErr
}

// expireEvery is how often unanswered SYNs are timed out: one sweep for
// all of them instead of a timer per check (a timeout is late by at most
// this).
const expireEvery = 10 * time.Millisecond

// expire ends the waits whose deadline has passed, until h is closed.
func (h *HalfOpen) expire() {
	t := time.NewTicker(expireEvery)
	defer t.Stop()
	for now := range t.C {
		h.Flush() // SYNs queued by a caller that does not flush
		h.mu.Lock()
		if h.v4 == nil && h.v6 == nil {
			h.mu.Unlock()
			return
		}
		var late []*synWait
		for dst, w := range h.waiting {
			if now.After(w.deadline) {
				delete(h.waiting, dst)
				delete(h.routes, dst.Addr())
				late = append(late, w)
			}
		}
		h.mu.Unlock()
		for _, w := range late {
			w.end(down("timeout after " + w.timeout.String()))
		}
	}
}

// answer is one segment that may answer a SYN.
type answer struct {
	from  netip.AddrPort
	ack   uint32
	flags byte
}

// answer ends the waits that the segments of as answer (under one lock).
func (h *HalfOpen) answer(as []answer) {
	for len(as) > readBatch {
		h.answer(as[:readBatch])
		as = as[readBatch:]
	}
	var ended [readBatch]struct {
		w *synWait
		r Result
	}
	k := 0
	h.mu.Lock()
	for _, a := range as {
		var r Result
		switch {
		case a.flags&(tcpSYN|tcpACK) == tcpSYN|tcpACK:
			r = up("syn-ack")
		case a.flags&tcpRST != 0:
			r = down("connect refused")
		default:
			continue
		}
		w := h.waiting[a.from]
		if w == nil || a.ack != w.isn+1 {
			continue
		}
		delete(h.waiting, a.from)
		ended[k].w, ended[k].r = w, r
		k++
	}
	h.mu.Unlock()
	for _, e := range ended[:k] {
		e.w.end(e.r)
	}
}

// readBatch is how many segments one read of the answers takes at most
// (recvmmsg).
const readBatch = 32

// TCP flags.
const (
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
)

// check sends a SYN to t and waits for its answer, at most timeout.
func (h *HalfOpen) check(ctx context.Context, timeout time.Duration, t Target) Result {
	ch := make(chan Result, 1)
	h.start(timeout, t, func(r Result) { ch <- r })
	h.Flush()
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		return down(cancelled(ctx))
	}
}

// start queues a SYN to t and returns; Flush (or a full queue, or at the
// latest the next sweep of expire) sends it. done gets the answer, or a
// timeout after timeout (from the sweep of expire), exactly once. A check
// of a target that has a SYN in flight shares its answer.
func (h *HalfOpen) start(timeout time.Duration, t Target, done func(Result)) {
	dst := netip.AddrPortFrom(t.Addr.Unmap(), t.Port)
	h.mu.Lock()
	if err := h.open(); err != nil {
		h.mu.Unlock()
		done(down("syn check: " + err.Error()))
		return
	}
	if w := h.waiting[dst]; w != nil {
		w.dones = append(w.dones, done)
		h.mu.Unlock()
		return
	}
	w := &synWait{isn: rand.Uint32(), deadline: time.Now().Add(timeout), timeout: timeout}
	w.dones = w.one[:0:1]
	w.dones = append(w.dones, done)
	h.waiting[dst] = w
	h.queue = append(h.queue, pending{dst: dst, w: w})
	q := &h.queue[len(h.queue)-1]
	err := h.segment(&q.seg, dst, w.isn)
	if err != nil {
		h.queue = h.queue[:len(h.queue)-1]
	}
	full := len(h.queue) >= maxBatch
	h.mu.Unlock()
	if err != nil {
		h.fail(pending{dst: dst, w: w}, err)
		return
	}
	if full {
		h.Flush()
	}
}

// Flush sends the SYNs that checks started since the last Flush, in as few
// system calls as it can (one sendmmsg per address family on Linux). A
// monitor calls it after each round of checks it started
// (health.Options.Flush); without it they go at the latest with the next
// sweep of expire, 10 ms later.
func (h *HalfOpen) Flush() {
	h.sendMu.Lock()
	defer h.sendMu.Unlock()
	h.mu.Lock()
	if len(h.queue) == 0 {
		h.mu.Unlock()
		return
	}
	h.out, h.queue = h.queue, h.out[:0]
	v4, v6 := h.v4, h.v6
	h.mu.Unlock()
	out := h.out
	for len(out) > 0 {
		// A run of one family: the SYNs go in order.
		n := 1
		for n < len(out) && out[n].dst.Addr().Is4() == out[0].dst.Addr().Is4() {
			n++
		}
		conn := v4
		if out[0].dst.Addr().Is6() {
			conn = v6
		}
		run := out[:n]
		for len(run) > 0 {
			var (
				k   int
				err error
			)
			if conn == nil {
				err = errors.New("closed")
			} else if k, err = h.batch.send(conn, run); err == nil && k == 0 {
				err = errors.New("nothing sent")
			}
			if err != nil {
				// The first unsent one fails; the rest are tried again.
				h.fail(run[k], err)
				k++
			}
			run = run[k:]
		}
		out = out[n:]
	}
	clear(h.out) // let go of the waits
}

// fail ends p's wait with a send error, unless it ended already.
func (h *HalfOpen) fail(p pending, err error) {
	h.mu.Lock()
	mine := h.waiting[p.dst] == p.w
	if mine {
		delete(h.waiting, p.dst)
	}
	h.mu.Unlock()
	if mine {
		p.w.end(down("send syn: " + err.Error()))
	}
}

// segment writes a SYN from the reserved port to dst into seg; h.mu is held.
func (h *HalfOpen) segment(seg *[synLen]byte, dst netip.AddrPort, isn uint32) error {
	binary.BigEndian.PutUint16(seg[0:], h.port)
	binary.BigEndian.PutUint16(seg[2:], dst.Port())
	binary.BigEndian.PutUint32(seg[4:], isn)
	seg[12] = 6 << 4 // header length: 6 words, with the MSS option
	seg[13] = tcpSYN
	binary.BigEndian.PutUint16(seg[14:], 65535)
	// The MSS option makes it an ordinary SYN to firewalls that drop
	// option-less ones.
	seg[20], seg[21] = 2, 4
	binary.BigEndian.PutUint16(seg[22:], 1460)
	if dst.Addr().Is6() {
		if h.v6 == nil {
			return errors.New("no IPv6 raw socket")
		}
		return nil // the kernel computes the IPv6 checksum (IPV6_CHECKSUM)
	}
	src, err := h.source(dst.Addr())
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint16(seg[16:], checksum4(src, dst.Addr(), seg[:]))
	return nil
}

// maxRoutes bounds the cache of source addresses: twice the 100,000 real
// servers of issue 20, each on a host of its own, so that they do not
// empty it every round.
const maxRoutes = 200000

// source is the address the kernel sends from to dst, which the IPv4
// checksum covers; looked up by routing a UDP socket (route), cached a
// while; h.mu is held.
func (h *HalfOpen) source(dst netip.Addr) (netip.Addr, error) {
	now := time.Now()
	if r, ok := h.routes[dst]; ok && now.Before(r.expires) {
		return r.src, nil
	}
	src, err := h.route(dst)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("route to %v: %w", dst, err)
	}
	if len(h.routes) >= maxRoutes {
		clear(h.routes) // bound the cache; it refills at one lookup per target
	}
	h.routes[dst] = route{src: src, expires: now.Add(routeTTL)}
	return src, nil
}

// checksum4 is the TCP checksum of seg from src to dst (RFC 793's pseudo
// header), computed with seg's checksum field zero.
func checksum4(src, dst netip.Addr, seg []byte) uint16 {
	s, d := src.As4(), dst.As4()
	sum := uint32(s[0])<<8 | uint32(s[1])
	sum += uint32(s[2])<<8 | uint32(s[3])
	sum += uint32(d[0])<<8 | uint32(d[1])
	sum += uint32(d[2])<<8 | uint32(d[3])
	sum += syscall.IPPROTO_TCP + uint32(len(seg))
	for i := 0; i+1 < len(seg); i += 2 {
		sum += uint32(seg[i])<<8 | uint32(seg[i+1])
	}
	if len(seg)%2 == 1 {
		sum += uint32(seg[len(seg)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
