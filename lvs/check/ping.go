package check

import (
	"crypto/rand"
	"errors"
	mrand "math/rand/v2"
	"net"
	"os"
	"syscall"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Protocol numbers of ICMP and ICMPv6, for icmp.ParseMessage.
const (
	protoICMP   = 1
	protoICMPv6 = 58
)

// pingPayload is the length of the token an echo carries, by which its
// reply is told from others'.
const pingPayload = 16

// runPing is keepalived's PING_CHECK: one ICMP echo (ICMPv6 for an IPv6
// server), up when its reply comes within the timeout. It uses an
// unprivileged ICMP socket when net.ipv4.ping_group_range allows one, else
// a raw socket (root or CAP_NET_RAW).
func (p *Probe) runPing(a *attempt, t Target) Result {
	conn, raw, err := listenICMP(t.Addr.Is4() || t.Addr.Is4In6(), p.icmpRaw)
	if err != nil {
		return down("ping: cannot open an ICMP socket: " + err.Error())
	}
	defer conn.Close()
	stop := bindDeadline(a.ctx, conn)
	defer stop()

	addr := t.Addr.Unmap()
	var dst net.Addr = &net.UDPAddr{IP: addr.AsSlice(), Zone: addr.Zone()}
	if raw {
		dst = &net.IPAddr{IP: addr.AsSlice(), Zone: addr.Zone()}
	}
	token := make([]byte, pingPayload)
	rand.Read(token)
	// An unprivileged socket's id is its port, set by the kernel, which
	// also gives it only its own replies; a raw socket sees every ICMP
	// message of the host, told apart by id, sequence and token.
	echo := &icmp.Echo{ID: int(mrand.Uint32() & 0xffff), Seq: int(mrand.Uint32() & 0xffff), Data: token}
	var typ, reply icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := protoICMP
	if addr.Is6() {
		typ, reply, proto = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, protoICMPv6
	}
	msg, err := (&icmp.Message{Type: typ, Body: echo}).Marshal(nil) // the kernel sums ICMPv6
	if err != nil {
		return down("ping: " + err.Error())
	}
	if _, err := conn.WriteTo(msg, dst); err != nil {
		return down(a.reason("ping: send", err))
	}
	buf := make([]byte, maxReply)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if a.parent.Err() == nil && (a.ctx.Err() != nil || isTimeout(err)) {
				return down("no echo reply within " + a.timeout.String())
			}
			return down(a.reason("ping: read", err))
		}
		if !sameIP(from, addr.AsSlice()) {
			continue
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || m.Type != reply {
			continue
		}
		e, ok := m.Body.(*icmp.Echo)
		if !ok || e.Seq != echo.Seq || string(e.Data) != string(token) || raw && e.ID != echo.ID {
			continue
		}
		return up("echo reply")
	}
}

// listenICMP opens an ICMP socket of the family: an unprivileged one
// (raw false) when allowed, else a raw one.
func listenICMP(v4, onlyRaw bool) (c *icmp.PacketConn, raw bool, err error) {
	dgram, rawNet, any := "udp6", "ip6:ipv6-icmp", "::"
	if v4 {
		dgram, rawNet, any = "udp4", "ip4:icmp", "0.0.0.0"
	}
	if !onlyRaw {
		c, err = icmp.ListenPacket(dgram, any)
		if err == nil {
			return c, false, nil
		}
	}
	if err != nil && !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EPROTONOSUPPORT) {
		return nil, false, err
	}
	c, err2 := icmp.ListenPacket(rawNet, any)
	if err2 != nil {
		if errors.Is(err2, os.ErrPermission) || errors.Is(err2, syscall.EPERM) {
			return nil, false, errors.New("not allowed by net.ipv4.ping_group_range, and a raw socket needs root (CAP_NET_RAW)")
		}
		return nil, false, err2
	}
	return c, true, nil
}

func sameIP(a net.Addr, ip net.IP) bool {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.IP.Equal(ip)
	case *net.IPAddr:
		return a.IP.Equal(ip)
	}
	return false
}
