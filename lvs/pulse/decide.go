package pulse

import (
	"fmt"
	"time"
)

// peerView is what the decision knows of the peer: its last valid
// heartbeat and when it came.
type peerView struct {
	Heard    bool      // a valid heartbeat came since the peer was configured
	Last     time.Time // when the last one arrived (monotonic clock)
	Role     Role
	Primary  bool
	Leaving  bool
	LinkDown bool
	// ActiveSince is when the current unbroken run of heartbeats saying
	// Active began (for Preempt).
	ActiveSince time.Time
}

// state is the node's side of the decision.
type state struct {
	Role     Role
	Decided  bool
	LinkDown bool // SetLink(false)
	// Ref is when we started listening to this peer: Run's start, the link
	// coming back, or a new Peer. Silence is measured from the later of Ref
	// and Peer.Last, so each of these waits a whole Deadtime for the peer
	// rather than failing over on old news.
	Ref  time.Time
	Peer peerView
}

// verdict is the outcome of one decision.
type verdict struct {
	Role    Role
	Decided bool
	Reason  string // why; meaningful when Role or Decided changed
	// Wake is when the decision may change if nothing is heard meanwhile
	// (zero: only news can change it).
	Wake time.Time
}

// decide applies piranha's rules, with tie-breaks for the cases piranha
// left open, to one moment. It is pure: Run calls it on every heartbeat,
// timer and setting change, and tests call it with made-up times.
func decide(st state, s Settings, now time.Time) verdict {
	stay := verdict{Role: st.Role, Decided: st.Decided}
	active := st.Decided && st.Role == Active
	standby := st.Decided && st.Role == Standby
	if st.LinkDown {
		// A director that cannot reach its network must not hold the
		// addresses; it decides at once, even while starting.
		if standby {
			return stay
		}
		return verdict{Role: Standby, Decided: true, Reason: "link down"}
	}

	p := st.Peer
	since := st.Ref
	heard := p.Heard && !p.Last.Before(since)
	if heard {
		since = p.Last
	}
	if silent := now.Sub(since); silent >= s.Deadtime {
		if active {
			return stay
		}
		r := fmt.Sprintf("peer %v silent for %v", s.Peer, silent.Round(time.Millisecond))
		if !heard {
			r = fmt.Sprintf("nothing heard from peer %v for %v", s.Peer, silent.Round(time.Millisecond))
		}
		return verdict{Role: Active, Decided: true, Reason: r}
	}
	dead := since.Add(s.Deadtime)
	// News from before Ref still counts while it is fresh: a link that
	// flickers must not make us forget an active peer.
	if !p.Heard || now.Sub(p.Last) >= s.Deadtime {
		stay.Wake = dead
		return stay
	}

	win, why := tieBreak(s, p.Primary)
	switch {
	case p.Leaving || p.LinkDown:
		if active {
			return stay
		}
		r := "peer leaving"
		if !p.Leaving {
			r = fmt.Sprintf("peer %v has a link down", s.Peer)
		}
		return verdict{Role: Active, Decided: true, Reason: r}

	case !st.Decided:
		switch {
		case p.Role == Active:
			return verdict{Role: Standby, Decided: true, Reason: fmt.Sprintf("peer %v is active", s.Peer)}
		case win:
			return verdict{Role: Active, Decided: true, Reason: fmt.Sprintf("peer %v is standby and %s", s.Peer, why)}
		default:
			return verdict{Role: Standby, Decided: true, Reason: fmt.Sprintf("peer %v is standby and %s", s.Peer, why)}
		}

	case active:
		if p.Role == Active && !win {
			return verdict{Role: Standby, Decided: true, Reason: fmt.Sprintf("peer %v is active and %s", s.Peer, why)}
		}
		return stay

	default: // standby
		if p.Role == Standby && win {
			return verdict{Role: Active, Decided: true, Reason: fmt.Sprintf("peer %v is standby and %s", s.Peer, why)}
		}
		stay.Wake = dead
		if p.Role == Active && s.Preempt && s.Primary && !p.Primary {
			at := p.ActiveSince.Add(s.PreemptDelay)
			if !now.Before(at) {
				return verdict{Role: Active, Decided: true, Reason: fmt.Sprintf("preempt after %v", s.PreemptDelay)}
			}
			if at.Before(dead) {
				stay.Wake = at
			}
		}
		return stay
	}
}

// tieBreak says whether we rather than the peer should be the active one
// when the heartbeats alone do not settle it, and why, phrased about the
// winner: the one holding the primary address, or if both or neither claim
// it (a misconfiguration, or no primary at all), the lower address.
func tieBreak(s Settings, peerPrimary bool) (bool, string) {
	switch {
	case s.Primary && !peerPrimary:
		return true, "we are primary"
	case peerPrimary && !s.Primary:
		return false, "primary"
	}
	claim := "neither is primary"
	if s.Primary {
		claim = "both claim primary"
	}
	if s.Self.Less(s.Peer) {
		return true, "we have the lower address (" + claim + ")"
	}
	return false, "has the lower address (" + claim + ")"
}
