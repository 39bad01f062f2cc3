package pulse

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// sendTo sends b from conn to n's socket and waits until n has handled it.
func sendTo(t *testing.T, n *testNode, conn interface {
	WriteToUDPAddrPort([]byte, netip.AddrPort) (int, error)
}, b []byte) {
	t.Helper()
	before := n.Status().Counters
	if _, err := conn.WriteToUDPAddrPort(b, n.set.Bind); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the datagram handled", func() bool {
		c := n.Status().Counters
		return handledCount(c) > handledCount(before)
	}, n)
}

// handledCount is every datagram a node counted, accepted or refused.
func handledCount(c Counters) uint64 {
	return c.Received + c.Malformed + c.UnknownSource + c.BadAuth + c.Replayed + c.Duplicate + c.Stale
}

// The review's replay: heartbeats of a primary recorded on the LAN, played
// back one per keepalive from its address after it died and the backup
// restarted, must all be refused: the restarted backup waits the deadtime
// for its peer, as if nothing had come, and takes over for silence.
func TestRecordedHeartbeatsReplayedToRestartedReceiver(t *testing.T) {
	a, b, r := relayedPair(t, nil)
	n0 := len(r.recordedFromA()) // a is active from here on
	waitFor(t, "60 of a's heartbeats recorded", func() bool { return len(r.recordedFromA()) >= n0+60 }, a, b)
	rec := r.recordedFromA()[n0 : n0+60]
	a.kill(t)
	b.kill(t)

	b2 := newNode(t, "b2", b.set).start(t)
	waitFor(t, "b2 listening", b2.listening, b2)
	from := forger(t, addrA)
	tick := time.NewTicker(keepalive) // the attacker's rhythm, not a synchronisation
	defer tick.Stop()
	for _, m := range rec {
		sendTo(t, b2, from, m)
		if st := b2.Status(); st.Decided && st.Role != Active {
			t.Fatalf("b2 decided %v for %q on replayed heartbeats", st.Role, st.Reason)
		}
		<-tick.C
	}
	waitFor(t, "b2 active", func() bool { return b2.is(Active) }, b2)
	st := b2.Status()
	if !strings.HasPrefix(st.Reason, "nothing heard from peer 127.0.0.1 for ") {
		t.Errorf("b2 active for %q, want silence", st.Reason)
	}
	if st.Counters.Received != 0 || st.Peer.Heard {
		t.Errorf("b2 accepted replayed heartbeats: %+v", st.Counters)
	}
	if st.Since.Sub(b2.started) < deadtime {
		t.Errorf("b2 active %v after its start, before the deadtime %v", st.Since.Sub(b2.started), deadtime)
	}
}

// One genuine (well signed) heartbeat whose sequence is far ahead of the
// peer's does not lock out the genuine ones that follow: the standby keeps
// hearing the active primary and does not take over.
func TestSequenceFarAheadDoesNotLockOut(t *testing.T) {
	a, b, r := relayedPair(t, nil)
	rec := r.recordedFromA()
	m, err := Unmarshal(testKey, rec[len(rec)-1])
	if err != nil {
		t.Fatal(err)
	}
	aheadOfPeer(&m)
	received := b.Status().Counters.Received
	sendTo(t, b, forger(t, addrA), m.Marshal(testKey))
	if got := b.Status().Counters.Received; got != received+1 {
		t.Fatalf("the heartbeat far ahead was not accepted: %+v", b.Status().Counters)
	}
	start := time.Now()
	waitFor(t, "b hearing a's genuine heartbeats again", func() bool {
		return b.Status().Counters.Received >= received+4
	}, a, b)
	t.Logf("genuine heartbeats accepted again %v after the jump", time.Since(start))
	steady(t, 2*deadtime, a, b)
	if !a.is(Active) || !b.is(Standby) || !b.Status().Peer.Heard {
		t.Errorf("after the jump:\n%s", describeNodes([]*testNode{a, b}))
	}
}

// A director whose wall clock steps back an hour (NTP, or a restart after
// the clock was set back) is heard as before.
func TestPeerClockSteppedBack(t *testing.T) {
	a, b := directPair(t, func(sa, sb *Settings) {
		sb.Deadtime = 5 * time.Second // so that b cannot take over while a restarts
	})
	startPair(t, a, b)
	a.kill(t)
	a2 := newNode(t, "a2", a.set)
	a2.wall = func() time.Time { return time.Now().Add(-time.Hour) }
	a2.start(t)
	waitFor(t, "b hears a2", func() bool {
		st := b.Status()
		return st.Peer.Boot == a2.boot && st.Peer.Heard
	}, a2, b)
	waitFor(t, "a2 active, b standby", func() bool { return a2.is(Active) && b.is(Standby) }, a2, b)
	if c := b.Status().Counters; c.Replayed != 0 {
		t.Errorf("b refused a2's heartbeats as replayed: %+v", c)
	}
}

// aheadOfPeer moves m's counter far ahead of the peer's.
func aheadOfPeer(m *Message) { m.Counter += 1 << 40 }

// listening says whether Run has bound the socket (or started a helper).
func (n *testNode) listening() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.run != nil || n.remote != nil
}

// A receiver that wakes up late (here: its heartbeat thread held for
// longer than the dead time while the peer's heartbeats queue up) reads
// what came before judging silence: it does not take over.
func TestLateReceiverDoesNotDeclareSilence(t *testing.T) {
	a, b := directPair(t, nil)
	hold := make(chan chan struct{}, 1)
	b.afterWait = func() {
		select {
		case release := <-hold:
			<-release
		default:
		}
	}
	startPair(t, a, b)
	before := b.Status()
	release := make(chan struct{})
	hold <- release
	waitFor(t, "b's heartbeat thread held", func() bool { return len(hold) == 0 }, b)
	// Hold it while a sends more than a dead time's worth of heartbeats.
	sent := a.Status().Counters.Sent
	waitFor(t, "a sending a dead time's worth", func() bool {
		return a.Status().Counters.Sent >= sent+uint64(deadtime/keepalive)+2
	}, a)
	close(release)
	waitFor(t, "b reading what queued", func() bool {
		return b.Status().Counters.Received >= before.Counters.Received+uint64(deadtime/keepalive)+2
	}, b)
	steady(t, 2*keepalive, a, b)
	if st := b.Status(); st.Role != Standby || !st.Since.Equal(before.Since) || !st.Peer.Heard {
		t.Errorf("b after a late wake-up: %+v (before: %+v)", st, before)
	}
}

// The receiver's wall clock stepping (either way) between a heartbeat's
// arrival and its reading does not make the heartbeat look old or new:
// the standby keeps hearing the active.
func TestReceiverWallClockSteps(t *testing.T) {
	for _, step := range []time.Duration{time.Hour, -time.Hour} {
		t.Run(step.String(), func(t *testing.T) {
			a, b := directPair(t, nil)
			b.wall = func() time.Time { return time.Now().Add(step) }
			startPair(t, a, b)
			before := b.Status()
			waitFor(t, "b hearing a for three deadtimes", func() bool {
				return b.Status().Counters.Received >= before.Counters.Received+uint64(3*deadtime/keepalive)
			}, b)
			if st := b.Status(); !st.Peer.Heard || st.Role != Standby || !st.Since.Equal(before.Since) {
				t.Errorf("b with its wall clock %v off: %+v (before: %+v)", step, st, before)
			}
		})
	}
}
