package pulse

import (
	"bytes"
	"math"
	"net"
	"net/netip"
	"testing"
)

// sendAndCount sends b from conn to n and waits until n has counted one
// more in the counter that field picks; no other refusal counter moves.
func sendAndCount(t *testing.T, n *testNode, conn *net.UDPConn, b []byte, name string, field func(*Counters) *uint64) {
	t.Helper()
	before := n.Status().Counters
	to := netip.AddrPortFrom(n.set.Bind.Addr(), n.set.Bind.Port())
	if _, err := conn.WriteToUDPAddrPort(b, to); err != nil {
		t.Fatal(err)
	}
	want := *field(&before) + 1
	waitFor(t, name+" counted", func() bool {
		c := n.Status().Counters
		return *field(&c) >= want
	}, n)
	after := n.Status().Counters
	if got := *field(&after); got != want {
		t.Errorf("%s: counter went from %d to %d", name, want-1, got)
	}
	// Only the expected counter moved among the refusals that only a
	// forger causes. (Duplicate and Stale also count genuine heartbeats
	// delayed on their way, as the relay may on a loaded machine.)
	for _, c := range []*Counters{&before, &after} {
		c.Sent, c.Received, c.Duplicate, c.Stale = 0, 0, 0, 0
		*field(c) = 0
	}
	if before != after {
		t.Errorf("%s: other counters moved: %+v -> %+v", name, before, after)
	}
}

// Datagrams that would each make the standby take over if believed (they
// say the active primary is leaving) are refused and counted, and the
// standby stays standby throughout.
func TestForgedDatagramsAreRefused(t *testing.T) {
	a, b, r := relayedPair(t, nil)
	fromA := forger(t, addrA)         // can spoof a's address
	fromOther := forger(t, addrOther) // cannot
	before := b.Status()

	otherKey := bytes.Clone(testKey)
	otherKey[0] ^= 1
	// The largest Counter, a's own Boot and Echo: were they taken before
	// the MAC is checked, one forgery would lock a out.
	lastOfA, err := Unmarshal(testKey, r.recordedFromA()[len(r.recordedFromA())-1])
	if err != nil {
		t.Fatal(err)
	}
	leaving := Message{From: addrA, Primary: true, Leaving: true, Boot: lastOfA.Boot, Counter: math.MaxUint64,
		Challenge: Challenge{1}, Echo: lastOfA.Echo}
	fromOtherAddr, reflected := leaving, leaving
	fromOtherAddr.From = addrOther
	reflected.From = addrB
	first := r.recordedFromA()[0] // a genuine heartbeat of a's, long superseded

	malformed := func(c *Counters) *uint64 { return &c.Malformed }
	unknown := func(c *Counters) *uint64 { return &c.UnknownSource }
	badAuth := func(c *Counters) *uint64 { return &c.BadAuth }
	replayed := func(c *Counters) *uint64 { return &c.Replayed }
	for _, c := range []struct {
		name    string
		conn    *net.UDPConn
		b       []byte
		counter func(*Counters) *uint64
	}{
		{"garbage", fromA, []byte("LVSp\x02 not a heartbeat"), malformed},
		{"version 1 (82 bytes)", fromA, v1Heartbeat(), malformed},
		{"version 2 (114 bytes)", fromA, v2Heartbeat(), malformed},
		{"right key, not from a peer address", fromOther, leaving.Marshal(testKey), unknown},
		{"wrong key", fromA, leaving.Marshal(otherKey), badAuth},
		{"right key, From not the peer", fromA, fromOtherAddr.Marshal(testKey), badAuth},
		{"our own heartbeat reflected", fromA, reflected.Marshal(testKey), badAuth},
		{"genuine heartbeat replayed", fromA, first, replayed},
	} {
		sendAndCount(t, b, c.conn, c.b, c.name, c.counter)
	}

	after := b.Status()
	if after.Role != Standby || !after.Since.Equal(before.Since) {
		t.Errorf("b's role changed: %+v", after)
	}
	// a's genuine heartbeats still count: the forged Counter did not stick.
	received := after.Counters.Received
	waitFor(t, "b accepting a's heartbeats", func() bool { return b.Status().Counters.Received >= received+3 }, b)
	if !a.is(Active) || !b.is(Standby) {
		t.Errorf("roles:\n%s", describeNodes([]*testNode{a, b}))
	}
}

// A recorded goodbye, replayed after the primary came back, does not make
// the backup take over again.
func TestReplayedGoodbyeIsRefused(t *testing.T) {
	a, b, r := relayedPair(t, func(sa, sb *Settings) {
		sa.Preempt = true // a2 will take back over at once
	})
	a.stop(t)
	waitFor(t, "b active", func() bool { return b.is(Active) }, b)
	rec := r.recordedFromA()
	goodbye := rec[len(rec)-1]
	if m, err := Unmarshal(testKey, goodbye); err != nil || !m.Leaving {
		t.Fatalf("the last datagram a sent is not its goodbye: %+v, %v", m, err)
	}

	a2 := newNode(t, "a2", a.set)
	a2.start(t)
	waitFor(t, "a2 active, b standby", func() bool { return a2.is(Active) && b.is(Standby) }, a2, b)
	before := b.Status()
	sendAndCount(t, b, forger(t, addrA), goodbye, "replayed goodbye", func(c *Counters) *uint64 { return &c.Replayed })
	steady(t, 3*keepalive, a2, b)
	if after := b.Status(); after.Role != Standby || !after.Since.Equal(before.Since) {
		t.Errorf("b's role changed: %+v", after)
	}
}
