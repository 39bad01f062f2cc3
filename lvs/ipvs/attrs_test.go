package ipvs

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/mdlayher/netlink"
)

// attr encodes one netlink attribute, padded.
func attr(typ uint16, val []byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(4+len(val)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// TestAttrsMalformed: the walker refuses what does not add up, naming
// the attribute, and never reads past its input.
func TestAttrsMalformed(t *testing.T) {
	u32 := binary.NativeEndian.AppendUint32(nil, 7)
	good := append(attr(destAttrWeight, u32), attr(destAttrPort, []byte{0x1f, 0x90})...)
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"trailing bytes", append(attr(destAttrWeight, u32), 1, 2), "2 trailing bytes"},
		{"length past the end", good[:len(good)-4], "length 6 with 4 bytes left"},
		{"length under the header", []byte{2, 0, 1, 0}, "length 2"},
		{"short u32", attr(destAttrWeight, []byte{1, 2}), "attribute 4: 2 bytes, want 4"},
		{"short port", attr(destAttrPort, []byte{1}), "attribute 2: 1 bytes, want 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := attrs{b: c.b}
			for a.next() {
				switch a.typ {
				case destAttrWeight:
					a.u32()
				case destAttrPort:
					a.be16()
				}
			}
			if a.err == nil || !strings.Contains(a.err.Error(), c.want) {
				t.Errorf("error %v, want one saying %q", a.err, c.want)
			}
		})
	}

	// The unpadded last attribute and flags in the type are fine.
	a := attrs{b: append(attr(destAttrWeight|0x8000, u32), attr(destAttrPort, []byte{0x1f, 0x90})[:6]...)}
	var w uint32
	var port uint16
	for a.next() {
		switch a.typ {
		case destAttrWeight:
			w = a.u32()
		case destAttrPort:
			port = a.be16()
		}
	}
	if a.err != nil || w != 7 || port != 8080 {
		t.Errorf("weight %d, port %d, %v; want 7, 8080, no error", w, port, a.err)
	}
}

// TestAttrsStrings: the kernel's scheduler names are not copied, others
// are, and the NUL goes.
func TestAttrsStrings(t *testing.T) {
	for _, s := range []string{"wlc", "mh", "something-new", ""} {
		a := attrs{val: append([]byte(s), 0)}
		if got := a.str(); got != s {
			t.Errorf("str of %q = %q", s, got)
		}
	}
	a := attrs{val: []byte("wlc\x00")}
	if n := testing.AllocsPerRun(100, func() { _ = a.str() }); n != 0 {
		t.Errorf("str of a scheduler name allocates %v times", n)
	}
}

// TestAttrBufAsAttributeEncoder: attrBuf writes the bytes
// netlink.AttributeEncoder writes, nests and padding included.
func TestAttrBufAsAttributeEncoder(t *testing.T) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint16(1, 0x0203)
	ae.String(2, "wlc")
	ae.Nested(3, func(nae *netlink.AttributeEncoder) error {
		nae.Uint8(4, 9)
		nae.Uint32(5, 0xdeadbeef)
		nae.Bytes(6, []byte{1, 2, 3, 4, 5})
		nae.Nested(7, func(n2 *netlink.AttributeEncoder) error {
			n2.String(8, "")
			return nil
		})
		return nil
	})
	want, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}

	var b attrBuf
	b.u16(1, 0x0203)
	b.str(2, "wlc")
	_ = b.nested(3, func(n *attrBuf) error {
		n.u8(4, 9)
		n.u32(5, 0xdeadbeef)
		n.put(6, 1, 2, 3, 4, 5)
		return n.nested(7, func(n2 *attrBuf) error {
			n2.str(8, "")
			return nil
		})
	})
	if !bytes.Equal(b.b, want) {
		t.Errorf("attrBuf wrote\n% x\nAttributeEncoder\n% x", b.b, want)
	}
}
