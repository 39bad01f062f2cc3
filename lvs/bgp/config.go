package bgp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Config is a speaker's settings: who it is, whom it talks to, and what it
// puts on the routes it announces.
type Config struct {
	// AS is the local autonomous system number (1 to 4294967294; 4-byte
	// numbers are sent as AS4).
	AS uint32
	// RouterID is the BGP identifier, an IPv4 address: by convention one
	// of the director's own.
	RouterID netip.Addr
	// ListenPort is the TCP port the speaker accepts sessions on: 0 for
	// none (it only connects out to its peers), or 179.
	ListenPort int
	// Peers are the routers the speaker announces to.
	Peers []Peer
	// Communities go on every route announced (and GracefulShutdown is
	// added to them while Shutdown drains).
	Communities []Community
	// NextHop is the next hop announced for IPv4 prefixes: the invalid
	// (zero) address means next-hop self, the local address of each
	// session. NextHop6 is the same for IPv6 prefixes.
	NextHop, NextHop6 netip.Addr
}

// Peer is one router the speaker has a session with. An IPv4 peer is sent
// the IPv4 prefixes and an IPv6 peer the IPv6 ones.
type Peer struct {
	Address netip.Addr
	AS      uint32
	// Password turns on TCP MD5 signatures (RFC 2385) on the session;
	// empty for none.
	Password string
	// HoldTime is the proposed hold time (whole seconds, 3 s to 65535 s;
	// 0 for BGP's usual 90 s); keepalives go every third of it. The
	// session uses the smaller of the two ends' proposals.
	HoldTime time.Duration
}

// DefaultHoldTime is the hold time of a Peer that sets none.
const DefaultHoldTime = 90 * time.Second

// Community is a BGP community (RFC 1997), AS:VALUE in 32 bits.
type Community uint32

// GracefulShutdown is RFC 8326's GRACEFUL_SHUTDOWN community, 65535:0:
// routers that honour it prefer any other path to a route that carries
// it, so that traffic leaves before the route is withdrawn.
const GracefulShutdown Community = 65535 << 16

func (c Community) String() string { return fmt.Sprintf("%d:%d", c>>16, c&0xffff) }

// ParseCommunity reads AS:VALUE, each part 0 to 65535.
func ParseCommunity(s string) (Community, error) {
	as, val, ok := strings.Cut(s, ":")
	a, errA := strconv.ParseUint(as, 10, 16)
	v, errV := strconv.ParseUint(val, 10, 16)
	if !ok || errA != nil || errV != nil {
		return 0, fmt.Errorf("community %q: want AS:VALUE, each 0 to 65535", s)
	}
	return Community(a<<16 | v), nil
}

// ConfigError lists every problem of a Config, each naming its field.
type ConfigError struct{ Problems []string }

func (e *ConfigError) Error() string {
	return "bgp: invalid configuration: " + strings.Join(e.Problems, "; ")
}

// Validate returns a *ConfigError naming every problem of c, or nil.
func (c Config) Validate() error {
	var p []string
	bad := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	if c.AS == 0 || c.AS == 23456 || c.AS == 4294967295 {
		bad("AS %d: want 1 to 4294967294, not 23456 (AS_TRANS)", c.AS)
	}
	if !c.RouterID.Is4() || c.RouterID.IsUnspecified() {
		bad("RouterID %v: want an IPv4 address other than 0.0.0.0", c.RouterID)
	}
	if c.ListenPort != 0 && c.ListenPort != 179 {
		bad("ListenPort %d: want 0 (no listener) or 179", c.ListenPort)
	}
	if len(c.Peers) == 0 {
		bad("Peers: want at least one")
	}
	seen := map[netip.Addr]bool{}
	for i, peer := range c.Peers {
		name := fmt.Sprintf("Peers[%d]", i)
		a := peer.Address
		switch {
		case !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || a.Zone() != "":
			bad("%s.Address %v: want a unicast address without a zone", name, a)
		case seen[a]:
			bad("%s.Address %v: listed twice", name, a)
		}
		seen[a] = true
		if peer.AS == 0 || peer.AS == 23456 || peer.AS == 4294967295 {
			bad("%s.AS %d: want 1 to 4294967294, not 23456 (AS_TRANS)", name, peer.AS)
		}
		if len(peer.Password) > 80 || strings.ContainsAny(peer.Password, "\x00\n") {
			bad("%s.Password: want at most 80 bytes (TCP MD5's key), without NUL or newline", name)
		}
		if h := peer.HoldTime; h != 0 && (h < 3*time.Second || h > 65535*time.Second || h%time.Second != 0) {
			bad("%s.HoldTime %v: want 0 (90 s) or whole seconds from 3 s to 65535 s", name, h)
		}
	}
	if c.NextHop.IsValid() && (!c.NextHop.Is4() || c.NextHop.IsUnspecified()) {
		bad("NextHop %v: want an IPv4 address, or none for next-hop self", c.NextHop)
	}
	if c.NextHop6.IsValid() && (!c.NextHop6.Is6() || c.NextHop6.Is4In6() || c.NextHop6.IsUnspecified() || c.NextHop6.Zone() != "") {
		bad("NextHop6 %v: want an IPv6 address without a zone, or none for next-hop self", c.NextHop6)
	}
	if len(p) > 0 {
		return &ConfigError{Problems: p}
	}
	return nil
}

// ErrNotHostRoute: Announce takes one address per VIP, a /32 or a /128.
var ErrNotHostRoute = errors.New("not a host route (/32 or /128)")

// checkPrefixes returns the set of ps, or an error naming each prefix that
// is not a host route.
func checkPrefixes(ps []netip.Prefix) (map[netip.Prefix]bool, error) {
	set := make(map[netip.Prefix]bool, len(ps))
	var errs []error
	for _, p := range ps {
		if !p.IsValid() || !p.IsSingleIP() || p.Addr().Zone() != "" || p.Addr().Is4In6() {
			errs = append(errs, fmt.Errorf("bgp: prefix %v: %w", p, ErrNotHostRoute))
			continue
		}
		set[p] = true
	}
	return set, errors.Join(errs...)
}
