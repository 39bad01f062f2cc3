// Package lvscf imports and exports piranha's lvs.cf, so that a director
// migrated from piranha keeps its configuration and an admin can still read
// and diff the file they know.
//
// The file is only a transport: every rule is [config.Config.Validate]'s, and
// Parse runs it so that an import refuses exactly what the console refuses,
// but with the line and column of the offending key.
package lvscf

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// Error is one problem in an lvs.cf file. It carries a position rather than a
// model path because the admin fixing it has the file, not the model, open.
type Error struct {
	Line, Col int    // 1-based; Col counts characters, not bytes
	Key       string // the lvs.cf key (or model field) concerned; "" for syntax errors
	Msg       string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("line %d, column %d: %s: %s", e.Line, e.Col, e.Key, e.Msg)
}

// Errors lists every problem of a file, in file order, so that one import
// attempt shows them all instead of one per round trip.
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

// Warning is something an import accepted but the admin should know: a key
// given twice, a piranha key that does nothing here, a host name looked up,
// an inactive entry that could not be activated as it is. It has the shape
// of an Error, so that both can be listed together in file order.
type Warning struct {
	Line, Col int    // 1-based; Col counts characters, not bytes
	Key       string // the lvs.cf key (or model field) concerned
	Msg       string
}

func (w *Warning) String() string {
	return (&Error{Line: w.Line, Col: w.Col, Key: w.Key, Msg: w.Msg}).Error()
}

// Resolver looks up host names; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Options are how Import reads a file.
type Options struct {
	// Resolver looks up the host names piranha accepted in place of an
	// address (primary, backup, their private addresses, nat_router, and
	// the address of a virtual or real server). Without one, a host name
	// is refused.
	Resolver Resolver
}
