package ipvs

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// This file says changes and tables in ipvsadm's words: the command line
// that makes a change (Op.IpvsadmArgs), and the rules of ipvsadm -Sn
// (SaveService, SaveDest). It follows ipvsadm 1.31 (Debian 12's), whose
// parser and save format the guest tests of cmd/lvsconsole check
// (TestGuestOpsAreIpvsadm, TestGuestPlanIsIpvsadm).

// ErrNotIpvsadm is wrapped by the error of a change that ipvsadm cannot
// make exactly: the line given with it is the nearest ipvsadm would take,
// and the error says what it would make differently.
var ErrNotIpvsadm = errors.New("ipvsadm cannot make this change")

// Limits of ipvsadm 1.31's parser, narrower than the kernel's.
const (
	// ipvsadmMaxTimeout is MAX_TIMEOUT (31 days): the largest persistence
	// timeout and --set timeout it takes.
	ipvsadmMaxTimeout = 86400 * 31
	// ipvsadmMaxThreshold is the largest -x and -y (INT_MAX).
	ipvsadmMaxThreshold = math.MaxInt32
)

// String says the change in words: "add destination TCP 192.0.2.1:80 ->
// 10.0.0.1:80".
func (o *Op) String() string {
	var s string
	switch o.Kind {
	case AddService:
		s = "add service"
	case EditService:
		s = "edit service"
	case DeleteService:
		s = "delete service"
	case AddDest:
		s = "add destination"
	case EditDest:
		s = "edit destination"
	case DeleteDest:
		s = "delete destination"
	default:
		return o.Kind.String()
	}
	s += " " + o.Service.ServiceKey.String()
	if o.Kind == AddDest || o.Kind == EditDest || o.Kind == DeleteDest {
		s += " -> " + o.Dest.Key().String()
	}
	return s
}

// Ipvsadm returns the ipvsadm command that makes the same change as o:
// "ipvsadm -a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 5". A change ipvsadm
// cannot make exactly is a shell comment saying why, with the nearest
// command in it.
func (o *Op) Ipvsadm() string {
	args, err := o.IpvsadmArgs()
	return commandLine(args, err)
}

func commandLine(args []string, err error) string {
	line := "ipvsadm " + strings.Join(args, " ")
	if err != nil {
		return "# " + err.Error() + ": " + line
	}
	return line
}

// IpvsadmArgs returns the arguments of the ipvsadm command that makes the
// same change as o, as the engine sends it: the whole service for -A and
// -E, the whole destination for -a and -e (ipvsadm sends every field, its
// defaults for those not given). The error, wrapping ErrNotIpvsadm, says
// what ipvsadm cannot say of it; the arguments are then the nearest it
// takes.
func (o *Op) IpvsadmArgs() ([]string, error) {
	var args []string
	var why []string
	switch o.Kind {
	case AddService, EditService:
		cmd := "-A"
		if o.Kind == EditService {
			cmd = "-E"
		}
		args = append([]string{cmd}, serviceArgs(o.Service.ServiceKey, &why)...)
		args = append(args, serviceOptions(&o.Service, &why)...)
	case DeleteService:
		args = append([]string{"-D"}, serviceArgs(o.Service.ServiceKey, &why)...)
	case AddDest, EditDest:
		cmd := "-a"
		if o.Kind == EditDest {
			cmd = "-e"
		}
		args = append([]string{cmd}, serviceArgs(o.Service.ServiceKey, &why)...)
		args = append(args, "-r", addrPort(o.Dest.Addr, o.Dest.Port))
		args = append(args, destOptions(o.Service.ServiceKey, &o.Dest, &why)...)
	case DeleteDest:
		args = append([]string{"-d"}, serviceArgs(o.Service.ServiceKey, &why)...)
		args = append(args, "-r", addrPort(o.Dest.Addr, o.Dest.Port))
	default:
		return nil, fmt.Errorf("%w: unknown change %v", ErrNotIpvsadm, o.Kind)
	}
	return args, notIpvsadm(why)
}

// IpvsadmArgs returns the arguments of ipvsadm --set for t: the three
// timeouts in seconds, 0 for one left as the kernel has it (as the engine
// sends them). The error, wrapping ErrNotIpvsadm, says what ipvsadm cannot
// set.
func (t Timeouts) IpvsadmArgs() ([]string, error) {
	args := []string{"--set"}
	var why []string
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"TCP", t.TCP}, {"TCP FIN", t.TCPFin}, {"UDP", t.UDP}} {
		s := f.d / time.Second
		switch {
		case f.d%time.Second != 0:
			why = append(why, fmt.Sprintf("a %s timeout of %v (it takes whole seconds)", f.name, f.d))
		case s < 0 || s > ipvsadmMaxTimeout:
			why = append(why, fmt.Sprintf("a %s timeout of %d s (it takes 0-%d)", f.name, s, ipvsadmMaxTimeout))
		}
		args = append(args, strconv.FormatInt(int64(s), 10))
	}
	return args, notIpvsadm(why)
}

// Ipvsadm returns the ipvsadm --set command for t, or a comment saying why
// ipvsadm cannot set it.
func (t Timeouts) Ipvsadm() string {
	args, err := t.IpvsadmArgs()
	return commandLine(args, err)
}

func notIpvsadm(why []string) error {
	if len(why) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrNotIpvsadm, strings.Join(why, "; "))
}

// serviceArgs names the service as ipvsadm does: "-t 192.0.2.1:80", "-u
// [2001:db8::53]:53", "--sctp-service ...", "-f 7", "-f 8 -6".
func serviceArgs(k ServiceKey, why *[]string) []string {
	if k.FWMark != 0 {
		if k.Family == FamilyIPv6 {
			return []string{"-f", strconv.FormatUint(uint64(k.FWMark), 10), "-6"}
		}
		return []string{"-f", strconv.FormatUint(uint64(k.FWMark), 10)}
	}
	opt := "-t"
	switch k.Protocol {
	case TCP:
	case UDP:
		opt = "-u"
	case SCTP:
		opt = "--sctp-service"
	default:
		*why = append(*why, fmt.Sprintf("protocol %s (it knows TCP, UDP and SCTP)", k.Protocol))
	}
	return []string{opt, addrPort(k.Addr, k.Port)}
}

// serviceOptions are what -A and -E set: all of SET_SERVICE's fields.
func serviceOptions(s *Service, why *[]string) []string {
	args := []string{"-s", s.Scheduler}
	if !ipvsadmName(s.Scheduler) {
		*why = append(*why, fmt.Sprintf("scheduler %q", s.Scheduler))
	}
	if s.Flags&FlagPersistent != 0 {
		args = append(args, "-p", strconv.FormatUint(uint64(s.Timeout), 10))
		if s.Timeout < 1 || s.Timeout > ipvsadmMaxTimeout {
			*why = append(*why, fmt.Sprintf("persistence of %d s (it takes 1-%d)", s.Timeout, ipvsadmMaxTimeout))
		}
	}
	// The engine sends the mask without persistence too, and ipvsadm takes
	// it: only its save format leaves it out.
	if m, ok := netmaskText(s.Family, s.Netmask); ok {
		args = append(args, "-M", m)
	}
	if s.PEName != "" {
		args = append(args, "--pe", s.PEName)
		if !ipvsadmName(s.PEName) {
			*why = append(*why, fmt.Sprintf("persistence engine %q", s.PEName))
		}
	}
	if s.Flags&FlagOnePacket != 0 {
		args = append(args, "-o")
	}
	if f := schedFlags(s); f != "" {
		args = append(args, "-b", f)
	}
	if extra := s.Flags &^ (FlagPersistent | FlagHashed | FlagOnePacket | FlagSched1 | FlagSched2 | FlagSched3); extra != 0 {
		*why = append(*why, fmt.Sprintf("service flags %#x", uint32(extra)))
	}
	return args
}

// destOptions are what -a and -e set: all of SET_DEST's fields.
func destOptions(k ServiceKey, d *Destination, why *[]string) []string {
	var args []string
	switch d.Forward {
	case Masquerade:
		args = append(args, "-m")
	case DirectRoute:
		args = append(args, "-g")
	case Tunnel:
		args = append(args, "-i")
	default:
		args = append(args, "-g")
		*why = append(*why, fmt.Sprintf("forwarding %s (it sets masquerading, gatewaying or tunnelling)", d.Forward))
	}
	if k.FWMark == 0 && (d.Forward == DirectRoute || d.Forward == Tunnel) && d.Port != k.Port {
		*why = append(*why, fmt.Sprintf("port %d: it gives a direct-routed or tunnelled real server the service's port, %d", d.Port, k.Port))
	}
	if fam := destFamilyOf(d); fam != k.Family && d.Forward != Tunnel {
		*why = append(*why, "a real server of another address family than its service, but through a tunnel")
	}
	if d.Weight < 0 {
		*why = append(*why, fmt.Sprintf("weight %d", d.Weight))
	}
	args = append(args, "-w", strconv.FormatInt(int64(d.Weight), 10))
	if d.Forward == Tunnel {
		args = append(args, tunnelOptions(d, why)...)
	}
	for _, t := range []struct {
		opt, name string
		v         uint32
	}{{"-x", "upper", d.UpperThreshold}, {"-y", "lower", d.LowerThreshold}} {
		if t.v == 0 {
			continue
		}
		args = append(args, t.opt, strconv.FormatUint(uint64(t.v), 10))
		if t.v > ipvsadmMaxThreshold {
			*why = append(*why, fmt.Sprintf("an %s threshold of %d (it takes up to %d)", t.name, t.v, ipvsadmMaxThreshold))
		}
	}
	return args
}

// tunnelOptions are a tunnel's type, port and checksum, as ipvsadm -Sn
// writes them.
func tunnelOptions(d *Destination, why *[]string) []string {
	flags := []string{"--tun-nocsum", "--tun-csum", "--tun-remcsum"}
	switch d.TunnelType {
	case TunnelIPIP:
		if d.TunnelPort != 0 || d.TunnelFlags != 0 {
			*why = append(*why, "an ipip tunnel with a port or checksum flags")
		}
		return []string{"--tun-type", "ipip"}
	case TunnelGUE:
		args := []string{"--tun-type", "gue", "--tun-port", strconv.Itoa(int(d.TunnelPort))}
		if d.TunnelPort == 0 {
			*why = append(*why, "a gue tunnel without a port")
		}
		if int(d.TunnelFlags) >= len(flags) {
			*why = append(*why, fmt.Sprintf("tunnel flags %#x", d.TunnelFlags))
			return args
		}
		return append(args, flags[d.TunnelFlags])
	case TunnelGRE:
		args := []string{"--tun-type", "gre"}
		if d.TunnelPort != 0 {
			*why = append(*why, "a gre tunnel with a port")
		}
		if d.TunnelFlags > TunnelChecksum {
			*why = append(*why, fmt.Sprintf("gre tunnel flags %#x (it takes no checksum or a checksum)", d.TunnelFlags))
			return args
		}
		return append(args, flags[d.TunnelFlags])
	}
	*why = append(*why, fmt.Sprintf("tunnel type %d", d.TunnelType))
	return nil
}

// SaveService writes s as ipvsadm -Sn does (ipvsadm-save -n): "-A -t
// 192.0.2.1:80 -s wlc -p 300 -M 255.255.255.0": like it, without a mask
// when not persistent and without flag-3 for sh and mh (which have no use
// for it). One difference, so that ipvsadm -R takes every line: a firewall
// mark is written unsigned, where ipvsadm writes one above 2^31-1 as a
// negative number it then refuses.
func SaveService(s *Service) string {
	var why []string
	b := []string{"-A"}
	b = append(b, serviceArgs(s.ServiceKey, &why)...)
	b = append(b, "-s", s.Scheduler)
	if s.Flags&FlagPersistent != 0 {
		b = append(b, "-p", strconv.FormatUint(uint64(s.Timeout), 10))
		if m, ok := netmaskText(s.Family, s.Netmask); ok {
			b = append(b, "-M", m)
		}
	}
	if s.PEName != "" {
		b = append(b, "--pe", s.PEName)
	}
	if s.Flags&FlagOnePacket != 0 {
		b = append(b, "-o")
	}
	flags := *s
	if s.Scheduler == "sh" || s.Scheduler == "mh" {
		flags.Flags &^= FlagSched3 // ipvsadm writes only the two they name
	}
	if f := schedFlags(&flags); f != "" {
		b = append(b, "-b", f)
	}
	return strings.Join(b, " ")
}

// SaveDest writes destination d of service k as ipvsadm -Sn does: "-a -t
// 192.0.2.1:80 -r 10.0.0.1:80 -m -w 1". Its thresholds are not part of
// that format.
func SaveDest(k ServiceKey, d *Destination) string {
	var why []string
	b := []string{"-a"}
	b = append(b, serviceArgs(k, &why)...)
	b = append(b, "-r", addrPort(d.Addr, d.Port))
	switch d.Forward {
	case Masquerade:
		b = append(b, "-m")
	case Tunnel:
		b = append(b, "-i")
	default: // ipvsadm writes the kernel's local node as -g too
		b = append(b, "-g")
	}
	b = append(b, "-w", strconv.FormatInt(int64(d.Weight), 10))
	if d.Forward == Tunnel {
		b = append(b, tunnelOptions(d, &why)...)
	}
	return strings.Join(b, " ")
}

// schedFlags writes the scheduler flags as -b takes them: sh and mh name
// theirs, the others are flag-1 to flag-3.
func schedFlags(s *Service) string {
	names := [3]string{"flag-1", "flag-2", "flag-3"}
	if s.Scheduler == "sh" || s.Scheduler == "mh" {
		names[0], names[1] = s.Scheduler+"-fallback", s.Scheduler+"-port"
	}
	var set []string
	for i, f := range []Flags{FlagSched1, FlagSched2, FlagSched3} {
		if s.Flags&f != 0 {
			set = append(set, names[i])
		}
	}
	return strings.Join(set, ",")
}

// netmaskText writes a persistence mask as -M takes it, and whether it is
// narrower than a whole address (ipvsadm's default, not written).
func netmaskText(family uint16, m uint32) (string, bool) {
	if family == FamilyIPv6 {
		if m == 0 || m == 128 {
			return "", false
		}
		return strconv.FormatUint(uint64(m), 10), true
	}
	if m == 0 || m == 0xffffffff {
		return "", false
	}
	return netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}).String(), true
}

// addrPort writes an address as ipvsadm takes it: with its port always
// (it refuses a bracketed IPv6 address without one) and IPv6 in brackets.
func addrPort(a netip.Addr, port uint16) string {
	return netip.AddrPortFrom(a, port).String()
}

func destFamilyOf(d *Destination) uint16 {
	if d.Family != 0 {
		return d.Family
	}
	if d.Addr.Is4() {
		return FamilyIPv4
	}
	return FamilyIPv6
}

// ipvsadmName tells a scheduler or persistence engine name that a command
// line carries as one plain word.
func ipvsadmName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
