package pulse

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os/exec"
	"time"
)

// Settings configure a Node.
type Settings struct {
	Self        netip.Addr // our public address, sent as Message.From
	Peer        netip.Addr // the peer's public address
	PeerPrivate netip.Addr // optional second heartbeat path (zero = none)
	// Bind is where to listen. Production binds the unspecified address on
	// the heartbeat port; binding Self instead makes the kernel use Self as
	// the source of what we send, which the peer requires.
	Bind netip.AddrPort
	// Port is the peer's heartbeat port; 0 means Bind's port.
	Port uint16
	// Key authenticates the heartbeats; both directors need the same one, of
	// at least MinKeyLen bytes.
	Key []byte
	// Primary says that we hold the primary address.
	Primary bool
	// Keepalive is the heartbeat interval; fractions of a second are fine.
	Keepalive time.Duration
	// Deadtime is the silence after which the peer is taken for dead; it
	// must be longer than Keepalive.
	Deadtime time.Duration
	// Preempt lets a recovered primary take back over from an active
	// backup, once it has heard it continuously for PreemptDelay. Off, as in
	// piranha, a recovered primary stays standby.
	Preempt      bool
	PreemptDelay time.Duration
	// Console is the port of our web console, sent to the peer (0 = none).
	Console uint16
	// ConsolePin is the SHA-256 of our console's TLS certificate, sent to
	// the peer (zero: the console serves plain HTTP).
	ConsolePin [32]byte
}

// Options are what a Node needs besides its Settings.
type Options struct {
	Log *slog.Logger // nil: slog.Default()
	// Helper, if set, makes the command of a helper process that runs the
	// heartbeat: a program that calls ServeHelper with its stdin and
	// stdout (lvsconsole's hidden "pulse-helper" command, say). Run
	// starts one per call and sets its stdin and stdout. nil: the
	// heartbeat runs in this process.
	Helper func() *exec.Cmd
}

// normalize checks s and returns it in canonical form: IPv4-mapped IPv6
// addresses unmapped (the peer compares From byte for byte), Port filled in
// and Key copied so that the caller may reuse its slice.
func (s Settings) normalize() (Settings, error) {
	for _, a := range []struct {
		name     string
		addr     *netip.Addr
		optional bool
		zone     bool
	}{
		{"Self", &s.Self, false, false},
		{"Peer", &s.Peer, false, false},
		{"PeerPrivate", &s.PeerPrivate, true, true},
	} {
		if !a.addr.IsValid() {
			if a.optional {
				continue
			}
			return s, fmt.Errorf("pulse: %s: an address is required", a.name)
		}
		*a.addr = a.addr.Unmap()
		if a.addr.IsUnspecified() || a.addr.IsMulticast() {
			return s, fmt.Errorf("pulse: %s: %v is not a unicast address", a.name, *a.addr)
		}
		if a.addr.Zone() != "" && !a.zone {
			return s, fmt.Errorf("pulse: %s: %v: a zone is not allowed here (the address identifies the director)", a.name, *a.addr)
		}
	}
	switch {
	case s.Self == s.Peer:
		return s, fmt.Errorf("pulse: Peer: %v is also Self: the two directors need their own addresses", s.Peer)
	case s.PeerPrivate.IsValid() && (s.PeerPrivate.WithZone("") == s.Peer || s.PeerPrivate.WithZone("") == s.Self):
		return s, fmt.Errorf("pulse: PeerPrivate: %v must differ from Self and Peer", s.PeerPrivate)
	}

	if !s.Bind.Addr().IsValid() {
		return s, fmt.Errorf("pulse: Bind: an address and port are required (e.g. 0.0.0.0:539)")
	}
	if s.Bind.Port() == 0 {
		return s, fmt.Errorf("pulse: Bind: port 0: the peer has to know where to send")
	}
	bind := s.Bind.Addr().Unmap()
	s.Bind = netip.AddrPortFrom(bind, s.Bind.Port())
	for _, p := range []struct {
		name string
		addr netip.Addr
	}{{"Peer", s.Peer}, {"PeerPrivate", s.PeerPrivate}} {
		// An IPv4 socket cannot reach an IPv6 peer; "::" takes both.
		if p.addr.IsValid() && (bind.Is4() != p.addr.Is4()) && !(bind.Is6() && bind.IsUnspecified()) {
			return s, fmt.Errorf("pulse: %s: %v cannot be reached from Bind %v (another address family)", p.name, p.addr, s.Bind)
		}
	}
	if s.Port == 0 {
		s.Port = s.Bind.Port()
	}

	if len(s.Key) < MinKeyLen {
		return s, fmt.Errorf("pulse: Key: %d bytes is too short: use at least %d (e.g. 32 random bytes)", len(s.Key), MinKeyLen)
	}
	s.Key = append([]byte(nil), s.Key...)

	if s.Keepalive <= 0 {
		return s, fmt.Errorf("pulse: Keepalive: %v: must be positive", s.Keepalive)
	}
	if s.Deadtime <= s.Keepalive {
		return s, fmt.Errorf("pulse: Deadtime: %v must be longer than Keepalive (%v), or every heartbeat would be late", s.Deadtime, s.Keepalive)
	}
	if s.PreemptDelay < 0 {
		return s, fmt.Errorf("pulse: PreemptDelay: %v: must not be negative", s.PreemptDelay)
	}
	return s, nil
}

// samePeer says whether two normalized settings talk to the same peer, so
// that what we know of it (and its last sequence number) still holds.
func samePeer(a, b Settings) bool {
	return a.Peer == b.Peer
}
