package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Cluster mode's list fields are text in the model (one registered field
// each); these parse them. The registry's checks refuse what they cannot
// parse, so on a validated configuration they return no error.

// MaxDirectors is the most directors a cluster lists.
const MaxDirectors = 16

// BGPPeer is one router a director keeps a BGP session with.
type BGPPeer struct {
	Addr netip.Addr
	AS   uint32
}

// Directors parses ClusterDirectors: addresses separated by spaces or
// commas.
func (r *Redundancy) Directors() ([]netip.Addr, error) {
	return ParseDirectors(r.ClusterDirectors)
}

// Peers parses BGPPeers.
func (r *Redundancy) Peers() ([]BGPPeer, error) { return ParseBGPPeers(r.BGPPeers) }

// ParseDirectors parses a list of director addresses.
func ParseDirectors(s string) ([]netip.Addr, error) {
	var out []netip.Addr
	var errs []string
	seen := map[netip.Addr]bool{}
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' }) {
		a, err := netip.ParseAddr(w)
		switch {
		case err != nil || a.Zone() != "":
			errs = append(errs, fmt.Sprintf("%q is not an IP address", w))
			continue
		case !a.IsGlobalUnicast() && !a.IsPrivate():
			errs = append(errs, fmt.Sprintf("%s is not a unicast address", a))
			continue
		case seen[a.Unmap()]:
			errs = append(errs, fmt.Sprintf("%s is listed twice", a))
			continue
		}
		seen[a.Unmap()] = true
		out = append(out, a.Unmap())
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

// ParseBGPPeers parses "ADDRESS AS" entries separated by commas (or
// newlines).
func ParseBGPPeers(s string) ([]BGPPeer, error) {
	var out []BGPPeer
	var errs []string
	seen := map[netip.Addr]bool{}
	for _, e := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == ';' }) {
		w := strings.Fields(e)
		if len(w) == 0 {
			continue
		}
		if len(w) != 2 {
			errs = append(errs, fmt.Sprintf("%q is not \"ADDRESS AS\"", strings.TrimSpace(e)))
			continue
		}
		a, err := netip.ParseAddr(w[0])
		if err != nil || a.Zone() != "" || !(a.IsGlobalUnicast() || a.IsPrivate()) {
			errs = append(errs, fmt.Sprintf("%q is not a unicast IP address", w[0]))
			continue
		}
		as, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(w[1]), "AS"), 10, 32)
		if err != nil || as == 0 || as == 4294967295 {
			errs = append(errs, fmt.Sprintf("%s: AS %q is not 1-4294967294", a, w[1]))
			continue
		}
		if seen[a.Unmap()] {
			errs = append(errs, fmt.Sprintf("%s is listed twice", a))
			continue
		}
		seen[a.Unmap()] = true
		out = append(out, BGPPeer{Addr: a.Unmap(), AS: uint32(as)})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}
