package rstat

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Captured from Debian's rpcbind and rpc.rstatd (bookworm) on loopback.
const (
	capturedGetPort = "1122334400000001000000000000000000000000000000000000e45d"
	capturedStatsV3 = "556677880000000100000000000000000000000000000000001f9dfa00006573000c0481000a55f50000000000000000000000000000000001b90ae102905598000000000000000002ef1e6a00000000000000000000000000000000078713210000058200000430000004596b10093e000000006b104fa1000000000007d00000000000"
	capturedV4      = "5566778900000001000000000000000000000000000000020000000100000005"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncodeCall(t *testing.T) {
	args := []byte{0, 1, 0x86, 0xa1, 0, 0, 0, 3, 0, 0, 0, 17, 0, 0, 0, 0}
	got := hex.EncodeToString(encodeCall(0x11223344, pmapProg, pmapVers, pmapGetPort, args))
	want := "11223344" + "00000000" + "00000002" + "000186a0" + "00000002" + "00000003" +
		"00000000" + "00000000" + "00000000" + "00000000" + "000186a1" + "00000003" + "00000011" + "00000000"
	if got != want {
		t.Errorf("call\n got %s\nwant %s", got, want)
	}
}

func TestDecodeCaptured(t *testing.T) {
	res, err := decodeReply(0x11223344, unhex(t, capturedGetPort))
	if err != nil || binary.BigEndian.Uint32(res) != 0xe45d {
		t.Errorf("GETPORT: %x, %v", res, err)
	}
	res, err = decodeReply(0x55667788, unhex(t, capturedStatsV3))
	if err != nil {
		t.Fatal(err)
	}
	st, err := decodeStats(3, res)
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{Version: 3, Load: [3]float64{0x582 / 256.0, 0x430 / 256.0, 0x459 / 256.0},
		Boot: time.Unix(0x6b10093e, 0), Now: time.Unix(0x6b104fa1, 0)}
	if !st.Boot.Equal(want.Boot) || !st.Now.Equal(want.Now) || st.Load != want.Load || st.Version != 3 {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	if _, err := decodeStats(3, res[:len(res)-20]); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated stats: %v", err)
	}
	_, err = decodeReply(0x55667789, unhex(t, capturedV4))
	var m *MismatchError
	if !errors.As(err, &m) || m.Low != 1 || m.High != 5 {
		t.Errorf("version 4: %v, want a program version mismatch 1 to 5", err)
	}
	if _, err := decodeReply(0x1, unhex(t, capturedV4)); err != errOtherXID {
		t.Errorf("another XID: %v", err)
	}
}

func TestDecodeReplyErrors(t *testing.T) {
	words := func(ws ...uint32) []byte {
		var b []byte
		for _, w := range ws {
			b = binary.BigEndian.AppendUint32(b, w)
		}
		return b
	}
	for _, c := range []struct {
		b    []byte
		want string
	}{
		{words(7, 1, 1, 1, 1), "RPC denied: authentication error: bad credential"},
		{words(7, 1, 1, 0, 2, 2), "RPC denied: RPC version mismatch: server supports 2 to 2"},
		{words(7, 1, 0, 0, 0, 1), "program unavailable"},
		{words(7, 1, 0, 0, 0, 3), "procedure unavailable"},
		{words(7, 1, 0, 0, 1000), "opaque of 1000 bytes"},
		{words(7, 0), "message type 0"},
		{words(7, 1), "truncated at byte 8"},
	} {
		if _, err := decodeReply(7, c.b); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%x: %v, want %q", c.b, err, c.want)
		}
	}
}

// fakeServer answers on loopback with reply(call) (nil: no answer).
func fakeServer(t *testing.T, reply func(call []byte) [][]byte) uint16 {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 9000)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			for _, r := range reply(buf[:n]) {
				pc.WriteTo(r, from)
			}
		}
	}()
	return uint16(pc.LocalAddr().(*net.UDPAddr).Port)
}

// TestPortmapperRetransmitsAndChecksXID: the first call is lost, then a
// stray reply with another XID comes before the right one; a port of 0
// for every version means rstatd is not registered.
func TestPortmapperRetransmitsAndChecksXID(t *testing.T) {
	var calls atomic.Int32
	port := fakeServer(t, func(call []byte) [][]byte {
		if calls.Add(1) == 1 {
			return nil
		}
		xid := binary.BigEndian.Uint32(call)
		stray := binary.BigEndian.AppendUint32(nil, xid+1)
		stray = append(stray, unhex(t, capturedGetPort)[4:]...)
		right := binary.BigEndian.AppendUint32(nil, xid)
		right = append(right, make([]byte, 24)...) // reply, accepted, null verifier, success, port 0
		binary.BigEndian.PutUint32(right[4:], 1)
		return [][]byte{stray, right}
	})
	c := Client{PortmapPort: port, Retransmit: 20 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Load(ctx, netip.MustParseAddr("127.0.0.1"))
	if !errors.Is(err, ErrNotRegistered) || err.Error() != "portmapper: "+ErrNotRegistered.Error() {
		t.Errorf("Load: %v, want %v", err, ErrNotRegistered)
	}
	// More when a slow machine retransmits a call answered late.
	if n := calls.Load(); n < 4 {
		t.Errorf("%d calls, want at least 4 (one lost, then versions 3, 2, 4)", n)
	}
}

// TestReplyTooLarge: a reply over 8 KiB is refused.
func TestReplyTooLarge(t *testing.T) {
	port := fakeServer(t, func(call []byte) [][]byte {
		b := append([]byte(nil), call[:4]...)
		return [][]byte{append(b, make([]byte, MaxReply)...)}
	})
	c := Client{PortmapPort: port}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Load(ctx, netip.MustParseAddr("127.0.0.1")); err == nil || !strings.Contains(err.Error(), "larger than 8192 bytes") {
		t.Errorf("Load: %v", err)
	}
}

// TestNoReplyTimesOut: silence ends at the context's deadline.
func TestNoReplyTimesOut(t *testing.T) {
	port := fakeServer(t, func([]byte) [][]byte { return nil })
	c := Client{PortmapPort: port, Retransmit: 10 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Load(ctx, netip.MustParseAddr("127.0.0.1"))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "portmapper: no reply") {
		t.Errorf("Load: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}
