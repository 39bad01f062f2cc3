package bgp

import (
	"net/netip"
	"slices"
)

// route is how a prefix is announced: with the graceful shutdown community
// or without.
type route struct{ draining bool }

// plan says what to send to turn the announced routes into the wanted
// prefixes, draining (with GRACEFUL_SHUTDOWN) or not: announce a prefix
// that is new or whose community changes (an announcement replaces the
// route), withdraw one that is no longer wanted. Both lists are sorted.
func plan(announced map[netip.Prefix]route, want map[netip.Prefix]bool, draining bool) (announce, withdraw []netip.Prefix) {
	for p := range want {
		if r, ok := announced[p]; !ok || r.draining != draining {
			announce = append(announce, p)
		}
	}
	for p := range announced {
		if !want[p] {
			withdraw = append(withdraw, p)
		}
	}
	slices.SortFunc(announce, netip.Prefix.Compare)
	slices.SortFunc(withdraw, netip.Prefix.Compare)
	return announce, withdraw
}
