// Package drcheck checks that a real server of a direct-routing virtual
// server accepts traffic for the VIP: it sends, as the director forwards a
// client's packet, a TCP SYN whose destination is VIP:port inside an
// Ethernet frame addressed to the real server's MAC address, and waits for
// the answer. A SYN-ACK or a RST from the VIP means the real server has the
// VIP; silence means it drops the packet (the VIP is not on its lo, or a
// firewall).
//
// A SYN-ACK is answered with a RST, so that no half-open connection stays
// on the real server, whether or not this director's kernel (which may
// hold the VIP itself, and then drops the answer as a martian) resets it
// too; the source port is reserved by a bound socket, so that no
// connection of this host ever sees the answer.
//
// It needs Linux and CAP_NET_RAW (packet sockets, rtnetlink); elsewhere
// every check fails, saying so. Checks run in the process's network
// namespace.
package drcheck

import (
	"context"
	"sync"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/direct"
)

// Defaults of Options.
const (
	DefaultTimeout    = time.Second
	DefaultConcurrent = 8
	DefaultTTL        = 10 * time.Second
	// maxCached bounds the cache; it is cleared when full (a check costs
	// one SYN).
	maxCached = 4096
)

// Options bound the checks.
type Options struct {
	Timeout    time.Duration // the wait for the MAC address, then for the answer
	Concurrent int           // checks at once; more wait their turn
	TTL        time.Duration // how long a result answers a new check
}

// Checker runs checks, a bounded number at once, and keeps their results.
type Checker struct {
	timeout time.Duration
	ttl     time.Duration
	slots   chan struct{}
	run     func(ctx context.Context, t direct.Target, timeout time.Duration) direct.Result

	mu     sync.Mutex
	last   map[direct.Target]direct.Result
	flight map[direct.Target]*flight
}

// flight is a check under way; others asking for the same target wait for
// it rather than send a second SYN.
type flight struct {
	done chan struct{}
	r    direct.Result
}

// New returns a Checker.
func New(o Options) *Checker {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Concurrent <= 0 {
		o.Concurrent = DefaultConcurrent
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	return &Checker{
		timeout: o.Timeout, ttl: o.TTL, slots: make(chan struct{}, o.Concurrent), run: probe,
		last: map[direct.Target]direct.Result{}, flight: map[direct.Target]*flight{},
	}
}

// Check checks t, or returns its result of less than the TTL ago.
func (c *Checker) Check(ctx context.Context, t direct.Target) direct.Result {
	t.VIP, t.Real = t.VIP.Unmap(), t.Real.Unmap()
	c.mu.Lock()
	if r, ok := c.last[t]; ok && time.Since(r.At) < c.ttl {
		c.mu.Unlock()
		return r
	}
	f := c.flight[t]
	if f == nil {
		f = &flight{done: make(chan struct{})}
		c.flight[t] = f
		go c.fly(t, f)
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.r
	case <-ctx.Done():
		return direct.Result{Target: t, Outcome: direct.Failed, Detail: ctx.Err().Error(), At: time.Now()}
	}
}

// fly runs one check, detached from the caller's context so that the
// others waiting for it get its answer; it is bounded by the timeout.
func (c *Checker) fly(t direct.Target, f *flight) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*c.timeout+time.Second)
	defer cancel()
	select {
	case c.slots <- struct{}{}:
		f.r = c.run(ctx, t, c.timeout)
		<-c.slots
	case <-ctx.Done():
		f.r = direct.Result{Target: t, Outcome: direct.Failed, Detail: "too many checks at once", At: time.Now()}
	}
	c.mu.Lock()
	delete(c.flight, t)
	if len(c.last) >= maxCached {
		clear(c.last)
	}
	c.last[t] = f.r
	c.mu.Unlock()
	close(f.done)
}

// Last returns t's latest result, however old, without checking.
func (c *Checker) Last(t direct.Target) (direct.Result, bool) {
	t.VIP, t.Real = t.VIP.Unmap(), t.Real.Unmap()
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.last[t]
	return r, ok
}
