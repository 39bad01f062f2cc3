package drcheck

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/lvsconsole/lvsconsole/lvs/direct"
)

// TCP flags.
const (
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
)

// syn is one check's segment: from the director's address on the link
// (src, sport) to the VIP (vip, dport), in a frame to the real server.
type syn struct {
	src, vip     netip.Addr
	sport, dport uint16
	isn          uint32
	from, to     net.HardwareAddr
}

// frame builds the Ethernet frame of a segment with flags and seq: a SYN
// (with an MSS option, as firewalls expect) or the RST that ends it.
func (s *syn) frame(flags byte, seq uint32) []byte {
	tcp := make([]byte, 20, 24)
	binary.BigEndian.PutUint16(tcp[0:], s.sport)
	binary.BigEndian.PutUint16(tcp[2:], s.dport)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	tcp[12] = 5 << 4
	tcp[13] = flags
	if flags == tcpSYN {
		binary.BigEndian.PutUint16(tcp[14:], 65535)
		tcp = append(tcp, 2, 4, 0x05, 0xb4) // MSS 1460
		tcp[12] = 6 << 4
	}
	var ip []byte
	etype := uint16(0x0800)
	if s.vip.Is4() {
		ip = make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(tcp)))
		binary.BigEndian.PutUint16(ip[6:], 0x4000) // don't fragment
		ip[8], ip[9] = 64, 6
		src, dst := s.src.As4(), s.vip.As4()
		copy(ip[12:], src[:])
		copy(ip[16:], dst[:])
		binary.BigEndian.PutUint16(ip[10:], ^uint16(sum(0, ip)))
	} else {
		etype = 0x86dd
		ip = make([]byte, 40)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(len(tcp)))
		ip[6], ip[7] = 6, 64
		src, dst := s.src.As16(), s.vip.As16()
		copy(ip[8:], src[:])
		copy(ip[24:], dst[:])
	}
	binary.BigEndian.PutUint16(tcp[16:], ^uint16(sum(pseudo(s.src, s.vip, len(tcp)), tcp)))
	f := make([]byte, 14, 14+len(ip)+len(tcp))
	copy(f[0:], s.to)
	copy(f[6:], s.from)
	binary.BigEndian.PutUint16(f[12:], etype)
	return append(append(f, ip...), tcp...)
}

// pseudo is the sum of the TCP pseudo header (RFC 9293, RFC 8200).
func pseudo(src, dst netip.Addr, n int) uint32 {
	var s uint32
	s = sum(s, src.AsSlice())
	s = sum(s, dst.AsSlice())
	return s + 6 + uint32(n)
}

// sum adds b to the one's complement sum s, folded to 16 bits.
func sum(s uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return s
}

// match reads a frame the filter let through: the answer to s, or not.
func (s *syn) match(f []byte) (direct.Outcome, string, bool) {
	if len(f) < 14 {
		return 0, "", false
	}
	src, proto, l4, ok := network(f[14:], binary.BigEndian.Uint16(f[12:]))
	if !ok {
		return 0, "", false
	}
	switch proto {
	case 6:
		if src != s.vip || len(l4) < 20 ||
			binary.BigEndian.Uint16(l4[0:]) != s.dport || binary.BigEndian.Uint16(l4[2:]) != s.sport ||
			binary.BigEndian.Uint32(l4[8:]) != s.isn+1 {
			return 0, "", false
		}
		switch flags := l4[13]; {
		case flags&(tcpSYN|tcpACK) == tcpSYN|tcpACK:
			return direct.Accepted, "", true
		case flags&tcpRST != 0:
			return direct.Refused, "", true
		}
	case 1, 58:
		if len(l4) < 8 {
			return 0, "", false
		}
		what, ok := icmpError(proto == 58, l4[0], l4[1])
		if !ok {
			return 0, "", false
		}
		// The error quotes the SYN's headers: is it ours?
		qsrc, qproto, ql4, ok := quoted(l4[8:], s.vip.Is4())
		if !ok || qproto != 6 || qsrc != s.src || len(ql4) < 4 ||
			binary.BigEndian.Uint16(ql4[0:]) != s.sport || binary.BigEndian.Uint16(ql4[2:]) != s.dport {
			return 0, "", false
		}
		return direct.ICMP, what + " from " + src.String(), true
	}
	return 0, "", false
}

// network splits an IP packet: its source, protocol and payload.
func network(p []byte, etype uint16) (netip.Addr, byte, []byte, bool) {
	switch etype {
	case 0x0800:
		if len(p) < 20 || p[0]>>4 != 4 {
			return netip.Addr{}, 0, nil, false
		}
		hl := int(p[0]&0x0f) * 4
		n := int(binary.BigEndian.Uint16(p[2:]))
		if hl < 20 || n < hl || n > len(p) {
			return netip.Addr{}, 0, nil, false
		}
		return netip.AddrFrom4([4]byte(p[12:16])), p[9], p[hl:n], true
	case 0x86dd:
		if len(p) < 40 || p[0]>>4 != 6 {
			return netip.Addr{}, 0, nil, false
		}
		n := 40 + int(binary.BigEndian.Uint16(p[4:]))
		if n > len(p) {
			return netip.Addr{}, 0, nil, false
		}
		return netip.AddrFrom16([16]byte(p[8:24])), p[6], p[40:n], true
	}
	return netip.Addr{}, 0, nil, false
}

// quoted reads the headers an ICMP error quotes (the packet may be cut
// short, so lengths are not checked against the quoted length): the
// quoted packet's source, protocol and first bytes of its payload.
func quoted(p []byte, v4 bool) (netip.Addr, byte, []byte, bool) {
	if v4 {
		if len(p) < 20 || p[0]>>4 != 4 {
			return netip.Addr{}, 0, nil, false
		}
		hl := int(p[0]&0x0f) * 4
		if hl < 20 || len(p) < hl {
			return netip.Addr{}, 0, nil, false
		}
		return netip.AddrFrom4([4]byte(p[12:16])), p[9], p[hl:], true
	}
	if len(p) < 40 || p[0]>>4 != 6 {
		return netip.Addr{}, 0, nil, false
	}
	return netip.AddrFrom16([16]byte(p[8:24])), p[6], p[40:], true
}

// icmpError names an ICMP error message; other messages are not errors.
func icmpError(v6 bool, typ, code byte) (string, bool) {
	if v6 {
		switch typ {
		case 1:
			names := []string{"no route to destination", "administratively prohibited", "beyond scope of source address",
				"address unreachable", "port unreachable", "source address failed ingress/egress policy", "reject route to destination"}
			if int(code) < len(names) {
				return names[code], true
			}
			return fmt.Sprintf("destination unreachable (code %d)", code), true
		case 2:
			return "packet too big", true
		case 3:
			return "time exceeded", true
		case 4:
			return "parameter problem", true
		}
		return "", false
	}
	switch typ {
	case 3:
		names := map[byte]string{0: "network unreachable", 1: "host unreachable", 2: "protocol unreachable", 3: "port unreachable",
			4: "fragmentation needed", 9: "network administratively prohibited", 10: "host administratively prohibited",
			13: "communication administratively prohibited"}
		if n, ok := names[code]; ok {
			return n, true
		}
		return fmt.Sprintf("destination unreachable (code %d)", code), true
	case 11:
		return "time exceeded", true
	case 12:
		return "parameter problem", true
	}
	return "", false
}
