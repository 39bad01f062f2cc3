package check

import (
	"context"
	"errors"
	"io"
	"time"
)

// runStream runs the tcp (connect only) and send (send/expect) checks.
func (p *Probe) runStream(a *attempt, t Target) Result {
	conn, err := p.dialer.DialContext(a.ctx, "tcp", t.String())
	if err != nil {
		return down(a.reason("connect", err))
	}
	defer conn.Close()
	if len(p.send) == 0 && !p.expect.isSet() {
		return up("connected")
	}
	stop := bindDeadline(a.ctx, conn)
	defer stop()

	if len(p.send) > 0 {
		if _, err := conn.Write(p.send); err != nil {
			return down(a.reason("send", err))
		}
	}
	if !p.expect.isSet() {
		return up("connected and sent")
	}
	got, ok, err := p.expect.read(conn)
	return p.judgeReply(a, got, ok, err)
}

// judgeReply turns what readReply found into a Result.
func (p *Probe) judgeReply(a *attempt, got []byte, ok bool, err error) Result {
	switch {
	case ok:
		return up("got " + quote(got))
	case err == nil, errors.Is(err, io.EOF) && len(got) > 0:
		return down("expect mismatch: got " + quote(got))
	case errors.Is(err, io.EOF):
		return down("connection closed with no reply")
	case len(got) > 0 && a.parent.Err() == nil && (a.ctx.Err() != nil || isTimeout(err)):
		// The reply may have been on its way; show what came.
		return down(a.timedOut() + " waiting for the expected reply: got " + quote(got))
	}
	return down(a.reason("read", err))
}

// read reads a reply from r until it settles the match: for a prefix,
// len(prefix) bytes, a differing byte or EOF; for a regex, a match, EOF or
// maxReply bytes. ok reports a match; err is nil when the reply settled it
// (or filled the buffer without a match), else why reading stopped.
func (m *matcher) read(r io.Reader) (got []byte, ok bool, err error) {
	size := maxReply
	if m.re == nil {
		// Enough to settle the prefix, and some more to show a mismatch.
		size = max(len(m.prefix), 2*quoteLen)
	}
	buf := make([]byte, size)
	n := 0
	for {
		k, err := r.Read(buf[n:])
		n += k
		if done, ok := m.decided(buf[:n]); done {
			return buf[:n], ok, nil
		}
		if err != nil {
			return buf[:n], false, err
		}
		if n == len(buf) {
			return buf[:n], false, nil
		}
	}
}

// bindDeadline makes conn's I/O end at ctx's deadline, or at once when ctx
// is cancelled before that. The returned func releases the binding.
func bindDeadline(ctx context.Context, conn interface{ SetDeadline(time.Time) error }) (stop func() bool) {
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	return context.AfterFunc(ctx, func() {
		// A deadline in the past wakes blocked reads and writes now.
		conn.SetDeadline(time.Unix(1, 0))
	})
}
