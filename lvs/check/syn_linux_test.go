package check_test

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/check"
)

// synProbe is a syn check of its own HalfOpen, closed with the test.
func synProbe(t testing.TB) *check.Probe {
	t.Helper()
	testenv.Root(t) // raw sockets: CAP_NET_RAW
	h := check.NewHalfOpen()
	t.Cleanup(func() { h.Close() })
	p, err := check.NewProbe(check.Spec{Kind: check.SYN, Timeout: time.Second}, check.WithHalfOpen(h))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// countingListener accepts on addr and counts what it accepts.
func countingListener(t *testing.T, addr string) (check.Target, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	tg := startTCP(t, addr, func(net.Conn, int) { n.Add(1) })
	return tg, &n
}

// TestSYNCheck: a listening port answers the SYN (UP) without the server's
// application ever seeing a connection; a closed port resets it (DOWN,
// "connect refused"); both for IPv4 and IPv6.
func TestSYNCheck(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			p := synProbe(t)
			tg, accepted := countingListener(t, net.JoinHostPort(host, "0"))
			for range 5 {
				r := p.Run(t.Context(), tg)
				wantOK(t, r)
				if r.Reason != "syn-ack" {
					t.Errorf("reason %q, want syn-ack", r.Reason)
				}
			}
			// A full connect to the same listener is seen by it: the
			// counter can tell the difference.
			if r := check.Run(t.Context(), check.Spec{Kind: check.TCP, Timeout: time.Second}, tg); !r.OK {
				t.Fatalf("tcp check of the listener: %s", r.Reason)
			}
			deadline := time.Now().Add(5 * time.Second)
			for accepted.Load() == 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond) // bounded poll: accept has no event to await from here
			}
			if got := accepted.Load(); got != 1 {
				t.Errorf("the server accepted %d connections after 5 syn checks and 1 connect, want 1", got)
			}
			wantDown(t, p.Run(t.Context(), closedTCP(t, host)), "connect refused")
		})
	}
}

// TestSYNCheckNeedsItsSockets: a syn probe built without WithHalfOpen says
// so instead of looking healthy.
func TestSYNCheckNeedsItsSockets(t *testing.T) {
	tg := startTCP(t, "127.0.0.1:0", func(net.Conn, int) {})
	wantDown(t, check.Run(t.Context(), check.Spec{Kind: check.SYN, Timeout: time.Second}, tg), "WithHalfOpen")
}

// TestSYNCheckConcurrent: many checks at once, to many listeners and
// several to the same one, all answered (the same target shares one SYN).
func TestSYNCheckConcurrent(t *testing.T) {
	p := synProbe(t)
	var targets []check.Target
	for range 200 {
		targets = append(targets, startTCP(t, "127.0.0.1:0", func(net.Conn, int) {}))
	}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := p.Run(t.Context(), targets[i%len(targets)]); !r.OK {
				failed.Add(1)
				t.Errorf("check %d of %v: %s", i, targets[i%len(targets)], r.Reason)
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of 1000 checks failed", failed.Load())
	}
}

// TestSYNCheckBatched: checks started together (as health's scheduler
// starts them), more than one sendmmsg takes and IPv4 and IPv6 mixed, all
// go out with one Flush and are all answered; without Flush they go out
// all the same, with the next sweep.
func TestSYNCheckBatched(t *testing.T) {
	testenv.Root(t)
	var targets []check.Target
	for i := range 150 {
		host := "127.0.0.1:0"
		if i%3 == 2 {
			host = "[::1]:0"
		}
		targets = append(targets, startTCP(t, host, func(net.Conn, int) {}))
	}
	for _, flush := range []bool{true, false} {
		h := check.NewHalfOpen()
		t.Cleanup(func() { h.Close() })
		p, err := check.NewProbe(check.Spec{Kind: check.SYN, Timeout: 5 * time.Second}, check.WithHalfOpen(h))
		if err != nil {
			t.Fatal(err)
		}
		results := make(chan check.Result, len(targets))
		for _, tg := range targets {
			p.Start(t.Context(), tg, func(r check.Result) { results <- r })
		}
		if flush {
			h.Flush()
		}
		for range targets {
			if r := <-results; !r.OK || r.Reason != "syn-ack" {
				t.Errorf("flush %v: check DOWN (%s), want syn-ack", flush, r.Reason)
			}
		}
	}
}
