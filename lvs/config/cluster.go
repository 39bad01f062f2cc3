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

// ASTrans is AS_TRANS (RFC 6793), which no speaker may have as its own.
const ASTrans = 23456

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
		if err != nil || as == 0 || as == 4294967295 || as == ASTrans {
			errs = append(errs, fmt.Sprintf("%s: AS %q is not 1-4294967294 (nor 23456, AS_TRANS)", a, w[1]))
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

// The registry's checks of cluster mode's text fields.

func checkDirectors(s string) error {
	ds, err := ParseDirectors(s)
	switch {
	case err != nil:
		return fmt.Errorf("%v: list the directors' unicast addresses, space or comma separated", err)
	case len(ds) > MaxDirectors:
		return fmt.Errorf("%d directors: a cluster has at most %d", len(ds), MaxDirectors)
	}
	return nil
}

func checkPeers(s string) error {
	if _, err := ParseBGPPeers(s); err != nil {
		return fmt.Errorf("%v: list the routers as \"ADDRESS AS\", comma separated, e.g. 192.0.2.254 64500", err)
	}
	return nil
}

// MaxBGPPassword is the longest TCP MD5 key (TCP_MD5SIG_MAXKEYLEN).
const MaxBGPPassword = 80

// CheckBGPPassword allows 1-80 printable ASCII characters without spaces:
// what every router's configuration can write back.
func CheckBGPPassword(s string) error {
	if len(s) > MaxBGPPassword {
		return fmt.Errorf("is %d characters long: TCP MD5 allows at most %d", len(s), MaxBGPPassword)
	}
	for _, r := range s {
		if r <= ' ' || r > '~' {
			return fmt.Errorf("holds a space, a control or a non-ASCII character: use printable ASCII without spaces")
		}
	}
	return nil
}

// wellKnown are the well-known communities by name (RFC 1997, 8326,
// 7999), for the refusal of a name: the speaker takes numbers.
var wellKnown = map[string]string{
	"no-export": "65535:65281", "no-advertise": "65535:65282", "no-export-subconfed": "65535:65283",
	"no-peer": "65535:65284", "graceful-shutdown": "65535:0", "blackhole": "65535:666",
}

// ParseCommunities reads BGPCommunities: ASN:VALUE words, each part 0 to
// 65535 (what lvs/bgp's ParseCommunity reads), as 32-bit communities.
// GRACEFUL_SHUTDOWN (65535:0) is refused: the director adds it itself
// while it drains, and on every route it would turn traffic away.
func ParseCommunities(s string) ([]uint32, error) {
	var out []uint32
	var errs []string
	for _, w := range strings.Fields(s) {
		as, val, ok := strings.Cut(w, ":")
		a, errA := strconv.ParseUint(as, 10, 16)
		v, errV := strconv.ParseUint(val, 10, 16)
		switch {
		case wellKnown[strings.ToLower(w)] != "":
			errs = append(errs, fmt.Sprintf("%q: write it as a number, %s", w, wellKnown[strings.ToLower(w)]))
		case !ok || errA != nil || errV != nil:
			errs = append(errs, fmt.Sprintf("%q is not ASN:VALUE, each 0-65535", w))
		case a == 65535 && v == 0:
			errs = append(errs, fmt.Sprintf("%q is GRACEFUL_SHUTDOWN, which a director adds itself while it drains", w))
		default:
			out = append(out, uint32(a<<16|v))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

// Communities parses BGPCommunities.
func (r *Redundancy) Communities() ([]uint32, error) { return ParseCommunities(r.BGPCommunities) }

// CheckCommunities is the registry's check of bgp_communities.
func CheckCommunities(s string) error {
	if _, err := ParseCommunities(s); err != nil {
		return fmt.Errorf("%v: use ASN:VALUE words, space separated, e.g. 64512:100", err)
	}
	return nil
}
