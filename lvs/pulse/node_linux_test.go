package pulse

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// Two directors started together elect the primary, and stay so.
func TestPairStartingTogetherElectsPrimary(t *testing.T) {
	for _, c := range []struct {
		name            string
		primaryA, primB bool
		want            string // the one that ends active
	}{
		{"a primary", true, false, "a"},
		{"b primary", false, true, "b"},
		{"neither: lower address", false, false, "a"},
		{"both: lower address", true, true, "a"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := directPair(t, func(sa, sb *Settings) {
				sa.Primary, sb.Primary = c.primaryA, c.primB
				// Both must hear each other before either could decide by
				// silence, however slowly the second goroutine starts.
				sa.Deadtime, sb.Deadtime = 3*time.Second, 3*time.Second
			})
			a.start(t)
			b.start(t)
			win, lose := a, b
			if c.want == "b" {
				win, lose = b, a
			}
			waitFor(t, c.want+" active and the other standby", func() bool {
				return win.is(Active) && lose.is(Standby)
			}, a, b)
			for _, n := range []*testNode{a, b} {
				if st := n.Status(); strings.Contains(st.Reason, "silent") || strings.Contains(st.Reason, "nothing heard") {
					t.Errorf("%s decided by silence, not by the election: %q", n.name, st.Reason)
				}
			}
			steady(t, 10*keepalive, a, b)
			if st := lose.Status(); st.Peer.Role != Active || !st.Peer.Heard || st.Peer.Console != 3636 {
				t.Errorf("%s sees its peer as %+v", lose.name, st.Peer)
			}
		})
	}
}

// A clean shutdown of the active director hands over at once: its goodbye
// makes the standby active without waiting for the deadtime.
func TestCleanShutdownHandsOver(t *testing.T) {
	a, b := directPair(t, func(sa, sb *Settings) {
		sb.Deadtime = 5 * time.Second // so that only the goodbye can explain a quick takeover
	})
	startPair(t, a, b)
	start := time.Now()
	a.stop(t)
	waitFor(t, "b active", func() bool { return b.is(Active) }, b)
	took := time.Since(start)
	if st := b.Status(); st.Reason != "peer leaving" {
		t.Errorf("b took over for %q, want %q", st.Reason, "peer leaving")
	}
	if took >= 5*time.Second {
		t.Errorf("takeover took %v, not before the deadtime", took)
	}
	t.Logf("clean shutdown to takeover: %v", took)
	if st := a.Status(); st.Role != Standby || !st.Decided || st.Reason != "stopped: asked the peer to take over" {
		t.Errorf("a after Run: %+v", st)
	}
}

// A killed active director (no goodbye) is replaced after the deadtime,
// not before.
func TestKilledActiveIsReplacedAfterDeadtime(t *testing.T) {
	a, b := directPair(t, nil)
	startPair(t, a, b)
	last := b.Status().Peer.LastHeard
	a.kill(t)
	waitFor(t, "b active", func() bool { return b.is(Active) }, b)
	st := b.Status()
	if !strings.HasPrefix(st.Reason, "peer 127.0.0.1 silent for ") {
		t.Errorf("b took over for %q, want silence", st.Reason)
	}
	// Deadtime runs from the last heartbeat b heard, on the monotonic clock.
	if after := st.Since.Sub(st.Peer.LastHeard); after < deadtime {
		t.Errorf("b took over %v after the last heartbeat, before the deadtime %v", after, deadtime)
	}
	if st.Peer.LastHeard.Before(last) || st.Peer.Heard {
		t.Errorf("b's view of the dead peer: %+v", st.Peer)
	}
}

// The failover latency with keepalive 0.2 s and deadtime 0.6 s: the
// standby takes over the deadtime after the active's last heartbeat, by
// its own clock (its heartbeat thread's, not this test's, which a loaded
// machine may keep waiting), so between 0.4 and 0.6 s after a kill.
func TestFailoverLatency(t *testing.T) {
	a, b := directPair(t, func(sa, sb *Settings) {
		for _, s := range []*Settings{sa, sb} {
			s.Keepalive, s.Deadtime = 200*time.Millisecond, 600*time.Millisecond
		}
	})
	startPair(t, a, b)
	active, standby := a, b
	for range 3 {
		active.kill(t)
		waitFor(t, standby.name+" active", func() bool { return standby.is(Active) }, standby)
		st := standby.Status()
		after := st.Since.Sub(st.Peer.LastHeard)
		t.Logf("%s active %v after %s's last heartbeat (%s)", standby.name, after, active.name, st.Reason)
		if after < 600*time.Millisecond || after > 600*time.Millisecond+200*time.Millisecond {
			t.Errorf("%s took over %v after the last heartbeat, want the deadtime (600ms) and less than a keepalive more", standby.name, after)
		}

		// The killed one comes back, finds the other active and waits.
		back := newNode(t, active.name+"'", active.set)
		back.start(t)
		waitFor(t, back.name+" standby", func() bool { return back.is(Standby) }, back)
		active, standby = standby, back
	}
}

// A restarted primary finds the backup active and stays standby (piranha's
// rule); the backup keeps the addresses.
func TestRestartedPrimaryStaysStandby(t *testing.T) {
	a, b := directPair(t, nil)
	startPair(t, a, b)
	a.kill(t)
	waitFor(t, "b active", func() bool { return b.is(Active) }, b)

	a2 := newNode(t, "a2", a.set)
	a2.start(t)
	waitFor(t, "a2 standby", func() bool { return a2.is(Standby) }, a2, b)
	if st := a2.Status(); st.Reason != "peer 127.0.0.2 is active" {
		t.Errorf("a2 standby for %q", st.Reason)
	}
	steady(t, 3*deadtime, a2, b)
	if !b.is(Active) {
		t.Errorf("b no longer active")
	}
}

// With Preempt the restarted primary takes over after PreemptDelay of
// hearing the backup, and the backup yields.
func TestPreempt(t *testing.T) {
	const delay = time.Second
	a, b := directPair(t, nil)
	startPair(t, a, b)
	a.kill(t)
	waitFor(t, "b active", func() bool { return b.is(Active) }, b)

	s := a.set
	s.Preempt, s.PreemptDelay = true, delay
	a2 := newNode(t, "a2", s)
	a2.start(t)
	waitFor(t, "a2 decided", func() bool { return a2.Status().Decided }, a2)
	st := a2.Status()
	if st.Role != Standby || st.Reason != "peer 127.0.0.2 is active" {
		t.Fatalf("a2 first decided %v for %q, want standby as b is active", st.Role, st.Reason)
	}
	standbySince := st.Since
	waitFor(t, "a2 active and b standby", func() bool { return a2.is(Active) && b.is(Standby) }, a2, b)
	st = a2.Status()
	if st.Reason != "preempt after 1s" {
		t.Errorf("a2 active for %q", st.Reason)
	}
	// The delay runs from the first active heartbeat a2 heard, the one it
	// decided standby on.
	if waited := st.Since.Sub(standbySince); waited < delay-keepalive || waited > delay+deadtime {
		t.Errorf("a2 preempted %v after deciding standby, want about %v", waited, delay)
	}
	if bs := b.Status(); bs.Reason != "peer 127.0.0.1 is active and primary" {
		t.Errorf("b yielded for %q", bs.Reason)
	}
	steady(t, 3*deadtime, a2, b)
}

// A partition makes both active (each must assume the other dead); when it
// heals, the backup yields within about a keepalive.
func TestPartitionAndHeal(t *testing.T) {
	a, b, r := relayedPair(t, nil)
	r.forward.Store(false)
	waitFor(t, "both active", func() bool { return a.is(Active) && b.is(Active) }, a, b)
	if st := b.Status(); !strings.HasPrefix(st.Reason, "peer 127.0.0.1 silent for") {
		t.Errorf("b active for %q", st.Reason)
	}

	healed := time.Now()
	r.forward.Store(true)
	waitFor(t, "exactly one active", func() bool { return a.is(Active) && b.is(Standby) }, a, b)
	took := b.Status().Since.Sub(healed) // by b's heartbeat thread's clock
	t.Logf("heal to one active: %v (keepalive %v)", took, keepalive)
	if st := b.Status(); st.Reason != "peer 127.0.0.1 is active and primary" {
		t.Errorf("b yielded for %q", st.Reason)
	}
	if took > deadtime {
		t.Errorf("healing took %v, want about a keepalive (%v)", took, keepalive)
	}
	steady(t, 3*deadtime, a, b)
}

// A monitored link going down makes the active director standby at once
// and the peer take over without waiting for the deadtime; when the link
// returns it stays standby.
func TestLinkDown(t *testing.T) {
	a, b := directPair(t, func(sa, sb *Settings) {
		sb.Deadtime = 5 * time.Second // so that only the link-down flag can explain a quick takeover
	})
	startPair(t, a, b)
	a.SetLink(false)
	if st := a.Status(); st.Role != Standby || st.Reason != "link down" || !st.LinkDown {
		t.Fatalf("after SetLink(false): %+v", st)
	}
	start := time.Now()
	waitFor(t, "b active", func() bool { return b.is(Active) }, b)
	if st := b.Status(); st.Reason != "peer 127.0.0.1 has a link down" || time.Since(start) > 5*time.Second {
		t.Errorf("b active for %q after %v", st.Reason, time.Since(start))
	}
	steady(t, 3*keepalive, a, b) // a, primary, does not come back while down

	a.SetLink(true)
	waitFor(t, "a hears b active, link up", func() bool {
		st := a.Status()
		return !st.LinkDown && st.Peer.Role == Active && st.Peer.Heard && !b.Status().Peer.LinkDown
	}, a, b)
	steady(t, 3*keepalive, a, b)
	if !a.is(Standby) || !b.is(Active) {
		t.Errorf("after link up:\n%s", describeNodes([]*testNode{a, b}))
	}
}

// Alone, a link-down node never becomes active, even after the deadtime.
func TestLinkDownNeverActive(t *testing.T) {
	a, _ := directPair(t, nil)
	a.SetLink(false)
	a.start(t)
	waitFor(t, "a standby", func() bool { return a.is(Standby) }, a)
	steady(t, 2*deadtime, a)
	start := time.Now()
	a.SetLink(true)
	waitFor(t, "a active", func() bool { return a.is(Active) }, a)
	if st := a.Status(); st.Since.Sub(start) < deadtime || !strings.HasPrefix(st.Reason, "nothing heard") {
		t.Errorf("active %v after the link came back for %q, want a deadtime of waiting (%v)", st.Since.Sub(start), st.Reason, deadtime)
	}
}

func TestSerialReachesPeer(t *testing.T) {
	a, b := directPair(t, nil)
	startPair(t, a, b)
	a.SetSerial(42)
	waitFor(t, "b sees serial 42", func() bool { return b.Status().Peer.Serial == 42 }, b)
	st := b.Status()
	if st.Peer.Source != addrA || st.Peer.Addr != addrA || !st.Peer.Primary || st.Peer.Boot != a.boot {
		t.Errorf("b's view of a: %+v", st.Peer)
	}
	if st.Counters.Received == 0 || st.Counters.Sent == 0 {
		t.Errorf("counters %+v", st.Counters)
	}
}

// The console's pin reaches the peer, and a new one (a reloaded
// certificate, set with Configure) does too, signalling Changes there: the
// peer's configuration sync needs it at once.
func TestConsolePinReachesPeer(t *testing.T) {
	a, b := directPair(t, func(sa, sb *Settings) { sa.ConsolePin = [32]byte{0: 1, 31: 1} })
	startPair(t, a, b)
	testConsolePin(t, a, b)
}

func testConsolePin(t *testing.T, a, b *testNode) {
	t.Helper()
	waitFor(t, "b sees a's pin", func() bool { return b.Status().Peer.ConsolePin == [32]byte{0: 1, 31: 1} }, b)
	if got := a.Status().Peer.ConsolePin; got != ([32]byte{}) {
		t.Errorf("a sees b's pin %x, want zero (b serves plain HTTP)", got)
	}
	s := a.set
	s.ConsolePin = [32]byte{0: 2}
	if err := a.Configure(s); err != nil {
		t.Fatal(err)
	}
	// Awaited on b's Changes alone: without the signal, this times out.
	deadline := time.After(patience)
	for b.Status().Peer.ConsolePin != [32]byte{0: 2} {
		select {
		case <-b.Changes():
		case <-deadline:
			t.Fatalf("b's Changes was not signalled with a's new pin; b sees %x", b.Status().Peer.ConsolePin)
		}
	}
}

// The private address is a second path: with nothing listening on the
// peer's public address the heartbeats still arrive, over the private one.
func TestPrivatePath(t *testing.T) {
	priv := netip.MustParseAddr("127.0.0.4")
	port := freePort(t, addrA, priv)
	// b's public address is 127.0.0.3, where nobody listens; it listens,
	// and so sends, on its private address only.
	sa := settings(addrA, addrOther, port, port, true)
	sa.PeerPrivate = priv
	sb := settings(addrOther, addrA, port, port, false)
	sb.Bind = netip.AddrPortFrom(priv, port)
	a, b := newNode(t, "a", sa), newNode(t, "b", sb)
	startPair(t, a, b)
	if src := a.Status().Peer.Source; src != priv {
		t.Errorf("a heard b from %v, want %v", src, priv)
	}
	if src := b.Status().Peer.Source; src != addrA {
		t.Errorf("b heard a from %v, want %v", src, addrA)
	}
}

// With both paths working each heartbeat comes twice: the copy is a
// duplicate, not a replay.
func TestBothPathsDuplicates(t *testing.T) {
	priv := netip.MustParseAddr("127.0.0.5")
	pa, pb := freePort(t, netip.IPv4Unspecified()), freePort(t, addrB)
	// a listens on all of loopback, so on its public and private address;
	// its own heartbeats still leave from 127.0.0.1, the loopback source.
	sa := settings(addrA, addrB, pa, pb, true)
	sa.Bind = netip.AddrPortFrom(netip.IPv4Unspecified(), pa)
	sb := settings(addrB, addrA, pb, pa, false)
	sb.PeerPrivate = priv
	a, b := newNode(t, "a", sa), newNode(t, "b", sb)
	startPair(t, a, b)
	waitFor(t, "a counts duplicates", func() bool { return a.Status().Counters.Duplicate >= 3 }, a)
	if c := a.Status().Counters; c.Replayed != 0 || c.UnknownSource != 0 || c.BadAuth != 0 {
		t.Errorf("a's counters: %+v", c)
	}
	if c := b.Status().Counters; c.Duplicate != 0 {
		t.Errorf("b's counters: %+v (a has one path to b)", c)
	}
}

// Configure while running: a new Bind port keeps the peer's state (no role
// change), and both keep hearing each other.
func TestConfigureRebindKeepsPeer(t *testing.T) {
	a, b := directPair(t, nil)
	startPair(t, a, b)
	newPort := freePort(t, addrB)
	sb := b.set
	sb.Bind = netip.AddrPortFrom(addrB, newPort)
	if err := b.Configure(sb); err != nil {
		t.Fatal(err)
	}
	sa := a.set
	sa.Port = newPort
	sa.Console = 8080
	if err := a.Configure(sa); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b sees a's new console port", func() bool { return b.Status().Peer.Console == 8080 }, b)
	received := a.Status().Counters.Received
	waitFor(t, "a hears b on its new socket", func() bool { return a.Status().Counters.Received >= received+3 }, a)
	if !a.is(Active) || !b.is(Standby) {
		t.Errorf("roles changed:\n%s", describeNodes([]*testNode{a, b}))
	}

	// A bad change is refused and changes nothing.
	bad := sb
	bad.Key = []byte("short")
	if err := b.Configure(bad); err == nil || !strings.Contains(err.Error(), "Key") {
		t.Errorf("short key: err = %v", err)
	}
	taken := a.set.Bind // a holds it
	bad = sb
	bad.Bind = taken
	if err := b.Configure(bad); err == nil {
		t.Errorf("binding a taken address: no error")
	}
	steady(t, 2*deadtime, a, b)
}

// A new peer starts afresh: nothing known, a deadtime of waiting.
func TestConfigureNewPeer(t *testing.T) {
	a, b := directPair(t, nil)
	startPair(t, a, b)
	sb := b.set
	sb.Peer = addrOther // nobody there
	if err := b.Configure(sb); err != nil {
		t.Fatal(err)
	}
	if st := b.Status(); st.Peer.Heard || st.Peer.Addr != addrOther {
		t.Errorf("b still knows the old peer: %+v", st.Peer)
	}
	waitFor(t, "b active", func() bool { return b.is(Active) }, b)
	if st := b.Status(); !strings.HasPrefix(st.Reason, "nothing heard from peer 127.0.0.3") {
		t.Errorf("b active for %q", st.Reason)
	}
	if st := b.Status(); st.Counters.UnknownSource == 0 {
		waitFor(t, "a's heartbeats refused as from an unknown source", func() bool {
			return b.Status().Counters.UnknownSource > 0
		}, b)
	}
}

func TestRunTwice(t *testing.T) {
	a, _ := directPair(t, nil)
	a.start(t)
	waitFor(t, "a running", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.run != nil
	}, a)
	err := a.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Run: %v", err)
	}
}

func TestRunBindError(t *testing.T) {
	a, b := directPair(t, nil)
	a.start(t)
	waitFor(t, "a running", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.run != nil
	}, a)
	s := b.set
	s.Bind = a.set.Bind
	n, err := New(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("Run on a taken address: %v", err)
	}
}

func TestSettingsValidation(t *testing.T) {
	good := settings(addrA, addrB, 539, 539, true)
	if _, err := New(good, Options{}); err != nil {
		t.Fatalf("good settings: %v", err)
	}
	for _, c := range []struct {
		field string
		edit  func(*Settings)
	}{
		{"Self", func(s *Settings) { s.Self = netip.Addr{} }},
		{"Self", func(s *Settings) { s.Self = netip.IPv4Unspecified() }},
		{"Self", func(s *Settings) { s.Self = netip.MustParseAddr("fe80::1%eth0") }},
		{"Peer", func(s *Settings) { s.Peer = netip.Addr{} }},
		{"Peer", func(s *Settings) { s.Peer = netip.MustParseAddr("224.0.0.1") }},
		{"Peer", func(s *Settings) { s.Peer = s.Self }},
		{"Peer", func(s *Settings) { s.Peer = netip.MustParseAddr("::ffff:127.0.0.1") }},
		{"PeerPrivate", func(s *Settings) { s.PeerPrivate = s.Peer }},
		{"Peer", func(s *Settings) { s.Peer = netip.MustParseAddr("2001:db8::1") }},
		{"Bind", func(s *Settings) { s.Bind = netip.AddrPort{} }},
		{"Bind", func(s *Settings) { s.Bind = netip.AddrPortFrom(s.Self, 0) }},
		{"Key", func(s *Settings) { s.Key = testKey[:15] }},
		{"Keepalive", func(s *Settings) { s.Keepalive = 0 }},
		{"Deadtime", func(s *Settings) { s.Deadtime = s.Keepalive }},
		{"PreemptDelay", func(s *Settings) { s.PreemptDelay = -time.Second }},
	} {
		s := good
		c.edit(&s)
		_, err := New(s, Options{})
		if err == nil || !strings.HasPrefix(err.Error(), "pulse: "+c.field+":") {
			t.Errorf("%s: err = %v, want one naming the field", c.field, err)
		}
	}
	// Normalized: mapped addresses unmapped, Port defaulted, Key copied.
	s := good
	s.Self = netip.MustParseAddr("::ffff:127.0.0.1")
	s.Port = 0
	key := append([]byte(nil), testKey...)
	s.Key = key
	n, err := New(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	key[0] ^= 1
	if n.c.set.Self != addrA || n.c.set.Port != 539 || n.c.set.Key[0] != testKey[0] {
		t.Errorf("normalized: %+v", n.c.set)
	}
	// IPv6 peer with a dual-stack Bind is fine.
	s = good
	s.Bind = netip.MustParseAddrPort("[::]:539")
	s.Peer = netip.MustParseAddr("2001:db8::1")
	if _, err := New(s, Options{}); err != nil {
		t.Errorf("dual stack: %v", err)
	}
}

// Counter numbers a boot's heartbeats 1, 2, 3 ... with no clock in it; a
// new node (a restart) has another boot and starts again at 1; the
// challenge changes every rotateEvery ticks and the echo is the peer's
// challenge as learnt.
func TestCounterPerBoot(t *testing.T) {
	a, _ := directPair(t, nil)
	if err := a.c.ours.rotate(); err != nil {
		t.Fatal(err)
	}
	every := rotateEvery(a.set)
	if every != 3 { // deadtime 300ms / (2 x keepalive 50ms)
		t.Fatalf("rotateEvery = %d, want 3", every)
	}
	first := a.c.ours.cur
	var prev Challenge
	for i := uint64(1); i <= 10; i++ {
		m, err := a.next(false, true)
		if err != nil {
			t.Fatal(err)
		}
		if m.Counter != i || m.Boot != a.boot || m.Challenge.IsZero() || !m.Echo.IsZero() {
			t.Fatalf("heartbeat %d: %+v", i, m)
		}
		if changed := m.Challenge != prev; changed != (i%3 == 0 || i == 1) {
			t.Errorf("heartbeat %d: challenge changed %v", i, changed)
		}
		prev = m.Challenge
	}
	if prev == first {
		t.Errorf("the challenge never changed")
	}
	// Extra heartbeats (not ticks) do not hurry the challenge.
	for range 10 {
		if m, _ := a.next(false, false); m.Challenge != prev {
			t.Fatalf("an extra heartbeat drew a new challenge")
		}
	}
	a2 := newNode(t, "a2", a.set)
	if m, _ := a2.next(false, true); m.Counter != 1 || m.Boot == a.boot || m.Boot == 0 {
		t.Errorf("restarted node's first heartbeat: %+v (a's boot %d)", m, a.boot)
	}
}

// A role change is told to the peer at once, not at the next tick: with a
// 1s keepalive, b learns of a's link going down (and a of b taking over)
// in a fraction of it.
func TestRoleChangeIsSentAtOnce(t *testing.T) {
	const slow = time.Second
	a, b := directPair(t, func(sa, sb *Settings) {
		sa.Keepalive, sa.Deadtime = slow, slow+slow/2
		sb.Keepalive, sb.Deadtime = slow, 10*slow
	})
	startPair(t, a, b)
	// Just after a heartbeat of a's, the next is a whole keepalive away.
	received := b.Status().Counters.Received
	waitFor(t, "a heartbeat", func() bool { return b.Status().Counters.Received > received }, b)
	start := time.Now()
	a.SetLink(false)
	waitFor(t, "b active and a told", func() bool { return b.is(Active) && a.Status().Peer.Role == Active }, a, b)
	// By the heartbeat threads' clocks: when b decided, and when a heard.
	if took := b.Status().Since.Sub(start); took > slow/2 {
		t.Errorf("b active %v after a's link went down, with a %v keepalive", took, slow)
	}
	if took := a.Status().Peer.LastHeard.Sub(start); took > slow/2 {
		t.Errorf("a told %v after its link went down, with a %v keepalive", took, slow)
	}
}

// The heartbeat thread's work per datagram, taking a peer's heartbeat and
// making and signing our own, allocates nothing: the thread must not wait
// for the garbage collector.
func TestHeartbeatPathAllocatesNothing(t *testing.T) {
	a, _ := directPair(t, nil)
	c := &a.c
	if err := c.ours.rotate(); err != nil {
		t.Fatal(err)
	}
	c.running = true // decide, as under Run
	c.st.Ref = time.Now()
	peer := newSealer(testKey)
	const runs = 100
	in := make([]byte, 0, messageLen)
	counter := uint64(0)
	from := netip.AddrPortFrom(addrB, 539)
	take := func() {
		counter++
		m := Message{From: addrB, Role: Active, Boot: 99, Counter: counter, Challenge: Challenge{1}, Echo: c.ours.cur}
		in = peer.seal(in[:0], &m) // what the peer sends: not counted below
		now := time.Now()
		a.handle(packet{data: in, from: from, at: now}, now)
	}
	take() // the first is news, and logged
	out := make([]byte, 0, messageLen)
	allocs := testing.AllocsPerRun(runs, func() {
		take()
		m, err := a.next(false, true)
		if err != nil {
			t.Fatal(err)
		}
		out = c.seal.seal(out[:0], &m)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per heartbeat taken and sent", allocs)
	}
	if got := a.Status().Counters.Received; got < runs {
		t.Errorf("only %d of the peer's heartbeats accepted", got)
	}
}
