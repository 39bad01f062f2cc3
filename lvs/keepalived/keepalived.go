// Package keepalived imports keepalived.conf into the configuration model,
// so that a director run by keepalived can be brought under the console
// without retyping it.
//
// The authority is keepalived 2.2 itself: its parser (lib/parser.c) for
// comments, blocks, quotes and includes, and its checker parsers
// (keepalived/check) and VRRP parser for what each keyword does. What the
// model has no place for is never dropped silently: each such keyword is a
// Warning at its file and line.
package keepalived

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// Pos is a place in a configuration file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Error is one problem of a keepalived.conf: a value keepalived would
// ignore or refuse, or that the model refuses.
type Error struct {
	Pos
	Key string // the keyword concerned; "" for syntax errors
	Msg string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s: %s", e.Pos, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.Pos, e.Key, e.Msg)
}

// Errors lists every problem of an import, in file order, so that one
// attempt shows them all.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap lets errors.As find an individual *Error.
func (es Errors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// Warning is what the import accepted but the admin should know: above
// all, what keepalived does with a keyword that the console does not.
type Warning struct {
	Pos
	Key string
	Msg string
}

func (w *Warning) String() string { return (&Error{w.Pos, w.Key, w.Msg}).Error() }

// Options are how Import reads a file.
type Options struct {
	// Include follows include directives, reading the files they name
	// (globs, relative to the including file) from this machine. Off, an
	// include is an error: an uploaded file must not read the server's.
	Include bool
}

// report collects errors and warnings, bounded.
type report struct {
	errs   Errors
	warns  []*Warning
	unsaid int
}

func (r *report) full() bool { return len(r.errs) >= maxErrors }

func (r *report) errorf(p Pos, key, format string, args ...any) {
	if !r.full() {
		r.errs = append(r.errs, &Error{p, key, fmt.Sprintf(format, args...)})
	}
}

func (r *report) warnf(p Pos, key, format string, args ...any) {
	if len(r.warns) >= maxWarnings {
		r.unsaid++
		return
	}
	r.warns = append(r.warns, &Warning{p, key, fmt.Sprintf(format, args...)})
}

// sorted returns the errors in file order.
func (r *report) sorted() Errors {
	slices.SortStableFunc(r.errs, func(a, b *Error) int { return comparePos(a.Pos, b.Pos) })
	return r.errs
}

func (r *report) warnings() []*Warning {
	slices.SortStableFunc(r.warns, func(a, b *Warning) int { return comparePos(a.Pos, b.Pos) })
	if r.unsaid > 0 {
		r.warns = append(r.warns, &Warning{Msg: fmt.Sprintf("%d more warnings not shown", r.unsaid)})
	}
	return r.warns
}

// comparePos orders positions by line within a file; files keep the order
// in which they were read.
func comparePos(a, b Pos) int {
	if a.File != b.File {
		return 0
	}
	return cmp.Compare(a.Line, b.Line)
}

// Import reads a keepalived.conf, named name (the path its includes are
// relative to), and returns the configuration it describes with the
// warnings about what the console does differently or not at all; or
// Errors listing every problem, each at its file and line (with the
// warnings found so far).
func Import(name string, data []byte, o Options) (*config.Config, []*Warning, error) {
	rep := &report{}
	if len(data) > maxSize {
		return nil, nil, Errors{{Pos{name, 1}, "", (&sizeError{name}).Error()}}
	}
	rd := &reader{o: o, errs: rep}
	rd.read(name, data, 0)
	nodes := tree(rd.lines, rep)
	m := newMapper(rep)
	if !rep.full() {
		m.top(nodes)
	}
	if len(rep.errs) == 0 {
		m.validate()
	}
	ws := rep.warnings()
	if len(rep.errs) > 0 {
		return nil, ws, rep.sorted()
	}
	return m.c, ws, nil
}

// Looks reports whether data looks like a keepalived.conf rather than an
// lvs.cf: a line of it begins with one of keepalived's top-level keywords,
// not followed by lvs.cf's "=".
func Looks(data []byte) bool {
	for _, raw := range strings.Split(string(data), "\n") {
		s, _ := decomment(raw)
		words, _ := split(strings.Trim(s, " \t\r"))
		if len(words) == 0 {
			continue
		}
		if len(words) > 1 && words[1] == "=" {
			return false
		}
		switch words[0] {
		case "global_defs", "virtual_server", "virtual_server_group", "vrrp_instance", "vrrp_sync_group",
			"vrrp_script", "include", "static_ipaddress", "static_routes", "net_namespace", "SSL":
			return true
		}
	}
	return false
}
