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

// line writes "key = v" at indent, piece by piece: a string made of them
// would cost an allocation a line.
func (f *formatter) line(indent, key, v string) {
	f.buf.WriteString(indent)
	f.buf.WriteString(key)
	f.buf.WriteString(" = ")
	f.buf.WriteString(v)
	f.buf.WriteByte('\n')
}

// raw writes a value that needs no quoting: numbers, addresses, and the
// "IP dev" pairs piranha writes bare.
func (f *formatter) raw(indent, key, v string) {
	if !printable(v) {
		f.fail(key, "%q contains a control character, which lvs.cf cannot hold", v)
		return
	}
	f.line(indent, key, v)
}

// str writes a string, quoted when an unquoted value would read back
// differently.
func (f *formatter) str(indent, key, v string) {
	if !printable(v) {
		f.fail(key, "%q contains a control character, which lvs.cf cannot hold", v)
		return
	}
	f.line(indent, key, quote(v))
}

// quoted always quotes, as piranha's console did for the check strings,
// so that exported files diff cleanly against piranha's.
func (f *formatter) quoted(indent, key, v string) {
	if !printable(v) {
		f.fail(key, "%q contains a control character, which lvs.cf cannot hold", v)
		return
	}
	f.line(indent, key, quoteAlways(v))
}

func (f *formatter) bool(indent, key string, b bool) {
	v := "0"
	if b {
		v = "1"
	}
	f.raw(indent, key, v)
}

func (f *formatter) int(indent, key string, n int64) {
	f.raw(indent, key, strconv.FormatInt(n, 10))
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
	f.where = "global"
	for _, k := range globalKeys.list {
		k.write(f, "", c, false)
	}
	for i := range c.Virtuals {
		f.virtual(&c.Virtuals[i])
	}
}

func (f *formatter) virtual(vs *config.VirtualServer) {
	f.where = "virtual " + vs.Name
	f.name("virtual", vs.Name, "")
	for _, k := range virtualKeys.list {
		k.write(f, indent1, vs, false)
	}
	for j := range vs.Reals {
		rs := &vs.Reals[j]
		f.where = "virtual " + vs.Name + ", server " + rs.Name
		f.name("server", rs.Name, indent1)
		for _, k := range serverKeys.list {
			// A firewall-mark service's real servers always get their
			// port: absent would mean the virtual server's (piranha's).
			k.write(f, indent2, rs, k.name == "port" && vs.IsFWMark())
		}
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
