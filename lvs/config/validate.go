package config

import (
	"fmt"
	"math"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FieldError is one refused value. Field is the lvs.cf key of the value
// (address, weight, keepalive ...), so that a form can show the message
// beside its field and an import can point at the line.
type FieldError struct {
	Section string // "global", "redundancy", "virtual" or "server"
	Virtual int    // index into Config.Virtuals; -1 for global and redundancy
	Real    int    // index into VirtualServer.Reals; -1 unless Section is "server"
	// Names of the virtual and real server, for the message.
	VirtualName, RealName string
	Field                 string
	Msg                   string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	switch e.Section {
	case "virtual":
		fmt.Fprintf(&b, "virtual %s: ", displayName(e.VirtualName, e.Virtual))
	case "server":
		fmt.Fprintf(&b, "virtual %s, server %s: ", displayName(e.VirtualName, e.Virtual), displayName(e.RealName, e.Real))
	default:
		b.WriteString(e.Section + ": ")
	}
	b.WriteString(e.Field + ": " + e.Msg)
	return b.String()
}

func displayName(name string, idx int) string {
	if name == "" {
		return fmt.Sprintf("#%d", idx+1)
	}
	return name
}

// ValidationError lists every refused value of a configuration.
type ValidationError struct {
	Fields []*FieldError
}

func (e *ValidationError) Error() string {
	if len(e.Fields) == 1 {
		return e.Fields[0].Error()
	}
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Error()
	}
	return fmt.Sprintf("%d invalid values: %s", len(e.Fields), strings.Join(msgs, "; "))
}

// Limits the kernel or common sense sets.
const (
	MaxWeight    = math.MaxInt32
	MaxUint32    = math.MaxUint32
	maxNameLen   = 63
	maxIfNameLen = 15 // IFNAMSIZ less the NUL
	maxKeepalive = time.Hour
	maxTimeout   = time.Hour
	maxReentry   = 24 * time.Hour
	minInterval  = 10 * time.Millisecond
)

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	deviceRE = regexp.MustCompile(`^[A-Za-z0-9_.@+:-]+$`)
)

// validator collects field errors, and the warnings of drafts, for one
// section at a time.
type validator struct {
	errs    []*FieldError
	warns   []*FieldError
	section string
	vi, ri  int
	vname   string
	rname   string
}

func (v *validator) field(field, format string, args ...any) *FieldError {
	return &FieldError{
		Section: v.section, Virtual: v.vi, Real: v.ri,
		VirtualName: v.vname, RealName: v.rname,
		Field: field, Msg: fmt.Sprintf(format, args...),
	}
}

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, v.field(field, format, args...))
}

// need refuses a value an entry in effect must have, and only warns about
// it on a draft: piranha's daemons skip inactive entries (and run no
// heartbeat without a backup), so its files hold unfinished ones. The
// message is the same either way, so that ACTIVATE refuses a draft with the
// words the import warned with.
func (v *validator) need(inEffect bool, field, format string, args ...any) {
	if inEffect {
		v.add(field, format, args...)
		return
	}
	v.warns = append(v.warns, v.field(field, format, args...))
}

// Validate checks every rule a configuration must obey and returns a
// *ValidationError listing all refused values, or nil. What an inactive
// entry lacks is not refused; Warnings lists it.
func (c *Config) Validate() error {
	v := c.validate()
	if len(v.errs) == 0 {
		return nil
	}
	return &ValidationError{Fields: v.errs}
}

// Warnings lists what the drafts of c lack: inactive virtual and real
// servers, and heartbeat settings while no backup is active. Each would be
// refused, with the same message, once activated.
func (c *Config) Warnings() []*FieldError { return c.validate().warns }

// Check is Validate and Warnings in one pass.
func (c *Config) Check() (warnings []*FieldError, err error) {
	v := c.validate()
	if len(v.errs) != 0 {
		err = &ValidationError{Fields: v.errs}
	}
	return v.warns, err
}

func (c *Config) validate() *validator {
	v := &validator{section: "global", vi: -1, ri: -1}
	c.Global.validate(v)
	v.section = "redundancy"
	c.Redundancy.validate(v, &c.Global)

	names := map[string]int{}
	services := map[string]string{}
	for i := range c.Virtuals {
		vs := &c.Virtuals[i]
		v.section, v.vi, v.ri, v.vname, v.rname = "virtual", i, -1, vs.Name, ""
		if prev, dup := names[vs.Name]; dup && vs.Name != "" {
			v.add("name", "%q is already the name of virtual server #%d; names must be unique", vs.Name, prev+1)
		}
		names[vs.Name] = i
		vs.validate(v, &c.Global)
		if vs.Active && vs.Address.IsValid() && vs.Port >= 0 && vs.Port <= 65535 {
			key := vs.serviceKey()
			if other, dup := services[key]; dup {
				v.add(identityField(vs), "%s is already served by active virtual server %s", vs.ServiceString(), other)
			} else {
				services[key] = vs.Name
			}
		}
	}
	return v
}

func identityField(vs *VirtualServer) string {
	if vs.IsFWMark() {
		return "fwmark"
	}
	return "port"
}

// serviceKey identifies vs's IPVS service.
func (vs *VirtualServer) serviceKey() string {
	if vs.IsFWMark() {
		fam := "4"
		if vs.Address.Is6() {
			fam = "6"
		}
		return fmt.Sprintf("fwm/%s/%d", fam, vs.FWMark)
	}
	return fmt.Sprintf("%s/%s", vs.Protocol, netip.AddrPortFrom(vs.Address, uint16(vs.Port)))
}

// ServiceString is vs's IPVS service as ipvsadm writes it: TCP 192.0.2.1:80,
// or FWM 3.
func (vs *VirtualServer) ServiceString() string {
	if vs.IsFWMark() {
		if vs.Address.Is6() {
			return fmt.Sprintf("FWM %d IPv6", vs.FWMark)
		}
		return fmt.Sprintf("FWM %d", vs.FWMark)
	}
	return fmt.Sprintf("%s %s", strings.ToUpper(string(vs.Protocol)), netip.AddrPortFrom(vs.Address, uint16(vs.Port)))
}

func (g *Global) validate(v *validator) {
	checkUnicast(v, "primary", g.Primary, false)
	checkUnicast(v, "primary_private", g.PrimaryPrivate, false)
	if !slices.Contains(Forwards, g.Network) {
		v.add("network", "%q is not a forwarding method: use nat, direct or tunnel", g.Network)
	}
	if g.NATRouter.IsValid() && !g.NATRouter.IsUnspecified() {
		checkUnicast(v, "nat_router", g.NATRouter, false)
		if g.NATRouterDevice == "" {
			v.add("nat_router", "needs a device after the address, e.g. \"%s eth1:1\"", g.NATRouter)
		}
	}
	if !g.NATRouter.IsValid() && g.NATRouterDevice != "" {
		v.add("nat_router", "device %q has no address: write \"ADDRESS %s\" or leave both empty", g.NATRouterDevice, g.NATRouterDevice)
	}
	checkMask(v, "nat_nmask", g.NATNetmask, g.NATRouter)
	checkDevice(v, "nat_router", g.NATRouterDevice)
	checkRange(v, "tcp_timeout", g.TCPTimeout, 0, MaxUint32)
	checkRange(v, "tcpfin_timeout", g.TCPFinTimeout, 0, MaxUint32)
	checkRange(v, "udp_timeout", g.UDPTimeout, 0, MaxUint32)
	checkCommand(v, "active_cmd", g.ActiveCmd)
	checkCommand(v, "inactive_cmd", g.InactiveCmd)
	if g.Service != "" && g.Service != "lvs" {
		v.add("service", "%q is not supported: only lvs", g.Service)
	}
	if g.RshCommand != "" && g.RshCommand != "rsh" && g.RshCommand != "ssh" {
		v.add("rsh_command", "%q is not allowed: use rsh or ssh", g.RshCommand)
	}
	if d := g.DebugLevel; d != "" && d != "NONE" && strings.Trim(d, "0123456789") != "" {
		v.add("debug_level", "%q is not allowed: use NONE or a number", d)
	}
}

func (r *Redundancy) validate(v *validator, g *Global) {
	checkUnicast(v, "backup", r.Backup, false)
	checkUnicast(v, "backup_private", r.BackupPrivate, false)
	if r.BackupActive {
		if !usable(g.Primary) {
			v.add("primary", "is required when a backup director is active (backup_active = 1)")
		}
		if !usable(r.Backup) {
			v.add("backup", "is required when backup_active = 1: the backup director's public address")
		} else if usable(g.Primary) {
			if r.Backup == g.Primary {
				v.add("backup", "%s is also the primary's address; the two directors need their own", r.Backup)
			} else if r.Backup.Is4() != g.Primary.Is4() {
				v.add("backup", "%s and the primary %s are of different address families", r.Backup, g.Primary)
			}
		}
		if usable(g.PrimaryPrivate) != usable(r.BackupPrivate) {
			field := "backup_private"
			if !usable(g.PrimaryPrivate) {
				field = "primary_private"
			}
			v.add(field, "must be set on both directors or on neither (it is the second heartbeat path)")
		}
	}
	// The heartbeat's timing matters only when one runs.
	hb := r.BackupActive
	checkDurationNeed(v, hb, "keepalive", r.Keepalive, minInterval, maxKeepalive)
	if r.Deadtime <= r.Keepalive {
		v.need(hb, "deadtime", "%ss must be longer than keepalive (%ss), or every heartbeat would be late",
			FormatSeconds(r.Deadtime), FormatSeconds(r.Keepalive))
	} else {
		checkDurationNeed(v, hb, "deadtime", r.Deadtime, minInterval, maxKeepalive)
	}
	checkRange(v, "heartbeat_port", int64(r.HeartbeatPort), 1, 65535)
	if r.PreemptDelay != 0 {
		checkDuration(v, "preempt_delay", r.PreemptDelay, 0, maxKeepalive)
	}
	if r.SyncDaemon && r.SyncIface == "" {
		v.add("syncd_iface", "is required when the sync daemon is on")
	}
	checkDevice(v, "syncd_iface", r.SyncIface)
	checkRange(v, "syncd_id", int64(r.SyncID), 0, 255)
}

func (vs *VirtualServer) validate(v *validator, g *Global) {
	if !nameRE.MatchString(vs.Name) || len(vs.Name) > maxNameLen {
		v.add("name", "%q is not allowed: 1-%d letters, digits, '.', '_' or '-', starting with a letter or digit", vs.Name, maxNameLen)
	}
	switch {
	case !vs.Address.IsValid() && !vs.Active && vs.Device != "":
		// lvs.cf writes the device after the address: alone it could not
		// be written, even in a draft.
		v.add("address", "is required with a device (%q): give the virtual IP address, or leave the device empty", vs.Device)
	case !vs.Address.IsValid():
		v.need(vs.Active, "address", "is required: the virtual IP address")
	default:
		checkUnicast(v, "address", vs.Address, vs.Active)
	}
	checkDevice(v, "device", vs.Device)
	checkMask(v, "vip_nmask", vs.Netmask, vs.Address)
	if !slices.Contains(Protocols, vs.Protocol) {
		v.add("protocol", "%q is not a protocol: use tcp, udp or sctp", vs.Protocol)
	}
	checkRange(v, "fwmark", vs.FWMark, 0, MaxUint32)
	if vs.IsFWMark() {
		checkRange(v, "port", int64(vs.Port), 0, 65535)
	} else {
		checkRange(v, "port", int64(vs.Port), 1, 65535)
	}
	if !slices.Contains(Schedulers, vs.Scheduler) {
		v.add("scheduler", "%q is not a kernel scheduler: use one of %s", vs.Scheduler, strings.Join(Schedulers, " "))
	}
	if (vs.SchedFallback || vs.SchedPort) && vs.Scheduler != "sh" && vs.Scheduler != "mh" {
		v.add("sched_flags", "fallback and port apply only to the sh and mh schedulers, not %s", vs.Scheduler)
	}
	if vs.OnePacket && vs.Protocol != UDP && !vs.IsFWMark() {
		v.add("ops", "one-packet scheduling applies only to udp (or firewall-mark) services")
	}
	checkRange(v, "persistent", vs.Persistence, 0, MaxUint32)
	checkMask(v, "pmask", vs.PersistenceNetmask, vs.Address)
	if vs.SorryServer.IsValid() {
		checkUnicast(v, "sorry_server", vs.SorryServer, true)
		if usable(vs.Address) && vs.SorryServer.Is4() != vs.Address.Is4() && g.Network != Tunnel {
			v.add("sorry_server", "%s is not of the virtual IP's address family (only tunnel mode mixes families)", vs.SorryServer)
		}
	}
	checkDuration(v, "timeout", vs.CheckTimeout, minInterval, maxTimeout)
	checkDuration(v, "reentry", vs.Reentry, 0, maxReentry)
	if vs.LoadMonitor != "" && !slices.Contains(LoadMonitors, vs.LoadMonitor) {
		v.add("load_monitor", "%q is not allowed: use none, rup, ruptime or uptime", vs.LoadMonitor)
	}
	checkText(v, "send", vs.Send)
	checkText(v, "expect", vs.Expect)
	if vs.UseRegex {
		if vs.Expect == "" {
			v.add("expect", "is empty, but use_regex = 1 treats it as a regular expression")
		} else if _, err := regexp.CompilePOSIX(vs.Expect); err != nil {
			v.add("expect", "is not a valid POSIX extended regular expression: %v", err)
		}
	}
	checkCommand(v, "send_program", vs.SendProgram)
	vs.validateCheck(v)

	names := map[string]int{}
	dests := map[netip.AddrPort]string{}
	for j := range vs.Reals {
		rs := &vs.Reals[j]
		v.section, v.ri, v.rname = "server", j, rs.Name
		if prev, dup := names[rs.Name]; dup && rs.Name != "" {
			v.add("name", "%q is already the name of real server #%d of this virtual server", rs.Name, prev+1)
		}
		names[rs.Name] = j
		rs.validate(v, vs, g, vs.Active && rs.Active)
		if rs.Active && usable(rs.Address) {
			key := netip.AddrPortFrom(rs.Address, uint16(rs.EffectivePort(vs)))
			if other, dup := dests[key]; dup {
				v.add("address", "%s is already active real server %s of this virtual server", key, other)
			} else {
				dests[key] = rs.Name
			}
		}
	}
	v.section, v.ri, v.rname = "virtual", -1, ""
}

// validate checks rs; inEffect is whether rs and vs are both active.
func (rs *RealServer) validate(v *validator, vs *VirtualServer, g *Global, inEffect bool) {
	if !nameRE.MatchString(rs.Name) || len(rs.Name) > maxNameLen {
		v.add("name", "%q is not allowed: 1-%d letters, digits, '.', '_' or '-', starting with a letter or digit", rs.Name, maxNameLen)
	}
	switch {
	case !rs.Address.IsValid():
		v.need(inEffect, "address", "is required: the real server's IP address")
	case rs.Active && !inEffect && rs.Address.IsUnspecified():
		v.need(false, "address", placeholder, rs.Address)
	default:
		checkUnicast(v, "address", rs.Address, inEffect)
	}
	if rs.Forward != "" && !slices.Contains(Forwards, rs.Forward) {
		v.add("fwd", "%q is not a forwarding method: use nat, direct or tunnel (or leave it empty for the global setting)", rs.Forward)
	}
	if usable(rs.Address) && usable(vs.Address) && rs.Address.Is4() != vs.Address.Is4() && rs.EffectiveForward(g) != Tunnel {
		v.add("address", "%s is not of the virtual IP's address family; only tunnel forwarding mixes IPv4 and IPv6", rs.Address)
	}
	checkRange(v, "port", int64(rs.Port), 0, 65535)
	if rs.Port == 0 && vs.Port == 0 && vs.IsFWMark() && rs.Active {
		v.need(inEffect, "port", "is required: the firewall-mark virtual server has no port to inherit")
	}
	checkRange(v, "weight", rs.Weight, 0, MaxWeight)
	checkRange(v, "uthreshold", rs.UpperThreshold, 0, MaxUint32)
	checkRange(v, "lthreshold", rs.LowerThreshold, 0, MaxUint32)
	if rs.LowerThreshold > rs.UpperThreshold {
		v.add("lthreshold", "%d is above the upper threshold %d (0 = no limit, so set the upper one first)", rs.LowerThreshold, rs.UpperThreshold)
	}
}

// usable reports whether a is set to something other than 0.0.0.0 or ::,
// piranha's "not configured" placeholder.
func usable(a netip.Addr) bool { return a.IsValid() && !a.IsUnspecified() }

const placeholder = "%s is a placeholder; an active entry needs a real address"

// checkUnicast refuses addresses that cannot be a host's. The unspecified
// address is piranha's placeholder for "not configured yet" and is allowed
// unless required is set (an active entry).
func checkUnicast(v *validator, field string, a netip.Addr, required bool) {
	switch {
	case !a.IsValid():
	case a.IsUnspecified():
		if required {
			v.add(field, placeholder, a)
		}
	case a.IsMulticast(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		v.add(field, "%s is a multicast or broadcast address; a unicast address is needed", a)
	case a.IsLinkLocalUnicast() && a.Is6():
		v.add(field, "%s is link-local; use a global or unique-local address", a)
	}
}

func checkMask(v *validator, field string, m Netmask, a netip.Addr) {
	if !m.IsSet() {
		return
	}
	maxBits := 32
	if a.Is6() {
		maxBits = 128
	}
	switch {
	case m.Bits() < 0 || m.Bits() > maxBits:
		v.add(field, "/%d is too long for %s: use a prefix length of 0-%d", m.Bits(), familyName(a), maxBits)
	case m.Bits() == 0:
		// lvs.cf could not carry it: piranha reads a mask of 0.0.0.0 as
		// "not given", and so does the import.
		v.add(field, "/0 (0.0.0.0) means \"not given\" in lvs.cf, as in piranha: leave it empty, or use a prefix length of 1-%d", maxBits)
	}
}

func familyName(a netip.Addr) string {
	if a.Is6() {
		return "IPv6"
	}
	return "IPv4"
}

// checkDevice checks an interface name or label such as eth0 or eth0:1.
func checkDevice(v *validator, field, dev string) {
	if dev == "" {
		return
	}
	if len(dev) > maxIfNameLen || !deviceRE.MatchString(dev) || dev == "." || dev == ".." {
		v.add(field, "%q is not an interface name: at most %d of A-Z a-z 0-9 . _ - @ + and ':' for a label (e.g. eth0 or eth0:1)", dev, maxIfNameLen)
	}
}

func checkRange(v *validator, field string, n, lo, hi int64) {
	if n < lo || n > hi {
		v.add(field, "%d is out of range: use %d-%d", n, lo, hi)
	}
}

func checkDuration(v *validator, field string, d, lo, hi time.Duration) {
	checkDurationNeed(v, true, field, d, lo, hi)
}

// checkDurationNeed is checkDuration that only warns while !inEffect.
func checkDurationNeed(v *validator, inEffect bool, field string, d, lo, hi time.Duration) {
	switch {
	case d < lo || d > hi:
		v.need(inEffect, field, "%ss is out of range: use %s to %s seconds", FormatSeconds(d), FormatSeconds(lo), FormatSeconds(hi))
	case d%time.Millisecond != 0:
		v.need(inEffect, field, "%v is finer than a millisecond; use whole milliseconds", d)
	}
}

// checkText refuses control characters: lvs.cf is line-based, and the
// escapes \r \n \t are how a check string says them.
func checkText(v *validator, field, s string) {
	if !isPrintable(s) {
		v.add(field, "contains a control character; write \\r, \\n or \\t instead")
	}
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// checkCommand checks a command line run without a shell: it must split
// into words and start with an absolute program path.
func checkCommand(v *validator, field, cmd string) {
	if cmd == "" {
		return
	}
	if !isPrintable(cmd) {
		v.add(field, "contains a control character")
		return
	}
	args, err := SplitArgs(cmd)
	if err != nil {
		v.add(field, "cannot be split into arguments: it %v", err)
		return
	}
	if len(args) == 0 {
		v.add(field, "is blank; leave it empty or name a program")
		return
	}
	if !filepath.IsAbs(args[0]) {
		v.add(field, "%q is not an absolute path: commands run without a shell, so name the program by its full path", args[0])
	}
}

func (vs *VirtualServer) validateCheck(v *validator) {
	switch vs.CheckKind {
	case "", "tcp", "syn", "send", "http", "https":
	case "program":
		if vs.SendProgram == "" {
			v.add("send_program", "is required by a program check")
		}
	case "udp":
		if vs.Send == "" {
			v.add("send", "is required by a udp check: the datagram to send")
		}
	default:
		v.add("check", "%q is not a check kind: use %s, or leave it empty for piranha's", vs.CheckKind, strings.Join(CheckKinds, ", "))
	}
	if vs.CheckInterval != 0 {
		checkDuration(v, "check_interval", vs.CheckInterval, minInterval, maxTimeout)
	}
	checkRange(v, "check_failures", int64(vs.CheckFailures), 0, 100)
	if p := vs.HTTPPath; p != "" && (!strings.HasPrefix(p, "/") || strings.ContainsAny(p, " \t") || !isPrintable(p)) {
		v.add("http_path", "%q is not a path: it starts with / and has no spaces", p)
	}
	if h := vs.HTTPHost; h != "" && (strings.ContainsAny(h, " \t/") || !isPrintable(h)) {
		v.add("http_host", "%q is not a host name", h)
	}
	if _, err := ParseStatusRanges(vs.HTTPStatus); err != nil {
		v.add("http_status", "%v", err)
	}
	if vs.HTTPBody != "" {
		if _, err := regexp.CompilePOSIX(vs.HTTPBody); err != nil {
			v.add("http_body", "is not a valid POSIX extended regular expression: %v", err)
		}
	}
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Lo, Hi int }

// ParseStatusRanges reads accepted HTTP status codes such as
// "200-299,301"; "" is 200-399.
func ParseStatusRanges(s string) ([]StatusRange, error) {
	if strings.TrimSpace(s) == "" {
		return []StatusRange{{200, 399}}, nil
	}
	var rs []StatusRange
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(strings.TrimSpace(hi))
		}
		if err1 != nil || err2 != nil || a < 100 || b > 599 || a > b {
			return nil, fmt.Errorf("%q is not a status code or range: write e.g. 200-299,301", part)
		}
		rs = append(rs, StatusRange{a, b})
	}
	return rs, nil
}
