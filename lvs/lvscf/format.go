package lvscf

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

const (
	indent1 = "     "     // keys of a virtual block, as piranha writes them
	indent2 = "         " // keys of a server block
)

// Format writes c as lvs.cf, in piranha's layout so that the file diffs
// cleanly against one piranha wrote. Every value that differs from the
// parser's default is written, so that Parse gives back c (less the IDs,
// which lvs.cf has no place for). Nothing is written if some value cannot
// be represented, such as a string holding a control character: a
// truncated or shifted file would be worse than none.
func Format(w io.Writer, c *config.Config) error {
	f := &formatter{}
	f.config(c)
	if f.err != nil {
		return f.err
	}
	_, err := w.Write(f.buf.Bytes())
	return err
}

type formatter struct {
	buf   bytes.Buffer
	err   error
	where string // for error messages
}

func (f *formatter) fail(key, format string, args ...any) {
	if f.err == nil {
		f.err = fmt.Errorf("lvscf: %s: %s: %s", f.where, key, fmt.Sprintf(format, args...))
	}
}

// raw writes a value that needs no quoting: numbers, addresses, and the
// "IP dev" pairs piranha writes bare.
func (f *formatter) raw(indent, key, v string) {
	if !printable(v) {
		f.fail(key, "%q contains a control character, which lvs.cf cannot hold", v)
		return
	}
	f.buf.WriteString(indent + key + " = " + v + "\n")
}

// str writes a string, quoted when an unquoted value would read back
// differently.
func (f *formatter) str(indent, key, v string) {
	if !printable(v) {
		f.fail(key, "%q contains a control character, which lvs.cf cannot hold", v)
		return
	}
	f.buf.WriteString(indent + key + " = " + quote(v) + "\n")
}

// quotedIf always quotes, as piranha's console did for the check strings,
// so that exported files diff cleanly against piranha's.
func (f *formatter) quotedIf(indent, key, v string) {
	if v == "" {
		return
	}
	if !printable(v) {
		f.fail(key, "%q contains a control character, which lvs.cf cannot hold", v)
		return
	}
	f.buf.WriteString(indent + key + " = " + quoteAlways(v) + "\n")
}

func (f *formatter) strIf(indent, key, v string) {
	if v != "" {
		f.str(indent, key, v)
	}
}

func (f *formatter) bool(indent, key string, b bool) {
	v := "0"
	if b {
		v = "1"
	}
	f.raw(indent, key, v)
}

func (f *formatter) boolIf(indent, key string, b bool) {
	if b {
		f.raw(indent, key, "1")
	}
}

func (f *formatter) int(indent, key string, n int64) {
	f.raw(indent, key, strconv.FormatInt(n, 10))
}

func (f *formatter) intIf(indent, key string, n int64) {
	if n != 0 {
		f.int(indent, key, n)
	}
}

func (f *formatter) addrIf(indent, key string, a netip.Addr) {
	if a.IsValid() {
		f.raw(indent, key, config.FormatAddr(a))
	}
}

// addrDev writes piranha's "IP dev" pair; the device is a single word, so
// it must not hold a blank that would split it when read back.
func (f *formatter) addrDev(indent, key string, a netip.Addr, dev string) {
	switch {
	case dev == "" && !a.IsValid():
		return
	case !a.IsValid():
		f.fail(key, "device %q without an address cannot be written", dev)
	case strings.ContainsAny(dev, " \t"):
		f.fail(key, "device %q contains a blank", dev)
	case dev == "":
		f.raw(indent, key, config.FormatAddr(a))
	default:
		f.raw(indent, key, config.FormatAddr(a)+" "+dev)
	}
}

// mask writes IPv4 masks dotted, as piranha does, except where a dotted
// mask cannot carry the value: a prefix length over 32 (which Validate only
// checks for nat_nmask when a nat_router is set) reads back the same only
// when written as a number.
func (f *formatter) mask(indent, key string, m config.Netmask, ipv6 bool) {
	switch b := m.Bits(); {
	case !m.IsSet():
	case b < 0 || b > 128:
		f.fail(key, "prefix length %d is out of range", b)
	case ipv6 || b > 32:
		f.raw(indent, key, strconv.Itoa(b))
	default:
		f.raw(indent, key, m.Format(false))
	}
}

func (f *formatter) name(kw, name, indent string) {
	if name == "" || strings.ContainsAny(name, " \t") || !printable(name) {
		f.fail("name", "%q cannot be a block name: it must be one word", name)
		return
	}
	f.buf.WriteString(indent + kw + " " + name + " {\n")
}

func (f *formatter) config(c *config.Config) {
	g, r := &c.Global, &c.Redundancy
	f.where = "global"
	f.int("", "serial_no", c.Serial)
	f.addrIf("", "primary", g.Primary)
	f.addrIf("", "primary_private", g.PrimaryPrivate)
	// service is written even when empty: absent means lvs.
	f.str("", "service", g.Service)
	f.bool("", "backup_active", r.BackupActive)
	f.addrIf("", "backup", r.Backup)
	f.addrIf("", "backup_private", r.BackupPrivate)
	f.bool("", "heartbeat", r.Heartbeat)
	f.int("", "heartbeat_port", int64(r.HeartbeatPort))
	f.raw("", "keepalive", config.FormatSeconds(r.Keepalive))
	f.raw("", "deadtime", config.FormatSeconds(r.Deadtime))
	f.str("", "network", string(g.Network))
	f.addrDev("", "nat_router", g.NATRouter, g.NATRouterDevice)
	f.mask("", "nat_nmask", g.NATNetmask, g.NATRouter.Is6())
	f.boolIf("", "monitor_links", r.MonitorLinks)
	f.boolIf("", "preempt", r.Preempt)
	if r.PreemptDelay != 0 {
		f.raw("", "preempt_delay", config.FormatSeconds(r.PreemptDelay))
	}
	f.boolIf("", "syncdaemon", r.SyncDaemon)
	// syncd_iface is written even when empty: absent would mean eth0.
	f.str("", "syncd_iface", r.SyncIface)
	f.intIf("", "syncd_id", int64(r.SyncID))
	f.intIf("", "tcp_timeout", g.TCPTimeout)
	f.intIf("", "tcpfin_timeout", g.TCPFinTimeout)
	f.intIf("", "udp_timeout", g.UDPTimeout)
	f.bool("", "hard_shutdown", g.HardShutdown)
	f.strIf("", "active_cmd", g.ActiveCmd)
	f.strIf("", "inactive_cmd", g.InactiveCmd)
	f.strIf("", "rsh_command", g.RshCommand)
	f.strIf("", "debug_level", g.DebugLevel)
	for i := range c.Virtuals {
		f.virtual(&c.Virtuals[i])
	}
}

func (f *formatter) virtual(vs *config.VirtualServer) {
	f.where = "virtual " + vs.Name
	f.name("virtual", vs.Name, "")
	in := indent1
	ipv6 := vs.Address.Is6()
	f.bool(in, "active", vs.Active)
	f.addrDev(in, "address", vs.Address, vs.Device)
	f.mask(in, "vip_nmask", vs.Netmask, ipv6)
	f.addrIf(in, "sorry_server", vs.SorryServer)
	f.intIf(in, "fwmark", vs.FWMark)
	f.str(in, "protocol", string(vs.Protocol))
	// port is written even when 0: absent would mean 80.
	f.int(in, "port", int64(vs.Port))
	f.str(in, "scheduler", vs.Scheduler)
	f.strIf(in, "sched_flags", formatSchedFlags(vs))
	f.boolIf(in, "ops", vs.OnePacket)
	f.int(in, "persistent", vs.Persistence)
	f.mask(in, "pmask", vs.PersistenceNetmask, ipv6)
	f.quotedIf(in, "send", vs.Send)
	f.quotedIf(in, "expect", vs.Expect)
	f.bool(in, "use_regex", vs.UseRegex)
	f.quotedIf(in, "send_program", vs.SendProgram)
	f.strIf(in, "load_monitor", vs.LoadMonitor)
	f.raw(in, "timeout", config.FormatSeconds(vs.CheckTimeout))
	f.raw(in, "reentry", config.FormatSeconds(vs.Reentry))
	f.bool(in, "quiesce_server", vs.Quiesce)
	f.strIf(in, "check", vs.CheckKind)
	if vs.CheckInterval != 0 {
		f.raw(in, "check_interval", config.FormatSeconds(vs.CheckInterval))
	}
	f.intIf(in, "check_failures", int64(vs.CheckFailures))
	f.quotedIf(in, "http_path", vs.HTTPPath)
	f.quotedIf(in, "http_host", vs.HTTPHost)
	f.quotedIf(in, "http_status", vs.HTTPStatus)
	f.quotedIf(in, "http_body", vs.HTTPBody)
	f.boolIf(in, "tls_verify", vs.TLSVerify)
	for j := range vs.Reals {
		rs := &vs.Reals[j]
		f.where = "virtual " + vs.Name + ", server " + rs.Name
		f.name("server", rs.Name, indent1)
		in := indent2
		f.addrDev(in, "address", rs.Address, "")
		f.bool(in, "active", rs.Active)
		if vs.IsFWMark() {
			// Absent would mean the virtual server's port (piranha's).
			f.int(in, "port", int64(rs.Port))
		} else {
			f.intIf(in, "port", int64(rs.Port))
		}
		// weight is written even when 0: absent would mean 1.
		f.int(in, "weight", rs.Weight)
		f.strIf(in, "fwd", string(rs.Forward))
		f.intIf(in, "uthreshold", rs.UpperThreshold)
		f.intIf(in, "lthreshold", rs.LowerThreshold)
		f.buf.WriteString(indent1 + "}\n")
	}
	f.buf.WriteString("}\n")
}

// quote returns s as a value that reads back as s. Backslashes are doubled
// only where the parser would otherwise take them as an escape (before a
// backslash or the quote, or at the end), so that check strings keep
// piranha's familiar look: "GET / HTTP/1.0\r\n\r\n".
func quote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"'#\\") {
		return s
	}
	return quoteAlways(s)
}

func quoteAlways(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\' && (i+1 == len(s) || s[i+1] == '\\' || s[i+1] == '"'):
			b.WriteString(`\\`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// printable refuses what a line-based file cannot carry, and what
// Validate refuses anyway.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}
