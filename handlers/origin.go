package handlers

// Where a request comes from: the client's address (for the throttle and
// the log) and whether it came over HTTPS (for Secure cookies and HSTS).
// Both are the connection's own, unless the connection comes from a
// trusted proxy (Options.TrustedProxies): then X-Forwarded-For and
// X-Forwarded-Proto say. Anyone else's such headers are ignored: anyone
// can send them.

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
)

type originKey struct{}

// origin is where a request comes from.
type origin struct {
	client netip.Addr
	secure bool // over HTTPS, to the console or to a trusted proxy
}

// origins works out each request's origin before anything else looks at
// it.
func (c *Console) origins(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), originKey{}, c.originOf(r))))
	})
}

func (c *Console) originOf(r *http.Request) origin {
	peer := peerAddr(r)
	o := origin{client: peer, secure: c.secure || r.TLS != nil}
	if !c.trusted(peer) {
		return o
	}
	o.client = forwardedFor(peer, r.Header.Values("X-Forwarded-For"), c.trusted)
	if strings.EqualFold(lastValue(r.Header.Values("X-Forwarded-Proto")), "https") {
		o.secure = true
	}
	return o
}

func (c *Console) trusted(a netip.Addr) bool {
	for _, p := range c.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr is the address of the connection's other end.
func peerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.IPv6Unspecified()
	}
	return ap.Addr().Unmap().WithZone("")
}

// forwardedFor is the client of a request that peer, a trusted proxy,
// passed on: each proxy appends to X-Forwarded-For the address it got the
// request from, so the client is the right-most address that is not a
// trusted proxy. An entry that is not an address ends the walk at the
// last trusted hop: what lies left of it is anyone's writing.
func forwardedFor(peer netip.Addr, headers []string, trusted func(netip.Addr) bool) netip.Addr {
	var hops []string
	for _, h := range headers {
		hops = append(hops, strings.Split(h, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0 && trusted(client); i-- {
		a, ok := parseHop(strings.TrimSpace(hops[i]))
		if !ok {
			break
		}
		client = a
	}
	return client
}

// parseHop reads an address of X-Forwarded-For, which some proxies write
// with a port.
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

// lastValue is the right-most value of a comma-separated header: the one
// the nearest proxy wrote.
func lastValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	v := values[len(values)-1]
	return strings.TrimSpace(v[strings.LastIndexByte(v, ',')+1:])
}

// clientAddr is the address of the client of r: the peer, or the client
// behind a trusted proxy.
func clientAddr(r *http.Request) netip.Addr {
	if o, ok := r.Context().Value(originKey{}).(origin); ok {
		return o.client
	}
	return peerAddr(r)
}

// clientIP is clientAddr as text, for the log.
func clientIP(r *http.Request) string { return clientAddr(r).String() }

// secureRequest reports whether r came over HTTPS, to the console or to a
// trusted proxy: its cookies are then Secure, and answers carry HSTS.
func secureRequest(r *http.Request) bool {
	if o, ok := r.Context().Value(originKey{}).(origin); ok {
		return o.secure
	}
	return r.TLS != nil
}
