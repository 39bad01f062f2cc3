package config

import (
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// A configuration field is declared once, in registry.go: where it lives
// in the model, what it is called in lvs.cf, the console's forms, the API
// and the database, how the console labels and explains it, what kind of
// value it holds, its defaults and its own rule. The lvs.cf parser and
// writer, the forms, the API, the store, Validate and Diff are driven by
// those declarations, and tests check the rest (templates, migrations, the
// OpenAPI description) against them; docs/ARCHITECTURE.md says how to add
// one.

// Kind is what a field holds, and so how it is written as text, read back,
// stored and checked.
type Kind uint8

// The kinds, with the Go type of the fields of each.
const (
	KindBool    Kind = iota + 1 // bool: 0/1 in lvs.cf, a checkbox on a form
	KindInt                     // int or int64, within Range
	KindPort                    // int: a port number or a service name such as http
	KindSeconds                 // time.Duration: decimal seconds, to the millisecond
	KindAddr                    // netip.Addr: an IPv4 or IPv6 address, "" for none
	KindNetmask                 // Netmask: dotted (IPv4) or a prefix length, of Family's address
	KindEnum                    // a string type: one of Choices
	KindName                    // string: a virtual or real server's name
	KindDevice                  // string: an interface or label, e.g. eth0:1
	KindCommand                 // string: a command line run without a shell, as root
	KindEscaped                 // string: a check string, with \r \n \t escapes
	KindText                    // string: free text, refused by Check if set
)

var kindNames = [...]string{
	KindBool: "bool", KindInt: "int", KindPort: "port", KindSeconds: "seconds",
	KindAddr: "address", KindNetmask: "netmask", KindEnum: "enum", KindName: "name",
	KindDevice: "device", KindCommand: "command", KindEscaped: "escaped text", KindText: "text",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Choice is one value of an enum field, with the words a form offers it in.
type Choice struct {
	Value, Label string
}

// Range bounds a number: an Int's or a Port's value, or a Seconds field's
// duration in nanoseconds (see Within).
type Range struct{ Lo, Hi int64 }

// Between is the range lo-hi of an Int or Port.
func Between(lo, hi int64) *Range { return &Range{lo, hi} }

// Within is the range lo-hi of a Seconds field.
func Within(lo, hi time.Duration) *Range { return &Range{int64(lo), int64(hi)} }

// Defaults are where a field starts, as text its kind reads ("" is the zero
// value): the console's, for a new installation, RESET and ADD; and
// lvs.cf's, for a key a file leaves out, which is piranha's parser's and
// differs for some fields.
type Defaults struct {
	Console string
	LvsCf   string
}

// Both is a default the console and lvs.cf share.
func Both(s string) Defaults { return Defaults{s, s} }

// Tabs of the console, in piranha's words: where a field is edited.
const (
	TabGlobal     = "GLOBAL SETTINGS"
	TabRedundancy = "REDUNDANCY"
	TabVirtual    = "VIRTUAL SERVER"
	TabScripts    = "MONITORING SCRIPTS"
	TabReal       = "REAL SERVER"
)

// Meta is a field apart from where it lives in the model: its names, its
// words, its kind and its rule.
type Meta struct {
	// Key names the field in refusals (FieldError.Field) and in HISTORY:
	// its lvs.cf key, except a virtual server's device (written inside
	// the address key) and a block's name.
	Key string
	// Cf is the lvs.cf key. Two fields share one for piranha's "IP dev"
	// pairs (an address, then a device) and for flag lists (see Flag);
	// "" is a block's name (virtual NAME {).
	Cf string
	// Form is the name of the field on its tab's form; JSON its name in
	// the API, which fields of a flag list share.
	Form, JSON string
	// Column is the field's column in its section's table (the store's
	// settings, virtual_servers or real_servers).
	Column string
	// Keepalived is the field's keepalived.conf keyword; none yet.
	Keepalived string
	// Tab is where the console edits the field; Label and Help are what
	// it says beside it (Label also in HISTORY; a form adds "(seconds)"
	// to the label of a KindSeconds field).
	Tab, Label, Help string

	Kind    Kind
	Default Defaults
	// Example is a valid value unlike the defaults, as text: the test
	// model (configtest.Rich) sets every field to its example, so that a
	// new field goes through every round trip.
	Example string

	// The field's own rule, whatever the other fields say (rules between
	// fields are Validate's): Range for numbers; Choices for an enum,
	// with Refusal the words after the refused value; a Check for text (and escaped text).
	Range *Range
	// ZeroOK lets 0 through whatever the Range: it means "the default".
	ZeroOK  bool
	Choices []Choice
	// EmptyOK allows "" in an enum besides its Choices.
	EmptyOK bool
	Refusal string
	Check   func(s string) error
	// NoPlaceholder refuses 0.0.0.0 and :: in an address; elsewhere it is
	// piranha's "not configured yet".
	NoPlaceholder bool

	// Flag is the word of a bool field in its lvs.cf key's comma list
	// (sched_flags = fallback,port).
	Flag string
	// CfAlways writes the key even when the value is zero (lvs.cf's
	// default for an absent key differs, or piranha always wrote it).
	CfAlways bool
	// CfQuoted always quotes the value, as piranha's console did.
	CfQuoted bool
	// CfHost accepts a host name, looked up, as piranha did.
	CfHost bool
	// CfZeroIsNone reads an address of 0.0.0.0 as none, as piranha did.
	CfZeroIsNone bool

	// FormBlank shows 0 (or 0.0.0.0, ::) as an empty field.
	FormBlank bool
	// Secret keeps the value out of HISTORY and REVIEW (Diff says
	// "changed") and off the form, which shows a password field.
	Secret bool
}

// Field is a configuration field of an entry of type T: Global,
// Redundancy, VirtualServer or RealServer.
type Field[T any] struct {
	Meta
	// Ref returns a pointer to the field in t, of the kind's Go type.
	Ref func(t *T) any
	// Family is, for a netmask, the address whose family it follows.
	Family func(t *T) netip.Addr
}

// Fields lists the fields of one type of entry, in the order the API
// writes them.
type Fields[T any] []Field[T]

// Form returns the field whose form name is name, or nil.
func (fs Fields[T]) Form(name string) *Field[T] {
	for i := range fs {
		if fs[i].Form == name {
			return &fs[i]
		}
	}
	return nil
}

// Key returns the first field named key in refusals, or nil.
func (fs Fields[T]) Key(key string) *Field[T] {
	for i := range fs {
		if fs[i].Key == key {
			return &fs[i]
		}
	}
	return nil
}

// New returns an entry with every field at its default: the console's, or
// with lvscf lvs.cf's for keys a file leaves out.
func (fs Fields[T]) New(lvscf bool) T {
	var t T
	for i := range fs {
		f := &fs[i]
		d := f.Default.Console
		if lvscf {
			d = f.Default.LvsCf
		}
		if d == "" {
			continue
		}
		if err := f.SetText(&t, d); err != nil {
			panic(fmt.Sprintf("config: the default %q of %s: %v", d, f.Key, err))
		}
	}
	return t
}

// Value returns the field's value in t: comparable, of the field's type.
func (f *Field[T]) Value(t *T) any {
	return reflect.ValueOf(f.Ref(t)).Elem().Interface()
}

// Copy sets the field in dst to its value in src.
func (f *Field[T]) Copy(dst, src *T) {
	reflect.ValueOf(f.Ref(dst)).Elem().Set(reflect.ValueOf(f.Ref(src)).Elem())
}

// IsZero reports whether the field is at its zero value in t: false, 0,
// "", no address, no netmask.
func (f *Field[T]) IsZero(t *T) bool {
	switch p := f.Ref(t).(type) {
	case *bool:
		return !*p
	case *int:
		return *p == 0
	case *int64:
		return *p == 0
	case *time.Duration:
		return *p == 0
	case *netip.Addr:
		return !p.IsValid()
	case *Netmask:
		return !p.IsSet()
	case *string:
		return *p == ""
	case *Forward:
		return *p == ""
	case *Protocol:
		return *p == ""
	}
	return reflect.ValueOf(f.Ref(t)).Elem().IsZero()
}

// IPv6 reports whether a netmask field follows an IPv6 address in t.
func (f *Field[T]) IPv6(t *T) bool { return f.Family != nil && f.Family(t).Is6() }

// Text returns the field's value in t as the console's forms and the API
// show it: "1" or "" for a bool, decimal numbers and seconds, an address
// or "" for none, a netmask as its family writes it, strings as they are.
func (f *Field[T]) Text(t *T) string {
	switch p := f.Ref(t).(type) {
	case *bool:
		if *p {
			return "1"
		}
		return ""
	case *int:
		return strconv.Itoa(*p)
	case *int64:
		return strconv.FormatInt(*p, 10)
	case *time.Duration:
		return FormatSeconds(*p)
	case *netip.Addr:
		return FormatAddr(*p)
	case *Netmask:
		return p.Format(f.IPv6(t))
	case *string:
		return *p
	case *Forward:
		return string(*p)
	case *Protocol:
		return string(*p)
	}
	return reflect.ValueOf(f.Ref(t)).Elem().String() // another string type
}

// SetText reads s into the field in t, with the parser of its kind (the
// messages every writer shows: "80x" is not a port ...). On error the
// field is left as it was.
func (f *Field[T]) SetText(t *T, s string) error {
	switch p := f.Ref(t).(type) {
	case *bool:
		b, err := ParseBool(s)
		if err != nil {
			return err
		}
		*p = b
	case *int:
		var n int64
		var err error
		if f.Kind == KindPort {
			var pn int
			pn, err = ParsePort(s)
			n = int64(pn)
		} else {
			n, err = ParseInt(s)
		}
		if err != nil {
			return err
		}
		if int64(int(n)) != n {
			// On a 32-bit build a silent truncation would turn an
			// out-of-range value into one Validate accepts.
			return fmt.Errorf("%q is far out of range", s)
		}
		*p = int(n)
	case *int64:
		n, err := ParseInt(s)
		if err != nil {
			return err
		}
		*p = n
	case *time.Duration:
		d, err := ParseSeconds(s)
		if err != nil {
			return err
		}
		*p = d
	case *netip.Addr:
		a, err := ParseAddr(s)
		if err != nil {
			return err
		}
		*p = a
	case *Netmask:
		m, err := ParseNetmask(s)
		if err != nil {
			return err
		}
		*p = m
	case *string:
		*p = s
	case *Forward:
		*p = Forward(s)
	case *Protocol:
		*p = Protocol(s)
	default:
		reflect.ValueOf(p).Elem().SetString(s) // another string type
	}
	return nil
}

// FormatFlags writes the flag fields of fs named key that are set in t as
// lvs.cf's comma list: "fallback,port".
func FormatFlags[T any](fs Fields[T], key string, t *T) string {
	s := ""
	for i := range fs {
		f := &fs[i]
		if f.Flag == "" || f.Key != key || !*f.Ref(t).(*bool) {
			continue
		}
		if s != "" {
			s += ","
		}
		s += f.Flag
	}
	return s
}

// ParseFlags reads lvs.cf's comma list of the flag fields of fs named key
// into t, setting each flag listed and clearing the others; on error t is
// left as it was. The message of a word that is no flag is the Refusal of
// the first flag field.
func ParseFlags[T any](fs Fields[T], key, s string, t *T) error {
	set := map[string]bool{}
	if strings.Trim(s, " \t") != "" {
		for _, w := range strings.Split(s, ",") {
			w = strings.Trim(w, " \t")
			if w == "" || fs.flag(key, w) == nil {
				return fmt.Errorf("%q %s: use %s", w, fs.flag(key, "").Refusal, fs.flagWords(key))
			}
			set[w] = true
		}
	}
	for i := range fs {
		if f := &fs[i]; f.Flag != "" && f.Key == key {
			*f.Ref(t).(*bool) = set[f.Flag]
		}
	}
	return nil
}

// flag returns the flag field of key whose word is word, or with word ""
// the first flag field of key.
func (fs Fields[T]) flag(key, word string) *Field[T] {
	for i := range fs {
		if f := &fs[i]; f.Key == key && f.Flag != "" && (word == "" || f.Flag == word) {
			return f
		}
	}
	return nil
}

// flagWords lists the words of key for a message: "fallback, port or
// fallback,port".
func (fs Fields[T]) flagWords(key string) string {
	var words []string
	for i := range fs {
		if fs[i].Key == key && fs[i].Flag != "" {
			words = append(words, fs[i].Flag)
		}
	}
	all := ""
	for i, w := range words {
		if i > 0 {
			all += ","
		}
		all += w
	}
	return orList(append(words, all))
}

// orList writes "a, b or c".
func orList(ws []string) string {
	switch len(ws) {
	case 0:
		return ""
	case 1:
		return ws[0]
	}
	s := ""
	for _, w := range ws[:len(ws)-1] {
		if s != "" {
			s += ", "
		}
		s += w
	}
	return s + " or " + ws[len(ws)-1]
}
