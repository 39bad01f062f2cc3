package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/store"
)

// The API's resources. They are not config's types marshalled: their keys
// are lvs.cf's, addresses and netmasks are text as lvs.cf writes them, and
// durations decimal seconds, so that a field has one spelling in the file,
// the form, the API and the refusal's "field". Converting in (model) reads
// text with config's Parse helpers, as the forms do, so a value of the wrong
// kind gets the form's message.

// flexNumber is a JSON number or string, kept as text for config's Parse
// helpers: a port may be "http", a duration "0.5" or "200ms", and what is
// neither gets the message a form or lvs.cf gets.
type flexNumber string

func (n flexNumber) MarshalJSON() ([]byte, error) {
	s := string(n)
	if s == "" {
		return []byte("0"), nil
	}
	if json.Valid([]byte(s)) && (s[0] == '-' || s[0] >= '0' && s[0] <= '9') {
		return []byte(s), nil
	}
	return json.Marshal(s)
}

func (n *flexNumber) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		return nil // as for every field: null leaves the value as it is
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*n = flexNumber(s)
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		*n = flexNumber(b)
	default:
		kind := "object"
		switch {
		case len(b) > 0 && b[0] == '[':
			kind = "array"
		case string(b) == "true" || string(b) == "false":
			kind = "bool"
		}
		return &json.UnmarshalTypeError{Value: kind, Type: reflect.TypeFor[flexNumber]()}
	}
	return nil
}

// converter collects a field error for each value of one entry that is
// not of the right kind, placed as config.Validate places its own.
type converter struct {
	at   config.FieldError // section, indexes and names of the entry
	errs []*config.FieldError
}

func newConverter(section string, vi, ri int, vname, rname string) *converter {
	return &converter{at: config.FieldError{Section: section, Virtual: vi, Real: ri, VirtualName: vname, RealName: rname}}
}

func (cv *converter) fail(field string, err error) {
	fe := cv.at
	fe.Field, fe.Msg = field, err.Error()
	cv.errs = append(cv.errs, &fe)
}

// err returns the values that could not be read, as config.Validate
// would refuse them: a *config.ValidationError, or nil.
func (cv *converter) err() error {
	if len(cv.errs) == 0 {
		return nil
	}
	return &config.ValidationError{Fields: cv.errs}
}

// refusal returns, when some values could not be read, the refusal of
// cfg, the configuration changed with the others: those values and what
// config.Validate refuses besides (joinRefusals). It returns nil when
// every value was read: the store validates cfg then.
func (cv *converter) refusal(cfg *config.Config) error {
	if len(cv.errs) == 0 {
		return nil
	}
	return joinRefusals(cv.errs, cfg.Validate())
}

// resource is the API's form of one type of entry (GLOBAL SETTINGS,
// REDUNDANCY, a virtual server, a real server): a struct type made from
// the field registry, so that encoding/json reads and writes it exactly as
// it would a declared one (keys in the registry's order, unknown keys and
// values of the wrong type refused with the JSON name, null leaving a
// value as it is), and a field added to the registry is in the API
// without more. Its first field is the serial ("serial", omitted when 0),
// then the id of virtual and real servers ("id", read only).
type resource[T any] struct {
	typ    reflect.Type
	fs     config.Fields[T]
	id     bool
	fields []resourceField[T]
	reals  int // index of the "reals" list in a virtual server with its real servers, or 0
}

// resourceField is one key: a field, or the flags of one lvs.cf key
// (sched_flags), which share their JSON name.
type resourceField[T any] struct {
	index int
	f     *config.Field[T]
}

const (
	serialField = 0
	idField     = 1
)

// newResource makes the resource of fs's fields; with id it has the "id"
// key, and extra (a virtual server's real servers, in the whole
// configuration) follows the registry's fields.
func newResource[T any](fs config.Fields[T], id bool, extra ...reflect.StructField) *resource[T] {
	res := &resource[T]{fs: fs, id: id}
	sfs := []reflect.StructField{{Name: "Serial", Type: reflect.TypeFor[int64](), Tag: `json:"serial,omitempty"`}}
	if id {
		sfs = append(sfs, reflect.StructField{Name: "ID", Type: reflect.TypeFor[int64](), Tag: `json:"id,omitempty"`})
	}
	seen := map[string]bool{}
	for i := range fs {
		f := &fs[i]
		if seen[f.JSON] {
			continue // a flag of a list already made
		}
		seen[f.JSON] = true
		res.fields = append(res.fields, resourceField[T]{index: len(sfs), f: f})
		sfs = append(sfs, reflect.StructField{
			Name: fmt.Sprintf("F%d", len(sfs)),
			Type: jsonType(f),
			Tag:  reflect.StructTag(`json:"` + f.JSON + `"`),
		})
	}
	if len(extra) > 0 {
		res.reals = len(sfs)
	}
	res.typ = reflect.StructOf(append(sfs, extra...))
	return res
}

// jsonType is the Go type a field takes in JSON: true or false, a whole
// number, a number or text for ports and durations (flexNumber), text for
// the rest.
func jsonType[T any](f *config.Field[T]) reflect.Type {
	switch {
	case f.Flag != "":
		return reflect.TypeFor[string]()
	case f.Kind == config.KindBool:
		return reflect.TypeFor[bool]()
	case f.Kind == config.KindInt:
		var t T
		return reflect.TypeOf(f.Ref(&t)).Elem()
	case f.Kind == config.KindPort || f.Kind == config.KindSeconds:
		return reflect.TypeFor[flexNumber]()
	}
	return reflect.TypeFor[string]()
}

// of returns t as the resource, a pointer to its struct, at serial (0:
// without one).
func (res *resource[T]) of(t *T, serial int64) reflect.Value {
	p := reflect.New(res.typ)
	v := p.Elem()
	v.Field(serialField).SetInt(serial)
	if res.id {
		v.Field(idField).SetInt(idOf(t))
	}
	for _, rf := range res.fields {
		f, fv := rf.f, v.Field(rf.index)
		switch {
		case f.Flag != "":
			fv.SetString(config.FormatFlags(res.fs, f.Key, t))
		case f.Kind == config.KindBool:
			fv.SetBool(*f.Ref(t).(*bool))
		case f.Kind == config.KindInt:
			fv.Set(reflect.ValueOf(f.Ref(t)).Elem())
		default:
			fv.SetString(f.Text(t))
		}
	}
	return p
}

// idOf is the store's id of a virtual or real server.
func idOf(t any) int64 {
	switch e := t.(type) {
	case *config.VirtualServer:
		return e.ID
	case *config.RealServer:
		return e.ID
	}
	return 0
}

// model returns base with the values of p, a pointer to the resource. A
// value of the wrong kind is left as base has it and recorded in cv, so
// that the change is still validated whole (converter.refusal).
func (res *resource[T]) model(p reflect.Value, base T, cv *converter) T {
	t := base
	v := p.Elem()
	for _, rf := range res.fields {
		f, fv := rf.f, v.Field(rf.index)
		switch {
		case f.Flag != "":
			if err := config.ParseFlags(res.fs, f.Key, fv.String(), &t); err != nil {
				cv.fail(f.Key, err)
			}
		case f.Kind == config.KindBool:
			*f.Ref(&t).(*bool) = fv.Bool()
		case f.Kind == config.KindInt:
			reflect.ValueOf(f.Ref(&t)).Elem().Set(fv)
		default:
			if err := f.SetText(&t, fv.String()); err != nil {
				cv.fail(f.Key, err)
			}
		}
	}
	return t
}

// decode reads body over t's resource, strictly (decodeStrict).
func (res *resource[T]) decode(body []byte, t *T) (reflect.Value, error) {
	p := res.of(t, 0)
	return p, decodeStrict(body, p.Interface())
}

// name is the name a decoded virtual or real server resource gives, for
// its refusals.
func (res *resource[T]) name(p reflect.Value) string {
	for _, rf := range res.fields {
		if rf.f.Kind == config.KindName {
			return p.Elem().Field(rf.index).String()
		}
	}
	return ""
}

// serialOf is the serial a decoded resource names.
func serialOf(p reflect.Value) int64 { return p.Elem().Field(serialField).Int() }

// keys lists the resource's JSON names.
func (res *resource[T]) keys() []string {
	var out []string
	for i := range res.typ.NumField() {
		if name, _, _ := strings.Cut(res.typ.Field(i).Tag.Get("json"), ","); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// The API's resources.
var (
	apiGlobal     = newResource(config.GlobalFields, false)
	apiRedundancy = newResource(config.RedundancyFields, false)
	apiVirtual    = newResource(config.VirtualFields, true)
	apiReal       = newResource(config.RealFields, true)
	// apiVirtualReals is a virtual server with its real servers, in the
	// whole configuration.
	apiVirtualReals = newResource(config.VirtualFields, true, reflect.StructField{
		Name: "Reals", Type: reflect.SliceOf(apiReal.typ), Tag: `json:"reals"`})
)

// apiConfig is the whole configuration, with each virtual server's real
// servers.
type apiConfig struct {
	Serial     int64 `json:"serial"`
	Global     any   `json:"global"`
	Redundancy any   `json:"redundancy"`
	Virtuals   []any `json:"virtuals"`
}

func configOf(cfg *config.Config) apiConfig {
	out := apiConfig{Serial: cfg.Serial, Global: apiGlobal.of(&cfg.Global, 0).Interface(),
		Redundancy: apiRedundancy.of(&cfg.Redundancy, 0).Interface(), Virtuals: make([]any, len(cfg.Virtuals))}
	for i := range cfg.Virtuals {
		vs := &cfg.Virtuals[i]
		v := apiVirtualReals.of(vs, 0)
		reals := reflect.MakeSlice(reflect.SliceOf(apiReal.typ), len(vs.Reals), len(vs.Reals))
		for j := range vs.Reals {
			reals.Index(j).Set(apiReal.of(&vs.Reals[j], 0).Elem())
		}
		v.Elem().Field(apiVirtualReals.reals).Set(reals)
		out.Virtuals[i] = v.Interface()
	}
	return out
}

// apiRevision is one revision of the history.
type apiRevision struct {
	Serial  int64     `json:"serial"`
	Created time.Time `json:"created"`
	Author  string    `json:"author"`
	Token   string    `json:"token,omitempty"` // the API token Author made it with
	Summary string    `json:"summary"`
	Current bool      `json:"current"`
}

func apiRevisionOf(r store.Revision, current int64) apiRevision {
	return apiRevision{Serial: r.Serial, Created: r.Created.UTC(), Author: r.Author, Token: r.Token, Summary: r.Summary, Current: r.Serial == current}
}
