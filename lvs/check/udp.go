package check

import (
	"errors"
	"syscall"
)

// runUDP sends one datagram and waits for one reply. The socket is
// connected, so that an ICMP port unreachable comes back as an error.
func (p *Probe) runUDP(a *attempt, t Target) Result {
	conn, err := p.dialer.DialContext(a.ctx, "udp", t.String())
	if err != nil {
		return down(a.reason("connect", err))
	}
	defer conn.Close()
	stop := bindDeadline(a.ctx, conn)
	defer stop()

	if _, err := conn.Write(p.send); err != nil {
		return down(a.udpReason("send", err))
	}
	buf := make([]byte, maxReply)
	n, err := conn.Read(buf)
	if err != nil {
		return down(a.udpReason("read", err))
	}
	got := buf[:n]
	if p.expect.isSet() && !p.expect.match(got) {
		return down("expect mismatch: got " + quote(got))
	}
	return up("got " + quote(got))
}

func (a *attempt) udpReason(what string, err error) string {
	switch {
	case a.parent.Err() != nil:
		return cancelled(a.parent)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "port unreachable"
	case a.ctx.Err() != nil, isTimeout(err):
		return "no reply within " + a.timeout.String()
	}
	return a.reason(what, err)
}
