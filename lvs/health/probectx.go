package health

import (
	"context"
	"sync"
	"time"
)

// probeCtx is the context of one probe. It carries the probe's deadline
// like context.WithDeadline, but has no timer of its own and does not
// register with its parent: the scheduler already keeps the probes in flight
// in a heap by deadline and cancels it there, and cancels it when Run ends
// or the checker is removed. At 10,000 checks a second this saves a runtime
// timer (and often a wake-up of the network poller) and a lock of the
// shared parent per check.
//
// It implements the AfterFunc method that context.AfterFunc and derived
// contexts use, so that neither starts a goroutine to watch it (the net
// package calls context.AfterFunc on every dial).
type probeCtx struct {
	parent   context.Context // values; its end is propagated by the scheduler
	deadline time.Time

	mu sync.Mutex
	// done is made by the first call of Done: a probe that never asks
	// (the syn check, which the scheduler's deadline ends) costs no
	// channel.
	done   chan struct{}
	err    error
	afters []*afterFunc
}

type afterFunc struct{ f func() }

func newProbeCtx(parent context.Context, deadline time.Time) *probeCtx {
	return &probeCtx{parent: parent, deadline: deadline}
}

func (c *probeCtx) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *probeCtx) Value(key any) any           { return c.parent.Value(key) }

func (c *probeCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err != nil {
			close(c.done) // ended before anyone asked
		}
	}
	return c.done
}

func (c *probeCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// cancel ends the context with err (the first call wins) and starts the
// functions registered with AfterFunc, each in its own goroutine.
func (c *probeCtx) cancel(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	if c.done != nil {
		close(c.done)
	}
	afters := c.afters
	c.afters = nil
	c.mu.Unlock()
	for _, a := range afters {
		go a.f()
	}
}

// AfterFunc runs f in its own goroutine once the context is done; stop
// unregisters f and reports whether it did so before f was started.
func (c *probeCtx) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	a := &afterFunc{f: f}
	c.afters = append(c.afters, a)
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, x := range c.afters {
			if x == a {
				c.afters = append(c.afters[:i], c.afters[i+1:]...)
				return true
			}
		}
		return false
	}
}

// String is for debugging, as the context package's own contexts have.
func (c *probeCtx) String() string {
	return "health.probeContext.WithDeadline(" + c.deadline.String() + ")"
}
