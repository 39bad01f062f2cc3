package ipvstest_test

// These tests speak raw generic netlink to the fake, to show that it
// refuses and decodes as the kernel does, whatever the client does.

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs/ipvstest"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
)

const (
	cmdNewService = 1
	cmdGetService = 4
	cmdNewDest    = 5
	cmdGetDest    = 8
	cmdGetInfo    = 15

	attrService = 1
	attrDest    = 2
)

// svcAttrs is a NEW_SERVICE payload for TCP 192.0.2.1:port; edit changes
// it before encoding. The port is encoded with order.
func svcAttrs(port []byte, edit func(ae *netlink.AttributeEncoder)) func(*netlink.AttributeEncoder) error {
	return func(ae *netlink.AttributeEncoder) error {
		ae.Uint16(1, 2)                                                       // AF_INET
		ae.Uint16(2, 6)                                                       // TCP
		ae.Bytes(3, []byte{192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // ADDR
		ae.Bytes(4, port)                                                     // PORT
		ae.String(6, "rr")
		ae.Bytes(7, make([]byte, 8)) // FLAGS
		ae.Uint32(8, 0)              // TIMEOUT
		ae.Bytes(9, []byte{0xff, 0xff, 0xff, 0xff})
		if edit != nil {
			edit(ae)
		}
		return nil
	}
}

func encode(t *testing.T, fn func(*netlink.AttributeEncoder)) []byte {
	t.Helper()
	ae := netlink.NewAttributeEncoder()
	fn(ae)
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func execute(t *testing.T, conn *genetlink.Conn, cmd uint8, flags netlink.HeaderFlags, data []byte) ([]genetlink.Message, error) {
	t.Helper()
	return conn.Execute(genetlink.Message{Header: genetlink.Header{Command: cmd, Version: 1}, Data: data},
		ipvstest.FamilyID, flags)
}

const do = netlink.Request | netlink.Acknowledge

func TestByteOrderBugIsVisible(t *testing.T) {
	k := ipvstest.New()
	conn := k.Conn()
	defer conn.Close()

	// A client that writes the port in host order, as the policy's NLA_U16
	// suggests, asks for 80 and gets 20480 on a little-endian machine.
	le := binary.LittleEndian.AppendUint16(nil, 80)
	data := encode(t, func(ae *netlink.AttributeEncoder) { ae.Nested(attrService, svcAttrs(le, nil)) })
	if _, err := execute(t, conn, cmdNewService, do, data); err != nil {
		t.Fatal(err)
	}
	got := k.Services()
	if len(got) != 1 || got[0].Port != 0x5000 {
		t.Fatalf("services %+v, want one on port 20480", got)
	}
	if r := k.Requests(); r[0].Service.Port != 0x5000 {
		t.Errorf("request log names port %d, want 20480", r[0].Service.Port)
	}

	// And a little-endian netmask reads as 0.255.255.255, not /24.
	k = ipvstest.New()
	conn = k.Conn()
	defer conn.Close()
	data = encode(t, func(ae *netlink.AttributeEncoder) {
		ae.Nested(attrService, svcAttrs([]byte{0, 80}, func(ae *netlink.AttributeEncoder) {
			ae.Uint32(9, 0xffffff00) // a later duplicate wins, as in nla_parse
		}))
	})
	if _, err := execute(t, conn, cmdNewService, do, data); err != nil {
		t.Fatal(err)
	}
	if got := k.Services(); got[0].Netmask == 0xffffff00 {
		t.Errorf("host-order netmask read as %#x: the fake would hide the bug", got[0].Netmask)
	}
}

func TestRefusals(t *testing.T) {
	be80 := []byte{0, 80}
	tests := []struct {
		name  string
		cmd   uint8
		data  func(*netlink.AttributeEncoder)
		errno syscall.Errno
	}{
		{"no service attribute", cmdNewService, func(*netlink.AttributeEncoder) {}, syscall.EINVAL},
		{"no netmask", cmdNewService, func(ae *netlink.AttributeEncoder) {
			ae.Nested(attrService, func(ae *netlink.AttributeEncoder) error {
				ae.Uint16(1, 2)
				ae.Uint32(5, 1) // FWMARK
				ae.String(6, "rr")
				ae.Bytes(7, make([]byte, 8))
				ae.Uint32(8, 0)
				return nil
			})
		}, syscall.EINVAL},
		{"no port", cmdGetService, func(ae *netlink.AttributeEncoder) {
			ae.Nested(attrService, func(ae *netlink.AttributeEncoder) error {
				ae.Uint16(1, 2)
				ae.Uint16(2, 6)
				ae.Bytes(3, make([]byte, 16))
				return nil
			})
		}, syscall.EINVAL},
		{"unknown family", cmdNewService, func(ae *netlink.AttributeEncoder) {
			ae.Nested(attrService, svcAttrs(be80, func(ae *netlink.AttributeEncoder) { ae.Uint16(1, 7) }))
		}, syscall.EAFNOSUPPORT},
		{"IPv6 prefix 0", cmdNewService, func(ae *netlink.AttributeEncoder) {
			ae.Nested(attrService, svcAttrs(be80, func(ae *netlink.AttributeEncoder) {
				ae.Uint16(1, 10)
				ae.Uint32(9, 0)
			}))
		}, syscall.EINVAL},
		{"IPv6 prefix 129", cmdNewService, func(ae *netlink.AttributeEncoder) {
			ae.Nested(attrService, svcAttrs(be80, func(ae *netlink.AttributeEncoder) {
				ae.Uint16(1, 10)
				ae.Uint32(9, 129)
			}))
		}, syscall.EINVAL},
		{"unknown scheduler", cmdNewService, func(ae *netlink.AttributeEncoder) {
			ae.Nested(attrService, svcAttrs(be80, func(ae *netlink.AttributeEncoder) { ae.String(6, "nosuch") }))
		}, syscall.ENOENT},
		{"scheduler name without NUL", cmdNewService, func(ae *netlink.AttributeEncoder) {
			ae.Nested(attrService, svcAttrs(be80, func(ae *netlink.AttributeEncoder) { ae.Bytes(6, []byte("rr")) }))
		}, syscall.EINVAL},
		{"address over 16 bytes", cmdNewService, func(ae *netlink.AttributeEncoder) {
			ae.Nested(attrService, svcAttrs(be80, func(ae *netlink.AttributeEncoder) { ae.Bytes(3, make([]byte, 20)) }))
		}, syscall.EINVAL}, // ERANGE from the policy, made EINVAL by ip_vs_genl_parse_service
		{"missing service", cmdGetService, func(ae *netlink.AttributeEncoder) {
			ae.Nested(attrService, svcAttrs(be80, nil))
		}, syscall.ESRCH},
		{"short top-level attribute", 12, func(ae *netlink.AttributeEncoder) { ae.Uint16(4, 1) }, syscall.ERANGE},
		{"unknown command", 99, func(*netlink.AttributeEncoder) {}, syscall.EOPNOTSUPP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := ipvstest.New()
			k.SetSchedulers("rr")
			conn := k.Conn()
			defer conn.Close()
			flags := do
			if tt.cmd == cmdGetService {
				flags = netlink.Request
			}
			_, err := execute(t, conn, tt.cmd, flags, encode(t, tt.data))
			if !errors.Is(err, tt.errno) {
				t.Errorf("got %v, want %v", err, tt.errno)
			}
			if r := k.Requests(); len(r) != 1 || r[0].Errno != tt.errno {
				t.Errorf("log %+v, want one request answered %v", r, tt.errno)
			}
		})
	}
}

func TestDestinationRefusals(t *testing.T) {
	k := ipvstest.New()
	conn := k.Conn()
	defer conn.Close()
	svc := func(ae *netlink.AttributeEncoder) { ae.Nested(attrService, svcAttrs([]byte{0, 80}, nil)) }
	if _, err := execute(t, conn, cmdNewService, do, encode(t, svc)); err != nil {
		t.Fatal(err)
	}
	dest := func(addr []byte, family uint16, fwd, weight, u, l uint32, extra func(*netlink.AttributeEncoder)) []byte {
		return encode(t, func(ae *netlink.AttributeEncoder) {
			svc(ae)
			ae.Nested(attrDest, func(ae *netlink.AttributeEncoder) error {
				ae.Bytes(1, addr)
				ae.Bytes(2, []byte{0, 80})
				if family != 0 {
					ae.Uint16(11, family)
				}
				ae.Uint32(3, fwd)
				ae.Uint32(4, weight)
				ae.Uint32(5, u)
				ae.Uint32(6, l)
				if extra != nil {
					extra(ae)
				}
				return nil
			})
		})
	}
	v4 := []byte{10, 0, 0, 1}
	v6 := netip.MustParseAddr("2001:db8::5").As16()
	tests := []struct {
		name  string
		data  []byte
		errno syscall.Errno
	}{
		{"negative weight", dest(v4, 0, 0, 0xffffffff, 0, 0, nil), syscall.ERANGE},
		{"lower above upper", dest(v4, 0, 0, 1, 5, 6, nil), syscall.ERANGE},
		{"lower set, no upper", dest(v4, 0, 0, 1, 0, 1, nil), syscall.ERANGE},
		{"GUE port 0", dest(v4, 0, 2, 1, 0, 0, func(ae *netlink.AttributeEncoder) { ae.Uint8(13, 1) }), syscall.EINVAL},
		{"mixed, not tunnel", dest(v6[:], 10, 3, 1, 0, 0, nil), syscall.EINVAL},
		{"bad family", dest(v4, 3, 0, 1, 0, 0, nil), syscall.EAFNOSUPPORT},
		{"broadcast", dest([]byte{255, 255, 255, 255}, 0, 0, 1, 0, 0, nil), syscall.EINVAL},
		{"zero network", dest([]byte{0, 1, 2, 3}, 0, 0, 1, 0, 0, nil), syscall.EINVAL},
		{"ok, 4 bytes of address", dest(v4, 0, 0, 1, 0, 0, nil), 0},
		{"exists", dest(v4, 2, 0, 1, 0, 0, nil), syscall.EEXIST},
		{"mixed tunnel", dest(v6[:], 10, 2, 1, 0, 0, nil), 0},
	}
	for _, tt := range tests {
		_, err := execute(t, conn, cmdNewDest, do, tt.data)
		if tt.errno == 0 && err != nil || tt.errno != 0 && !errors.Is(err, tt.errno) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.errno)
		}
	}
	got := k.Destinations(ipvs.ServiceKey{Family: 2, Protocol: 6, Addr: netip.MustParseAddr("192.0.2.1"), Port: 80})
	if len(got) != 2 || got[0].Family != 10 || got[1].Addr != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("destinations %+v", got)
	}

	// With a mixed pool the sync daemon cannot start.
	d := encode(t, func(ae *netlink.AttributeEncoder) {
		ae.Nested(3, func(ae *netlink.AttributeEncoder) error {
			ae.Uint32(1, 1)
			ae.String(2, "eth0")
			ae.Uint32(3, 1)
			return nil
		})
	})
	if _, err := execute(t, conn, 9, do, d); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("sync daemon with a mixed pool: %v, want EINVAL", err)
	}
}

func TestDumps(t *testing.T) {
	k := ipvstest.New()
	conn := k.Conn()
	defer conn.Close()
	const n = 300
	for i := range n {
		port := binary.BigEndian.AppendUint16(nil, uint16(i+1))
		data := encode(t, func(ae *netlink.AttributeEncoder) { ae.Nested(attrService, svcAttrs(port, nil)) })
		if _, err := execute(t, conn, cmdNewService, do, data); err != nil {
			t.Fatal(err)
		}
	}
	// Several datagrams, NLM_F_MULTI, NLMSG_DONE: netlink.Conn gathers them.
	msgs, err := execute(t, conn, cmdGetService, netlink.Request|netlink.Dump, nil)
	if err != nil || len(msgs) != n {
		t.Fatalf("dump: %d messages, %v; want %d", len(msgs), err, n)
	}
	for _, m := range msgs {
		if m.Header.Command != cmdNewService {
			t.Fatalf("dump message command %d, want NEW_SERVICE", m.Header.Command)
		}
	}

	// GET_DEST of a missing service: an empty dump, no error.
	data := encode(t, func(ae *netlink.AttributeEncoder) {
		ae.Nested(attrService, svcAttrs([]byte{0xff, 0xff}, nil))
	})
	if msgs, err := execute(t, conn, cmdGetDest, netlink.Request|netlink.Dump, data); err != nil || len(msgs) != 0 {
		t.Errorf("destinations of a missing service: %v, %v; want none, nil", msgs, err)
	}
	// GET_DEST has no doit.
	if _, err := execute(t, conn, cmdGetDest, netlink.Request, data); !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Errorf("GET_DEST without NLM_F_DUMP: %v, want EOPNOTSUPP", err)
	}
	// GET_INFO has no dumpit.
	if _, err := execute(t, conn, cmdGetInfo, netlink.Request|netlink.Dump, nil); !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Errorf("GET_INFO with NLM_F_DUMP: %v, want EOPNOTSUPP", err)
	}
}

func TestAcknowledgements(t *testing.T) {
	k := ipvstest.New()
	conn := k.Conn()
	defer conn.Close()
	data := encode(t, func(ae *netlink.AttributeEncoder) { ae.Nested(attrService, svcAttrs([]byte{0, 80}, nil)) })

	// Without NLM_F_ACK the kernel is silent on success: nothing comes,
	// and a read waits for its deadline.
	req := genetlink.Message{Header: genetlink.Header{Command: cmdNewService, Version: 1}, Data: data}
	if _, err := conn.Send(req, ipvstest.FamilyID, netlink.Request); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if msgs, _, err := conn.Receive(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a command without NLM_F_ACK got an answer: %v, %v", msgs, err)
	}
	if len(k.Services()) != 1 {
		t.Error("the command was not carried out")
	}
	// A failure is answered all the same.
	if _, err := conn.Send(req, ipvstest.FamilyID, netlink.Request); err != nil {
		t.Fatal(err)
	}
	if _, _, err := conn.Receive(); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("a failed command without NLM_F_ACK: %v, want EEXIST", err)
	}

	// A GET with NLM_F_ACK is answered twice: the stray acknowledgement
	// is read as the answer to the next request.
	conn2 := k.Conn()
	defer conn2.Close()
	if _, err := execute(t, conn2, cmdGetInfo, netlink.Request|netlink.Acknowledge, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := execute(t, conn2, cmdGetInfo, netlink.Request, nil); err == nil {
		t.Error("the request after an acknowledged GET read a clean answer")
	}
}

func TestFamilyLookup(t *testing.T) {
	conn := ipvstest.New().Conn()
	defer conn.Close()
	f, err := conn.GetFamily("IPVS")
	if err != nil || f.ID != ipvstest.FamilyID || f.Version != 1 {
		t.Errorf("GetFamily(IPVS) = %+v, %v", f, err)
	}
	if _, err := conn.GetFamily("nl80211"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("GetFamily(nl80211) = %v, want ENOENT", err)
	}
}

// newServiceMsg is NEW_SERVICE of TCP 192.0.2.1:port, as a netlink message
// for SendMessages.
func newServiceMsg(t *testing.T, port uint16, flags netlink.HeaderFlags) netlink.Message {
	t.Helper()
	data := encode(t, func(ae *netlink.AttributeEncoder) {
		ae.Nested(attrService, svcAttrs(binary.BigEndian.AppendUint16(nil, port), nil))
	})
	b, err := (&genetlink.Message{Header: genetlink.Header{Command: cmdNewService, Version: 1}, Data: data}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return netlink.Message{Header: netlink.Header{Type: ipvstest.FamilyID, Flags: flags}, Data: b}
}

func TestDatagramOfMessages(t *testing.T) {
	k := ipvstest.New()
	nc := k.NetlinkConn()
	defer nc.Close()

	// netlink_rcv_skb: in order, each answered on its own, an error
	// with or without NLM_F_ACK, a success only with it.
	sent, err := nc.SendMessages([]netlink.Message{
		newServiceMsg(t, 80, netlink.Request),
		newServiceMsg(t, 80, netlink.Request), // EEXIST: the first is made already
		newServiceMsg(t, 81, netlink.Request),
		newServiceMsg(t, 81, netlink.Request|netlink.Acknowledge), // EEXIST
		newServiceMsg(t, 82, netlink.Request|netlink.Acknowledge),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 3} {
		var oe *netlink.OpError
		if _, err := nc.Receive(); !errors.As(err, &oe) || !errors.Is(err, syscall.EEXIST) ||
			oe.Sequence != sent[i].Header.Sequence {
			t.Errorf("answer to message %d (seq %d): %v", i, sent[i].Header.Sequence, err)
		}
	}
	msgs, err := nc.Receive()
	if err != nil || len(msgs) != 1 || msgs[0].Header.Type != netlink.Error || msgs[0].Header.Sequence != sent[4].Header.Sequence {
		t.Errorf("acknowledgement of the last message: %+v, %v", msgs, err)
	}
	if err := nc.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if msgs, err := nc.Receive(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("answers beyond those due: %+v, %v", msgs, err)
	}
	if n := len(k.Services()); n != 3 {
		t.Errorf("%d services, want 3", n)
	}
}

func TestReceiveBufferOverrun(t *testing.T) {
	k := ipvstest.New()
	nc := k.NetlinkConn()
	defer nc.Close()
	rcvbuf, err := nc.ReadBuffer()
	if err != nil || rcvbuf != 212992 {
		t.Fatalf("ReadBuffer = %d, %v; want net.core.rmem_default", rcvbuf, err)
	}
	if err := nc.SetReadBuffer(1 << 30); err != nil {
		t.Fatal(err)
	}
	if n, _ := nc.ReadBuffer(); n != 2*212992 {
		t.Errorf("SO_RCVBUF of 1 GiB gives %d, want twice net.core.rmem_max", n)
	}
	if err := nc.SetReadBuffer(rcvbuf / 2); err != nil {
		t.Fatal(err)
	}

	// 1,000 failures answered inside one sendmsg: what does not fit the
	// buffer is lost, the reader is told so first, and the rest is there.
	var msgs []netlink.Message
	for range 1000 {
		msgs = append(msgs, newServiceMsg(t, 80, netlink.Request))
	}
	if _, err := nc.SendMessages(msgs[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.SendMessages(msgs); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Receive(); !errors.Is(err, syscall.ENOBUFS) {
		t.Fatalf("first read after the overrun: %v, want ENOBUFS", err)
	}
	if err := nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		_, err := nc.Receive()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if !errors.Is(err, syscall.EEXIST) {
			t.Fatalf("answer %d: %v", n, err)
		}
		n++
	}
	if n == 0 || n >= 1000 || n*700 > rcvbuf {
		t.Errorf("%d answers survived in a buffer of %d bytes", n, rcvbuf)
	}

	// Read empty, the socket takes answers again.
	if err := nc.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.SendMessages([]netlink.Message{newServiceMsg(t, 81, netlink.Request|netlink.Acknowledge)}); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Receive(); err != nil {
		t.Errorf("after the overrun: %v", err)
	}

	// sendmsg refuses a datagram bigger than the send buffer.
	big := make([]netlink.Message, 0, 3000)
	for range 3000 {
		big = append(big, newServiceMsg(t, 82, netlink.Request))
	}
	if _, err := nc.SendMessages(big); !errors.Is(err, syscall.EMSGSIZE) {
		t.Errorf("a datagram of %d messages: %v, want EMSGSIZE", len(big), err)
	}
}
