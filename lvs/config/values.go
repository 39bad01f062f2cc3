package config

import (
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Netmask is a contiguous network mask, kept as a prefix length. The zero
// value means "not set" (the kernel's or the family's default applies).
type Netmask struct {
	bits int
	set  bool
}

// MaskBits returns the mask of the given prefix length.
func MaskBits(n int) Netmask { return Netmask{bits: n, set: true} }

// IsSet reports whether m was set.
func (m Netmask) IsSet() bool { return m.set }

// Bits returns the prefix length; -1 if m is not set.
func (m Netmask) Bits() int {
	if !m.set {
		return -1
	}
	return m.bits
}

// Format writes m as piranha does: dotted quad for IPv4, prefix length for
// IPv6. It returns "" when m is not set.
func (m Netmask) Format(ipv6 bool) string {
	if !m.set {
		return ""
	}
	if ipv6 {
		return strconv.Itoa(m.bits)
	}
	v := uint32(0xffffffff) << (32 - uint(m.bits))
	if m.bits == 0 {
		v = 0
	}
	return fmt.Sprintf("%d.%d.%d.%d", v>>24, v>>16&0xff, v>>8&0xff, v&0xff)
}

// String returns m as a prefix length ("/24") or "" when not set.
func (m Netmask) String() string {
	if !m.set {
		return ""
	}
	return "/" + strconv.Itoa(m.bits)
}

// ParseNetmask accepts a dotted IPv4 mask (255.255.255.0), or a prefix
// length with or without a leading slash (24, /64). "" is "not set".
func ParseNetmask(s string) (Netmask, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Netmask{}, nil
	}
	if strings.Contains(s, ".") {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return Netmask{}, fmt.Errorf("%q is not a netmask: write a dotted mask such as 255.255.255.0 or a prefix length such as 24", s)
		}
		b := a.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		n := bits.LeadingZeros32(^v)
		if v<<uint(n) != 0 {
			return Netmask{}, fmt.Errorf("%q is not a contiguous netmask (ones followed by zeros)", s)
		}
		return MaskBits(n), nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(s, "/"))
	if err != nil || n < 0 || n > 128 {
		return Netmask{}, fmt.Errorf("%q is not a netmask: write a dotted mask such as 255.255.255.0 or a prefix length 0-128", s)
	}
	return MaskBits(n), nil
}

// ParseAddr parses an IPv4 or IPv6 address; "" is the zero (unset) address.
// A zone or an IPv4-mapped IPv6 form is refused.
func ParseAddr(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address (write e.g. 192.0.2.10 or 2001:db8::10)", s)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q has a zone; write the address without %%zone", s)
	}
	if a.Is4In6() {
		return netip.Addr{}, fmt.Errorf("%q is an IPv4-mapped IPv6 address; write it as %s", s, a.Unmap())
	}
	return a, nil
}

// FormatAddr returns a's text, or "" for the zero address.
func FormatAddr(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// services maps the service names admins write in lvs.cf's port key to their
// ports. The list is built in, not read from /etc/services, so that a file
// means the same on every machine.
var services = map[string]uint16{
	"ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "dns": 53,
	"http": 80, "www": 80, "pop3": 110, "ntp": 123, "imap": 143, "imap2": 143,
	"snmp": 161, "ldap": 389, "https": 443, "smtps": 465, "submission": 587,
	"ldaps": 636, "imaps": 993, "pop3s": 995, "mssql": 1433, "radius": 1812,
	"nfs": 2049, "mysql": 3306, "sip": 5060, "postgresql": 5432,
	"http-alt": 8080, "webcache": 8080, "rsync": 873, "ftps": 990, "openvpn": 1194,
	"ms-sql-s": 1433, "rtsp": 554, "memcache": 11211, "redis": 6379, "amqp": 5672,
	"ldap-alt": 3268, "kerberos": 88, "syslog": 514, "sips": 5061, "xmpp-client": 5222,
	"irc": 6667, "mongodb": 27017,
}

func serviceNames() string {
	names := make([]string, 0, len(services))
	for n := range services {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, " ")
}

// ParsePort parses a port number (decimal, 0x or 0 prefixes) or a service
// name such as http. "" is 0. The range is checked by Validate.
func ParsePort(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if s[0] >= '0' && s[0] <= '9' || s[0] == '-' {
		n, err := ParseInt(s)
		if err != nil {
			return 0, fmt.Errorf("%q is not a port: use 1-65535 or a service name such as http", s)
		}
		return int(n), nil
	}
	if p, ok := services[strings.ToLower(s)]; ok {
		return int(p), nil
	}
	return 0, fmt.Errorf("%q is not a port number or a known service name (%s)", s, serviceNames())
}

// ParseInt parses a whole number with the 0x and 0 prefixes piranha
// accepted. Ranges are Validate's business, so that every writer gets the
// same message.
func ParseInt(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 0, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%q is far out of range", s)
		}
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	return n, nil
}

// ParseBool accepts 0/1 (lvs.cf), and yes/no, on/off, true/false.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "yes", "on", "true":
		return true, nil
	case "0", "no", "off", "false", "":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean: use 1 or 0", s)
}

// ParseSeconds parses a duration in seconds, with up to millisecond
// precision: 6, 0.2, 1.5. A Go duration such as 200ms is accepted too.
func ParseSeconds(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	// Decimal only: "010" seconds is ten, not piranha's octal eight.
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if !(f >= 0 && f <= 1<<31) { // also refuses NaN
			return 0, fmt.Errorf("%q is out of range: 0 to 2147483648 seconds", s)
		}
		d := time.Duration(f*1000+0.5) * time.Millisecond
		return d, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return d.Round(time.Millisecond), nil
	}
	return 0, fmt.Errorf("%q is not a number of seconds (e.g. 6 or 0.5)", s)
}

// FormatSeconds writes d in seconds, with a fraction only when needed.
func FormatSeconds(d time.Duration) string {
	ms := d.Milliseconds()
	if ms%1000 == 0 {
		return strconv.FormatInt(ms/1000, 10)
	}
	return strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)
}

// SplitArgs splits a command line into its argument vector the way a shell
// splits words ('single' and "double" quotes, backslash escapes), without
// any expansion: nothing here, or anywhere in this project, hands user input
// to a shell.
func SplitArgs(s string) ([]string, error) {
	var (
		args  []string
		cur   strings.Builder
		inArg bool
		quote rune
	)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch {
			case r == '"':
				quote = 0
			case r == '\\' && i+1 < len(rs) && (rs[i+1] == '"' || rs[i+1] == '\\'):
				i++
				cur.WriteRune(rs[i])
			default:
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inArg = r, true
		case r == '\\':
			if i+1 == len(rs) {
				return nil, errors.New("ends with a lone backslash")
			}
			i++
			cur.WriteRune(rs[i])
			inArg = true
		case r == ' ' || r == '\t':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteRune(r)
			inArg = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("has an unclosed %c quote", quote)
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, nil
}
