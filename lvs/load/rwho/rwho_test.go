package rwho

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// packet builds a status packet as rwhod does, with users entries.
func packet(host string, load [3]int32, users int) []byte {
	b := make([]byte, headerLen+users*entryLen)
	b[0], b[1] = 1, 1
	binary.BigEndian.PutUint32(b[4:], 1764690000)
	copy(b[12:44], host)
	for i, l := range load {
		binary.BigEndian.PutUint32(b[44+4*i:], uint32(l))
	}
	binary.BigEndian.PutUint32(b[56:], 1764670000)
	for i := range users {
		copy(b[headerLen+i*entryLen:], "pts/0\x00\x00\x00root")
	}
	return b
}

func TestDecode(t *testing.T) {
	st, err := Decode(packet("rs1", [3]int32{123, 50, 7}, 2))
	if err != nil {
		t.Fatal(err)
	}
	want := Status{Hostname: "rs1", SendTime: time.Unix(1764690000, 0), Boot: time.Unix(1764670000, 0),
		Load: [3]float64{1.23, 0.5, 0.07}, Users: 2}
	if st != want {
		t.Errorf("Decode = %+v, want %+v", st, want)
	}
	long := strings.Repeat("h", 32) // no NUL: all 32 bytes are the name
	if st, err := Decode(packet(long, [3]int32{}, 0)); err != nil || st.Hostname != long {
		t.Errorf("32-byte name: %q, %v", st.Hostname, err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	good := packet("rs1", [3]int32{1, 2, 3}, 1)
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"short", good[:59], "shorter than the 60-byte header"},
		{"odd", good[:70], "10 bytes left over"},
		{"long", packet("rs1", [3]int32{}, MaxEntries+1), "longer than 1068"},
		{"version", append([]byte{2}, good[1:]...), "wd_vers 2"},
		{"type", append([]byte{1, 0}, good[2:]...), "wd_type 0"},
		{"name", packet("rs\n1", [3]int32{}, 0), "byte 0xa at 2"},
		{"no name", packet("", [3]int32{}, 0), "empty"},
	} {
		if _, err := Decode(c.b); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(packet("rs1", [3]int32{123, 50, 7}, 2))
	f.Add([]byte{1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := Decode(b)
		if err != nil {
			return
		}
		if len(b) < headerLen || len(b) > MaxLen || st.Hostname == "" || len(st.Hostname) > 32 {
			t.Fatalf("accepted %d bytes: %+v", len(b), st)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	p := packet("realserver1", [3]int32{123, 50, 7}, 3)
	for b.Loop() {
		if _, err := Decode(p); err != nil {
			b.Fatal(err)
		}
	}
}

// waitFor polls l for host until the deadline.
func waitFor(t *testing.T, l *Listener, host netip.Addr, d time.Duration) Host {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		if h, ok := l.Load(host); ok {
			return h
		}
		<-tick.C
	}
	n, err := l.Dropped()
	t.Fatalf("no status from %s within %v (%d packets refused, the last: %v)", host, d, n, err)
	return Host{}
}

// TestListener: a listener on loopback keeps the latest status per sender,
// counts the bad packets, refuses new senders when full, forgets a host
// after MaxAge.
func TestListener(t *testing.T) {
	ctx := context.Background()
	l, err := Listen(ctx, "127.0.0.1:0", Options{MaxHosts: 1, MaxAge: time.Hour, AnySourcePort: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("udp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lo := netip.MustParseAddr("127.0.0.1")
	c.Write([]byte("junk"))
	c.Write(packet("rs1", [3]int32{100, 200, 300}, 0))
	if h := waitFor(t, l, lo, 5*time.Second); h.Hostname != "rs1" || h.Load != [3]float64{1, 2, 3} {
		t.Errorf("got %+v", h)
	}
	if n, err := l.Dropped(); n != 1 || err == nil || !strings.Contains(err.Error(), "shorter") {
		t.Errorf("dropped %d, %v: want the junk", n, err)
	}
	// A second sender finds the table full.
	// From another loopback address (127.0.0.2) when the kernel allows it.
	d := net.Dialer{LocalAddr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	c3, err := d.Dial("udp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	c3.Write(packet("rs2", [3]int32{}, 0))
	deadline := time.Now().Add(5 * time.Second)
	for n, _ := l.Dropped(); n < 2 && time.Now().Before(deadline); n, _ = l.Dropped() {
		time.Sleep(5 * time.Millisecond) // polled with a deadline
	}
	if n, err := l.Dropped(); n != 2 || !strings.Contains(err.Error(), "table full") {
		t.Errorf("dropped %d, %v: want rs2 dropped, table full", n, err)
	}
	l.mu.Lock()
	l.opts.MaxAge = time.Nanosecond
	l.mu.Unlock()
	if h, ok := l.Load(lo); ok {
		t.Errorf("a host older than MaxAge is known: %+v", h)
	}
}

// TestListenerSourcePort: rwhod sends from port 513; by default nothing
// else is taken.
func TestListenerSourcePort(t *testing.T) {
	l, err := Listen(context.Background(), "127.0.0.1:0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("udp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(packet("rs1", [3]int32{}, 0))
	deadline := time.Now().Add(5 * time.Second)
	for n, _ := l.Dropped(); n < 1 && time.Now().Before(deadline); n, _ = l.Dropped() {
		time.Sleep(5 * time.Millisecond) // polled with a deadline
	}
	if n, err := l.Dropped(); n != 1 || !strings.Contains(err.Error(), "source port not 513") {
		t.Errorf("dropped %d, %v", n, err)
	}
}
