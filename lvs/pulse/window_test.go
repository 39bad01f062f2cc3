package pulse

import (
	"testing"
	"time"
)

func TestWindowTake(t *testing.T) {
	// Our challenges: epoch 7 is current, 6 the one before, 5 gone.
	ours := challenges{cur: Challenge{7}, prev: Challenge{6}, epoch: 7}
	gone := Challenge{5}
	const boot, other, retired = 100, 200, 300
	// A window that accepted boot's counter 10, an answer to our challenge
	// 6, while that was current, and has seen its counter 12 since; boot
	// 300 was an earlier process.
	open := window{boot: boot, counter: 10, answered: 6, epoch: 6, seen: 12, retired: [4]uint64{retired}, learntBoot: boot, learntCounter: 12}
	// One that accepted counter 10 as an answer to challenge 7.
	answered7 := open
	answered7.answered, answered7.epoch = 7, 7
	msg := func(boot, counter uint64, echo Challenge) Message {
		return Message{Boot: boot, Counter: counter, Challenge: Challenge{byte(counter)}, Echo: echo}
	}
	for _, c := range []struct {
		name      string
		w         window
		m         Message
		alive     bool
		want      judgement
		wantLearn bool
		after     window // the window afterwards (zero: unchanged)
	}{
		{"first heartbeat, answers our challenge", window{}, msg(boot, 1, ours.cur), false, accept, true,
			window{boot: boot, counter: 1, answered: 7, epoch: 7, seen: 1, learntBoot: boot, learntCounter: 1}},
		{"first heartbeat, answers nothing yet", window{}, msg(boot, 1, Challenge{}), false, stale, true,
			window{learntBoot: boot, learntCounter: 1}},
		{"next counter, current challenge", open, msg(boot, 13, ours.cur), true, accept, true,
			window{boot: boot, counter: 13, answered: 7, epoch: 7, seen: 13, retired: open.retired, learntBoot: boot, learntCounter: 13}},
		{"next counter, previous challenge", open, msg(boot, 11, ours.prev), true, accept, true,
			window{boot: boot, counter: 11, answered: 6, epoch: 7, seen: 12, retired: open.retired, learntBoot: boot, learntCounter: 11}},
		{"next counter, but answers a challenge older than the accepted one did", answered7, msg(boot, 11, ours.prev), true, replayed, false, answered7},
		{"the accepted one again", open, msg(boot, 10, ours.prev), true, duplicate, false, open},
		{"older counter, challenge as old as the accepted one", open, msg(boot, 9, ours.prev), true, replayed, false, open},
		{"older counter, answers a challenge drawn after the accept: the counter jumped", open, msg(boot, 3, ours.cur), true, accept, true,
			window{boot: boot, counter: 3, answered: 7, epoch: 7, seen: 12, retired: open.retired, learntBoot: boot, learntCounter: 3}},
		{"older counter, gone challenge", open, msg(boot, 9, gone), true, replayed, false, open},
		{"newer counter, gone challenge: learn, not news", open, msg(boot, 14, gone), true, stale, true,
			window{boot: boot, counter: 10, answered: 6, epoch: 6, seen: 14, retired: open.retired, learntBoot: boot, learntCounter: 14}},
		{"newer than accepted but not than seen, gone challenge", open, msg(boot, 12, gone), true, stale, false, open},
		{"retired boot, current challenge", open, msg(retired, 50, ours.cur), false, replayed, false, open},
		{"new boot, current challenge: the old one retires", open, msg(other, 1, ours.cur), true, accept, true,
			window{boot: other, counter: 1, answered: 7, epoch: 7, seen: 1, retired: [4]uint64{boot, retired}, learntBoot: other, learntCounter: 1}},
		{"new boot, no answer, peer alive: nothing learnt", open, msg(other, 1, Challenge{}), true, stale, false, open},
		{"new boot, no answer, peer silent: learnt", open, msg(other, 1, Challenge{}), false, stale, true,
			window{boot: boot, counter: 10, answered: 6, epoch: 6, seen: 12, retired: open.retired, learntBoot: other, learntCounter: 1}},
		{"learnt boot, older counter, peer silent: kept", window{learntBoot: other, learntCounter: 5}, msg(other, 4, gone), false, stale, false,
			window{learntBoot: other, learntCounter: 5}},
		{"zero echo never matches", window{}, msg(boot, 1, Challenge{}), true, stale, false, window{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := c.w
			o := ours
			m := c.m
			j, learn := w.take(&m, &o, c.alive)
			if j != c.want || learn != c.wantLearn {
				t.Errorf("take = %v, learn %v; want %v, learn %v", j, learn, c.want, c.wantLearn)
			}
			if w != c.after {
				t.Errorf("window afterwards:\n got %+v\nwant %+v", w, c.after)
			}
			if o != ours {
				t.Errorf("our challenges changed: %+v", o)
			}
		})
	}
}

// peerSim is a peer's side of the protocol without sockets: it numbers
// its heartbeats and echoes what it learnt.
type peerSim struct {
	boot    uint64
	counter uint64
	echo    Challenge
}

func (p *peerSim) next() Message {
	p.counter++
	return Message{Boot: p.boot, Counter: p.counter, Challenge: Challenge{byte(p.counter), 1}, Echo: p.echo}
}

// Whatever a receiver did in between, a recording is refused once the
// receiver has drawn two challenges since it was made: played back in
// order, reversed or all at once, to the same receiver or to a restarted
// one, from the peer's current boot or an earlier one.
func TestRecordingExpiresAfterTwoChallenges(t *testing.T) {
	var ours challenges
	ours.rotate()
	var w window
	p := &peerSim{boot: 1}
	var rec []Message
	for i := range 30 {
		if i%3 == 0 {
			ours.rotate()
		}
		p.echo = ours.cur
		m := p.next()
		rec = append(rec, m)
		if j, _ := w.take(&m, &ours, true); j != accept {
			t.Fatalf("live heartbeat %d: %v", i, j)
		}
	}
	ours.rotate()
	ours.rotate()
	restarted := challenges{}
	restarted.rotate()
	for _, c := range []struct {
		name string
		w    window
		ours challenges
		p    []Message
	}{
		{"same receiver, in order", w, ours, rec},
		{"same receiver, reversed", w, ours, reversed(rec)},
		{"restarted receiver, in order", window{}, restarted, rec},
		{"restarted receiver, reversed", window{}, restarted, reversed(rec)},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, ours := c.w, c.ours
			for i, m := range c.p {
				if j, _ := w.take(&m, &ours, false); j == accept {
					t.Fatalf("recorded heartbeat %d (counter %d) accepted", i, m.Counter)
				}
			}
		})
	}
	// A new process of the peer took over: the old boot's recordings are
	// refused even while the challenge they answer is still current.
	w2, ours2 := window{}, challenges{}
	ours2.rotate()
	old := &peerSim{boot: 1, echo: ours2.cur}
	held := old.next() // made, held back by an attacker
	m := old.next()
	w2.take(&m, &ours2, false)
	fresh := &peerSim{boot: 2, echo: ours2.cur}
	m = fresh.next()
	if j, _ := w2.take(&m, &ours2, true); j != accept {
		t.Fatalf("the new boot: %v", j)
	}
	if j, _ := w2.take(&held, &ours2, true); j != replayed {
		t.Errorf("the old boot's held-back heartbeat: %v, want replayed", j)
	}
}

func reversed(ms []Message) []Message {
	out := make([]Message, len(ms))
	for i, m := range ms {
		out[len(ms)-1-i] = m
	}
	return out
}

// A heartbeat with a counter far ahead (well signed, so the peer's own)
// holds up the peer's following ones only until they answer the next
// challenge we draw.
func TestCounterJumpRecoversInOneChallenge(t *testing.T) {
	var ours challenges
	ours.rotate()
	var w window
	p := &peerSim{boot: 1, echo: ours.cur}
	for range 5 {
		m := p.next()
		w.take(&m, &ours, true)
	}
	jump := p.next()
	jump.Counter += 1 << 40
	if j, _ := w.take(&jump, &ours, true); j != accept {
		t.Fatalf("the jump: %v", j)
	}
	for range 5 {
		m := p.next()
		if j, _ := w.take(&m, &ours, true); j != replayed {
			t.Fatalf("before a new challenge: %v, want replayed", j)
		}
	}
	ours.rotate()
	p.echo = ours.cur
	for i := range 5 {
		m := p.next()
		if j, _ := w.take(&m, &ours, true); j != accept {
			t.Fatalf("heartbeat %d answering the new challenge: %v", i, j)
		}
	}
	// The jump itself, played back later, is no news.
	if j, _ := w.take(&jump, &ours, true); j == accept {
		t.Errorf("the jump played back: %v", j)
	}
}

// arrival takes the kernel's timestamp, but never puts a datagram before
// the socket was last found empty nor after now, so a wall clock that
// steps cannot make a fresh heartbeat look old.
func TestArrival(t *testing.T) {
	now := time.Now()
	empty := now.Add(-30 * time.Millisecond)
	wall := now.UnixNano()
	for _, c := range []struct {
		name  string
		stamp int64
		wall  int64
		want  time.Time
	}{
		{"no timestamp", 0, wall, now},
		{"10ms ago", wall - 10e6, wall, now.Add(-10 * time.Millisecond)},
		{"before the socket was empty", wall - 50e6, wall, empty},
		{"wall clock stepped forward an hour since", wall - 10e6, wall + int64(time.Hour), empty},
		{"wall clock stepped back an hour since", wall - 10e6, wall - int64(time.Hour), now},
		{"from the future", wall + 5e6, wall, now},
	} {
		if got := arrival(c.stamp, now, c.wall, empty); !got.Equal(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got.Sub(now), c.want.Sub(now))
		}
	}
}
