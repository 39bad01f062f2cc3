package ipvs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// ProcService is a service as /proc/net/ip_vs lists it. The file holds the
// whole table in one read, where netlink needs one dump per service, but
// it leaves out thresholds, tunnel parameters, persistence engines and
// counters; a firewall-mark service's family is not listed (Family 0).
type ProcService struct {
	ServiceKey
	Scheduler string
	Flags     Flags // FlagPersistent and FlagOnePacket only
	Dests     []ProcDest
}

// ProcDest is a destination as /proc/net/ip_vs lists it, in the kernel's
// order.
type ProcDest struct {
	Addr          netip.Addr
	Port          uint16
	Forward       Forward
	Weight        int32
	ActiveConns   uint32
	InactiveConns uint32
}

// Key returns the destination's key.
func (d *ProcDest) Key() DestKey { return DestKey{d.Addr, d.Port} }

// ErrNoProc is what ProcServices returns when the client cannot read
// /proc/net/ip_vs (off Linux, a test double without one).
var ErrNoProc = errors.New("ipvs: /proc/net/ip_vs cannot be read")

// SetProc makes ProcServices read the table through read, which returns
// the text of /proc/net/ip_vs (appended to buf, which it may reuse): for
// test doubles (ipvstest.Kernel.ProcNetIPVS). Dial sets the real one.
func (c *Client) SetProc(read func(buf []byte) ([]byte, error)) {
	c.procMu.Lock()
	c.proc = read
	c.procMu.Unlock()
}

// ProcServices reads /proc/net/ip_vs of the client's namespace: every
// service with its destinations, in one read (ErrNoProc without one).
func (c *Client) ProcServices(ctx context.Context) ([]ProcService, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.procMu.Lock()
	defer c.procMu.Unlock()
	if c.proc == nil {
		return nil, ErrNoProc
	}
	buf, err := c.proc(c.procBuf[:0])
	if err != nil {
		return nil, &Error{Op: "read /proc/net/ip_vs", Err: err}
	}
	c.procBuf = buf // some 6 MB at 10,000 x 10: kept for the next read
	return ParseProc(buf)
}

// ParseProc parses the text of /proc/net/ip_vs (ip_vs_info_seq_show in the
// kernel's ip_vs_ctl.c). An error names the line.
func ParseProc(b []byte) ([]ProcService, error) {
	// Count first: the destinations of every service in one allocation.
	nd := bytes.Count(b, []byte("\n  -> "))
	dests := make([]ProcDest, 0, nd)
	var out []ProcService
	var f [12][]byte
	line := 0
	for len(b) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			l, b = b[:i], b[i+1:]
		} else {
			l, b = b, nil
		}
		n := fields(l, f[:])
		switch {
		case n == 0:
			continue
		case line <= 3 && (bytes.HasPrefix(l, []byte("IP Virtual Server")) || bytes.HasPrefix(l, []byte("Prot ")) ||
			bytes.HasPrefix(l, []byte("  -> RemoteAddress"))):
			continue // the header
		case string(f[0]) == "->":
			if len(out) == 0 {
				return nil, fmt.Errorf("/proc/net/ip_vs line %d: a destination before any service", line)
			}
			d, err := procDest(f[:n])
			if err != nil {
				return nil, fmt.Errorf("/proc/net/ip_vs line %d: %w", line, err)
			}
			s := &out[len(out)-1]
			if len(s.Dests) == 0 {
				s.Dests = dests[len(dests):]
			}
			dests = append(dests, d)
			s.Dests = s.Dests[:len(s.Dests)+1]
		default:
			s, err := procService(f[:n])
			if err != nil {
				return nil, fmt.Errorf("/proc/net/ip_vs line %d: %w", line, err)
			}
			out = append(out, s)
		}
	}
	for i := range out {
		// No room to grow into the next service's.
		out[i].Dests = slices.Clip(out[i].Dests)
	}
	return out, nil
}

// procService parses a service line: "TCP  0A000001:0050 wlc ops
// persistent 300 FFFFFFFF", "TCP  [2001:0db8:...]:0050 rr", "FWM
// 00000003 sh".
func procService(f [][]byte) (ProcService, error) {
	var s ProcService
	if len(f) < 3 {
		return s, fmt.Errorf("%q is not a service", bytes.Join(f, []byte(" ")))
	}
	switch string(f[0]) {
	case "FWM":
		m, ok := hex32(f[1])
		if !ok || m == 0 {
			return s, fmt.Errorf("%q is not a firewall mark", f[1])
		}
		s.FWMark = m
	case "TCP", "UDP", "SCTP":
		s.Protocol = map[string]Protocol{"TCP": TCP, "UDP": UDP, "SCTP": SCTP}[string(f[0])]
		a, p, err := procAddrPort(f[1])
		if err != nil {
			return s, err
		}
		s.Addr, s.Port, s.Family = a, p, FamilyIPv4
		if a.Is6() {
			s.Family = FamilyIPv6
		}
	default:
		return s, fmt.Errorf("%q is not a protocol this program knows", f[0])
	}
	s.Scheduler = string(f[2])
	for i := 3; i < len(f); i++ {
		switch string(f[i]) {
		case "ops":
			s.Flags |= FlagOnePacket
		case "persistent":
			s.Flags |= FlagPersistent
			i += 2 // the timeout (in jiffies) and the netmask: netlink's are exact
		}
	}
	return s, nil
}

// procDest parses a destination line: "-> 0A000002:0050 Masq 1 0 0".
func procDest(f [][]byte) (ProcDest, error) {
	var d ProcDest
	if len(f) < 6 {
		return d, fmt.Errorf("%q is not a destination", bytes.Join(f, []byte(" ")))
	}
	a, p, err := procAddrPort(f[1])
	if err != nil {
		return d, err
	}
	d.Addr, d.Port = a, p
	switch string(f[2]) {
	case "Masq":
		d.Forward = Masquerade
	case "Local":
		d.Forward = LocalNode
	case "Tunnel":
		d.Forward = Tunnel
	case "Route":
		d.Forward = DirectRoute
	default:
		return d, fmt.Errorf("%q is not a forwarding method", f[2])
	}
	w, ok := decInt32(f[3])
	ac, ok2 := dec32(f[4])
	ic, ok3 := dec32(f[5])
	if !ok || !ok2 || !ok3 {
		return d, fmt.Errorf("%q: the weight and connection counts are not numbers", bytes.Join(f, []byte(" ")))
	}
	d.Weight, d.ActiveConns, d.InactiveConns = w, ac, ic
	return d, nil
}

// procAddrPort parses "0A000001:0050" (the address and port in hex, the
// address in network order) or "[2001:0db8:0000:...:0001]:0050".
func procAddrPort(b []byte) (netip.Addr, uint16, error) {
	i := bytes.LastIndexByte(b, ':')
	if i < 0 {
		return netip.Addr{}, 0, fmt.Errorf("%q is not an address and port", b)
	}
	port, ok := hex32(b[i+1:])
	if !ok || port > 0xffff {
		return netip.Addr{}, 0, fmt.Errorf("%q: the port is not 4 hexadecimal digits", b)
	}
	h := b[:i]
	if len(h) > 2 && h[0] == '[' && h[len(h)-1] == ']' {
		a, err := netip.ParseAddr(string(h[1 : len(h)-1]))
		if err != nil || !a.Is6() {
			return netip.Addr{}, 0, fmt.Errorf("%q is not an IPv6 address", h)
		}
		return a, uint16(port), nil
	}
	v, ok := hex32(h)
	if !ok || len(h) != 8 {
		return netip.Addr{}, 0, fmt.Errorf("%q is not an IPv4 address in hexadecimal", h)
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), uint16(port), nil
}

// fields splits l at spaces into f, returning how many it found (at most
// len(f)), without allocating.
func fields(l []byte, f [][]byte) int {
	n := 0
	for len(l) > 0 && n < len(f) {
		for len(l) > 0 && (l[0] == ' ' || l[0] == '\t') {
			l = l[1:]
		}
		if len(l) == 0 {
			break
		}
		i := 0
		for i < len(l) && l[i] != ' ' && l[i] != '\t' {
			i++
		}
		f[n], l = l[:i], l[i:]
		n++
	}
	return n
}

func hex32(b []byte) (uint32, bool) {
	if len(b) == 0 || len(b) > 8 {
		return 0, false
	}
	var v uint32
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint32(c)
	}
	return v, true
}

func dec32(b []byte) (uint32, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return uint32(v), v <= 1<<32-1
}

func decInt32(b []byte) (int32, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	v, ok := dec32(b)
	if !ok || v > 1<<31 || !neg && v == 1<<31 {
		return 0, false
	}
	if neg {
		return -int32(v), true
	}
	return int32(v), true
}
