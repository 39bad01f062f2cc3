package cluster

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/lvscf"
)

// The configuration sync of a cluster: every director polls every other
// listed director (its console, at the same port as its own, with the
// peer secret: lvs/failover's signed request and sealed answer), and
// takes a configuration whose serial is above its own. Nobody is primary:
// an edit made on any director reaches the others within a poll or two.
//
// Two directors can accept different edits at the same serial (two
// admins, or a partition). That is a conflict, resolved the same way on
// every director without talking: the configuration of the lowest
// director address among those at that serial wins. The directors that
// hold another take the winner's at the serial after (so that every store
// accepts it as newer, including the winner's, which then takes it back
// unchanged), and warn: the losing edit is in their HISTORY, not lost.

// digest names a configuration's content, its serial aside: two
// directors with the same digest at the same serial agree. It is the
// SHA-256 of its lvs.cf, the form the sync carries.
func digest(cfg *config.Config) string {
	c := *cfg
	c.Serial = 0
	var b bytes.Buffer
	if err := lvscf.Format(&b, &c); err != nil {
		return ""
	}
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:])
}

// heard is what this director knows of one director's configuration.
type heard struct {
	Addr   netip.Addr
	Serial int64
	Digest string // "" when unknown
}

// syncAction is what the sync does after a poll.
type syncAction struct {
	// From is the director whose configuration to take; invalid for none.
	From netip.Addr
	// Past: take it at the serial after the tie (a conflict), not at its
	// own.
	Past bool
}

// syncDecide says whose configuration this director takes, from its own
// (self) and what it heard of the others: the highest serial, the lowest
// address of those that have it; at a tie of serials with different
// contents, the lowest address of the directors at that serial wins.
func syncDecide(self heard, peers []heard) syncAction {
	top := self.Serial
	for _, p := range peers {
		if p.Serial > top {
			top = p.Serial
		}
	}
	if top > self.Serial {
		var from netip.Addr
		for _, p := range peers {
			if p.Serial == top && (!from.IsValid() || p.Addr.Less(from)) {
				from = p.Addr
			}
		}
		return syncAction{From: from}
	}
	// A tie: the lowest address at our serial wins, if its content is
	// known to differ from ours.
	winner := self
	for _, p := range peers {
		if p.Serial == self.Serial && p.Digest != "" && p.Addr.Less(winner.Addr) {
			winner = p
		}
	}
	if winner.Addr == self.Addr || winner.Digest == self.Digest || self.Digest == "" {
		return syncAction{}
	}
	return syncAction{From: winner.Addr, Past: true}
}
