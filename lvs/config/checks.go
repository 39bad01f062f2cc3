package config

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// The health check kinds: how a virtual server's real servers are checked
// (its check key). lvs/check runs them; what each needs is said here, once,
// so that Validate and check.NewProbe refuse the same things in the same
// words, and a new kind is added in one place (see docs/ARCHITECTURE.md).
const (
	// CheckPiranha is piranha's automatic choice: the sending program
	// when one is set, else send/expect over TCP.
	CheckPiranha = ""
	CheckTCP     = "tcp"     // connect only
	CheckSYN     = "syn"     // half-open: a SYN, a SYN-ACK expected, and a reset
	CheckSend    = "send"    // piranha's send/expect over TCP
	CheckProgram = "program" // piranha's send_program
	CheckHTTP    = "http"    // a GET, its status and optionally its body
	CheckHTTPS   = "https"   // the same over TLS
	CheckUDP     = "udp"     // a datagram sent, a reply expected
	CheckSMTP    = "smtp"    // keepalived's SMTP_CHECK: 220 greeting, HELO, 250, QUIT
	CheckDNS     = "dns"     // keepalived's DNS_CHECK: a query over UDP, an answer without error
	CheckPing    = "ping"    // keepalived's PING_CHECK: an ICMP echo, its reply
)

// checkChoices are the check kinds in the order the MONITORING SCRIPTS tab
// offers them, with its words.
var checkChoices = []Choice{
	{CheckPiranha, "piranha's: sending program if set, else send/expect"},
	{CheckTCP, "TCP connect"},
	{CheckSYN, "TCP half-open (SYN only)"},
	{CheckSend, "send / expect over TCP"},
	{CheckProgram, "sending program"},
	{CheckHTTP, "HTTP GET"},
	{CheckHTTPS, "HTTPS GET"},
	{CheckUDP, "UDP send / expect"},
	{CheckSMTP, "SMTP greeting and HELO"},
	{CheckDNS, "DNS query"},
	{CheckPing, "ICMP ping"},
}

// CheckKinds lists the check kinds besides piranha's automatic "".
var CheckKinds = values(checkChoices[1:])

func values(cs []Choice) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Value
	}
	return out
}

// CheckNeeds says what a check of kind lacks among the values it runs
// with: the lvs.cf key of the missing value and why it is needed, or "",
// "" when nothing is missing.
func CheckNeeds(kind, send, program string) (key, msg string) {
	switch kind {
	case CheckProgram:
		if program == "" {
			return "send_program", "is required by a program check"
		}
	case CheckUDP:
		if send == "" {
			return "send", "is required by a udp check: the datagram to send"
		}
	}
	return "", ""
}

// CheckCommand checks a command line the directors run without a shell
// (send_program, active_cmd, inactive_cmd): it must split into words and
// name its program by an absolute path, so that what runs does not depend
// on PATH. It returns the words.
func CheckCommand(cmd string) ([]string, error) {
	if !isPrintable(cmd) {
		return nil, errors.New("contains a control character")
	}
	args, err := SplitArgs(cmd)
	switch {
	case err != nil:
		return nil, fmt.Errorf("cannot be split into arguments: it %v", err)
	case len(args) == 0:
		return nil, errors.New("is blank; leave it empty or name a program")
	case !filepath.IsAbs(args[0]):
		return nil, fmt.Errorf("%q is not an absolute path: commands run without a shell, so name the program by its full path", args[0])
	}
	return args, nil
}

// CheckRegex compiles a POSIX extended regular expression (expect with
// use_regex, http_body), as the checks match them.
func CheckRegex(re string) (*regexp.Regexp, error) {
	r, err := regexp.CompilePOSIX(re)
	if err != nil {
		return nil, fmt.Errorf("is not a valid POSIX extended regular expression: %v", err)
	}
	return r, nil
}

// CheckPath checks the path an http or https check gets ("" is /).
func CheckPath(p string) error {
	if p == "" {
		return nil
	}
	if u, err := url.ParseRequestURI(p); err != nil || !strings.HasPrefix(p, "/") || u.Host != "" ||
		strings.ContainsFunc(p, isSpaceOrControl) {
		return fmt.Errorf("%q is not a path: it starts with / and has no spaces", p)
	}
	return nil
}

// CheckHost checks the virtual host of an http or https check ("" is the
// real server's address).
func CheckHost(h string) error {
	if strings.ContainsFunc(h, isSpaceOrControl) || strings.ContainsAny(h, "/?#@") {
		return fmt.Errorf("%q is not a host name", h)
	}
	return nil
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

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

// DNSTypes are the query types a dns check asks, keepalived's (its
// DNS_CHECK type keyword); "" is keepalived's default, SOA.
var DNSTypes = []string{"A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"}

// DefaultDNSType and DefaultDNSName are what a dns check asks when its
// fields are empty: keepalived's defaults.
const (
	DefaultDNSType = "SOA"
	DefaultDNSName = "."
)

// CheckDNSName checks the name a dns check asks for: a domain name of
// labels of 1-63 characters, at most 253 characters, "." the root.
func CheckDNSName(n string) error {
	if n == "" || n == "." {
		return nil
	}
	bad := fmt.Errorf("%q is not a domain name: labels of 1-63 letters, digits, - or _, separated by dots", n)
	if len(strings.TrimSuffix(n, ".")) > 253 {
		return bad
	}
	for _, l := range strings.Split(strings.TrimSuffix(n, "."), ".") {
		if l == "" || len(l) > 63 || strings.ContainsFunc(l, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '*')
		}) {
			return bad
		}
	}
	return nil
}

// CheckHelo checks the name an smtp check says HELO with: one word of
// printable characters ("" is the director's host name).
func CheckHelo(h string) error {
	if strings.ContainsFunc(h, isSpaceOrControl) || len(h) > 255 {
		return fmt.Errorf("%q is not a HELO name: one word, no spaces, at most 255 characters", h)
	}
	return nil
}

// CheckDigest checks an http_digest: the MD5 of the body, 32 hex digits
// (keepalived's digest), or "".
func CheckDigest(d string) error {
	if d == "" {
		return nil
	}
	if len(d) != 32 || strings.Trim(strings.ToLower(d), "0123456789abcdef") != "" {
		return fmt.Errorf("%q is not an MD5 digest: 32 hexadecimal digits, e.g. from md5sum", d)
	}
	return nil
}

// ProgramWeight is keepalived's misc_dynamic rule: a program check's exit
// status sets the real server's weight. 0 is up at the configured weight,
// 1 is down, 2-255 is up with weight status-2. ok reports up; set whether
// weight replaces the configured one.
func ProgramWeight(status int) (ok, set bool, weight int64) {
	switch {
	case status == 0:
		return true, false, 0
	case status >= 2 && status <= 255:
		return true, true, int64(status - 2)
	}
	return false, false, 0
}

// CheckUser checks the user name the uptime load monitor logs in as:
// POSIX's portable user names (letters, digits, . _ -, not starting with
// -), at most 32 characters ("" is none).
func CheckUser(u string) error {
	if u == "" {
		return nil
	}
	if len(u) > 32 || strings.HasPrefix(u, "-") || strings.ContainsFunc(u, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	}) {
		return fmt.Errorf("%q is not a user name: letters, digits, . _ and -, not starting with -, at most 32", u)
	}
	return nil
}

// CheckFile checks the path of a file on the director the console reads
// (the uptime load monitor's key): absolute, clean, no spaces or control
// characters ("" is none).
func CheckFile(p string) error {
	if p == "" {
		return nil
	}
	if !strings.HasPrefix(p, "/") || filepath.Clean(p) != p || p == "/" || len(p) > 4096 || strings.ContainsFunc(p, isSpaceOrControl) {
		return fmt.Errorf("%q is not a file's path: absolute, as /etc/lvsconsole/load_ed25519, without spaces", p)
	}
	return nil
}

// MaxAgentSend bounds what the agent load monitor writes (agent.MaxSend).
const MaxAgentSend = 512

// CheckAgentSend bounds the agent's send string, as written (its escapes
// only shorten it).
func CheckAgentSend(s string) error {
	if len(s) > MaxAgentSend {
		return fmt.Errorf("is %d characters long: at most %d", len(s), MaxAgentSend)
	}
	return nil
}
