package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
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
	// Rule is what the field allows, when Msg ends with it ("use
	// 1-65535"), so that a form can word the refusal of a field left
	// blank, which it read as 0, as "is required: use 1-65535".
	Rule string
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

func (v *validator) add(field, format string, args ...any) *FieldError {
	fe := v.field(field, format, args...)
	v.errs = append(v.errs, fe)
	return fe
}

// need refuses a value an entry in effect must have, and only warns about
// it on a draft: piranha's daemons skip inactive entries (and run no
// heartbeat without a backup), so its files hold unfinished ones. The
// message is the same either way, so that ACTIVATE refuses a draft with the
// words the import warned with.
func (v *validator) need(inEffect bool, field, format string, args ...any) *FieldError {
	if inEffect {
		return v.add(field, format, args...)
	}
	fe := v.field(field, format, args...)
	v.warns = append(v.warns, fe)
	return fe
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

// ValidateChange is Validate of next, an edit of old, a configuration
// that was valid: when the edit changed some virtual servers in place
// (ChangedVirtuals) and neither the global nor the redundancy settings,
// only those are checked, and against the others for the rules between
// entries (names, services), so that an edit of one entry in 10,000 costs
// what the entry costs. Otherwise, or when anything is refused, it is
// Validate, with its refusals.
func ValidateChange(old, next *Config) error {
	changed, same := ChangedVirtuals(old, next)
	return ValidateChanged(old, next, changed, same)
}

// ValidateChanged is ValidateChange with what ChangedVirtuals(old, next)
// returned, for a caller that asks it once for several uses.
func ValidateChanged(old, next *Config, changed []int, same bool) error {
	if same && old.Global == next.Global && old.Redundancy == next.Redundancy && next.validChanged(changed) {
		return nil
	}
	return next.Validate()
}

// validChanged reports whether the virtual servers at changed obey every
// rule, their own and those between entries; false means Validate must
// say what is wrong.
func (c *Config) validChanged(changed []int) bool {
	v := &validator{section: "virtual", vi: -1, ri: -1}
	for _, i := range changed {
		vs := &c.Virtuals[i]
		v.vi, v.ri, v.vname, v.rname = i, -1, vs.Name, ""
		vs.validate(v, &c.Global)
		if len(v.errs) > 0 {
			return false
		}
		keyed := vs.keyed()
		for j := range c.Virtuals {
			o := &c.Virtuals[j]
			if j == i {
				continue
			}
			if vs.Name != "" && o.Name == vs.Name {
				return false
			}
			if keyed && o.keyed() && sameService(vs, o) {
				return false
			}
		}
	}
	return true
}

// keyed reports whether validate counts vs among the active services.
func (vs *VirtualServer) keyed() bool {
	return vs.Active && vs.Address.IsValid() && vs.Port >= 0 && vs.Port <= 65535
}

// sameService is serviceKey(a) == serviceKey(b), without formatting them.
func sameService(a, b *VirtualServer) bool {
	if a.IsFWMark() || b.IsFWMark() {
		return a.IsFWMark() && b.IsFWMark() && a.FWMark == b.FWMark && a.Address.Is6() == b.Address.Is6()
	}
	return a.Protocol == b.Protocol && a.Address == b.Address && a.Port == b.Port
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
		if vs.keyed() {
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

// The sections' validators apply each field's own rule, the registry's,
// in the registry's order, and after a field (named by its form name) the
// rules between fields that speak of it, so that refusals come in the
// order of the form.

func (g *Global) validate(v *validator) {
	checkFields(v, GlobalFields, g, func(form string) {
		if form != "nat_router" {
			return
		}
		if usable(g.NATRouter) && g.NATRouterDevice == "" {
			v.add("nat_router", "needs a device as well as the address, e.g. eth1:1")
		}
		if !g.NATRouter.IsValid() && g.NATRouterDevice != "" {
			v.add("nat_router", "is required with device %q: give the NAT router's address, or leave the device empty", g.NATRouterDevice)
		}
	})
}

func (r *Redundancy) validate(v *validator, g *Global) {
	checkFields(v, RedundancyFields, r, func(form string) {
		switch form {
		case "backup_private":
			if r.BackupActive {
				r.validatePair(v, g)
			}
		case "heartbeat":
			// The heartbeat's timing matters only when one runs.
			hb := r.BackupActive
			checkDurationNeed(v, hb, "keepalive", r.Keepalive, minInterval, maxKeepalive)
			if r.Deadtime <= r.Keepalive {
				v.need(hb, "deadtime", "%ss must be longer than keepalive (%ss), or every heartbeat would be late",
					FormatSeconds(r.Deadtime), FormatSeconds(r.Keepalive))
			} else {
				checkDurationNeed(v, hb, "deadtime", r.Deadtime, minInterval, maxKeepalive)
			}
		case "syncd_iface":
			if r.SyncDaemon && r.SyncIface == "" {
				v.add("syncd_iface", "is required when the sync daemon is on")
			}
		default:
			r.validateCluster(v, form)
		}
	})
}

// validateCluster checks, after the field form, what cluster mode needs
// of it. The BGP settings' own rules hold whatever the mode; what they
// must say (directors, an AS, a router) only in cluster mode.
func (r *Redundancy) validateCluster(v *validator, form string) {
	switch form {
	case "cluster":
		if r.Cluster && r.BackupActive {
			v.add("cluster", "and a backup director exclude each other: turn off backup_active (Backup director active) for cluster mode, or cluster for the pair")
		}
	case "cluster_directors":
		ds, err := r.Directors()
		if !r.Cluster || err != nil || len(ds) > MaxDirectors {
			return // the field's own check refused it
		}
		if len(ds) < 2 {
			v.add("cluster_directors", "lists %d: cluster mode needs 2-%d directors, this one included", len(ds), MaxDirectors).Rule = fmt.Sprintf("list 2-%d addresses", MaxDirectors)
			return
		}
		for _, d := range ds[1:] {
			if d.Is4() != ds[0].Is4() {
				v.add("cluster_directors", "%s and %s are of different address families: the directors' addresses are of one", ds[0], d)
				return
			}
		}
	case "bgp_as":
		switch {
		case r.BGPAS == ASTrans:
			v.add("bgp_as", "%d is AS_TRANS (RFC 6793), which no speaker may have: use another AS number", r.BGPAS)
		case r.Cluster && r.BGPAS == 0:
			v.add("bgp_as", "is required in cluster mode: the directors' AS number, 1-4294967294").Rule = "use 1-4294967294"
		}
	case "bgp_peers":
		if ps, err := r.Peers(); r.Cluster && err == nil && len(ps) == 0 {
			v.add("bgp_peers", "is required in cluster mode: the routers, as \"ADDRESS AS\", comma separated")
		}
	case "bgp_hold_time":
		if h := r.BGPHoldTime; h%time.Second != 0 && h >= 3*time.Second && h <= 65535*time.Second {
			v.add("bgp_hold_time", "%ss is not whole seconds: BGP counts the hold time in seconds", FormatSeconds(h))
		}
	}
}

// validatePair checks what an active backup needs of both directors.
func (r *Redundancy) validatePair(v *validator, g *Global) {
	if !usable(g.Primary) {
		v.add("primary", "is required when a backup director is active")
	}
	if !usable(r.Backup) {
		v.add("backup", "is required when a backup director is active: its public address")
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

func (vs *VirtualServer) validate(v *validator, g *Global) {
	checkFields(v, VirtualFields, vs, func(form string) {
		switch form {
		case "address":
			switch {
			case !vs.Address.IsValid() && !vs.Active && vs.Device != "":
				// lvs.cf writes the device after the address: alone it
				// could not be written, even in a draft.
				v.add("address", "is required with a device (%q): give the virtual IP address, or leave the device empty", vs.Device)
			case !vs.Address.IsValid():
				v.need(vs.Active, "address", "is required: the virtual IP address")
			case vs.Active && vs.Address.IsUnspecified():
				v.add("address", placeholder, vs.Address)
			}
		case "port":
			if vs.IsFWMark() {
				checkRange(v, "port", int64(vs.Port), 0, 65535)
			} else {
				checkRange(v, "port", int64(vs.Port), 1, 65535)
			}
		case "sched_port":
			if (vs.SchedFallback || vs.SchedPort) && vs.Scheduler != "sh" && vs.Scheduler != "mh" {
				v.add("sched_flags", "fallback and port apply only to the sh and mh schedulers, not %s", vs.Scheduler)
			}
		case "ops":
			if vs.OnePacket && vs.Protocol != UDP && !vs.IsFWMark() {
				v.add("ops", "one-packet scheduling applies only to udp (or firewall-mark) services")
			}
		case "sorry_server":
			if usable(vs.SorryServer) && usable(vs.Address) && vs.SorryServer.Is4() != vs.Address.Is4() && g.Network != Tunnel {
				v.add("sorry_server", "%s is not of the virtual IP's address family (only tunnel mode mixes families)", vs.SorryServer)
			}
		case "hysteresis":
			// keepalived lowers such a hysteresis to quorum-1; a form says so.
			if q := vs.EffectiveQuorum(); vs.Hysteresis >= q {
				v.add("hysteresis", "%d is not below the quorum %d: the quorum could never be lost (at most %d)", vs.Hysteresis, q, q-1)
			}
		case "expect":
			if vs.UseRegex {
				if vs.Expect == "" {
					v.add("expect", "is empty, but is to be treated as a regular expression: give one")
				} else if _, err := CheckRegex(vs.Expect); err != nil {
					v.add("expect", "%v", err)
				}
			}
		case "check":
			if key, msg := CheckNeeds(vs.CheckKind, vs.Send, vs.SendProgram); key != "" {
				v.add(key, "%s", msg)
			}
		}
	})

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
	checkFields(v, RealFields, rs, func(form string) {
		switch form {
		case "address":
			switch {
			case !rs.Address.IsValid():
				v.need(inEffect, "address", "is required: the real server's IP address")
			case rs.Address.IsUnspecified() && (inEffect || rs.Active):
				v.need(inEffect, "address", placeholder, rs.Address)
			}
			if usable(rs.Address) && usable(vs.Address) && rs.Address.Is4() != vs.Address.Is4() && rs.EffectiveForward(g) != Tunnel {
				v.add("address", "%s is not of the virtual IP's address family; only tunnel forwarding mixes IPv4 and IPv6", rs.Address)
			}
		case "port":
			if rs.Port == 0 && vs.Port == 0 && vs.IsFWMark() && rs.Active {
				v.need(inEffect, "port", "is required: the firewall-mark virtual server has no port to inherit")
			}
		case "max_weight":
			if rs.MaxWeight != 0 && rs.MaxWeight < rs.Weight {
				v.add("max_weight", "%d is below the weight %d: give at least the weight, or leave it empty", rs.MaxWeight, rs.Weight)
			}
		case "load_port":
			if vs.LoadMonitor == "agent" && vs.LoadPort == 0 && rs.LoadPort == 0 && rs.Active {
				v.need(inEffect, "load_port", "is required with the agent load monitor: the agent's port, here or on the virtual server")
			}
		case "lthreshold":
			if rs.LowerThreshold > rs.UpperThreshold {
				v.add("lthreshold", "%d is above the upper threshold %d (0 = no limit, so set the upper one first)", rs.LowerThreshold, rs.UpperThreshold)
			}
		}
	})
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
		rule := fmt.Sprintf("use %d-%d", lo, hi)
		v.add(field, "%d is out of range: %s", n, rule).Rule = rule
	}
}

func checkDuration(v *validator, field string, d, lo, hi time.Duration) {
	checkDurationNeed(v, true, field, d, lo, hi)
}

// checkDurationNeed is checkDuration that only warns while !inEffect.
func checkDurationNeed(v *validator, inEffect bool, field string, d, lo, hi time.Duration) {
	switch {
	case d < lo || d > hi:
		rule := fmt.Sprintf("use %s to %s seconds", FormatSeconds(lo), FormatSeconds(hi))
		v.need(inEffect, field, "%ss is out of range: %s", FormatSeconds(d), rule).Rule = rule
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

// checkFields applies each field's own rule, the registry's, to t, and
// after each field calls after with its form name.
func checkFields[T any](v *validator, fs Fields[T], t *T, after func(form string)) {
	for i := range fs {
		f := &fs[i]
		f.check(v, t)
		after(f.Form)
	}
}

// check applies f's own rule to t.
func (f *Field[T]) check(v *validator, t *T) {
	switch p := f.Ref(t).(type) {
	case *int:
		f.checkNumber(v, int64(*p))
	case *int64:
		f.checkNumber(v, *p)
	case *time.Duration:
		if f.Range != nil && !(f.ZeroOK && *p == 0) {
			checkDuration(v, f.Key, *p, time.Duration(f.Range.Lo), time.Duration(f.Range.Hi))
		}
	case *netip.Addr:
		checkUnicast(v, f.Key, *p, f.NoPlaceholder)
	case *Netmask:
		checkMask(v, f.Key, *p, f.Family(t))
	}
	switch f.Kind {
	case KindEnum:
		if s := f.Text(t); !(s == "" && f.EmptyOK) && !slices.ContainsFunc(f.Choices, func(c Choice) bool { return c.Value == s }) {
			v.add(f.Key, "%q %s", s, f.Refusal)
		}
	case KindName:
		const rule = "1-%d letters, digits, '.', '_' or '-', starting with a letter or digit"
		switch s := f.Text(t); {
		case s == "":
			v.add(f.Key, "is required: "+rule, maxNameLen)
		case !nameRE.MatchString(s) || len(s) > maxNameLen:
			v.add(f.Key, "%q is not allowed: "+rule, s, maxNameLen)
		}
	case KindDevice:
		checkDevice(v, f.Key, f.Text(t))
	case KindCommand:
		if s := f.Text(t); s != "" {
			if _, err := CheckCommand(s); err != nil {
				v.add(f.Key, "%v", err)
			}
		}
	case KindEscaped:
		checkText(v, f.Key, f.Text(t))
		if f.Check != nil {
			if err := f.Check(f.Text(t)); err != nil {
				v.add(f.Key, "%v", err)
			}
		}
	case KindText:
		if f.Check != nil {
			if err := f.Check(f.Text(t)); err != nil {
				v.add(f.Key, "%v", err)
			}
		}
	}
}

func (f *Meta) checkNumber(v *validator, n int64) {
	if f.Range != nil && !(f.ZeroOK && n == 0) {
		checkRange(v, f.Key, n, f.Range.Lo, f.Range.Hi)
	}
}
