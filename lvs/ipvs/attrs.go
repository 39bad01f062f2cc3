package ipvs

import (
	"encoding/binary"
	"fmt"
)

// attrs walks netlink attributes in place. A full read decodes every
// service and destination of the table, 110,000 messages of some twenty
// attributes each at 10,000 x 10: netlink.AttributeDecoder allocates a
// decoder per nested attribute and copies every value, this allocates
// nothing (strings aside, and the
// kernel's scheduler names are not copied).
type attrs struct {
	b   []byte // what is left to walk
	typ uint16 // the current attribute's type, flags masked off
	val []byte // its payload, in the message's buffer
	err error  // the first malformed attribute
}

// nlaTypeMask masks NLA_F_NESTED and NLA_F_NET_BYTEORDER off a type.
const nlaTypeMask = 0x3fff

// next moves to the next attribute; false at the end or on an error.
func (a *attrs) next() bool {
	if a.err != nil || len(a.b) == 0 {
		return false
	}
	if len(a.b) < 4 {
		a.err = fmt.Errorf("netlink attribute: %d trailing bytes", len(a.b))
		return false
	}
	n := int(binary.NativeEndian.Uint16(a.b))
	if n < 4 || n > len(a.b) {
		a.err = fmt.Errorf("netlink attribute: length %d with %d bytes left", n, len(a.b))
		return false
	}
	a.typ = binary.NativeEndian.Uint16(a.b[2:]) & nlaTypeMask
	a.val = a.b[4:n]
	a.b = a.b[min((n+3)&^3, len(a.b)):]
	return true
}

// fail records that the current attribute is not size bytes long.
func (a *attrs) fail(size int) {
	if a.err == nil {
		a.err = fmt.Errorf("netlink attribute %d: %d bytes, want %d", a.typ, len(a.val), size)
	}
}

func (a *attrs) u8() uint8 {
	if len(a.val) != 1 {
		a.fail(1)
		return 0
	}
	return a.val[0]
}

func (a *attrs) u16() uint16 {
	if len(a.val) != 2 {
		a.fail(2)
		return 0
	}
	return binary.NativeEndian.Uint16(a.val)
}

// be16 reads a port, which the kernel sends in network order.
func (a *attrs) be16() uint16 {
	if len(a.val) != 2 {
		a.fail(2)
		return 0
	}
	return binary.BigEndian.Uint16(a.val)
}

func (a *attrs) u32() uint32 {
	if len(a.val) != 4 {
		a.fail(4)
		return 0
	}
	return binary.NativeEndian.Uint32(a.val)
}

func (a *attrs) u64() uint64 {
	if len(a.val) != 8 {
		a.fail(8)
		return 0
	}
	return binary.NativeEndian.Uint64(a.val)
}

// str reads a NUL-terminated string. The scheduler and persistence
// engine names of the kernel's modules are not copied: a switch on
// string(b) does not allocate.
func (a *attrs) str() string {
	b := a.val
	if len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	switch string(b) {
	case "rr":
		return "rr"
	case "wrr":
		return "wrr"
	case "lc":
		return "lc"
	case "wlc":
		return "wlc"
	case "lblc":
		return "lblc"
	case "lblcr":
		return "lblcr"
	case "dh":
		return "dh"
	case "sh":
		return "sh"
	case "sed":
		return "sed"
	case "nq":
		return "nq"
	case "fo":
		return "fo"
	case "ovf":
		return "ovf"
	case "mh":
		return "mh"
	case "twos":
		return "twos"
	case "sip":
		return "sip"
	}
	return string(b)
}

// stats decodes the counters nested in STATS (32-bit packet and
// connection counters and rates, 64-bit byte counters) or STATS64 (all
// 64-bit) into s.
func (a *attrs) stats(s *Stats, wide bool) {
	n := attrs{b: a.val}
	for n.next() {
		var p *uint64
		switch n.typ {
		case statsAttrConns:
			p = &s.Conns
		case statsAttrInPkts:
			p = &s.InPkts
		case statsAttrOutPkts:
			p = &s.OutPkts
		case statsAttrInBytes:
			s.InBytes = n.u64()
			continue
		case statsAttrOutBytes:
			s.OutBytes = n.u64()
			continue
		case statsAttrCPS:
			p = &s.CPS
		case statsAttrInPPS:
			p = &s.InPPS
		case statsAttrOutPPS:
			p = &s.OutPPS
		case statsAttrInBPS:
			p = &s.InBPS
		case statsAttrOutBPS:
			p = &s.OutBPS
		default:
			continue // IPVS_STATS_ATTR_PAD, or newer counters
		}
		if wide {
			*p = n.u64()
		} else {
			*p = uint64(n.u32())
		}
	}
	if n.err != nil && a.err == nil {
		a.err = fmt.Errorf("statistics: %w", n.err)
	}
}

// nested finds the first-level attribute typ in b and returns a walker
// of its contents.
func nested(b []byte, typ uint16) (attrs, error) {
	top := attrs{b: b}
	for top.next() {
		if top.typ == typ {
			return attrs{b: top.val}, nil
		}
	}
	if top.err != nil {
		return attrs{}, top.err
	}
	return attrs{}, fmt.Errorf("reply has no attribute %d", typ)
}

// attrBuf appends netlink attributes to a request, as
// netlink.AttributeEncoder would encode them (host order, nests flagged
// NLA_F_NESTED) without its allocation per attribute and per nest:
// programming 10,000 x 10 encodes 110,000 requests.
type attrBuf struct {
	b []byte
}

// nlaFNested is NLA_F_NESTED.
const nlaFNested = 0x8000

// put appends attribute typ holding v, padded to 4 bytes.
func (a *attrBuf) put(typ uint16, v ...byte) {
	a.b = binary.NativeEndian.AppendUint16(a.b, uint16(4+len(v)))
	a.b = binary.NativeEndian.AppendUint16(a.b, typ)
	a.b = append(a.b, v...)
	a.pad()
}

func (a *attrBuf) pad() {
	for len(a.b)%4 != 0 {
		a.b = append(a.b, 0)
	}
}

func (a *attrBuf) u8(typ uint16, v uint8) { a.put(typ, v) }

func (a *attrBuf) u16(typ uint16, v uint16) {
	a.put(typ, binary.NativeEndian.AppendUint16(make([]byte, 0, 2), v)...)
}

func (a *attrBuf) u32(typ uint16, v uint32) {
	a.put(typ, binary.NativeEndian.AppendUint32(make([]byte, 0, 4), v)...)
}

// str appends a NUL-terminated string.
func (a *attrBuf) str(typ uint16, s string) {
	a.b = binary.NativeEndian.AppendUint16(a.b, uint16(4+len(s)+1))
	a.b = binary.NativeEndian.AppendUint16(a.b, typ)
	a.b = append(a.b, s...)
	a.b = append(a.b, 0)
	a.pad()
}

// nested appends attribute typ holding what fn appends.
func (a *attrBuf) nested(typ uint16, fn func(*attrBuf) error) error {
	start := len(a.b)
	a.b = append(a.b, 0, 0, 0, 0)
	if err := fn(a); err != nil {
		return err
	}
	binary.NativeEndian.PutUint16(a.b[start:], uint16(len(a.b)-start))
	binary.NativeEndian.PutUint16(a.b[start+2:], typ|nlaFNested)
	return nil
}
