package ipvs_test

// These tests look at the bytes the client sends, decoded here by hand
// rather than by the fake, so that a byte-order or framing mistake shared
// by the client and the fake still shows.

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
)

const (
	testFamilyID = 0x42
	nlaFNested   = 0x8000 // NLA_F_NESTED
)

// capture returns a client whose every request is decoded into the
// returned slice; requests are answered as a kernel would acknowledge
// them.
func capture(t *testing.T, flags netlink.HeaderFlags) (*ipvs.Client, *[]genetlink.Message) {
	t.Helper()
	var got []genetlink.Message
	fn := genltest.CheckRequest(testFamilyID, 0, flags,
		func(greq genetlink.Message, _ netlink.Message) ([]genetlink.Message, error) {
			got = append(got, greq)
			return []genetlink.Message{{Header: genetlink.Header{Command: greq.Header.Command}}}, nil
		})
	conn := genltest.Dial(genltest.ServeFamily(genetlink.Family{ID: testFamilyID, Name: "IPVS", Version: 1}, fn))
	c, err := ipvs.New(conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, &got
}

// attrs splits b into raw attributes: type with its flags, and data.
func attrs(t *testing.T, b []byte) map[uint16]netlink.Attribute {
	t.Helper()
	as, err := netlink.UnmarshalAttributes(b)
	if err != nil {
		t.Fatalf("unmarshal attributes: %v", err)
	}
	m := make(map[uint16]netlink.Attribute)
	for _, a := range as {
		m[a.Type&^(nlaFNested|0x4000)] = a
	}
	return m
}

// nested returns the contents of attribute typ, checking NLA_F_NESTED.
func nested(t *testing.T, m map[uint16]netlink.Attribute, typ uint16) map[uint16]netlink.Attribute {
	t.Helper()
	a, ok := m[typ]
	if !ok {
		t.Fatalf("no attribute %d", typ)
	}
	if a.Type&nlaFNested == 0 {
		t.Errorf("attribute %d lacks NLA_F_NESTED (type %#x)", typ, a.Type)
	}
	return attrs(t, a.Data)
}

func wantBytes(t *testing.T, what string, m map[uint16]netlink.Attribute, typ uint16, want []byte) {
	t.Helper()
	if got := m[typ].Data; !bytes.Equal(got, want) {
		t.Errorf("%s (attribute %d) = % x, want % x", what, typ, got, want)
	}
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
func u16(v uint16) []byte { return binary.NativeEndian.AppendUint16(nil, v) }

func TestWireService(t *testing.T) {
	c, got := capture(t, netlink.Request|netlink.Acknowledge)
	err := c.NewService(context.Background(), ipvs.Service{
		ServiceKey: tcp4(80), Scheduler: "wlc",
		Flags: ipvs.FlagPersistent | ipvs.FlagHashed, Timeout: 300, Netmask: 0xffffff00,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(*got) != 1 || (*got)[0].Header.Command != cmdNewService {
		t.Fatalf("sent %+v, want one NEW_SERVICE", *got)
	}
	svc := nested(t, attrs(t, (*got)[0].Data), 1)
	wantBytes(t, "AF", svc, 1, u16(2))
	wantBytes(t, "PROTOCOL", svc, 2, u16(6))
	wantBytes(t, "ADDR", svc, 3, []byte{192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	wantBytes(t, "PORT", svc, 4, []byte{0x00, 0x50}) // 80, big-endian
	wantBytes(t, "SCHED_NAME", svc, 6, []byte("wlc\x00"))
	// struct ip_vs_flags {flags, mask}: HASHED is not ours to send.
	wantBytes(t, "FLAGS", svc, 7, append(u32(0x1), u32(0xffffffff)...))
	wantBytes(t, "TIMEOUT", svc, 8, u32(300))
	wantBytes(t, "NETMASK", svc, 9, []byte{0xff, 0xff, 0xff, 0x00}) // __be32
	if _, ok := svc[5]; ok {
		t.Error("FWMARK sent for an address service")
	}
	if _, ok := svc[11]; ok {
		t.Error("PE_NAME sent without an engine")
	}
}

func TestWireServiceIPv6(t *testing.T) {
	c, got := capture(t, netlink.Request|netlink.Acknowledge)
	key := ipvs.ServiceKey{Family: ipvs.FamilyIPv6, Protocol: ipvs.UDP, Addr: vip6, Port: 5060}
	if err := c.UpdateService(context.Background(), ipvs.Service{ServiceKey: key, Scheduler: "rr",
		Flags: ipvs.FlagPersistent, Netmask: 64, PEName: "sip"}); err != nil {
		t.Fatal(err)
	}
	if (*got)[0].Header.Command != cmdSetService {
		t.Fatalf("command %d, want SET_SERVICE", (*got)[0].Header.Command)
	}
	svc := nested(t, attrs(t, (*got)[0].Data), 1)
	a := vip6.As16()
	wantBytes(t, "ADDR", svc, 3, a[:])
	wantBytes(t, "PORT", svc, 4, []byte{0x13, 0xc4})
	wantBytes(t, "NETMASK", svc, 9, u32(64)) // a prefix length, host order
	wantBytes(t, "PE_NAME", svc, 11, []byte("sip\x00"))

	// Not persistent: still a valid prefix length.
	*got = nil
	if err := c.NewService(context.Background(), ipvs.Service{ServiceKey: key, Scheduler: "rr"}); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "NETMASK", nested(t, attrs(t, (*got)[0].Data), 1), 9, u32(128))
}

func TestWireFWMark(t *testing.T) {
	c, got := capture(t, netlink.Request|netlink.Acknowledge)
	if err := c.DeleteService(context.Background(), ipvs.ServiceKey{Family: ipvs.FamilyIPv6, FWMark: 7}); err != nil {
		t.Fatal(err)
	}
	svc := nested(t, attrs(t, (*got)[0].Data), 1)
	wantBytes(t, "AF", svc, 1, u16(10))
	wantBytes(t, "FWMARK", svc, 5, u32(7))
	for _, typ := range []uint16{2, 3, 4} {
		if _, ok := svc[typ]; ok {
			t.Errorf("attribute %d sent for a firewall-mark service", typ)
		}
	}
}

func TestWireDestination(t *testing.T) {
	c, got := capture(t, netlink.Request|netlink.Acknowledge)
	d := ipvs.Destination{Addr: netip.MustParseAddr("10.0.0.1"), Port: 8080, Forward: ipvs.Tunnel,
		Weight: 2147483647, UpperThreshold: 100, LowerThreshold: 10,
		TunnelType: ipvs.TunnelGUE, TunnelPort: 6080, TunnelFlags: ipvs.TunnelChecksum}
	if err := c.NewDestination(context.Background(), tcp4(80), d); err != nil {
		t.Fatal(err)
	}
	top := attrs(t, (*got)[0].Data)
	nested(t, top, 1)
	dest := nested(t, top, 2)
	wantBytes(t, "ADDR", dest, 1, []byte{10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	wantBytes(t, "PORT", dest, 2, []byte{0x1f, 0x90})
	wantBytes(t, "FWD_METHOD", dest, 3, u32(2))
	wantBytes(t, "WEIGHT", dest, 4, u32(2147483647))
	wantBytes(t, "U_THRESH", dest, 5, u32(100))
	wantBytes(t, "L_THRESH", dest, 6, u32(10))
	wantBytes(t, "ADDR_FAMILY", dest, 11, u16(2))
	wantBytes(t, "TUN_TYPE", dest, 13, []byte{1})
	wantBytes(t, "TUN_PORT", dest, 14, []byte{0x17, 0xc0}) // 6080, big-endian
	wantBytes(t, "TUN_FLAGS", dest, 15, u16(1))

	// Not a tunnel: no tunnel attributes.
	*got = nil
	d.Forward = ipvs.DirectRoute
	if err := c.UpdateDestination(context.Background(), tcp4(80), d); err != nil {
		t.Fatal(err)
	}
	dest = nested(t, attrs(t, (*got)[0].Data), 2)
	for _, typ := range []uint16{13, 14, 15} {
		if _, ok := dest[typ]; ok {
			t.Errorf("tunnel attribute %d sent for direct routing", typ)
		}
	}

	// Deleting names the destination only.
	*got = nil
	if err := c.DeleteDestination(context.Background(), tcp4(80), d.Key()); err != nil {
		t.Fatal(err)
	}
	dest = nested(t, attrs(t, (*got)[0].Data), 2)
	if len(dest) != 3 {
		t.Errorf("DEL_DEST sent %d destination attributes, want ADDR, PORT, ADDR_FAMILY", len(dest))
	}
}

func TestWireDaemon(t *testing.T) {
	c, got := capture(t, netlink.Request|netlink.Acknowledge)
	err := c.StartDaemon(context.Background(), ipvs.Daemon{State: ipvs.DaemonBackup, Interface: "eth0",
		SyncID: 9, McastGroup: netip.MustParseAddr("239.1.2.3"), McastPort: 8848, McastTTL: 3})
	if err != nil {
		t.Fatal(err)
	}
	d := nested(t, attrs(t, (*got)[0].Data), 3)
	wantBytes(t, "STATE", d, 1, u32(2))
	wantBytes(t, "MCAST_IFN", d, 2, []byte("eth0\x00"))
	wantBytes(t, "SYNC_ID", d, 3, u32(9))
	wantBytes(t, "MCAST_GROUP", d, 5, []byte{239, 1, 2, 3})
	wantBytes(t, "MCAST_PORT", d, 7, u16(8848)) // host order, unlike the others
	wantBytes(t, "MCAST_TTL", d, 8, []byte{3})
	if _, ok := d[4]; ok {
		t.Error("SYNC_MAXLEN sent although zero")
	}
}

func TestWireFlags(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		flags netlink.HeaderFlags
		call  func(*ipvs.Client) error
	}{
		{"dump services", netlink.Request | netlink.Dump, func(c *ipvs.Client) error {
			_, err := c.Services(ctx)
			return err
		}},
		{"dump destinations", netlink.Request | netlink.Dump, func(c *ipvs.Client) error {
			_, err := c.Destinations(ctx, tcp4(80))
			return err
		}},
		{"dump daemons", netlink.Request | netlink.Dump, func(c *ipvs.Client) error {
			_, err := c.Daemons(ctx)
			return err
		}},
		// A GET that asked for an acknowledgement would leave it queued
		// behind the answer.
		{"get info", netlink.Request, func(c *ipvs.Client) error {
			_, err := c.Info(ctx)
			return err
		}},
		{"set timeouts", netlink.Request | netlink.Acknowledge, func(c *ipvs.Client) error {
			return c.SetTimeouts(ctx, ipvs.Timeouts{TCP: 60e9})
		}},
		{"flush", netlink.Request | netlink.Acknowledge, func(c *ipvs.Client) error { return c.Flush(ctx) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, got := capture(t, tt.flags)
			// Replies are empty, so decoding may fail; the flags are
			// checked by CheckRequest before that.
			if err := tt.call(c); err != nil && len(*got) == 0 {
				t.Fatal(err)
			}
			if len(*got) != 1 {
				t.Errorf("%d requests, want 1", len(*got))
			}
		})
	}
}
