package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// connLimit is a listener that keeps at most max connections open, and at
// most perClient from one client address (an IPv6 client counts as its
// /64), so that a client holding connections open (bodies that never
// come, idle keep-alives) cannot take every one. A connection over either
// cap is closed at once: nothing waits in a queue. A trusted proxy's
// connections count toward the total only: it carries every client.
type connLimit struct {
	net.Listener
	max, perClient int
	proxies        []netip.Prefix
	log            *slog.Logger

	mu       sync.Mutex
	total    int
	byClient map[netip.Prefix]int // only clients with connections open
	refused  int                  // since the last warning
	warned   time.Time
}

func newConnLimit(ln net.Listener, max, perClient int, proxies []netip.Prefix, log *slog.Logger) *connLimit {
	return &connLimit{Listener: ln, max: max, perClient: perClient, proxies: proxies, log: log, byClient: map[netip.Prefix]int{}}
}

// clientOf is the key a connection from addr is counted under, and
// whether it is counted per client at all.
func (l *connLimit) clientOf(addr net.Addr) (netip.Prefix, bool) {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return netip.Prefix{}, false
	}
	a := ap.Addr().Unmap().WithZone("")
	for _, p := range l.proxies {
		if p.Contains(a) {
			return netip.Prefix{}, false
		}
	}
	if a.Is4() {
		return netip.PrefixFrom(a, 32), true
	}
	p, _ := a.Prefix(64)
	return p, true
}

// admit is the rule: a connection is let in while the total and its
// client's count are under their caps.
func admit(total, client, max, perClient int, counted bool) bool {
	return total < max && (!counted || client < perClient)
}

func (l *connLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, counted := l.clientOf(c.RemoteAddr())
		l.mu.Lock()
		ok := admit(l.total, l.byClient[key], l.max, l.perClient, counted)
		if ok {
			l.total++
			if counted {
				l.byClient[key]++
			}
		} else {
			l.refuse()
		}
		l.mu.Unlock()
		if !ok {
			c.Close()
			continue
		}
		return &limitedConn{Conn: c, release: func() { l.release(key, counted) }}, nil
	}
}

// refuse counts a refused connection and warns, once a minute at most.
// Called with l.mu held.
func (l *connLimit) refuse() {
	l.refused++
	if now := time.Now(); now.Sub(l.warned) >= time.Minute {
		l.log.Warn("connections over the cap closed at once", "refused", l.refused, "open", l.total,
			"max_conns", l.max, "max_conns_per_client", l.perClient)
		l.refused, l.warned = 0, now
	}
}

func (l *connLimit) release(key netip.Prefix, counted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if counted {
		if l.byClient[key]--; l.byClient[key] <= 0 {
			delete(l.byClient, key)
		}
	}
}

// limitedConn gives its slot back when closed, once: before the close,
// so that a client that saw the connection end finds the slot free.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// parsePrefixes reads a comma-separated list of CIDR prefixes or single
// addresses (a /32 or /128).
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or a CIDR prefix (e.g. 10.0.0.5 or 10.0.0.0/24)", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
