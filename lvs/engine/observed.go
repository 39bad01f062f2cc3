package engine

import (
	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// verdict is what a running engine made of one real server.
type verdict struct {
	presence   Presence
	weight     int32 // in the table (with slow start)
	configured int64 // its configured weight then
}

type observed map[ipvs.ServiceKey]map[ipvs.DestKey]verdict

// Observed is the Weigher of another engine's health checks, read from
// what it reports: the table it wants (Status.Desired) for the
// configuration it applied (the revision of Status.Serial). A real server
// that engine knows keeps its state (up, down, quiesced, not checked yet)
// and its step of slow start, at the weight a new configuration gives it;
// one it does not know (added since) is taken as up at its configured
// weight, as Configured takes every server. So lvsconsole plan predicts
// what a running serve will do, without checking anything itself.
func Observed(applied *config.Config, desired *Table) Weigher {
	o := observed{}
	for i := range applied.Virtuals {
		vs := &applied.Virtuals[i]
		if !vs.Active || !usable(vs.Address) {
			continue
		}
		svc := serviceOf(vs).ServiceKey
		s := desired.Lookup(svc)
		if s == nil {
			continue
		}
		in := make(map[ipvs.DestKey]int32, len(s.Dests))
		for _, d := range s.Dests {
			in[d.Key()] = d.Weight
		}
		pending := make(map[ipvs.DestKey]bool, len(s.Pending))
		for _, dk := range s.Pending {
			pending[dk] = true
		}
		vo := map[ipvs.DestKey]verdict{}
		for j := range vs.Reals {
			rs := &vs.Reals[j]
			if !rs.Active || !usable(rs.Address) {
				continue
			}
			dk := ipvs.DestKey{Addr: rs.Address, Port: destPort(vs, rs)}
			v := verdict{presence: Out, configured: rs.Weight}
			if w, ok := in[dk]; ok {
				v.presence, v.weight = In, w
				if w == 0 && rs.Weight != 0 && !rs.Draining { // a drain's weight 0 says nothing of its checks
					v.presence = Quiesced
				}
			} else if pending[dk] {
				v.presence = Pending
			}
			vo[dk] = v
		}
		o[svc] = vo
	}
	return o
}

func (o observed) Weight(vs *config.VirtualServer, rs *config.RealServer) (int32, Presence) {
	v, ok := o[serviceOf(vs).ServiceKey][ipvs.DestKey{Addr: rs.Address, Port: destPort(vs, rs)}]
	if !ok {
		return int32(rs.Weight), In
	}
	switch {
	case v.presence == Quiesced && !vs.Quiesce:
		return 0, Out // quiesce turned off: a down server leaves
	case v.presence != In:
		return 0, v.presence
	}
	return rampedLike(int32(rs.Weight), v.weight, int32(v.configured)), In
}

// rampedLike is weight at the step of slow start that gave was of then
// (see rampedWeight): the later step when two give the same; weight when
// was is none of them (fully up).
func rampedLike(weight, was, then int32) int32 {
	if was == then || then <= 0 || weight <= 0 {
		return weight
	}
	for n := slowStartCycles - 1; n >= 0; n-- {
		if max(then>>(slowStartCycles-n), 1) == was {
			return max(weight>>(slowStartCycles-n), 1)
		}
	}
	return weight
}
