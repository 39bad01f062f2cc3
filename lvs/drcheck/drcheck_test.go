package drcheck

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/direct"
)

func target(real string) direct.Target {
	return direct.Target{VIP: netip.MustParseAddr("192.0.2.10"), Port: 80, Real: netip.MustParseAddr(real)}
}

// TestCheckerBounds: checks of one target share one run, results are
// cached for the TTL, and no more than Concurrent run at once.
func TestCheckerBounds(t *testing.T) {
	c := New(Options{Concurrent: 2, TTL: time.Hour})
	var running, most, runs atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	c.run = func(ctx context.Context, tg direct.Target, _ time.Duration) direct.Result {
		runs.Add(1)
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		started <- struct{}{}
		<-release
		running.Add(-1)
		return direct.Result{Target: tg, Outcome: direct.Accepted, At: time.Now()}
	}
	var wg sync.WaitGroup
	results := make([]direct.Result, 6)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Two checks each of three targets.
			results[i] = c.Check(context.Background(), target([]string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}[i%3]))
		}()
	}
	// Two runs start; the third target waits for a slot.
	<-started
	<-started
	select {
	case <-started:
		t.Fatal("a third check runs with Concurrent 2")
	case <-time.After(50 * time.Millisecond): // proving an absence needs a wait
	}
	close(release)
	wg.Wait()
	if got := runs.Load(); got != 3 {
		t.Errorf("%d runs for 3 targets checked twice each, want 3", got)
	}
	if most.Load() != 2 {
		t.Errorf("at most %d ran at once, want 2", most.Load())
	}
	for i, r := range results {
		if r.Outcome != direct.Accepted {
			t.Errorf("check %d: %+v", i, r)
		}
	}
	// Cached: no new run.
	if r := c.Check(context.Background(), target("10.0.0.1")); r.Outcome != direct.Accepted || runs.Load() != 3 {
		t.Errorf("check within the TTL ran again (%d runs) or gave %+v", runs.Load(), r)
	}
	if _, ok := c.Last(target("10.0.0.1")); !ok {
		t.Error("Last has no result for a checked target")
	}
	if _, ok := c.Last(target("10.0.0.9")); ok {
		t.Error("Last has a result for a target never checked")
	}
	// Past the TTL, a check runs again.
	c.ttl = 0
	if c.Check(context.Background(), target("10.0.0.1")); runs.Load() != 4 {
		t.Errorf("check past the TTL did not run (%d runs)", runs.Load())
	}
}

// TestCheckerCallerGivesUp: a caller whose context ends gets an answer at
// once; the check itself goes on, bounded, and fills the cache.
func TestCheckerCallerGivesUp(t *testing.T) {
	c := New(Options{})
	release := make(chan struct{})
	c.run = func(ctx context.Context, tg direct.Target, _ time.Duration) direct.Result {
		<-release
		return direct.Result{Target: tg, Outcome: direct.Silent, At: time.Now()}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := c.Check(ctx, target("10.0.0.1")); r.Outcome != direct.Failed {
		t.Errorf("cancelled check = %+v, want Failed", r)
	}
	close(release)
	if r := c.Check(context.Background(), target("10.0.0.1")); r.Outcome != direct.Silent {
		t.Errorf("check = %+v, want the run's Silent", r)
	}
}

// TestMatch: the answers to a SYN are told from other segments.
func TestMatch(t *testing.T) {
	mac1, _ := net.ParseMAC("02:00:00:00:00:01")
	mac2, _ := net.ParseMAC("02:00:00:00:00:02")
	s := &syn{src: netip.MustParseAddr("10.0.0.1"), vip: netip.MustParseAddr("192.0.2.10"), sport: 40000, dport: 80, isn: 1000, from: mac1, to: mac2}
	// reply is the real server's answer: the SYN with addresses and
	// ports swapped, flags and ack set.
	reply := func(flags byte, ack uint32, from netip.Addr) []byte {
		r := &syn{src: from, vip: s.src, sport: s.dport, dport: s.sport, from: mac2, to: mac1}
		f := r.frame(flags, 5000)
		binary.BigEndian.PutUint32(f[14+20+8:], ack)
		return f
	}
	icmp := func(typ, code byte, quote []byte) []byte {
		r := &syn{src: netip.MustParseAddr("10.0.0.11"), vip: s.src, from: mac2, to: mac1}
		f := r.frame(0, 0)[:14+20] // an IPv4 header to fill
		f[14+9] = 1
		p := append([]byte{typ, code, 0, 0, 0, 0, 0, 0}, quote...)
		binary.BigEndian.PutUint16(f[14+2:], uint16(20+len(p)))
		return append(f, p...)
	}
	synIP := s.frame(tcpSYN, s.isn)[14:]
	for _, tc := range []struct {
		name  string
		frame []byte
		want  direct.Outcome
		ok    bool
	}{
		{"SYN-ACK", reply(tcpSYN|tcpACK, 1001, s.vip), direct.Accepted, true},
		{"RST-ACK", reply(tcpRST|tcpACK, 1001, s.vip), direct.Refused, true},
		{"SYN-ACK for another SYN", reply(tcpSYN|tcpACK, 77, s.vip), 0, false},
		{"SYN-ACK from another address", reply(tcpSYN|tcpACK, 1001, netip.MustParseAddr("10.0.0.11")), 0, false},
		{"a bare ACK", reply(tcpACK, 1001, s.vip), 0, false},
		{"port unreachable quoting the SYN", icmp(3, 3, synIP[:28]), direct.ICMP, true},
		{"port unreachable quoting another packet", icmp(3, 3, append(append([]byte{}, synIP[:20]...), 0, 1, 0, 80)), 0, false},
		{"an echo reply", icmp(0, 0, synIP[:28]), 0, false},
		{"a runt", []byte{1, 2, 3}, 0, false},
	} {
		got, detail, ok := s.match(tc.frame)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: %v %q %v, want %v %v", tc.name, got, detail, ok, tc.want, tc.ok)
		}
		if got == direct.ICMP && detail != "port unreachable from 10.0.0.11" {
			t.Errorf("%s: detail %q", tc.name, detail)
		}
	}
}
