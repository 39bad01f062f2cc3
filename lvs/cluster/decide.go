package cluster

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
)

// Why a VIP is withheld (Withheld.Why).
const (
	WhyAnnounceOff   = "announce off"
	WhyNotReconciled = "engine not reconciled"
	WhyNoRealServer  = "no real server up"
	WhyDraining      = "draining"
)

// Decision is what a director announces, and what it withholds and why.
type Decision struct {
	// Reconciled: the engine applied this configuration to IPVS.
	Reconciled bool
	Announce   []netip.Prefix // sorted
	Withheld   []Withheld     // sorted by prefix
	Warnings   []string
}

// Decide says which VIPs' host routes a director announces, from its
// configuration, its engine's state and whether it drains (a clean stop).
//
// A VIP is announced while every one of these holds:
//   - the configuration is in cluster mode, and one of the active virtual
//     servers on the VIP has Announce on;
//   - the engine reconciled this very configuration (its serial) into IPVS;
//   - at least one of those announced virtual servers has a real server up
//     with a weight above 0 in the table the engine applies: the sorry
//     server alone, a quiesced or a draining real server (weight 0) do not
//     count, as they take no new connections of the real service;
//   - the director is not draining.
//
// A route carries every port of its address: a VIP shared by several
// virtual servers (ports, protocols, a firewall-mark service on the same
// address) is announced while ANY of its announced services is healthy,
// since withdrawing it would also take away the ones that are. A service
// with Announce off on an address that another announces gets its traffic
// all the same; Announce off only holds back an address none announces.
func Decide(cfg *config.Config, eng engine.Status, draining bool) Decision {
	var d Decision
	if cfg == nil || !cfg.Redundancy.Cluster {
		return d
	}
	d.Reconciled = eng.Available && eng.Desired != nil && eng.Serial == cfg.Serial
	if eng.Available && len(eng.Errors) > 0 && d.Reconciled {
		d.Warnings = append(d.Warnings, fmt.Sprintf("the engine's last reconcile had %d errors: %s", len(eng.Errors), eng.Errors[0]))
	}
	type vip struct {
		announced bool // one of its services has Announce on
		up        bool // one of those has a real server up
	}
	vips := map[netip.Prefix]*vip{}
	var order []netip.Prefix
	for i := range cfg.Virtuals {
		vs := &cfg.Virtuals[i]
		a := vs.Address.Unmap()
		if !vs.Active || !a.IsValid() || a.IsUnspecified() {
			continue
		}
		p := netip.PrefixFrom(a, a.BitLen())
		v := vips[p]
		if v == nil {
			v = &vip{}
			vips[p] = v
			order = append(order, p)
		}
		if !vs.Announce {
			continue
		}
		v.announced = true
		if d.Reconciled && realUp(vs, eng.Desired) {
			v.up = true
		}
	}
	slices.SortFunc(order, netip.Prefix.Compare)
	for _, p := range order {
		v := vips[p]
		why := ""
		switch {
		case !v.announced:
			why = WhyAnnounceOff
		case draining:
			why = WhyDraining
		case !d.Reconciled:
			why = WhyNotReconciled
		case !v.up:
			why = WhyNoRealServer
		}
		if why == "" {
			d.Announce = append(d.Announce, p)
		} else {
			d.Withheld = append(d.Withheld, Withheld{Prefix: p, Why: why})
		}
	}
	return d
}

// realUp says whether virtual server vs has, in the table t the engine
// applies, a destination of weight above 0 that is one of its active real
// servers not draining (not its sorry server).
func realUp(vs *config.VirtualServer, t *engine.Table) bool {
	var s *engine.Service
	for _, x := range t.Services {
		if x.Virtual == vs.Name {
			s = x
			break
		}
	}
	if s == nil {
		return false
	}
	for _, dst := range s.Dests {
		if dst.Weight <= 0 {
			continue
		}
		for j := range vs.Reals {
			rs := &vs.Reals[j]
			if rs.Active && !rs.Draining && rs.Address.Unmap() == dst.Addr.Unmap() {
				return true
			}
		}
	}
	return false
}
