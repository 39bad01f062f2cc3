package ipvs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// This file reads what SaveService and SaveDest write: the rules of
// ipvsadm -Sn, and of ipvsadm -S, which names hosts and ports where it
// can. It takes what ipvsadm 1.31's own parser takes in -A and -a lines
// (short and long options, -p with or without its timeout, "ipvsadm" words
// and # comments, which ipvsadm -R skips), and refuses with the line what
// ipvsadm would refuse.

// SavedService is a service of ipvsadm-save's rules, with the line that
// added it and its destinations in the order given.
type SavedService struct {
	Service
	Line  int
	Dests []SavedDest
}

// SavedDest is a destination of ipvsadm-save's rules and its line.
type SavedDest struct {
	Destination
	Line int
}

// SaveResolver looks up the host and port names of ipvsadm -S (without
// -n); *net.Resolver is one.
type SaveResolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	LookupPort(ctx context.Context, network, service string) (int, error)
}

// SaveError is a problem of one line of ipvsadm-save's rules.
type SaveError struct {
	Line int
	Msg  string
}

func (e *SaveError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// SaveErrors are all the problems of a file of rules, in line order.
type SaveErrors []*SaveError

func (es SaveErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// maxSaveLine bounds a line of rules: ipvsadm's own is 4096 bytes.
const maxSaveLine = 4096

// maxSaveLookups and saveLookupTimeout bound the name lookups of one file
// (as lvs.cf's): rules come from uploads too.
const (
	maxSaveLookups    = 256
	saveLookupTimeout = 10 * time.Second
)

// ParseSave reads the rules of ipvsadm -Sn or ipvsadm -S: -A lines that
// add services and -a lines that add their destinations. Host and port
// names are looked up with res (nil: refused), and each lookup is noted.
// The error, a SaveErrors, names every bad line and says what is allowed.
func ParseSave(ctx context.Context, r io.Reader, res SaveResolver) ([]SavedService, []*SaveError, error) {
	lctx, cancel := context.WithTimeout(ctx, saveLookupTimeout)
	defer cancel()
	p := &saveParser{ctx: lctx, res: res, byKey: map[ServiceKey]int{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1024), maxSaveLine)
	for sc.Scan() {
		p.line++
		p.parseLine(sc.Text())
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			p.fail("longer than %d bytes", maxSaveLine)
		} else {
			return nil, nil, err
		}
	}
	if len(p.errs) > 0 {
		return nil, p.notes, p.errs
	}
	return p.services, p.notes, nil
}

type saveParser struct {
	ctx      context.Context // the lookups', with their deadline
	res      SaveResolver
	lookups  int // made so far, at most maxSaveLookups
	line     int
	services []SavedService
	byKey    map[ServiceKey]int // index in services
	errs     SaveErrors
	notes    []*SaveError
}

func (p *saveParser) fail(format string, args ...any) {
	p.errs = append(p.errs, &SaveError{Line: p.line, Msg: fmt.Sprintf(format, args...)})
}

// lookup counts a lookup of name, refusing it past maxSaveLookups or the
// file's deadline.
func (p *saveParser) lookup(what, name string) bool {
	switch {
	case p.lookups == maxSaveLookups:
		p.fail("%s %q: the rules name more than %d hosts and ports; write addresses and numbers (ipvsadm -Sn)", what, name, maxSaveLookups)
		return false
	case p.ctx.Err() != nil:
		p.fail("%s %q: the lookups of these rules took longer than %v; write addresses and numbers (ipvsadm -Sn)", what, name, saveLookupTimeout)
		return false
	}
	p.lookups++
	return true
}

func (p *saveParser) note(format string, args ...any) {
	p.notes = append(p.notes, &SaveError{Line: p.line, Msg: fmt.Sprintf(format, args...)})
}

// saveOpt is an option of -A and -a lines.
type saveOpt struct {
	long    string
	short   byte // 0: long only
	arg     int  // 0 none, 1 required, 2 optional (-p)
	service bool // belongs to -A
	dest    bool // belongs to -a
}

var saveOpts = []saveOpt{
	{long: "tcp-service", short: 't', arg: 1, service: true, dest: true},
	{long: "udp-service", short: 'u', arg: 1, service: true, dest: true},
	{long: "sctp-service", arg: 1, service: true, dest: true},
	{long: "fwmark-service", short: 'f', arg: 1, service: true, dest: true},
	{long: "ipv6", short: '6', service: true, dest: true},
	{long: "scheduler", short: 's', arg: 1, service: true},
	{long: "persistent", short: 'p', arg: 2, service: true},
	{long: "netmask", short: 'M', arg: 1, service: true},
	{long: "pe", arg: 1, service: true},
	{long: "ops", short: 'o', service: true},
	{long: "sched-flags", short: 'b', arg: 1, service: true},
	{long: "real-server", short: 'r', arg: 1, dest: true},
	{long: "gatewaying", short: 'g', dest: true},
	{long: "masquerading", short: 'm', dest: true},
	{long: "ipip", short: 'i', dest: true},
	{long: "weight", short: 'w', arg: 1, dest: true},
	{long: "u-threshold", short: 'x', arg: 1, dest: true},
	{long: "l-threshold", short: 'y', arg: 1, dest: true},
	{long: "tun-type", arg: 1, dest: true},
	{long: "tun-port", arg: 1, dest: true},
	{long: "tun-nocsum", dest: true},
	{long: "tun-csum", dest: true},
	{long: "tun-remcsum", dest: true},
}

func lookupOpt(word string) (*saveOpt, string, bool, bool) {
	// Returns the option, its argument when attached (--opt=v, -xV), and
	// whether one was attached; false when word is no known option.
	if long, ok := strings.CutPrefix(word, "--"); ok {
		name, val, attached := strings.Cut(long, "=")
		for i := range saveOpts {
			if saveOpts[i].long == name {
				return &saveOpts[i], val, attached, true
			}
		}
		return nil, "", false, false
	}
	if len(word) < 2 || word[0] != '-' {
		return nil, "", false, false
	}
	for i := range saveOpts {
		if o := &saveOpts[i]; o.short != 0 && o.short == word[1] {
			return o, word[2:], len(word) > 2, true
		}
	}
	return nil, "", false, false
}

func (o *saveOpt) String() string {
	if o.short != 0 {
		return fmt.Sprintf("-%c (--%s)", o.short, o.long)
	}
	return "--" + o.long
}

const ruleKinds = "-A (--add-service) or -a (--add-server), as ipvsadm -S writes them"

func (p *saveParser) parseLine(text string) {
	if i := strings.IndexByte(text, '#'); i >= 0 {
		text = text[:i]
	}
	words := strings.Fields(text)
	if len(words) > 0 && words[0] == "ipvsadm" {
		words = words[1:]
	}
	if len(words) == 0 {
		return
	}
	var add bool // -A, else -a
	switch words[0] {
	case "-A", "--add-service":
		add = true
	case "-a", "--add-server":
	default:
		p.fail("%q: a rule starts with %s", words[0], ruleKinds)
		return
	}
	cmd := words[0]
	vals := map[string]string{} // by long name
	given := map[string]bool{}
	for i := 1; i < len(words); i++ {
		w := words[i]
		o, val, attached, ok := lookupOpt(w)
		if !ok {
			if strings.HasPrefix(w, "-") {
				p.fail("%q is not an option of ipvsadm's -A or -a rules", w)
			} else {
				p.fail("%q: a value without an option", w)
			}
			continue
		}
		if add && !o.service || !add && !o.dest {
			what := "-a (a real server)"
			if add {
				what = "-A (a service)"
			}
			p.fail("%s does not belong in a %s rule", o, what)
		}
		if given[o.long] {
			p.fail("%s is given twice", o)
		}
		switch {
		case o.arg == 0 && attached:
			p.fail("%s takes no value, got %q", o, w)
		case o.arg == 0, attached:
		case o.arg == 1 && i+1 < len(words):
			i++
			val = words[i]
		case o.arg == 1:
			p.fail("%s needs a value", o)
			continue
		case o.arg == 2 && i+1 < len(words) && !strings.HasPrefix(words[i+1], "-"):
			i++
			val = words[i]
		}
		given[o.long] = true
		vals[o.long] = val
	}
	key, ok := p.serviceKey(cmd, vals, given)
	if !ok {
		return
	}
	if add {
		p.addService(key, vals, given)
	} else {
		p.addDest(key, vals, given)
	}
}

// serviceKey reads the service a rule names.
func (p *saveParser) serviceKey(cmd string, vals map[string]string, given map[string]bool) (ServiceKey, bool) {
	var k ServiceKey
	n := 0
	for _, s := range []struct {
		opt   string
		proto Protocol
	}{{"tcp-service", TCP}, {"udp-service", UDP}, {"sctp-service", SCTP}} {
		if !given[s.opt] {
			continue
		}
		n++
		ap, _, ok := p.addrPort(vals[s.opt], s.proto, "service", true)
		if !ok {
			return k, false
		}
		k = ServiceKey{Family: familyOf(ap.Addr()), Protocol: s.proto, Addr: ap.Addr(), Port: ap.Port()}
	}
	if given["fwmark-service"] {
		n++
		m, err := strconv.ParseUint(vals["fwmark-service"], 10, 32)
		if err != nil || m == 0 {
			p.fail("-f (--fwmark-service): %q is not a firewall mark: use 1-%d", vals["fwmark-service"], uint32(math.MaxUint32))
			return k, false
		}
		k = ServiceKey{Family: FamilyIPv4, FWMark: uint32(m)}
		if given["ipv6"] {
			k.Family = FamilyIPv6
		}
	} else if given["ipv6"] {
		p.fail("-6 (--ipv6) applies only to -f (a firewall-mark service): an address says its own family")
	}
	switch {
	case n == 0:
		p.fail("%s names no service: give one of -t, -u or --sctp-service ADDRESS:PORT, or -f MARK", cmd)
		return k, false
	case n > 1:
		p.fail("%s names more than one service: give one of -t, -u, --sctp-service or -f", cmd)
		return k, false
	}
	return k, true
}

func familyOf(a netip.Addr) uint16 {
	if a.Is4() {
		return FamilyIPv4
	}
	return FamilyIPv6
}

// addrPort reads ADDR[:PORT] as ipvsadm does: IPv6 in brackets (with a
// port), IPv4 or a host name, a port number or name. A missing port is
// reported by hasPort; portRequired refuses it.
func (p *saveParser) addrPort(s string, proto Protocol, what string, portRequired bool) (ap netip.AddrPort, hasPort, ok bool) {
	host, port := s, ""
	bracketed := strings.HasPrefix(s, "[")
	switch {
	case bracketed:
		end := strings.Index(s, "]")
		if end < 0 || !strings.HasPrefix(s[end+1:], ":") {
			p.fail("%s %q: write an IPv6 address as [ADDRESS]:PORT", what, s)
			return netip.AddrPort{}, false, false
		}
		host, port, hasPort = s[1:end], s[end+2:], true
	default:
		if a, err := netip.ParseAddr(s); err == nil && a.Is6() {
			host = s // IPv6 without brackets, and so without a port
			break
		}
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			host, port, hasPort = s[:i], s[i+1:], true
		}
	}
	addr, ok := p.host(host, bracketed, what)
	if !ok {
		return netip.AddrPort{}, false, false
	}
	if !hasPort {
		if portRequired {
			p.fail("%s %q has no port: write ADDRESS:PORT ([ADDRESS]:PORT for IPv6)", what, s)
			return netip.AddrPort{}, false, false
		}
		return netip.AddrPortFrom(addr, 0), false, true
	}
	n, ok := p.port(port, proto, what)
	return netip.AddrPortFrom(addr, n), true, ok
}

func (p *saveParser) host(h string, v6 bool, what string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" || v6 && !a.Is6() {
			p.fail("%s address %q: use an IPv4 address, or an IPv6 address without a zone in brackets", what, h)
			return netip.Addr{}, false
		}
		return a.Unmap(), true
	}
	if h == "" || p.res == nil {
		p.fail("%s %q is not an IP address", what, h)
		return netip.Addr{}, false
	}
	// ipvsadm -S writes a name where one resolves back: look it up in the
	// family its brackets (or their absence) say.
	network := "ip4"
	if v6 {
		network = "ip6"
	}
	if !p.lookup(what, h) {
		return netip.Addr{}, false
	}
	addrs, err := p.res.LookupNetIP(p.ctx, network, h)
	if err != nil || len(addrs) == 0 {
		p.fail("%s %q is not an IP address, and looking it up failed: %v", what, h, err)
		return netip.Addr{}, false
	}
	a := addrs[0].Unmap()
	p.note("%s host name %q looked up: %s", what, h, a)
	return a, true
}

func (p *saveParser) port(s string, proto Protocol, what string) (uint16, bool) {
	if n, err := strconv.ParseUint(s, 10, 16); err == nil {
		return uint16(n), true
	}
	if s == "" || p.res == nil || s[0] >= '0' && s[0] <= '9' {
		p.fail("%s port %q is not a port: use 0-65535", what, s)
		return 0, false
	}
	network := "tcp"
	if proto == UDP {
		network = "udp"
	}
	if !p.lookup(what, s) {
		return 0, false
	}
	n, err := p.res.LookupPort(p.ctx, network, s)
	if err != nil || n < 0 || n > 65535 {
		p.fail("%s port %q is not a port number, and looking it up failed: %v", what, s, err)
		return 0, false
	}
	p.note("%s port name %q looked up: %d", what, s, n)
	return uint16(n), true
}

func (p *saveParser) addService(k ServiceKey, vals map[string]string, given map[string]bool) {
	// ipvsadm's defaults: wlc, and persistence per client address.
	s := SavedService{Service: Service{ServiceKey: k, Scheduler: "wlc", Netmask: 0xffffffff}, Line: p.line}
	if k.Family == FamilyIPv6 {
		s.Netmask = 128
	}
	bad := false
	if given["scheduler"] {
		s.Scheduler = vals["scheduler"]
		if !ipvsadmName(s.Scheduler) {
			p.fail("-s (--scheduler) %q is not a scheduler name: 1-%d letters, digits, '_' or '-'", s.Scheduler, maxNameLen)
			bad = true
		}
	}
	if given["persistent"] {
		s.Flags |= FlagPersistent
		s.Timeout = 360 // ipvsadm's default
		if v := vals["persistent"]; v != "" {
			t, err := strconv.ParseUint(v, 10, 32)
			if err != nil || t < 1 || t > ipvsadmMaxTimeout {
				p.fail("-p (--persistent) %q is not a timeout: use 1-%d seconds", v, ipvsadmMaxTimeout)
				bad = true
			}
			s.Timeout = uint32(t)
		}
	}
	if given["netmask"] {
		m, ok := p.netmask(vals["netmask"], k.Family)
		bad = bad || !ok
		s.Netmask = m
	}
	if given["pe"] {
		s.PEName = vals["pe"]
		if !ipvsadmName(s.PEName) {
			p.fail("--pe %q is not a persistence engine name: 1-%d letters, digits, '_' or '-'", s.PEName, maxNameLen)
			bad = true
		}
	}
	if given["ops"] {
		s.Flags |= FlagOnePacket
		if k.FWMark == 0 && k.Protocol != UDP {
			p.fail("-o (--ops): one-packet scheduling applies only to UDP and firewall-mark services, not %s", k.Protocol)
			bad = true
		}
	}
	if given["sched-flags"] {
		f, ok := p.schedFlags(vals["sched-flags"], s.Scheduler)
		bad = bad || !ok
		s.Flags |= f
	}
	if k.FWMark == 0 && k.Port == 0 && s.Flags&FlagPersistent == 0 {
		p.fail("%s: port 0 (every port) is only for a persistent service (-p)", k)
		bad = true
	}
	if prev, dup := p.byKey[k]; dup {
		p.fail("%s is already added on line %d", k, p.services[prev].Line)
		bad = true
	}
	if bad {
		return
	}
	p.byKey[k] = len(p.services)
	p.services = append(p.services, s)
}

// netmask reads -M: a dotted IPv4 mask, or an IPv6 prefix length 1-128.
func (p *saveParser) netmask(v string, family uint16) (uint32, bool) {
	if family == FamilyIPv6 {
		n, err := strconv.ParseUint(v, 10, 8)
		if err != nil || n < 1 || n > 128 {
			p.fail("-M (--netmask) %q: an IPv6 service's mask is a prefix length 1-128", v)
			return 0, false
		}
		return uint32(n), true
	}
	a, err := netip.ParseAddr(v)
	if err != nil || !a.Is4() {
		p.fail("-M (--netmask) %q is not an IPv4 mask such as 255.255.255.0", v)
		return 0, false
	}
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), true
}

// schedFlags reads -b: flag-1 to flag-3, or sh's and mh's names for the
// first two, which only their scheduler takes.
func (p *saveParser) schedFlags(v, sched string) (Flags, bool) {
	var f Flags
	ok := true
	for _, name := range strings.Split(v, ",") {
		switch name {
		case "flag-1":
			f |= FlagSched1
		case "flag-2":
			f |= FlagSched2
		case "flag-3":
			f |= FlagSched3
		case "sh-fallback", "sh-port", "mh-fallback", "mh-port":
			if !strings.HasPrefix(name, sched+"-") {
				p.fail("-b (--sched-flags) %s is a flag of the %s scheduler, not of %s", name, name[:2], sched)
				ok = false
			}
			if strings.HasSuffix(name, "fallback") {
				f |= FlagSched1
			} else {
				f |= FlagSched2
			}
		default:
			p.fail("-b (--sched-flags) %q is not a scheduler flag: use flag-1, flag-2, flag-3, sh-fallback, sh-port, mh-fallback or mh-port, separated by commas", name)
			ok = false
		}
	}
	return f, ok
}

func (p *saveParser) addDest(k ServiceKey, vals map[string]string, given map[string]bool) {
	si, found := p.byKey[k]
	if !found {
		p.fail("%s has no -A rule before this line: add the service first", k)
	}
	if !given["real-server"] {
		p.fail("-a needs -r (--real-server) ADDRESS[:PORT]")
		return
	}
	proto := k.Protocol
	ap, hasPort, ok := p.addrPort(vals["real-server"], proto, "real server", false)
	if !ok {
		return
	}
	d := SavedDest{Line: p.line, Destination: Destination{
		Addr: ap.Addr(), Port: ap.Port(), Family: familyOf(ap.Addr()), Forward: DirectRoute, Weight: 1,
	}}
	bad := false
	if !hasPort {
		d.Port = k.Port // ipvsadm's: no port, the service's
	}
	n := 0
	for _, f := range []struct {
		opt string
		fwd Forward
	}{{"gatewaying", DirectRoute}, {"masquerading", Masquerade}, {"ipip", Tunnel}} {
		if given[f.opt] {
			n++
			d.Forward = f.fwd
		}
	}
	if n > 1 {
		p.fail("give one forwarding method of -g (--gatewaying), -m (--masquerading) and -i (--ipip)")
		bad = true
	}
	if k.FWMark == 0 && (d.Forward == DirectRoute || d.Forward == Tunnel) && d.Port != k.Port {
		// ipvsadm gives such a destination its service's port.
		p.note("real server %s: direct routing and tunnelling keep the service's port: %d", ap, k.Port)
		d.Port = k.Port
	}
	if d.Family != k.Family && d.Forward != Tunnel {
		p.fail("real server %s is not of its service's address family: only -i (tunnelling) mixes IPv4 and IPv6", d.Addr)
		bad = true
	}
	if given["weight"] {
		w, err := strconv.ParseInt(vals["weight"], 10, 32)
		if err != nil || w < 0 {
			p.fail("-w (--weight) %q is not a weight: use 0-%d", vals["weight"], math.MaxInt32)
			bad = true
		}
		d.Weight = int32(w)
	}
	for _, t := range []struct {
		opt string
		v   *uint32
	}{{"u-threshold", &d.UpperThreshold}, {"l-threshold", &d.LowerThreshold}} {
		if !given[t.opt] {
			continue
		}
		n, err := strconv.ParseUint(vals[t.opt], 10, 32)
		if err != nil || n > ipvsadmMaxThreshold {
			p.fail("--%s %q is not a number of connections: use 0-%d (0: no limit)", t.opt, vals[t.opt], ipvsadmMaxThreshold)
			bad = true
		}
		*t.v = uint32(n)
	}
	bad = !p.tunnel(&d.Destination, vals, given) || bad
	if !found || bad {
		return
	}
	s := &p.services[si]
	for _, o := range s.Dests {
		if o.Key() == d.Key() {
			p.fail("real server %s of %s is already added on line %d", d.Key(), k, o.Line)
			return
		}
	}
	s.Dests = append(s.Dests, d)
}

// tunnel reads the tunnel options, which only -i takes: --tun-type ipip
// (the default) alone, gue with --tun-port and a checksum option, gre
// with a checksum option but no port.
func (p *saveParser) tunnel(d *Destination, vals map[string]string, given map[string]bool) bool {
	csums := []string{"tun-nocsum", "tun-csum", "tun-remcsum"}
	var opts []string
	for _, o := range append([]string{"tun-type", "tun-port"}, csums...) {
		if given[o] {
			opts = append(opts, "--"+o)
		}
	}
	if len(opts) == 0 {
		return true
	}
	if d.Forward != Tunnel {
		p.fail("%s apply only to -i (--ipip) real servers", strings.Join(opts, ", "))
		return false
	}
	ok := true
	switch t := vals["tun-type"]; t {
	case "", "ipip":
		d.TunnelType = TunnelIPIP
	case "gue":
		d.TunnelType = TunnelGUE
	case "gre":
		d.TunnelType = TunnelGRE
	default:
		p.fail("--tun-type %q is not a tunnel type: use ipip, gue or gre", t)
		return false
	}
	if given["tun-port"] {
		n, err := strconv.ParseUint(vals["tun-port"], 10, 16)
		if err != nil || n == 0 {
			p.fail("--tun-port %q is not a port: use 1-65535", vals["tun-port"])
			ok = false
		}
		d.TunnelPort = uint16(n)
	}
	n := 0
	for i, c := range csums {
		if given[c] {
			n++
			d.TunnelFlags = uint16(i)
		}
	}
	switch {
	case n > 1:
		p.fail("give one of --tun-nocsum, --tun-csum and --tun-remcsum")
		ok = false
	case d.TunnelType == TunnelIPIP && (given["tun-port"] || n > 0):
		p.fail("an ipip tunnel takes no --tun-port and no checksum option")
		ok = false
	case d.TunnelType == TunnelGUE && !given["tun-port"]:
		p.fail("a gue tunnel needs --tun-port PORT")
		ok = false
	case d.TunnelType == TunnelGRE && given["tun-port"]:
		p.fail("a gre tunnel takes no --tun-port")
		ok = false
	case d.TunnelType == TunnelGRE && d.TunnelFlags == TunnelRemoteChecksum:
		p.fail("a gre tunnel takes --tun-nocsum or --tun-csum, not --tun-remcsum")
		ok = false
	}
	return ok
}
