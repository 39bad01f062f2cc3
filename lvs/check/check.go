// Package check runs one health check of one real server: piranha's nanny
// probe (connect, send/expect, send_program) made correct, plus the HTTP,
// HTTPS and UDP checks keepalived has.
//
// Differences from piranha that matter: a check that does not finish within
// its timeout is DOWN, whatever it is waiting for (a hung send_program
// counted as UP); programs run without a shell, their whole process group is
// killed at the timeout; IPv6 targets work.
package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// Kind of check. The kinds, and what each needs, are config's (its
// checks.go): the configuration is validated with the same rules.
type Kind string

// The check kinds.
const (
	TCP     Kind = config.CheckTCP     // connect only
	Send    Kind = config.CheckSend    // piranha's send/expect over TCP: connect, write Send if set, read and compare with Expect if set
	Program Kind = config.CheckProgram // piranha's send_program
	HTTP    Kind = config.CheckHTTP
	HTTPS   Kind = config.CheckHTTPS
	UDP     Kind = config.CheckUDP  // send Send, expect a reply matching Expect
	SYN     Kind = config.CheckSYN  // half-open TCP: a SYN, a SYN-ACK expected, and a reset; see HalfOpen
	SMTP    Kind = config.CheckSMTP // the 220 greeting, HELO answered by 250, QUIT (keepalived's SMTP_CHECK)
	DNS     Kind = config.CheckDNS  // a query over UDP, an answer of its id without error (keepalived's DNS_CHECK)
	Ping    Kind = config.CheckPing // an ICMP echo and its reply (keepalived's PING_CHECK); the port is not used
)

// Target is where a check goes.
type Target struct {
	Addr netip.Addr
	Port uint16
}

// String returns t as host:port ([v6]:port).
func (t Target) String() string { return netip.AddrPortFrom(t.Addr, t.Port).String() }

// Spec describes a check. It is comparable: two real servers with the same
// Target and Spec share one checker (see Canonical).
type Spec struct {
	Kind     Kind
	Timeout  time.Duration // I/O timeout of one check (connect + write + read); also the limit for a program
	Send     string        // with the escapes \r \n \t \\ (as typed by admins: piranha's "GET / HTTP/1.0\r\n\r\n")
	Expect   string        // a prefix of the reply (escapes as in Send), or a POSIX ERE when UseRegex (regexp.CompilePOSIX)
	UseRegex bool
	Program  string // command line, split like a shell would but run WITHOUT a shell (config.SplitArgs); %h -> address, %p -> port in each argument
	// HTTP and HTTPS
	Path      string // default "/"
	Host      string // virtual host (Host header and TLS SNI); default the address
	Status    string // accepted status codes and ranges: "200-299,301" ; default "200-399"
	BodyRegex string // optional, POSIX ERE the body must match (read at most 64 KiB)
	Verify    bool   // HTTPS: verify the certificate (against the system roots, name = Host)
	Digest    string // HTTP and HTTPS: optional, MD5 of the whole body in hex (keepalived's digest)
	// ProgramWeight: the program's exit status sets the weight
	// (keepalived's misc_dynamic, see config.ProgramWeight).
	ProgramWeight bool
	Helo          string // SMTP: the HELO name; default the host name
	DNSType       string // DNS: the query type (config.DNSTypes); default SOA
	DNSName       string // DNS: the name asked; default "."
}

// Result of one check.
type Result struct {
	OK      bool
	Reason  string // why not (or what was seen), for people
	Latency time.Duration
	// Weighted: the check set the server's weight to Weight rather than
	// its configured one (a program with ProgramWeight).
	Weighted bool
	Weight   int64
}

// Limits of what a check reads and keeps.
const (
	maxReply  = 4 << 10  // a send/expect reply, a UDP datagram
	maxOutput = 64 << 10 // a program's stdout and stderr, an HTTP body
	quoteLen  = 60       // characters of a reply shown in a Reason
	// reapMargin bounds the wait for a killed program whose output pipe is
	// held open by a process that left its process group.
	reapMargin    = 500 * time.Millisecond
	defaultStatus = "200-399"
)

// FieldError is a refused value of a Spec; Field is the lower-case name of
// the Spec field (kind, timeout, send, expect, program, path, host, status,
// body_regex).
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// specField names the Spec field of an lvs.cf key config's rules speak of.
var specField = map[string]string{"send": "send", "send_program": "program"}

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Validate reports whether s is usable. The error is a *FieldError naming
// the first refused field. Fields the kind does not use are not looked at:
// piranha's configuration carries send/expect on every virtual server.
func (s Spec) Validate() error {
	_, err := NewProbe(s)
	return err
}

// Canonical returns s with its defaults filled in and the fields its kind
// does not use cleared, so that specs that check the same way compare equal
// and can share one checker. A spec of an unknown kind is returned as is.
func (s Spec) Canonical() Spec {
	c := Spec{Kind: s.Kind, Timeout: s.Timeout}
	switch s.Kind {
	case TCP, SYN:
	case Send, UDP:
		c.Send, c.Expect, c.UseRegex = s.Send, s.Expect, s.UseRegex && s.Expect != ""
	case Program:
		c.Program, c.Expect, c.UseRegex = s.Program, s.Expect, s.UseRegex && s.Expect != ""
		c.ProgramWeight = s.ProgramWeight
	case Ping:
	case SMTP:
		c.Helo = s.Helo
	case DNS:
		c.DNSType, c.DNSName = strings.ToUpper(s.DNSType), s.DNSName
		if c.DNSType == "" {
			c.DNSType = config.DefaultDNSType
		}
		if c.DNSName == "" {
			c.DNSName = config.DefaultDNSName
		}
	case HTTP, HTTPS:
		c.Path, c.Host, c.Status, c.BodyRegex = s.Path, s.Host, strings.TrimSpace(s.Status), s.BodyRegex
		c.Digest = strings.ToLower(s.Digest)
		if c.Path == "" {
			c.Path = "/"
		}
		if c.Status == "" {
			c.Status = defaultStatus
		}
		c.Verify = s.Kind == HTTPS && s.Verify
	default:
		return s
	}
	return c
}

// Probe is a Spec made ready to run: escapes undone, regexes compiled,
// status ranges parsed, the program split. Build one per Spec and run it for
// every check; it is safe for concurrent use.
type Probe struct {
	spec   Spec // canonical
	send   []byte
	expect matcher
	argv   []string
	status []config.StatusRange
	body   *regexp.Regexp
	digest []byte // MD5 of the body, when checked
	helo   string // the HELO name an smtp check says
	query  []byte // a dns check's query, its id zero
	client *http.Client
	dialer net.Dialer
	half   *HalfOpen
	// icmpRaw makes ping checks use a raw socket even where an
	// unprivileged one is allowed (tests of the fallback).
	icmpRaw bool
}

// An Option is a resource a probe shares with others.
type Option func(*Probe)

// WithHalfOpen gives syn probes the raw sockets they send through; without
// it a syn check is DOWN.
func WithHalfOpen(h *HalfOpen) Option { return func(p *Probe) { p.half = h } }

// NewProbe validates spec and prepares it. The error is a *FieldError.
func NewProbe(spec Spec, opts ...Option) (*Probe, error) {
	if !slices.Contains(config.CheckKinds, string(spec.Kind)) {
		kinds := config.CheckKinds
		return nil, fieldErr("kind", "%q is not a check kind: use %s or %s", string(spec.Kind),
			strings.Join(kinds[:len(kinds)-1], ", "), kinds[len(kinds)-1])
	}
	if spec.Timeout <= 0 {
		return nil, fieldErr("timeout", "%v is not a timeout: it must be more than 0", spec.Timeout)
	}
	if spec.UseRegex && spec.Expect == "" && (spec.Kind == Send || spec.Kind == UDP || spec.Kind == Program) {
		return nil, fieldErr("expect", "is empty, but UseRegex treats it as a regular expression")
	}
	s := spec.Canonical()
	// Keep-alive probes are pointless on a connection that lives one check.
	p := &Probe{spec: s, dialer: net.Dialer{KeepAlive: -1}}
	for _, o := range opts {
		o(p)
	}
	if key, msg := config.CheckNeeds(string(s.Kind), s.Send, s.Program); key != "" {
		return nil, fieldErr(specField[key], "%s", msg)
	}
	if s.Expect != "" {
		if s.UseRegex {
			re, err := config.CheckRegex(s.Expect)
			if err != nil {
				return nil, fieldErr("expect", "%v", err)
			}
			p.expect.re = re
		} else {
			p.expect.prefix = []byte(Unescape(s.Expect))
		}
	}
	switch s.Kind {
	case Send:
		p.send = []byte(Unescape(s.Send))
	case UDP:
		p.send = []byte(Unescape(s.Send))
	case Program:
		// No PATH lookup: what runs must not depend on the environment.
		argv, err := config.CheckCommand(s.Program)
		if err != nil {
			return nil, fieldErr("program", "%v", err)
		}
		p.argv = argv
	case HTTP, HTTPS:
		if err := p.prepareHTTP(); err != nil {
			return nil, err
		}
	case SMTP:
		if err := p.prepareSMTP(); err != nil {
			return nil, err
		}
	case DNS:
		if err := p.prepareDNS(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Spec returns the canonical spec p runs.
func (p *Probe) Spec() Spec { return p.spec }

// Run runs one check of t. It never takes longer than spec.Timeout (plus a
// small margin to reap a killed program) and honours ctx. An invalid spec is
// DOWN with the reason "invalid check: ...".
func Run(ctx context.Context, spec Spec, t Target) Result {
	start := time.Now()
	p, err := NewProbe(spec)
	if err != nil {
		return Result{Reason: "invalid check: " + err.Error(), Latency: time.Since(start)}
	}
	return p.Run(ctx, t)
}

// Async reports whether p's checks wait on an event rather than in a
// blocking call, so that Start suits them better than Run.
func (p *Probe) Async() bool { return p.spec.Kind == SYN && p.half != nil }

// Start runs one check of t like Run, but returns at once; done gets the
// Result, exactly once, from another goroutine or before Start returns. For
// an Async probe it costs no goroutine; for others it starts one.
func (p *Probe) Start(ctx context.Context, t Target, done func(Result)) {
	if !p.Async() {
		go func() { done(p.Run(ctx, t)) }()
		return
	}
	if !t.Addr.IsValid() || t.Port == 0 {
		done(down("invalid target: no address or port 0"))
		return
	}
	if ctx.Err() != nil {
		done(down(cancelled(ctx)))
		return
	}
	start := time.Now()
	p.half.start(p.spec.Timeout, t, func(r Result) {
		r.Latency = time.Since(start)
		done(r)
	})
}

// Run runs one check of t; see the package function Run.
func (p *Probe) Run(ctx context.Context, t Target) Result {
	start := time.Now()
	r := p.run(ctx, t)
	r.Latency = time.Since(start)
	return r
}

func (p *Probe) run(parent context.Context, t Target) Result {
	if !t.Addr.IsValid() {
		return down("invalid target: no address")
	}
	if t.Port == 0 && p.spec.Kind != Program && p.spec.Kind != Ping {
		return down("invalid target: port 0")
	}
	if err := parent.Err(); err != nil {
		return down(cancelled(parent))
	}
	if p.spec.Kind == SYN {
		// Times itself out: no context and timer per check.
		if p.half == nil {
			return down("syn check: no raw socket to send from (check.WithHalfOpen)")
		}
		return p.half.check(parent, p.spec.Timeout, t)
	}
	ctx, cancel := context.WithTimeout(parent, p.spec.Timeout)
	defer cancel()
	a := &attempt{parent: parent, ctx: ctx, timeout: p.spec.Timeout}
	switch p.spec.Kind {
	case TCP, Send:
		return p.runStream(a, t)
	case Program:
		return p.runProgram(a, t)
	case HTTP, HTTPS:
		return p.runHTTP(a, t)
	case UDP:
		return p.runUDP(a, t)
	case SMTP:
		return p.runSMTP(a, t)
	case DNS:
		return p.runDNS(a, t)
	case Ping:
		return p.runPing(a, t)
	}
	return down("invalid check: kind " + string(p.spec.Kind)) // unreachable: NewProbe refuses it
}

// attempt is the context of one check, to turn its errors into reasons.
type attempt struct {
	parent, ctx context.Context
	timeout     time.Duration
}

func (a *attempt) timedOut() string { return "timeout after " + a.timeout.String() }

// reason turns an error of step what ("connect", "send", "read") into words
// for people; the common cases get short fixed words that a UI can show.
func (a *attempt) reason(what string, err error) string {
	switch {
	case a.parent.Err() != nil:
		return cancelled(a.parent)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connect refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	case a.ctx.Err() != nil, isTimeout(err):
		return a.timedOut()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed with no reply"
	case errors.Is(err, syscall.ECONNRESET):
		return what + ": connection reset"
	case errors.Is(err, syscall.EPIPE):
		return what + ": connection closed by the server"
	}
	return what + ": " + err.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &ne) && ne.Timeout()
}

func cancelled(ctx context.Context) string {
	if cause := context.Cause(ctx); cause != nil && cause != context.Canceled {
		return "cancelled: " + cause.Error()
	}
	return "cancelled"
}

func down(reason string) Result { return Result{Reason: reason} }
func up(reason string) Result   { return Result{OK: true, Reason: reason} }

// matcher is a compiled Expect: a prefix (escapes undone) or a regex. The
// zero matcher expects nothing.
type matcher struct {
	prefix []byte
	re     *regexp.Regexp
}

func (m *matcher) isSet() bool { return m.re != nil || m.prefix != nil }

// match reports whether a whole reply matches: it starts with the prefix,
// or the regex matches somewhere in it.
func (m *matcher) match(b []byte) bool {
	if m.re != nil {
		return m.re.Match(b)
	}
	return len(b) >= len(m.prefix) && string(b[:len(m.prefix)]) == string(m.prefix)
}

// decided reports whether the reply read so far, b, settles the match, and
// how. A prefix is settled by len(prefix) bytes or by the first differing
// byte; a regex only by a match (more bytes may still match).
func (m *matcher) decided(b []byte) (done, ok bool) {
	if m.re != nil {
		if m.re.Match(b) {
			return true, true
		}
		return false, false
	}
	n := min(len(b), len(m.prefix))
	if string(b[:n]) != string(m.prefix[:n]) {
		return true, false
	}
	return len(b) >= len(m.prefix), true
}

// quote shows a reply to people: printable, \r \n \t \\ escaped, other
// bytes as \xNN, cut at quoteLen characters, in single quotes.
func quote(b []byte) string {
	var sb strings.Builder
	sb.WriteByte('\'')
	for n := 0; len(b) > 0; n++ {
		if n == quoteLen {
			sb.WriteString("...")
			break
		}
		r, size := utf8.DecodeRune(b)
		switch {
		case r == '\r':
			sb.WriteString(`\r`)
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\t':
			sb.WriteString(`\t`)
		case r == '\\':
			sb.WriteString(`\\`)
		case r == utf8.RuneError && size <= 1, !unicode.IsPrint(r):
			sb.WriteString(`\x`)
			sb.WriteString(strconv.FormatUint(uint64(b[0])|0x100, 16)[1:])
			size = 1
		default:
			sb.WriteRune(r)
		}
		b = b[size:]
	}
	sb.WriteByte('\'')
	return sb.String()
}

// Unescape turns piranha's \r \n \t \\ escapes into bytes; other
// backslashes are kept as they are.
func Unescape(s string) string {
	i := strings.IndexByte(s, '\\')
	if i < 0 {
		return s
	}
	b := make([]byte, i, len(s))
	copy(b, s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case 'r':
				c = '\r'
			case 'n':
				c = '\n'
			case 't':
				c = '\t'
			case '\\':
			default:
				b = append(b, c)
				continue
			}
			i++
		}
		b = append(b, c)
	}
	return string(b)
}
