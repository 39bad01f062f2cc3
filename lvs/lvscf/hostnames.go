package lvscf

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// hostname replaces a host name at the start of v (the address of "IP dev"
// values) by the IPv4 address it resolves to, which is stored: piranha
// resolved the name each time its daemons started, with gethostbyname (IPv4,
// the first address). Anything that is not a host name is left for the
// key's own parser to judge.
func (p *parser) hostname(key, v string, at pos) (string, error) {
	word, rest := v, ""
	if i := strings.IndexAny(v, " \t"); i >= 0 {
		word, rest = v[:i], v[i:]
	}
	if !isHostName(word) {
		return v, nil
	}
	if p.resolver == nil {
		return "", fmt.Errorf("%q is not an IP address, and host names are not looked up here: write the address", word)
	}
	l := p.lookup(word)
	if l.err != nil {
		return "", fmt.Errorf("%q is not an IP address, and as a host name it does not resolve (%v): write the address", word, l.err)
	}
	first := ""
	if l.n > 1 {
		first = fmt.Sprintf(" (the first of its %d addresses, as piranha took)", l.n)
	}
	p.warnf(at, key, "%q resolved to %s%s, which is stored: piranha looked the name up each time it started, "+
		"so a later change of the name's address will not follow", word, l.addr, first)
	return l.addr.String() + rest, nil
}

// lookup resolves name once per file; all lookups of a file share one
// deadline, and a file may name at most maxLookups hosts.
func (p *parser) lookup(name string) resolved {
	if l, ok := p.looked[name]; ok {
		return l
	}
	if p.looked == nil {
		p.looked = map[string]resolved{}
		p.lctx, p.cancel = context.WithTimeout(p.ctx, lookupTimeout)
	}
	if len(p.looked) == maxLookups {
		return resolved{err: fmt.Errorf("the file names more than %d hosts; write addresses", maxLookups)}
	}
	var l resolved
	addrs, err := p.resolver.LookupNetIP(p.lctx, "ip4", name)
	switch {
	case errors.Is(err, context.DeadlineExceeded) && p.lctx.Err() != nil:
		l.err = fmt.Errorf("the lookups of this file took longer than %v", lookupTimeout)
	case err != nil:
		l.err = err
	case len(addrs) == 0:
		l.err = errors.New("it has no IPv4 address")
	default:
		l.addr, l.n = addrs[0].Unmap(), len(addrs)
	}
	p.looked[name] = l
	return l
}

// isHostName reports whether s is a DNS name with a letter in it (so not
// an address, dotted or not): labels of letters, digits and '-', at most 63
// long, 253 in all.
func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return false
	}
	letter := false
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
				letter = true
			case c >= '0' && c <= '9', c == '-':
			default:
				return false
			}
		}
	}
	return letter
}
