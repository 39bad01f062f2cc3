package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// Kernel is what the reconciler needs of IPVS; *ipvs.Client provides it.
type Kernel interface {
	TableReader
	SetTimeouts(ctx context.Context, t ipvs.Timeouts) error
	// Apply makes the changes in order and returns one error per op.
	Apply(ctx context.Context, ops []ipvs.Op) []error
}

// bulkReader reads the destinations of many services at once
// (ipvs.Client.DestinationsOf).
type bulkReader interface {
	DestinationsOf(ctx context.Context, keys []ipvs.ServiceKey) ([][]ipvs.Destination, error)
}

// TableReader is what reading the kernel's table needs of IPVS.
type TableReader interface {
	Services(ctx context.Context) ([]ipvs.Service, error)
	Destinations(ctx context.Context, k ipvs.ServiceKey) ([]ipvs.Destination, error)
	Timeouts(ctx context.Context) (ipvs.Timeouts, error)
}

// Ledger records which services this director created, durably, so that
// it never changes what it does not own and adopts its own after a restart.
type Ledger interface {
	OwnedServices(ctx context.Context) (map[string]bool, error)
	Own(ctx context.Context, keys ...string) error
	Disown(ctx context.Context, keys ...string) error
}

// Change is one change the reconciler made.
type Change struct {
	Op      string // "add service", "edit service", "delete service", "add destination", ...
	Service ipvs.ServiceKey
	Dest    *ipvs.DestKey
}

func (c Change) String() string {
	if c.Dest != nil {
		return fmt.Sprintf("%s %s -> %s", c.Op, c.Service, c.Dest)
	}
	return fmt.Sprintf("%s %s", c.Op, c.Service)
}

// Result is what one reconcile did and what failed.
type Result struct {
	Changes []Change
	Errors  []error // one per failed entry; the others were still applied
	// After is the kernel's table once the changes are made, known without
	// reading it back: want for the services this director owns, the rest
	// as they were. Nil when something failed, so that the next reconcile
	// reads the kernel again.
	After *Table
}

// ErrNotOwned is reported for a service the configuration asks for that
// exists in the kernel but was not created by this director.
var ErrNotOwned = errors.New("exists in IPVS but was not created by lvsconsole; it is left alone (delete it, or change this virtual server)")

// Reconcile makes the kernel's table match want, changing only the
// services the ledger says this director owns. have is the kernel's table
// as last known (a previous Result.After); nil reads it from the kernel.
// With it, a configuration change costs only the requests that change
// something: one weight is one SET_DEST. The changes go to the kernel in
// one batch; a failure is reported with its entry and does not stop the
// others. Weights and schedulers are edited in place, so connections keep
// flowing. What it sends is want.Plan(have, owned), step by step.
func Reconcile(ctx context.Context, k Kernel, l Ledger, want, have *Table) (*Result, error) {
	return reconcile(ctx, k, l, want, have, nil)
}

// reconcile is Reconcile; without have, the kernel's table is read checked
// against check (RefreshOwned), or in full when check is nil.
func reconcile(ctx context.Context, k Kernel, l Ledger, want, have, check *Table) (*Result, error) {
	owned, err := l.OwnedServices(ctx)
	if err != nil {
		return nil, err
	}
	if have == nil {
		if have, err = RefreshOwned(ctx, k, owned, check); err != nil {
			return nil, err
		}
	}
	p := want.Plan(have, owned)
	r := &Result{Errors: p.Refused}

	// Own before creating: a crash between the two leaves a record of a
	// service that does not exist, never a service nobody owns.
	if len(p.own) > 0 {
		if err := l.Own(ctx, p.own...); err != nil {
			return nil, err
		}
	}
	ops := make([]ipvs.Op, len(p.Steps))
	for i, st := range p.Steps {
		ops[i] = st.Op
	}
	var errs []error
	if len(ops) > 0 {
		errs = k.Apply(ctx, ops)
	}
	var gone []string
	r.Changes = slices.Grow(r.Changes, len(p.Steps))
	for i, st := range p.Steps {
		err := errs[i]
		if err != nil && errors.Is(err, ipvs.ErrNotFound) && (st.Op.Kind == ipvs.DeleteService || st.Op.Kind == ipvs.DeleteDest) {
			err = nil // already gone: what was wanted
		}
		if err != nil {
			if st.Virtual != "" {
				err = fmt.Errorf("virtual server %s: %w", st.Virtual, err)
			}
			r.Errors = append(r.Errors, err)
			continue
		}
		c := Change{Op: opNames[st.Op.Kind], Service: st.Op.Service.ServiceKey}
		if k := st.Op.Kind; k == ipvs.AddDest || k == ipvs.EditDest || k == ipvs.DeleteDest {
			dk := st.Op.Dest.Key()
			c.Dest = &dk
		}
		r.Changes = append(r.Changes, c)
		if st.Op.Kind == ipvs.DeleteService {
			gone = append(gone, keyText(st.Op.Service.ServiceKey))
		}
	}
	// Forget deleted services, and records of services that are neither in
	// the kernel nor wanted (a crash after Own, or a hand deletion).
	gone = append(gone, p.stale...)
	if len(gone) > 0 {
		if err := l.Disown(ctx, gone...); err != nil {
			r.Errors = append(r.Errors, err)
		}
	}

	if p.Timeouts != nil {
		if err := k.SetTimeouts(ctx, *p.Timeouts); err != nil {
			r.Errors = append(r.Errors, fmt.Errorf("setting the connection timeouts: %w", err))
		} else {
			r.Changes = append(r.Changes, Change{Op: "set timeouts"})
		}
	}
	if len(r.Errors) == 0 {
		r.After = after(want, have, owned, mergeTimeouts(have.Timeouts, want.Timeouts), p.same)
	}
	return r, nil
}

var opNames = map[ipvs.OpKind]string{
	ipvs.AddService: "add service", ipvs.EditService: "edit service", ipvs.DeleteService: "delete service",
	ipvs.AddDest: "add destination", ipvs.EditDest: "edit destination", ipvs.DeleteDest: "delete destination",
}

// after is the kernel's table once want is applied cleanly: want for the
// services this director owns, the rest as they were. same are the
// services the plan left as have holds them (Plan.same, by want's index),
// shared with have rather than copied: Tables are not changed once made,
// but by carryStats, which copies what it changes.
func after(want, have *Table, owned map[string]bool, timeouts ipvs.Timeouts, same []*Service) *Table {
	wanted := make(map[ipvs.ServiceKey]bool, len(want.Services))
	for _, ws := range want.Services {
		wanted[ws.ServiceKey] = true
	}
	t := &Table{Timeouts: timeouts, Services: make([]*Service, 0, len(want.Services))}
	for _, hs := range have.Services {
		if !wanted[hs.ServiceKey] && !owned[keyText(hs.ServiceKey)] {
			t.Services = append(t.Services, hs) // someone else's
		}
	}
	haveByKey := make(map[ipvs.ServiceKey]*Service, len(have.Services))
	for _, hs := range have.Services {
		haveByKey[hs.ServiceKey] = hs
	}
	for i, ws := range want.Services {
		if i < len(same) && same[i] != nil && same[i].Virtual == ws.Virtual && same[i].Canonical == ws.Canonical &&
			(same[i].Order != nil) == ws.Canonical {
			// As a previous after made it (a service read from the
			// kernel has no Virtual, and is rebuilt).
			t.Services = append(t.Services, same[i])
			continue
		}
		s := *ws
		s.Dests = append([]ipvs.Destination(nil), ws.Dests...)
		s.Pending = nil
		if hs := haveByKey[ws.ServiceKey]; hs != nil && len(ws.Pending) > 0 {
			// Pending destinations stay as the kernel had them.
			pending := map[ipvs.DestKey]bool{}
			for _, dk := range ws.Pending {
				pending[dk] = true
			}
			for _, d := range hs.Dests {
				if pending[d.Key()] {
					s.Dests = append(s.Dests, d)
				}
			}
		}
		sortDests(s.Dests)
		s.Order = nil
		if s.Canonical {
			// The plan put them in the canonical order.
			for _, d := range s.Dests {
				s.Order = append(s.Order, d.Key())
			}
		}
		t.Services = append(t.Services, &s)
	}
	return t
}

// sameService compares what SET_SERVICE can change.
func sameService(a, b *ipvs.Service) bool {
	return a.Scheduler == b.Scheduler && a.Flags&^ipvs.FlagHashed == b.Flags&^ipvs.FlagHashed &&
		a.Timeout == b.Timeout && a.Netmask == b.Netmask && a.PEName == b.PEName
}

// sameDest compares what SET_DEST can change.
func sameDest(a, b *ipvs.Destination) bool {
	if a.Forward != b.Forward || a.Weight != b.Weight || a.UpperThreshold != b.UpperThreshold || a.LowerThreshold != b.LowerThreshold {
		return false
	}
	if b.Forward == ipvs.Tunnel {
		return a.TunnelType == b.TunnelType && a.TunnelPort == b.TunnelPort && a.TunnelFlags == b.TunnelFlags
	}
	return true
}

// mergeTimeouts is what the kernel's timeouts become after setting want:
// zero fields leave the kernel's value.
func mergeTimeouts(have, want ipvs.Timeouts) ipvs.Timeouts {
	if want.TCP != 0 {
		have.TCP = want.TCP
	}
	if want.TCPFin != 0 {
		have.TCPFin = want.TCPFin
	}
	if want.UDP != 0 {
		have.UDP = want.UDP
	}
	return have
}

// ReadOwned reads the kernel's table as Reconcile reads it to plan: every
// service, and the destinations of those owned names (by their ledger
// keys, as Ledger.OwnedServices returns them); the others are not
// touched, so their destinations do not matter.
func ReadOwned(ctx context.Context, k TableReader, owned map[string]bool) (*Table, error) {
	return ReadTable(ctx, k, func(s ipvs.ServiceKey) bool { return owned[keyText(s)] })
}

// ReadTable reads the kernel's table: every service, and the destinations
// of those for which dests says so (all, when dests is nil).
func ReadTable(ctx context.Context, k TableReader, dests func(ipvs.ServiceKey) bool) (*Table, error) {
	return readTable(ctx, k, dests, nil)
}
