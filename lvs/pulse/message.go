// Package pulse is the heartbeat and role decision of a pair of LVS
// directors, piranha's pulse rebuilt: each director sends a small
// authenticated UDP datagram to the other every Keepalive, and from what it
// hears (or does not hear for Deadtime) decides whether it is the active
// director, the one that holds the virtual addresses, or the standby.
//
// Unlike piranha's bare 4-byte word, every heartbeat carries an HMAC-SHA256
// over its contents with a shared key, the sender's own address and a
// sequence number that only grows, so a host that can spoof the peer's
// address but lacks the key can neither force a failover nor block one, and
// a recorded heartbeat (a goodbye, say) cannot be played back later.
//
// The package only decides; acting on a role change (addresses, gratuitous
// ARP, the IPVS sync daemon, configuration sync) is the caller's business:
// watch Node.Changes and read Node.Status.
package pulse

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Role is what a director does for the pair.
type Role uint8

const (
	// Standby holds no virtual address and waits to take over.
	Standby Role = iota
	// Active holds the virtual addresses and balances the traffic.
	Active
)

func (r Role) String() string {
	switch r {
	case Standby:
		return "standby"
	case Active:
		return "active"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// Message is one heartbeat.
type Message struct {
	// From is the sender's own public address as configured. The receiver
	// requires it to be its configured peer address, so a datagram reflected
	// back at its sender (or replayed at the other director) is refused.
	From netip.Addr
	Role Role
	// Primary says that the sender holds the primary address.
	Primary bool
	// Leaving is sent once on a clean shutdown: "I am going away, take over
	// now".
	Leaving bool
	// LinkDown says that one of the sender's monitored links is down, so it
	// will not become active however the tie-breaks fall: the receiver
	// should take over. (Not in piranha, whose standby heartbeat could not
	// say this and so could leave both directors standby.)
	LinkDown bool
	// Serial is the sender's configuration serial: it shows who is behind.
	Serial int64
	// Console is the port of the sender's web console (0 = none), for
	// configuration sync.
	Console uint16
	// Boot is random per process start.
	Boot uint64
	// Seq grows strictly per sender, across restarts too: each message has
	// max(previous+1, Unix nanoseconds now).
	Seq uint64
}

// The wire format, big-endian, 82 bytes:
//
//	off len field
//	  0   4 magic "LVSp"
//	  4   1 version (1)
//	  5   1 From's family: 4 or 6
//	  6  16 From: IPv4 in the first 4 bytes and 12 zero bytes, or IPv6
//	 22   1 Role: 0 standby, 1 active
//	 23   1 flags: 1 Primary, 2 Leaving, 4 LinkDown; other bits zero
//	 24   8 Serial (two's complement)
//	 32   2 Console
//	 34   8 Boot
//	 42   8 Seq
//	 50  32 HMAC-SHA256(key, bytes 0-49)
//
// The length is fixed and every byte has exactly one valid meaning, so a
// datagram decodes to at most one Message and re-encodes to the same bytes.
const (
	magic      = "LVSp"
	version    = 1
	bodyLen    = 50
	macLen     = sha256.Size
	messageLen = bodyLen + macLen

	flagPrimary  = 1 << 0
	flagLeaving  = 1 << 1
	flagLinkDown = 1 << 2
	flagsKnown   = flagPrimary | flagLeaving | flagLinkDown
)

// MinKeyLen is the shortest key New accepts.
const MinKeyLen = 16

var (
	// ErrMalformed is a datagram that is not a heartbeat of this version.
	ErrMalformed = errors.New("malformed heartbeat")
	// ErrAuth is a heartbeat whose MAC does not match the key.
	ErrAuth = errors.New("heartbeat authentication failed")
)

// Marshal encodes m and signs it with key. A zero (invalid) From encodes as
// family 0, which Unmarshal refuses.
func (m Message) Marshal(key []byte) []byte {
	b := make([]byte, bodyLen, messageLen)
	copy(b, magic)
	b[4] = version
	switch {
	case m.From.Is4():
		b[5] = 4
		a := m.From.As4()
		copy(b[6:], a[:])
	case m.From.Is6():
		b[5] = 6
		a := m.From.As16()
		copy(b[6:], a[:])
	}
	b[22] = byte(m.Role)
	var f byte
	if m.Primary {
		f |= flagPrimary
	}
	if m.Leaving {
		f |= flagLeaving
	}
	if m.LinkDown {
		f |= flagLinkDown
	}
	b[23] = f
	binary.BigEndian.PutUint64(b[24:], uint64(m.Serial))
	binary.BigEndian.PutUint16(b[32:], m.Console)
	binary.BigEndian.PutUint64(b[34:], m.Boot)
	binary.BigEndian.PutUint64(b[42:], m.Seq)
	return append(b, mac(key, b)...)
}

// Unmarshal checks and decodes a datagram. The structure is checked before
// the MAC (it needs no key and is cheap), so a garbled datagram is
// ErrMalformed and a well-formed one with the wrong MAC is ErrAuth; both are
// wrapped with what was wrong.
func Unmarshal(key, b []byte) (Message, error) {
	var m Message
	if len(b) != messageLen {
		return m, fmt.Errorf("%w: %d bytes, want %d", ErrMalformed, len(b), messageLen)
	}
	if string(b[:4]) != magic {
		return m, fmt.Errorf("%w: bad magic %q", ErrMalformed, b[:4])
	}
	if b[4] != version {
		return m, fmt.Errorf("%w: version %d, want %d", ErrMalformed, b[4], version)
	}
	switch b[5] {
	case 4:
		for _, z := range b[10:22] {
			if z != 0 {
				return m, fmt.Errorf("%w: IPv4 address with non-zero padding", ErrMalformed)
			}
		}
		m.From = netip.AddrFrom4([4]byte(b[6:10]))
	case 6:
		m.From = netip.AddrFrom16([16]byte(b[6:22]))
	default:
		return m, fmt.Errorf("%w: address family %d", ErrMalformed, b[5])
	}
	if b[22] > byte(Active) {
		return m, fmt.Errorf("%w: role %d", ErrMalformed, b[22])
	}
	m.Role = Role(b[22])
	f := b[23]
	if f&^flagsKnown != 0 {
		return m, fmt.Errorf("%w: unknown flags %#x", ErrMalformed, f)
	}
	m.Primary = f&flagPrimary != 0
	m.Leaving = f&flagLeaving != 0
	m.LinkDown = f&flagLinkDown != 0
	m.Serial = int64(binary.BigEndian.Uint64(b[24:]))
	m.Console = binary.BigEndian.Uint16(b[32:])
	m.Boot = binary.BigEndian.Uint64(b[34:])
	m.Seq = binary.BigEndian.Uint64(b[42:])
	if !hmac.Equal(b[bodyLen:], mac(key, b[:bodyLen])) {
		return Message{}, fmt.Errorf("%w: MAC mismatch", ErrAuth)
	}
	return m, nil
}

func mac(key, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(body)
	return h.Sum(nil)
}
