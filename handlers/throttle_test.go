package handlers

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// tstep is one step of a throttle scenario: an attempt (want is the wait
// it must get, 0 for allowed and counted), a success, a refund, or the
// clock moving on.
type tstep struct {
	op           string // "try", "ok", "refund", "sleep"
	client, user string
	d            time.Duration // sleep
	want         time.Duration // try: the wait; -1: any wait > 0
	times        int           // try: repeat, all with want
}

func tryN(client, user string, times int, want time.Duration) tstep {
	return tstep{op: "try", client: client, user: user, times: times, want: want}
}
func okAt(client, user string) tstep     { return tstep{op: "ok", client: client, user: user} }
func refundAt(client, user string) tstep { return tstep{op: "refund", client: client, user: user} }
func sleepFor(d time.Duration) tstep     { return tstep{op: "sleep", d: d} }

const locked = -1

func TestThrottle(t *testing.T) {
	a, b := "192.0.2.1", "192.0.2.2"
	clients := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("198.51.100.%d", i+1)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		steps []tstep
	}{
		{"pair: five free, then waits that double", []tstep{
			tryN(a, "admin", 5, 0), tryN(a, "admin", 1, time.Second),
			sleepFor(time.Second), tryN(a, "admin", 1, 0), tryN(a, "admin", 1, 2*time.Second),
			sleepFor(2 * time.Second), tryN(a, "admin", 1, 0), tryN(a, "admin", 1, 4*time.Second),
		}},
		{"pair: the wait stops at 15 minutes", func() []tstep {
			s := []tstep{tryN(a, "admin", 5, 0)}
			for range 15 {
				s = append(s, sleepFor(maxLockout), tryN(a, "admin", 1, 0))
			}
			return append(s, tryN(a, "admin", 1, maxLockout))
		}()},
		{"pair: a locked pair leaves the client's other names and other clients alone", []tstep{
			tryN(a, "admin", 5, 0), tryN(a, "admin", 1, locked), tryN(a, "ops", 1, 0), tryN(b, "admin", 1, 0),
		}},
		{"pair: refused attempts are not counted", []tstep{
			tryN(a, "admin", 5, 0), tryN(a, "admin", 100, time.Second), sleepFor(time.Second), tryN(a, "admin", 1, 0),
		}},
		{"pair: a success clears it", []tstep{
			tryN(a, "admin", 4, 0), okAt(a, "admin"), tryN(a, "admin", 5, 0), tryN(a, "admin", 1, locked),
		}},
		{"pair: forgotten after an hour", []tstep{
			tryN(a, "admin", 5, 0), tryN(a, "admin", 1, locked), sleepFor(forgetAfter + time.Second), tryN(a, "admin", 5, 0),
		}},
		{"pair: an attempt never checked is given back", []tstep{
			tryN(a, "admin", 4, 0), refundAt(a, "admin"), refundAt(a, "admin"), tryN(a, "admin", 3, 0), tryN(a, "admin", 1, locked),
		}},
		{"client: 20 failures over many names lock the address", func() []tstep {
			var s []tstep
			for i := range 20 {
				s = append(s, tryN(a, fmt.Sprint("user", i), 1, 0))
			}
			return append(s, tryN(a, "someone-else", 1, time.Second), tryN(b, "someone-else", 1, 0))
		}()},
		{"client: a success gives its attempt back but keeps the others", func() []tstep {
			var s []tstep
			for i := range 19 {
				s = append(s, tryN(a, fmt.Sprint("user", i), 1, 0))
			}
			return append(s, tryN(a, "admin", 1, 0), okAt(a, "admin"), tryN(a, "x", 1, 0), tryN(a, "y", 1, locked))
		}()},
		{"user: 20 failures from many addresses lock the name for a new address, a minute at most", func() []tstep {
			var s []tstep
			for _, c := range clients(20) {
				s = append(s, tryN(c, "admin", 1, 0))
			}
			s = append(s, tryN(b, "admin", 1, time.Second), tryN(b, "ops", 1, 0))
			for range 10 {
				s = append(s, sleepFor(time.Minute), tryN(clients(30)[25], "admin", 1, 0))
			}
			return append(s, tryN(b, "admin", 1, time.Minute))
		}()},
		{"user: an address the user logged in from is not locked by the name's failures", func() []tstep {
			s := []tstep{tryN(a, "admin", 1, 0), okAt(a, "admin")}
			for _, c := range clients(40) {
				s = append(s, sleepFor(time.Minute), tryN(c, "admin", 1, 0))
			}
			// a's own failures still count for its pair.
			return append(s, tryN(b, "admin", 1, locked), tryN(a, "admin", 5, 0), tryN(a, "admin", 1, locked))
		}()},
		{"user: a known address is forgotten after 30 days", func() []tstep {
			s := []tstep{tryN(a, "admin", 1, 0), okAt(a, "admin"), sleepFor(knownFor + time.Hour)}
			for _, c := range clients(20) {
				s = append(s, tryN(c, "admin", 1, 0))
			}
			return append(s, tryN(a, "admin", 1, locked))
		}()},
		{"IPv6: one /64 is one client", []tstep{
			tryN("2001:db8::1", "admin", 3, 0), tryN("2001:db8::ffff:2", "admin", 2, 0),
			tryN("2001:db8::abcd", "admin", 1, locked), tryN("2001:db8:0:1::1", "admin", 1, 0),
		}},
		{"IPv4 in IPv6 is IPv4", []tstep{
			tryN("::ffff:192.0.2.1", "admin", 5, 0), tryN(a, "admin", 1, locked),
		}},
		{"zones do not make clients", []tstep{
			tryN("fe80::1%eth0", "admin", 5, 0), tryN("fe80::1%eth1", "admin", 1, locked),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1e9, 0)
			th := newThrottle(func() time.Time { return now }, maxThrottled)
			for i, s := range tc.steps {
				switch s.op {
				case "sleep":
					now = now.Add(s.d)
				case "ok":
					th.succeed(netip.MustParseAddr(s.client), s.user)
				case "refund":
					th.refund(netip.MustParseAddr(s.client), s.user)
				case "try":
					for j := range s.times {
						got := th.attempt(netip.MustParseAddr(s.client), s.user)
						if s.want == locked && got <= 0 || s.want != locked && got != s.want {
							t.Fatalf("step %d (%s %s), attempt %d: wait %v, want %v", i, s.client, s.user, j+1, got, s.want)
						}
					}
				}
			}
		})
	}
}

// TestThrottleIsBounded: attempts from ever new addresses and names keep
// each table at its size, dropping the entry unused the longest.
func TestThrottleIsBounded(t *testing.T) {
	now := time.Unix(1e9, 0)
	th := newThrottle(func() time.Time { return now }, 100)
	old := netip.MustParseAddr("192.0.2.1")
	th.attempt(old, "admin")
	for i := range 10000 {
		th.attempt(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), fmt.Sprint("user", i))
	}
	for name, n := range map[string]int{"pairs": th.pairs.len(), "clients": th.clients.len(), "users": th.users.len()} {
		if n != 100 {
			t.Errorf("%s holds %d entries, want 100", name, n)
		}
	}
	if _, ok := th.pairs.get(pairKey{clientKey(old), "admin"}); ok {
		t.Errorf("the entry unused the longest is still there")
	}
}

func TestLRUDropsTheLeastRecentlyUsed(t *testing.T) {
	c := newLRU[string, int](3)
	c.put("a", 1)
	c.put("b", 2)
	c.put("c", 3)
	c.get("a")
	c.put("d", 4) // b goes
	if _, ok := c.get("b"); ok {
		t.Error("b is still there")
	}
	for k, want := range map[string]int{"a": 1, "c": 3, "d": 4} {
		if v, ok := c.get(k); !ok || v != want {
			t.Errorf("%s = %d, %v", k, v, ok)
		}
	}
	c.put("a", 10)
	c.del("c")
	if v, _ := c.get("a"); v != 10 || c.len() != 2 {
		t.Errorf("a = %d, len %d", v, c.len())
	}
}

func TestClientKey(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"192.0.2.1", "192.0.2.1/32"},
		{"::ffff:192.0.2.1", "192.0.2.1/32"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
	} {
		if got := clientKey(netip.MustParseAddr(tc.addr)).String(); got != tc.want {
			t.Errorf("clientKey(%s) = %s, want %s", tc.addr, got, tc.want)
		}
	}
}

// TestHashGate: slots are taken at once while free; then a few attempts
// wait their turn for a while, and the others are refused at once.
func TestHashGate(t *testing.T) {
	g := newHashGate(2, time.Hour)
	ctx := context.Background()
	for i := range 2 {
		if !g.enter(ctx) {
			t.Fatalf("free slot %d was refused", i)
		}
	}
	// Fill the waiting room: each waiter is let in when a slot frees.
	in := make(chan bool)
	for range 8 {
		go func() { in <- g.enter(ctx) }()
	}
	// With 8 waiting, the next one is refused at once (no waiting room
	// left); wait until all 8 are in the room.
	deadline := time.Now().Add(10 * time.Second)
	for len(g.waiters) < 8 {
		if time.Now().After(deadline) {
			t.Fatalf("%d attempts waiting, want 8", len(g.waiters))
		}
		time.Sleep(time.Millisecond) // polling the room's size
	}
	if g.enter(ctx) {
		t.Error("entered with both slots taken and the waiting room full")
	}
	for range 8 {
		g.leave()
		if !<-in {
			t.Error("a waiter was refused when a slot freed")
		}
	}
	// A waiter whose context ends gives up.
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan bool)
	go func() { done <- g.enter(cctx) }()
	cancel()
	if <-done {
		t.Error("entered after the context ended")
	}
	// A short wait runs out.
	if !newHashGate(1, time.Millisecond).enter(ctx) {
		t.Error("an empty gate refused")
	}
	short := newHashGate(1, time.Millisecond)
	short.enter(ctx)
	if short.enter(ctx) {
		t.Error("entered a full gate after its wait")
	}
}

// BenchmarkThrottleAttempt is the throttle's cost per attempt with its
// tables full, each attempt from a new address for a new name (the
// attacker's case: every attempt inserts and evicts).
func BenchmarkThrottleAttempt(b *testing.B) {
	now := time.Unix(1e9, 0)
	th := newThrottle(func() time.Time { return now }, maxThrottled)
	names := make([]string, 1<<16)
	for i := range names {
		names[i] = fmt.Sprint("user", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		th.attempt(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), names[i&(1<<16-1)])
		i++
	}
}
