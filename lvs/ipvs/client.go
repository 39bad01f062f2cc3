package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
)

// Client talks to IPVS in one network namespace. It is safe for concurrent
// use; requests are serialised, one at a time on one socket.
type Client struct {
	conn     *genetlink.Conn
	nl       *netlink.Conn // conn's socket, for batches; nil if New was given conn alone
	family   genetlink.Family
	requests atomic.Uint64 // datagrams sent
	messages atomic.Uint64 // netlink messages sent
	closed   atomic.Bool

	// What one datagram of a batch may hold (see Apply), set by NewNetlink.
	batchBytes int // bytes of messages
	ackBudget  int // receive buffer their answers may fill

	mu        sync.Mutex
	deadlines bool // the socket takes deadlines (test doubles may not)
	stale     bool // a call was cut short: replies may be left in the socket

	procMu  sync.Mutex
	proc    func(buf []byte) ([]byte, error) // reads /proc/net/ip_vs (SetProc); nil: none
	procBuf []byte
	procF   *os.File // the file proc reads, closed with the client
}

// Options configure Dial.
type Options struct {
	// NetNS is an open file descriptor of a network namespace
	// (/proc/PID/ns/net, /run/netns/NAME). IPVS tables are per namespace.
	// 0 means the caller's namespace.
	NetNS int
}

// New makes a Client of an open generic netlink connection (genltest's in
// tests) and looks up the IPVS family on it. The Client owns conn from
// then on, but if New fails, closing conn is up to the caller. Its Apply
// sends one request per change: batches need NewNetlink.
func New(conn *genetlink.Conn) (*Client, error) {
	c := &Client{conn: conn}
	c.requests.Add(1)
	c.messages.Add(1)
	f, err := conn.GetFamily(familyName)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) {
			err = fmt.Errorf("%w: %w", ErrNoIPVS, err)
		}
		return nil, &Error{Op: opFamily, Err: err}
	}
	c.family = f
	// Clearing the deadline is harmless and tells whether the socket
	// supports them.
	c.deadlines = conn.SetDeadline(time.Time{}) == nil
	return c, nil
}

// NewNetlink is New on the netlink socket itself (ipvstest's NetlinkConn
// in tests), which lets Apply send many changes per datagram.
func NewNetlink(nc *netlink.Conn) (*Client, error) {
	// The answers to a batch queue up before the client can read them
	// (see ackCost): the bigger the receive buffer, the bigger the
	// batches. The kernel caps what is asked at net.core.rmem_max and
	// doubles it.
	if n, err := nc.ReadBuffer(); err == nil && n < 2*readBuffer {
		_ = nc.SetReadBuffer(readBuffer)
	}
	c, err := New(genetlink.NewConn(nc))
	if err != nil {
		return nil, err
	}
	c.nl = nc
	c.ackBudget = defaultReadBuffer
	if n, err := nc.ReadBuffer(); err == nil {
		c.ackBudget = n
	}
	c.batchBytes = batchBytes
	if n, err := nc.WriteBuffer(); err == nil && n/2 < batchBytes {
		c.batchBytes = n / 2 // sendmsg refuses more than the buffer with EMSGSIZE
	}
	return c, nil
}

// Close closes the socket, which also ends a call waiting for a reply.
// Calls after Close fail.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.procMu.Lock()
	if c.procF != nil {
		c.procF.Close()
		c.procF, c.proc = nil, nil
	}
	c.procMu.Unlock()
	return c.conn.Close()
}

// Requests returns the number of datagrams sent so far (sendmsg calls),
// the family lookup included. Every call but a failed validation sends
// exactly one; Apply sends one per batch of changes.
func (c *Client) Requests() uint64 { return c.requests.Load() }

// Messages returns the number of netlink messages sent so far: one per
// request, one per change of an Apply however they were batched.
func (c *Client) Messages() uint64 { return c.messages.Load() }

// request is one IPVS command.
type request struct {
	op      string
	cmd     uint8
	dump    bool // a GET answered by a multipart dump
	get     bool // a GET answered by one message
	service *ServiceKey
	dest    *DestKey
	encode  func(ae *attrBuf) error
}

// fail wraps err as the *Error of r.
func (r *request) fail(err error) error {
	return &Error{Op: r.op, Service: r.service, Dest: r.dest, Err: explain(r.op, err)}
}

// do sends r and returns the replies, the acknowledgement of a command
// that changes state excepted.
func (c *Client) do(ctx context.Context, r request) ([]genetlink.Message, error) {
	m, err := c.message(&r)
	if err != nil {
		return nil, r.fail(err)
	}

	// Commands that change state are answered with nothing at all unless
	// an acknowledgement is asked for. GETs must not ask: the kernel would
	// send the acknowledgement after the answer, and it would be taken for
	// the answer to the next request.
	flags := netlink.Request
	switch {
	case r.dump:
		flags |= netlink.Dump
	case !r.get:
		flags |= netlink.Acknowledge
	}

	msgs, err := c.execute(ctx, m, flags)
	if err != nil {
		return nil, r.fail(err)
	}
	if r.get && len(msgs) != 1 {
		return nil, r.fail(fmt.Errorf("%d replies, want 1", len(msgs)))
	}
	if !r.dump && !r.get {
		return nil, nil
	}
	return msgs, nil
}

// message encodes r.
func (c *Client) message(r *request) (genetlink.Message, error) {
	var data []byte
	if r.encode != nil {
		ae := attrBuf{b: make([]byte, 0, 128)}
		if err := r.encode(&ae); err != nil {
			return genetlink.Message{}, err
		}
		data = ae.b
	}
	return genetlink.Message{
		Header: genetlink.Header{Command: r.cmd, Version: c.family.Version},
		Data:   data,
	}, nil
}

// execute runs one request under the client's lock, bounded by ctx.
func (c *Client) execute(ctx context.Context, m genetlink.Message, flags netlink.HeaderFlags) ([]genetlink.Message, error) {
	var msgs []genetlink.Message
	err := c.locked(ctx, func() error {
		c.requests.Add(1)
		c.messages.Add(1)
		var err error
		msgs, err = c.conn.Execute(m, c.family.ID, flags)
		return err
	})
	return msgs, err
}

// locked runs exchange, a send and the reads of its answers, under the
// client's lock with the socket bounded by ctx. An error that is not the
// kernel's errno leaves the socket stale; a timeout is told as ctx's.
func (c *Client) locked(ctx context.Context, exchange func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return net.ErrClosed
	}
	if err := ctx.Err(); err != nil { // while waiting for the lock
		return err
	}

	if c.deadlines {
		if c.stale {
			c.drain()
		}
		deadline, _ := ctx.Deadline()
		if err := c.conn.SetDeadline(deadline); err != nil {
			return err
		}
		// Cancellation without a deadline: wake the socket by moving
		// its deadline to the past, and wait for that to be done before
		// the next call sets its own.
		if ctx.Done() != nil {
			fired := make(chan struct{})
			stop := context.AfterFunc(ctx, func() {
				_ = c.conn.SetDeadline(time.Unix(1, 0))
				close(fired)
			})
			defer func() {
				if !stop() {
					<-fired
				}
			}()
		}
	}

	err := exchange()
	if err != nil {
		var errno syscall.Errno
		if !errors.As(err, &errno) {
			// Not the kernel's answer: a timeout, or a reply that did
			// not match. Whatever is left would be read as the answer
			// to the next request.
			c.stale = true
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if err := ctx.Err(); err != nil {
				return err
			}
			// The socket's timer can beat the context's own.
			if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
				return context.DeadlineExceeded
			}
		}
		return err
	}
	return nil
}

// drainWait bounds the wait for leftovers. The kernel answers inside
// sendmsg, so what an interrupted call left is already queued.
const drainWait = 50 * time.Millisecond

// drain discards replies left in the socket by a call that was cut short.
func (c *Client) drain() {
	for range 1024 {
		if err := c.conn.SetReadDeadline(time.Now().Add(drainWait)); err != nil {
			break
		}
		if _, _, err := c.conn.Receive(); errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
	}
	c.stale = false
}
