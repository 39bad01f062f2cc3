package check_test

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/check"
)

// startUDP listens on addr; with echo set it sends every datagram back,
// else it never answers.
func startUDP(t *testing.T, addr string, echo bool) check.Target {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if echo {
				pc.WriteTo(buf[:n], from)
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		wg.Wait()
	})
	return targetOf(t, pc.LocalAddr())
}

func udpSpec(expect string) check.Spec {
	return check.Spec{Kind: check.UDP, Timeout: 2 * time.Second, Send: `ping\n`, Expect: expect}
}

func TestUDPEcho(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			tg := startUDP(t, net.JoinHostPort(host, "0"), true)
			r := check.Run(t.Context(), udpSpec("ping"), tg)
			wantOK(t, r)
			if r.Reason != `got 'ping\n'` {
				t.Errorf("reason %q", r.Reason)
			}
			wantOK(t, check.Run(t.Context(), udpSpec(""), tg))
			spec := udpSpec(`^p.ng$`)
			spec.UseRegex = true
			wantOK(t, check.Run(t.Context(), spec, tg))
			wantDown(t, check.Run(t.Context(), udpSpec("pong"), tg), `expect mismatch: got 'ping\n'`)
		})
	}
}

func TestUDPClosedPort(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			pc, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
			if err != nil {
				t.Fatal(err)
			}
			tg := targetOf(t, pc.LocalAddr())
			pc.Close()
			wantDown(t, check.Run(t.Context(), udpSpec("ping"), tg), "port unreachable")
		})
	}
}

func TestUDPNoReply(t *testing.T) {
	t.Parallel()
	tg := startUDP(t, "127.0.0.1:0", false)
	spec := udpSpec("ping")
	spec.Timeout = 300 * time.Millisecond
	r, took := timed(t, spec, tg)
	wantDown(t, r, "no reply within 300ms")
	if took < spec.Timeout || took > 5*spec.Timeout {
		t.Errorf("check took %v, timeout %v", took, spec.Timeout)
	}
}
