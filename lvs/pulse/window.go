package pulse

import (
	"crypto/rand"
	"fmt"
)

// challenges are a node's own: the current one, sent in every heartbeat,
// and the one before it, which the peer may still be answering.
type challenges struct {
	cur, prev Challenge
	// epoch counts the draws: cur is epoch, prev epoch-1. It orders what
	// the peer answered against when we accepted something.
	epoch uint64
}

// rotate draws a new current challenge.
func (c *challenges) rotate() error {
	c.prev = c.cur
	for c.cur = (Challenge{}); c.cur.IsZero(); { // zero means "none" on the wire
		if _, err := rand.Read(c.cur[:]); err != nil {
			return fmt.Errorf("pulse: drawing a challenge: %w", err)
		}
	}
	c.epoch++
	return nil
}

// match says whether echo answers one of our last two challenges, and
// which (its epoch).
func (c *challenges) match(echo Challenge) (epoch uint64, fresh bool) {
	switch {
	case echo.IsZero():
		return 0, false
	case echo == c.cur:
		return c.epoch, true
	case echo == c.prev:
		return c.epoch - 1, true
	}
	return 0, false
}

// judgement is what a well-signed heartbeat from the peer is worth.
type judgement uint8

const (
	accept    judgement = iota // news
	replayed                   // older than what we accepted, or from a retired boot
	duplicate                  // the last accepted heartbeat again (the other path's copy)
	stale                      // does not answer one of our last two challenges
)

func (j judgement) String() string {
	return [...]string{"accept", "replayed", "duplicate", "stale"}[j]
}

// window is what we know of the order of the peer's heartbeats: the last
// one accepted, and which of its boots are over.
type window struct {
	boot     uint64 // Boot of the last accepted heartbeat (0: none yet)
	counter  uint64 // its Counter
	answered uint64 // the epoch of our challenge it answered
	epoch    uint64 // our challenge epoch when we accepted it
	// seen is the highest Counter of boot in any well-signed heartbeat:
	// only a higher one can teach us the peer's challenge without being
	// accepted.
	seen uint64
	// retired are boots that a later boot superseded, most recent first: a
	// process of the peer that ended (a newer one spoke since) sends
	// nothing more, so what comes in its name is a recording.
	retired [4]uint64
	// learnt is the boot and counter of the heartbeat whose challenge we
	// echo, so that an older one of the same boot does not replace it.
	learntBoot, learntCounter uint64
}

func (w *window) isRetired(boot uint64) bool {
	for _, r := range w.retired {
		if r == boot {
			return true
		}
	}
	return false
}

// judge says what m is worth, given our challenges. It changes nothing.
func (w *window) judge(m *Message, ours *challenges) judgement {
	if w.isRetired(m.Boot) {
		return replayed
	}
	epoch, fresh := ours.match(m.Echo)
	if w.boot != 0 && m.Boot == w.boot {
		switch {
		case fresh && epoch < w.answered:
			// A process echoes the latest of our challenges it learnt:
			// m was made before the last accepted heartbeat, whatever
			// its counter says.
			return replayed
		case !fresh || epoch <= w.epoch:
			// Nothing else says m was made after the last accepted
			// heartbeat: its counter must.
			switch {
			case m.Counter == w.counter:
				return duplicate
			case m.Counter < w.counter:
				return replayed
			}
		}
	}
	if !fresh {
		return stale
	}
	// Fresh, and either newer by its counter, or an answer to a challenge
	// we drew after accepting the last one (made after it, whatever its
	// counter says: a counter that jumped is forgiven here), or from
	// another boot.
	return accept
}

// take judges m and records it: the new window if accepted, what was seen
// of the boot, and whether we should now echo m's challenge. peerAlive
// says whether we accepted anything within the dead time: while we did
// not, any well-signed heartbeat not known to be older may teach us the
// challenge, or two directors that never met could never start.
func (w *window) take(m *Message, ours *challenges, peerAlive bool) (j judgement, learn bool) {
	j = w.judge(m, ours)
	switch {
	case j == accept:
		if w.boot != 0 && m.Boot != w.boot {
			copy(w.retired[1:], w.retired[:])
			w.retired[0] = w.boot
		}
		if m.Boot != w.boot {
			w.seen = 0
		}
		w.answered, _ = ours.match(m.Echo)
		w.boot, w.counter, w.epoch = m.Boot, m.Counter, ours.epoch
		w.seen = max(w.seen, m.Counter)
		learn = true
	case j == replayed || j == duplicate:
		// Known to be old: teaches nothing.
	case m.Boot == w.boot && w.boot != 0:
		// Stale but newer than anything seen from this boot: the peer's
		// current challenge (our answer to it got lost, or was late).
		learn = m.Counter > w.seen
		w.seen = max(w.seen, m.Counter)
	default:
		// Another boot, not retired: the peer starting, or a recording of
		// an earlier process. Only while the peer is silent, and never an
		// older heartbeat of the boot we learnt from.
		learn = !peerAlive && (m.Boot != w.learntBoot || m.Counter > w.learntCounter)
	}
	if learn {
		w.learntBoot, w.learntCounter = m.Boot, m.Counter
	}
	return j, learn
}
