package store

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// The configuration's columns are the field registry's (config.Fields'
// Column): the statements that read and write them are made from it, once.
// The schema itself stays in the migrations, explicit SQL; a test checks
// that every registered column is there with the type its kind is stored
// as. Addresses and netmasks are text ("" = not set, a netmask as "/24"),
// durations milliseconds, bools 0 or 1.

// The statements; the registered columns follow the fixed ones, in the
// registry's order.
var (
	selectSettings = "SELECT serial, " + columnList(config.GlobalFields) + ", " + columnList(config.RedundancyFields) +
		" FROM settings WHERE id = 1"
	upsertSettings = upsert("settings", []string{"id", "serial"}, "(1, ?",
		columns(config.GlobalFields), columns(config.RedundancyFields))

	selectVirtuals = "SELECT id, " + columnList(config.VirtualFields) + " FROM virtual_servers ORDER BY position, id"
	upsertVirtuals = upsert("virtual_servers", []string{"id", "position"}, "(?, ?", columns(config.VirtualFields)) + " RETURNING id"

	// A real server's drain is the console's state, in columns of its
	// own (see config.RealServer.Draining).
	selectReals = "SELECT id, virtual_id, draining, drain_since_ms, " + columnList(config.RealFields) +
		" FROM real_servers ORDER BY virtual_id, position, id"
	upsertReals = upsert("real_servers", []string{"id", "virtual_id", "position", "draining", "drain_since_ms"}, "(?, ?, ?, ?, ?", columns(config.RealFields)) + " RETURNING id"
)

func columns[T any](fs config.Fields[T]) []string {
	out := make([]string, len(fs))
	for i := range fs {
		out[i] = fs[i].Column
	}
	return out
}

func columnList[T any](fs config.Fields[T]) string { return strings.Join(columns(fs), ", ") }

// upsert makes INSERT INTO table (fixed..., registered...) VALUES
// (values...) ON CONFLICT (id) DO UPDATE SET every column but id; values
// opens the VALUES list with the fixed columns' values.
func upsert(table string, fixed []string, values string, registered ...[]string) string {
	cols := slices.Concat(append([][]string{fixed}, registered...)...)
	set := make([]string, 0, len(cols)-1)
	for _, c := range cols[1:] { // not id
		set = append(set, c+" = excluded."+c)
	}
	return "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " + values +
		strings.Repeat(", ?", len(cols)-len(fixed)) + ") ON CONFLICT (id) DO UPDATE SET " + strings.Join(set, ", ")
}

// dests returns where rows.Scan puts the columns of fs for t. A value that
// does not parse is added to errs, so that one refusal lists them all.
func dests[T any](fs config.Fields[T], t *T, errs *[]error) []any {
	out := make([]any, len(fs))
	for i := range fs {
		switch p := fs[i].Ref(t).(type) {
		case *netip.Addr:
			out[i] = &textColumn[netip.Addr]{p, config.ParseAddr, errs}
		case *config.Netmask:
			out[i] = &textColumn[config.Netmask]{p, config.ParseNetmask, errs}
		case *time.Duration:
			out[i] = (*millis)(p)
		default:
			out[i] = p // bool, numbers and strings scan as they are
		}
	}
	return out
}

// values returns the columns of fs for t, to write.
func values[T any](fs config.Fields[T], t *T) []any {
	out := make([]any, len(fs))
	for i := range fs {
		switch p := fs[i].Ref(t).(type) {
		case *netip.Addr:
			out[i] = config.FormatAddr(*p)
		case *config.Netmask:
			out[i] = p.String()
		case *time.Duration:
			out[i] = p.Milliseconds()
		case *bool:
			out[i] = *p
		case *int:
			out[i] = *p
		case *int64:
			out[i] = *p
		case *string:
			out[i] = *p
		default:
			out[i] = fs[i].Text(t) // a string type (Forward, Protocol)
		}
	}
	return out
}

// textColumn reads a value stored as text with parse.
type textColumn[V any] struct {
	p     *V
	parse func(string) (V, error)
	errs  *[]error
}

func (c *textColumn[V]) Scan(src any) error {
	v, err := c.parse(columnText(src))
	if err != nil {
		*c.errs = append(*c.errs, err)
	}
	*c.p = v
	return nil
}

func columnText(src any) string {
	switch s := src.(type) {
	case string:
		return s
	case []byte:
		return string(s)
	}
	return fmt.Sprint(src)
}

// unixMillis reads a time stored as Unix milliseconds, 0 for none.
type unixMillis time.Time

func (m *unixMillis) Scan(src any) error {
	n, ok := src.(int64)
	if !ok {
		return fmt.Errorf("a time of %T, not milliseconds", src)
	}
	*m = unixMillis(fromMillis(n))
	return nil
}

func fromMillis(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

func toMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// millis reads a duration stored as milliseconds.
type millis time.Duration

func (m *millis) Scan(src any) error {
	n, ok := src.(int64)
	if !ok {
		return fmt.Errorf("a duration of %T, not milliseconds", src)
	}
	*m = millis(time.Duration(n) * time.Millisecond)
	return nil
}
