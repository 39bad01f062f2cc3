package check_test

import (
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/check"
)

// dnsQuestion is what a responder saw: the question's name (wire form)
// and type.
type dnsQuestion struct {
	name  string
	qtype uint16
}

// startDNS answers every query on loopback UDP with answer(query),
// recording the questions on got.
func startDNS(t *testing.T, addr string, got chan<- dnsQuestion, answer func(q []byte) [][]byte) check.Target {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := append([]byte(nil), buf[:n]...)
			if got != nil && n > 16 {
				qt := binary.BigEndian.Uint16(q[n-4:])
				select {
				case got <- dnsQuestion{string(q[12 : n-4]), qt}:
				default:
				}
			}
			for _, m := range answer(q) {
				pc.WriteTo(m, from)
			}
		}
	})
	t.Cleanup(func() { pc.Close(); wg.Wait() })
	return targetOf(t, pc.LocalAddr())
}

// reply is q answered with rcode and one answer record counted.
func reply(q []byte, rcode byte) []byte {
	m := append([]byte(nil), q...)
	m[2] |= 0x80
	m[3] = m[3]&0xf0 | rcode
	binary.BigEndian.PutUint16(m[6:], 1)
	return m
}

func dnsSpec(typ, name string) check.Spec {
	return check.Spec{Kind: check.DNS, Timeout: 2 * time.Second, DNSType: typ, DNSName: name}
}

func TestDNS(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			got := make(chan dnsQuestion, 1)
			tg := startDNS(t, net.JoinHostPort(host, "0"), got, func(q []byte) [][]byte { return [][]byte{reply(q, 0)} })
			wantOK(t, check.Run(t.Context(), dnsSpec("A", "www.example.org"), tg))
			if q := <-got; q.name != "\x03www\x07example\x03org\x00" || q.qtype != 1 {
				t.Errorf("question %q type %d, want www.example.org A", q.name, q.qtype)
			}
			// keepalived's defaults: SOA of the root.
			wantOK(t, check.Run(t.Context(), dnsSpec("", ""), tg))
			if q := <-got; q.name != "\x00" || q.qtype != 6 {
				t.Errorf("question %q type %d, want . SOA", q.name, q.qtype)
			}
			wantOK(t, check.Run(t.Context(), dnsSpec("aaaa", "example.org."), tg))
			if q := <-got; q.name != "\x07example\x03org\x00" || q.qtype != 28 {
				t.Errorf("question %q type %d, want example.org AAAA", q.name, q.qtype)
			}
		})
	}
}

func TestDNSDown(t *testing.T) {
	t.Parallel()
	refused := startDNS(t, "127.0.0.1:0", nil, func(q []byte) [][]byte { return [][]byte{reply(q, 5)} })
	wantDown(t, check.Run(t.Context(), dnsSpec("A", "x.org"), refused), "answer REFUSED to A x.org")
	nx := startDNS(t, "127.0.0.1:0", nil, func(q []byte) [][]byte { return [][]byte{reply(q, 3)} })
	wantDown(t, check.Run(t.Context(), dnsSpec("A", "x.org"), nx), "answer NXDOMAIN")

	// Datagrams of another id, a query sent back, and a runt are not the
	// answer: the check waits for it until the timeout.
	wrong := startDNS(t, "127.0.0.1:0", nil, func(q []byte) [][]byte {
		other := reply(q, 0)
		other[0]++
		return [][]byte{other, q, q[:5]}
	})
	spec := dnsSpec("A", "x.org")
	spec.Timeout = 300 * time.Millisecond
	wantDown(t, check.Run(t.Context(), spec, wrong), "no reply within 300ms (3 datagrams of another id ignored)")
	// And the right one after them is.
	late := startDNS(t, "127.0.0.1:0", nil, func(q []byte) [][]byte {
		other := reply(q, 0)
		other[1]++
		return [][]byte{other, reply(q, 0)}
	})
	wantOK(t, check.Run(t.Context(), dnsSpec("A", "x.org"), late))

	wantDown(t, check.Run(t.Context(), spec, startUDP(t, "127.0.0.1:0", false)), "no reply within 300ms")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := targetOf(t, pc.LocalAddr())
	pc.Close()
	wantDown(t, check.Run(t.Context(), dnsSpec("A", "x.org"), closed), "port unreachable")
}

func TestDNSInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec       check.Spec
		field, msg string
	}{
		{dnsSpec("PTR", ""), "dns_type", `"PTR" is not a query type`},
		{dnsSpec("A", "a..b"), "dns_name", "not a domain name"},
	} {
		err := tc.spec.Validate()
		var fe *check.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Msg, tc.msg) {
			t.Errorf("%+v: got %v, want %s: %s", tc.spec, err, tc.field, tc.msg)
		}
	}
}
