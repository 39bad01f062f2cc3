package lvscf

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

const (
	// maxErrors keeps a file that is not lvs.cf at all (a binary, a
	// keepalived.conf) from producing thousands of lines of complaints.
	maxErrors = 50
	// maxWarnings does the same for warnings.
	maxWarnings = 200
	// maxSize bounds what an upload can make us hold in memory; real files
	// are a few kilobytes, 10,000 virtual servers x 10 real servers
	// (issue 20) 12.6 MB.
	maxSize = 32 << 20
	// maxLookups and lookupTimeout bound the host name lookups of one
	// file: real files name a few hosts, if any.
	maxLookups    = 256
	lookupTimeout = 10 * time.Second
)

type kind int

const (
	global kind = iota
	virtual
	server
)

func (k kind) String() string {
	switch k {
	case virtual:
		return "virtual"
	case server:
		return "server"
	}
	return "global"
}

type pos struct{ line, col int }

// scope is one block of the file and where its keys were, kept so that
// Validate's verdicts, which speak of model fields, can be turned back into
// positions.
type scope struct {
	kind kind
	name string
	head pos            // the block's header; line 1 for the global scope
	keys map[string]pos // key -> position of the key (the last, when repeated)
	bad  map[string]bool
	vs   *config.VirtualServer
	rs   *config.RealServer
	// reals are a virtual block's server blocks, in file order.
	reals []*scope
	// discard marks a block that is reported as misplaced; it is parsed for
	// further errors but does not enter the model.
	discard bool
	// failover marks piranha's "failover NAME {" block (and the server
	// blocks in it), which is dropped whole.
	failover bool
	// port is, for a server block, its virtual server's port when the block
	// began: piranha's default for the server (lvsconfig.c
	// parseVirtualServer copies vserver->port then), and portLine the line
	// that had set it (0 for the default).
	port, portLine int
}

// label names the block in messages.
func (sc *scope) label() string {
	if sc.failover && sc.kind == virtual {
		return "failover"
	}
	return sc.kind.String()
}

func newScope(k kind, name string, head pos) *scope {
	return &scope{kind: k, name: name, head: head, keys: map[string]pos{}, bad: map[string]bool{}}
}

type parser struct {
	c        *config.Config
	global   *scope
	virtuals []*scope
	stack    []*scope // open blocks, innermost last
	errs     Errors
	full     bool // maxErrors reached: stop parsing
	warns    []*Warning
	unsaid   int // warnings beyond maxWarnings
	// braceLine is the line of a header that lacked its "{"; a lone "{" on
	// the next line is then taken as belonging to it rather than reported
	// a second time.
	braceLine int

	// Host name lookups: all of one file share lookupTimeout, and each
	// name is looked up once.
	ctx      context.Context
	resolver Resolver
	lctx     context.Context
	cancel   context.CancelFunc
	looked   map[string]resolved
}

type resolved struct {
	addr netip.Addr
	n    int // addresses the name had
	err  error
}

// Parse reads an lvs.cf file and returns the configuration it describes, or
// Errors listing every syntax error and every value Validate refuses, each
// at the line and column of the key concerned (the block header, or line 1
// for global settings, when the offending value is a default). It is Import
// without a resolver (a host name is refused) and without the warnings.
func Parse(r io.Reader) (*config.Config, error) {
	c, _, err := Import(context.Background(), r, Options{})
	return c, err
}

// Import reads an lvs.cf file as piranha 0.8.6 did, its authority being
// piranha's own parser (lvsconfig.c) and daemons: it returns the
// configuration, with the warnings about what the admin should know, in file
// order; or Errors as Parse does (with the warnings found so far).
func Import(ctx context.Context, r io.Reader, o Options) (*config.Config, []*Warning, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("lvscf: reading lvs.cf: %w", err)
	}
	if len(data) > maxSize {
		return nil, nil, Errors{{Line: 1, Col: 1, Msg: fmt.Sprintf("the file is larger than %d MiB; this is not an lvs.cf", maxSize>>20)}}
	}
	p := parse(ctx, data, o)
	defer p.close()
	if !p.full {
		p.validate()
	}
	ws := p.warnings()
	if len(p.errs) == 0 {
		return p.c, ws, nil
	}
	return nil, ws, p.sorted()
}

// Locate places the field errors of err, a refusal of the configuration
// Import read from data by someone who checks what Import cannot (the
// store, which checks the programs a change brings in), at the lines of
// data that set the values, as Import places Validate's. An err without
// field errors is returned as it is.
func Locate(data []byte, err error) error {
	var ve *config.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	// Without a resolver: host names are refused here, but the file was
	// taken by Import already and only the keys' places are needed.
	p := parse(context.Background(), data, Options{})
	defer p.close()
	p.errs, p.full = nil, false
	for _, fe := range ve.Fields {
		p.place(fe, p.errorf)
	}
	return p.sorted()
}

// parse reads data into the model, with its syntax errors, but does not
// validate it. close ends its host name lookups.
func parse(ctx context.Context, data []byte, o Options) *parser {
	p := &parser{c: defaultConfig(), global: newScope(global, "", pos{1, 1}), ctx: ctx, resolver: o.Resolver}
	text := strings.TrimPrefix(string(data), "\uFEFF")
	for i, line := range strings.Split(text, "\n") {
		if p.full {
			break
		}
		p.line(i+1, strings.TrimSuffix(line, "\r"))
	}
	if !p.full {
		for i := len(p.stack) - 1; i >= 0; i-- {
			sc := p.stack[i]
			p.errorf(sc.head, "", "%s %s { is not closed: a } is missing before the end of the file", sc.label(), sc.name)
		}
		p.stack = nil
	}
	p.build()
	return p
}

func (p *parser) close() {
	if p.cancel != nil {
		p.cancel()
	}
}

// sorted returns the errors in file order.
func (p *parser) sorted() Errors {
	slices.SortStableFunc(p.errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	if p.full {
		last := p.errs[len(p.errs)-1]
		p.errs = append(p.errs, &Error{Line: last.Line, Col: last.Col,
			Msg: fmt.Sprintf("too many errors; only the first %d are listed", maxErrors)})
	}
	return p.errs
}

// warnings returns the warnings in file order.
func (p *parser) warnings() []*Warning {
	ws := p.warns
	slices.SortStableFunc(ws, func(a, b *Warning) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	if p.unsaid > 0 {
		last := ws[len(ws)-1]
		ws = append(ws, &Warning{Line: last.Line, Col: last.Col,
			Msg: fmt.Sprintf("and %d more warnings; only the first %d are listed", p.unsaid, maxWarnings)})
	}
	return ws
}

func (p *parser) warnf(at pos, key, format string, args ...any) {
	if len(p.warns) == maxWarnings {
		p.unsaid++
		return
	}
	p.warns = append(p.warns, &Warning{Line: at.line, Col: at.col, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) errorf(at pos, key, format string, args ...any) {
	if p.full {
		return
	}
	if len(p.errs) == maxErrors {
		p.full = true
		return
	}
	p.errs = append(p.errs, &Error{Line: at.line, Col: at.col, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// excerpt keeps messages about garbage lines readable.
func excerpt(s string) string {
	const n = 40
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "..."
}

// column converts a byte offset into the character column an editor shows.
func column(line string, off int) int { return utf8.RuneCountInString(line[:off]) + 1 }

func skipBlanks(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

func trimBlanks(s string) string { return strings.Trim(s, " \t") }

func (p *parser) top() *scope {
	if len(p.stack) == 0 {
		return p.global
	}
	return p.stack[len(p.stack)-1]
}

func (p *parser) line(n int, line string) {
	start := skipBlanks(line, 0)
	if start == len(line) || line[start] == '#' {
		return
	}
	body := strings.TrimRight(line[start:], " \t")
	at := pos{n, column(line, start)}
	brace := p.braceLine
	p.braceLine = 0
	if body == "{" && brace != 0 {
		return
	}
	if body[0] == '}' {
		if body != "}" {
			p.errorf(at, "", "} must be alone on its line")
		}
		if len(p.stack) == 0 {
			p.errorf(at, "", "} without an open virtual or server block")
			return
		}
		if sc := p.top(); sc.failover && sc.kind == virtual {
			p.warnf(sc.head, "failover", "failover %s (lines %d-%d) dropped: piranha's failover services run only with "+
				"service = fos, where its fos daemon starts and stops programs on the active director (start_cmd, stop_cmd) "+
				"instead of balancing; lvsconsole balances with LVS only (active_cmd and inactive_cmd run commands when the "+
				"director changes role), so it has no effect here, and an export leaves it out", sc.name, sc.head.line, n)
		}
		p.stack = p.stack[:len(p.stack)-1]
		return
	}
	kw := body[:strings.IndexFunc(body+" ", func(r rune) bool { return r == ' ' || r == '\t' || r == '{' || r == '=' })]
	if kw == "virtual" || kw == "server" || kw == "failover" {
		p.header(n, at, kw, body)
		return
	}
	eq := strings.IndexByte(body, '=')
	if eq < 0 {
		p.errorf(at, "", "%q: expected key = value, virtual NAME {, server NAME { or }", excerpt(body))
		return
	}
	key := strings.TrimRight(body[:eq], " \t")
	if key == "" {
		p.errorf(at, "", "a key is missing before =")
		return
	}
	p.keyValue(n, line, at, key, start+eq+1)
}

func (p *parser) header(n int, at pos, kw, body string) {
	rest := body[len(kw):]
	name, hasBrace := strings.CutSuffix(rest, "{")
	name = trimBlanks(name)
	if !hasBrace {
		p.errorf(at, "", "expected %q: the { goes on the same line as the header", kw+" NAME {")
		p.braceLine = n
	}
	discard := false
	switch {
	case name == "":
		p.errorf(at, "", "expected %q: the name is missing", kw+" NAME {")
		discard = true
	case strings.ContainsAny(name, " \t"):
		p.errorf(at, "", "expected %q: the name is one word", kw+" NAME {")
		discard = true
	}
	top := p.top()
	var sc *scope
	if kw != "server" {
		sc = newScope(virtual, name, at)
		sc.vs = defaultVirtual(name)
		// piranha's failover services (lvsconfig.c parseConfiguration reads
		// them as virtual servers marked failover_service) are dropped.
		sc.failover = kw == "failover"
		if top.kind != global {
			p.errorf(at, "", "%s %s is inside %s %s (line %d): blocks of virtual servers do not nest; is a } missing?",
				kw, name, top.label(), top.name, top.head.line)
			discard = true
		}
		if !discard && !sc.failover {
			p.virtuals = append(p.virtuals, sc)
		}
	} else {
		sc = newScope(server, name, at)
		sc.rs = defaultReal(name)
		sc.failover = top.failover
		switch top.kind {
		case global:
			p.errorf(at, "", "server %s is outside any virtual block: real servers belong inside virtual NAME { ... }", name)
			discard = true
		case server:
			p.errorf(at, "", "server %s is inside server %s (line %d): a } is missing", name, top.name, top.head.line)
			discard = true
		default:
			sc.port = top.vs.Port
			if k, ok := top.keys["port"]; ok {
				sc.portLine = k.line
			}
		}
		discard = discard || top.discard || top.failover
		if !discard {
			top.reals = append(top.reals, sc)
		}
	}
	sc.discard = discard
	p.stack = append(p.stack, sc)
}

func (p *parser) keyValue(n int, line string, at pos, key string, off int) {
	sc := p.top()
	if sc.failover {
		return // dropped whole, with one warning at its end
	}
	if d, ok := piranhaOnly[sc.kind][key]; ok {
		v, vat, _, err := value(line, off)
		vat.line = n
		if err == nil && d.check != nil {
			err = d.check(v)
		}
		if err != nil {
			p.errorf(vat, key, "%v", err)
			return
		}
		p.warnf(at, key, "dropped (%q): %s; it has no effect here, and an export leaves it out", v, d.why)
		return
	}
	if !known(sc.kind, key) {
		p.errorf(at, "", "%s", unknownKey(sc.kind, key))
		return
	}
	if prev, dup := sc.keys[key]; dup {
		// piranha assigns every line as it comes: the last one stays.
		p.warnf(at, key, "is given twice in this %s, on line %d and line %d: the last value is used, as piranha did",
			where(sc.kind), prev.line, n)
	}
	sc.keys[key] = at
	sc.bad[key] = false
	v, vat, quoted, err := value(line, off)
	vat.line = n
	if err == nil && hostKey(sc.kind, key) {
		v, err = p.hostname(key, v, vat)
	}
	if err != nil {
		sc.bad[key] = true
		p.errorf(vat, key, "%v", err)
		return
	}
	if sc.kind == virtual && key == "load_monitor" && (v == "ssh" || v == "rsh") {
		// nanny ran its load command with the address and, for ssh and
		// rsh, "uptime" (nanny.c getRemoteLoad): lvsd's own spelling of
		// that is uptime, through the global rsh_command.
		p.warnf(vat, key, "%q is read as uptime: nanny ran \"%s ADDRESS uptime\"; the uptime monitor reads the load over SSH", v, v)
		v = "uptime"
	}
	switch sc.kind {
	case global:
		err = globalKeys.lookup(key).set(p.c, v)
	case virtual:
		err = virtualKeys.lookup(key).set(sc.vs, v)
	case server:
		err = serverKeys.lookup(key).set(sc.rs, v)
	}
	if err != nil {
		sc.bad[key] = true
		msg := err.Error()
		if !quoted && (strings.Contains(v, " #") || strings.Contains(v, "\t#")) {
			msg += " (# starts a comment only at the beginning of a line)"
		}
		p.errorf(vat, key, "%s", msg)
	}
}

func known(k kind, key string) bool {
	switch k {
	case virtual:
		return virtualKeys.lookup(key) != nil
	case server:
		return serverKeys.lookup(key) != nil
	}
	return globalKeys.lookup(key) != nil
}

// hostKey reports whether piranha accepted a host name for key.
func hostKey(k kind, key string) bool {
	switch k {
	case virtual:
		return virtualKeys.lookup(key).host
	case server:
		return serverKeys.lookup(key).host
	}
	return globalKeys.lookup(key).host
}

func where(k kind) string {
	if k == global {
		return "global section"
	}
	return k.String() + " block"
}

func unknownKey(k kind, key string) string {
	var allowed string
	switch k {
	case global:
		allowed = globalKeys.names()
	case virtual:
		allowed = virtualKeys.names()
	case server:
		allowed = serverKeys.names()
	}
	hint := ""
	for _, other := range []kind{global, virtual, server} {
		if other == k {
			continue
		}
		if known(other, key) {
			hint = fmt.Sprintf(" (%s belongs in the %s)", key, where(other))
			break
		}
	}
	article := "a "
	if k == global {
		article = "the "
	}
	return fmt.Sprintf("unknown key %q in %s%s%s; allowed: %s", excerpt(key), article, where(k), hint, allowed)
}

// value extracts the value that starts at byte off of line. Inside quotes a
// backslash escapes only the delimiter and itself; other sequences such as
// \r\n stay as written, because piranha's nanny, not the parser, gives them
// meaning.
func value(line string, off int) (v string, at pos, quoted bool, err error) {
	i := skipBlanks(line, off)
	at = pos{col: column(line, i)}
	rest := strings.TrimRight(line[i:], " \t")
	if rest == "" || rest[0] != '"' && rest[0] != '\'' {
		return rest, at, false, nil
	}
	q := rest[0]
	var b strings.Builder
	for j := 1; j < len(rest); j++ {
		c := rest[j]
		switch {
		case c == '\\' && j+1 < len(rest) && (rest[j+1] == q || rest[j+1] == '\\'):
			j++
			b.WriteByte(rest[j])
		case c == q:
			if j+1 < len(rest) {
				return "", pos{col: column(line, i+skipBlanks(rest, j+1))}, true, errors.New("nothing may follow the closing quote (a comment needs a line of its own)")
			}
			return b.String(), at, true, nil
		default:
			b.WriteByte(c)
		}
	}
	return "", at, true, fmt.Errorf("the %c quote is not closed", q)
}

// build turns the parsed blocks into the model, in file order.
func (p *parser) build() {
	if r := &p.c.Redundancy; r.BackupActive && (!r.Backup.IsValid() || r.Backup.IsUnspecified()) {
		// piranha's pulse clears it at start (pulse.c main: "Undefined
		// backup node marked as active? -- clearing that!").
		r.BackupActive = false
		p.warnf(p.global.keys["backup_active"], "backup_active", "is 1 but there is no backup address: piranha's "+
			"pulse cleared it and ran this director alone; imported as backup_active = 0")
	}
	for _, sc := range p.virtuals {
		vs := *sc.vs
		for _, rsc := range sc.reals {
			rs := *rsc.rs
			if _, ok := rsc.keys["port"]; !ok {
				p.defaultPort(&vs, &rs, sc, rsc)
			}
			vs.Reals = append(vs.Reals, rs)
		}
		p.c.Virtuals = append(p.c.Virtuals, vs)
	}
}

// defaultPort gives a real server without a port key piranha's: its virtual
// server's port when the server's block began. Where the model's default
// (the virtual server's port) would differ, and for a firewall-mark
// service, whose real servers piranha always gave a port (nanny checked it,
// and NAT forwarded to it), the port is made explicit.
func (p *parser) defaultPort(vs *config.VirtualServer, rs *config.RealServer, vsc, rsc *scope) {
	switch {
	case rsc.port != vs.Port:
		rs.Port = rsc.port
		set := "the default"
		if rsc.portLine != 0 {
			set = fmt.Sprintf("set on line %d", rsc.portLine)
		}
		p.warnf(rsc.head, "port", "server %s has no port: piranha gave it the virtual server's port as it stood when "+
			"the block began, %d (%s), not %d set on line %d after it; imported as port = %d",
			rsc.name, rsc.port, set, vs.Port, vsc.keys["port"].line, rsc.port)
	case vs.IsFWMark():
		rs.Port = rsc.port
	}
}

// validate runs the model's rules and places each verdict at the key that
// set the value, and does the same with the warnings of drafts. A value that
// already failed to parse is not reported again: its default is what
// Validate saw, not what the admin wrote.
func (p *parser) validate() {
	warns, err := p.c.Check()
	if err != nil {
		var ve *config.ValidationError
		if !errors.As(err, &ve) {
			p.errorf(pos{1, 1}, "", "%v", err)
			return
		}
		for _, fe := range ve.Fields {
			p.place(fe, p.errorf)
		}
	}
	for _, fe := range warns {
		p.place(fe, p.warnf)
	}
}

// place reports a verdict on the model at the key that set the value; not
// at all when that value already failed to parse.
func (p *parser) place(fe *config.FieldError, report func(at pos, key, format string, args ...any)) {
	sc := p.scopeOf(fe)
	if sc == nil {
		report(pos{1, 1}, "", "%s", fe.Error())
		return
	}
	k := cfKey(fe)
	if sc.bad[k] {
		return
	}
	at, ok := sc.keys[k]
	if !ok || k == "name" {
		at = sc.head
	}
	report(at, fe.Field, "%s", fe.Msg)
}

// cfKey is the lvs.cf key that sets the value a verdict names: a virtual
// server's device is written in its address key.
func cfKey(fe *config.FieldError) string {
	cf := ""
	switch fe.Section {
	case "virtual":
		if f := config.VirtualFields.Key(fe.Field); f != nil {
			cf = f.Cf
		}
	case "server":
		if f := config.RealFields.Key(fe.Field); f != nil {
			cf = f.Cf
		}
	}
	if cf == "" {
		return fe.Field
	}
	return cf
}

func (p *parser) scopeOf(fe *config.FieldError) *scope {
	switch fe.Section {
	case "global", "redundancy":
		return p.global
	case "virtual", "server":
		if fe.Virtual < 0 || fe.Virtual >= len(p.virtuals) {
			return nil
		}
		vsc := p.virtuals[fe.Virtual]
		if fe.Section == "virtual" {
			return vsc
		}
		if fe.Real < 0 || fe.Real >= len(vsc.reals) {
			return nil
		}
		return vsc.reals[fe.Real]
	}
	return nil
}
