package pulse

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
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

// Challenge is a random value a director sends so that the peer's answer
// (its Echo) proves the answer was made after it.
type Challenge [16]byte

// IsZero says whether c is the zero Challenge, which no director draws: as
// an Echo it means "none learnt yet".
func (c Challenge) IsZero() bool { return c == Challenge{} }

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
	// ConsolePin is the SHA-256 of the certificate the sender's console
	// serves, which the receiver's configuration sync requires of the TLS
	// connection; zero: the console serves plain HTTP (or there is none).
	ConsolePin [32]byte
	// Boot is random per process start, never zero.
	Boot uint64
	// Counter numbers the heartbeats of one Boot from 1. No clock is in it.
	Counter uint64
	// Challenge is the sender's current challenge, never zero.
	Challenge Challenge
	// Echo is the last challenge the sender learnt from the receiver, zero
	// if none yet.
	Echo Challenge
}

// The wire format, big-endian, 146 bytes:
//
//	off len field
//	  0   4 magic "LVSp"
//	  4   1 version (3)
//	  5   1 From's family: 4 or 6
//	  6  16 From: IPv4 in the first 4 bytes and 12 zero bytes, or IPv6
//	 22   1 Role: 0 standby, 1 active
//	 23   1 flags: 1 Primary, 2 Leaving, 4 LinkDown; other bits zero
//	 24   8 Serial (two's complement)
//	 32   2 Console
//	 34   8 Boot (not zero)
//	 42   8 Counter (not zero)
//	 50  16 Challenge (not zero)
//	 66  16 Echo (zero: none learnt yet)
//	 82  32 ConsolePin (zero: plain HTTP or no console)
//	114  32 HMAC-SHA256(key, bytes 0-113)
//
// The length is fixed and every byte has exactly one valid meaning, so a
// datagram decodes to at most one Message and re-encodes to the same bytes.
// Versions 1 (82 bytes: a Seq of max(previous+1, Unix nanoseconds) where
// Counter is, no Challenge or Echo) and 2 (114 bytes: version 3 without
// ConsolePin) are refused as malformed: a version 2 director could not
// answer this one's challenges (it refuses version 3), so it could never be
// news here anyway.
const (
	magic      = "LVSp"
	version    = 3
	bodyLen    = 114
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
// family 0, and a zero Boot, Counter or Challenge as zero: Unmarshal
// refuses all of them.
func (m Message) Marshal(key []byte) []byte {
	return newSealer(key).seal(make([]byte, 0, messageLen), &m)
}

// Unmarshal checks and decodes a datagram. The structure is checked before
// the MAC (it needs no key and is cheap), so a garbled datagram is
// ErrMalformed and a well-formed one with the wrong MAC is ErrAuth; both are
// wrapped with what was wrong.
func Unmarshal(key, b []byte) (Message, error) {
	var m Message
	err := newSealer(key).open(b, &m)
	return m, err
}

// sealer signs and checks heartbeats with one key. It keeps its HMAC state
// and buffer so that the heartbeat thread allocates nothing per datagram.
type sealer struct {
	h   hash.Hash
	sum []byte
}

func newSealer(key []byte) *sealer {
	return &sealer{h: hmac.New(sha256.New, key), sum: make([]byte, 0, macLen)}
}

// seal appends m's encoding and MAC to dst.
func (s *sealer) seal(dst []byte, m *Message) []byte {
	off := len(dst)
	dst = append(dst, make([]byte, bodyLen)...)
	b := dst[off:]
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
	binary.BigEndian.PutUint64(b[42:], m.Counter)
	copy(b[50:66], m.Challenge[:])
	copy(b[66:82], m.Echo[:])
	copy(b[82:114], m.ConsolePin[:])
	return append(dst, s.mac(b)...)
}

// open checks b and decodes it into m; see Unmarshal. On error m is zero.
func (s *sealer) open(b []byte, m *Message) error {
	*m = Message{}
	if len(b) != messageLen {
		return fmt.Errorf("%w: %d bytes, want %d", ErrMalformed, len(b), messageLen)
	}
	if string(b[:4]) != magic {
		return fmt.Errorf("%w: bad magic %q", ErrMalformed, b[:4])
	}
	if b[4] != version {
		return fmt.Errorf("%w: version %d, want %d", ErrMalformed, b[4], version)
	}
	var from netip.Addr
	switch b[5] {
	case 4:
		for _, z := range b[10:22] {
			if z != 0 {
				return fmt.Errorf("%w: IPv4 address with non-zero padding", ErrMalformed)
			}
		}
		from = netip.AddrFrom4([4]byte(b[6:10]))
	case 6:
		from = netip.AddrFrom16([16]byte(b[6:22]))
	default:
		return fmt.Errorf("%w: address family %d", ErrMalformed, b[5])
	}
	if b[22] > byte(Active) {
		return fmt.Errorf("%w: role %d", ErrMalformed, b[22])
	}
	f := b[23]
	if f&^flagsKnown != 0 {
		return fmt.Errorf("%w: unknown flags %#x", ErrMalformed, f)
	}
	boot, counter := binary.BigEndian.Uint64(b[34:]), binary.BigEndian.Uint64(b[42:])
	challenge, echo := Challenge(b[50:66]), Challenge(b[66:82])
	switch {
	case boot == 0:
		return fmt.Errorf("%w: boot 0", ErrMalformed)
	case counter == 0:
		return fmt.Errorf("%w: counter 0", ErrMalformed)
	case challenge.IsZero():
		return fmt.Errorf("%w: zero challenge", ErrMalformed)
	}
	if !hmac.Equal(b[bodyLen:], s.mac(b[:bodyLen])) {
		return fmt.Errorf("%w: MAC mismatch", ErrAuth)
	}
	*m = Message{
		From: from, Role: Role(b[22]),
		Primary: f&flagPrimary != 0, Leaving: f&flagLeaving != 0, LinkDown: f&flagLinkDown != 0,
		Serial:  int64(binary.BigEndian.Uint64(b[24:])),
		Console: binary.BigEndian.Uint16(b[32:]),
		Boot:    boot, Counter: counter, Challenge: challenge, Echo: echo,
		ConsolePin: [32]byte(b[82:114]),
	}
	return nil
}

// mac returns the MAC of body, valid until the next call.
func (s *sealer) mac(body []byte) []byte {
	s.h.Reset()
	s.h.Write(body)
	s.sum = s.h.Sum(s.sum[:0])
	return s.sum
}
