package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// Kernel is what the reconciler needs of IPVS; *ipvs.Client provides it.
type Kernel interface {
	Services(ctx context.Context) ([]ipvs.Service, error)
	Destinations(ctx context.Context, k ipvs.ServiceKey) ([]ipvs.Destination, error)
	Timeouts(ctx context.Context) (ipvs.Timeouts, error)
	SetTimeouts(ctx context.Context, t ipvs.Timeouts) error
	// Apply makes the changes in order and returns one error per op.
	Apply(ctx context.Context, ops []ipvs.Op) []error
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
// flowing.
func Reconcile(ctx context.Context, k Kernel, l Ledger, want, have *Table) (*Result, error) {
	owned, err := l.OwnedServices(ctx)
	if err != nil {
		return nil, err
	}
	if have == nil {
		have, err = ReadTable(ctx, k, func(s ipvs.ServiceKey) bool { return owned[keyText(s)] })
		if err != nil {
			return nil, err
		}
	}
	p := plan(want, have, owned)
	r := &Result{Errors: p.errors}

	// Own before creating: a crash between the two leaves a record of a
	// service that does not exist, never a service nobody owns.
	if len(p.own) > 0 {
		if err := l.Own(ctx, p.own...); err != nil {
			return nil, err
		}
	}
	ops := make([]ipvs.Op, len(p.steps))
	for i, st := range p.steps {
		ops[i] = st.op
	}
	var errs []error
	if len(ops) > 0 {
		errs = k.Apply(ctx, ops)
	}
	var gone []string
	for i, st := range p.steps {
		err := errs[i]
		if err != nil && errors.Is(err, ipvs.ErrNotFound) && (st.op.Kind == ipvs.DeleteService || st.op.Kind == ipvs.DeleteDest) {
			err = nil // already gone: what was wanted
		}
		if err != nil {
			if st.virtual != "" {
				err = fmt.Errorf("virtual server %s: %w", st.virtual, err)
			}
			r.Errors = append(r.Errors, err)
			continue
		}
		c := Change{Op: opNames[st.op.Kind], Service: st.op.Service.ServiceKey}
		if k := st.op.Kind; k == ipvs.AddDest || k == ipvs.EditDest || k == ipvs.DeleteDest {
			dk := st.op.Dest.Key()
			c.Dest = &dk
		}
		r.Changes = append(r.Changes, c)
		if st.op.Kind == ipvs.DeleteService {
			gone = append(gone, keyText(st.op.Service.ServiceKey))
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

	timeouts := mergeTimeouts(have.Timeouts, want.Timeouts)
	if timeouts != have.Timeouts {
		if err := k.SetTimeouts(ctx, want.Timeouts); err != nil {
			r.Errors = append(r.Errors, fmt.Errorf("setting the connection timeouts: %w", err))
		} else {
			r.Changes = append(r.Changes, Change{Op: "set timeouts"})
		}
	}
	if len(r.Errors) == 0 {
		r.After = after(want, have, owned, timeouts)
	}
	return r, nil
}

var opNames = map[ipvs.OpKind]string{
	ipvs.AddService: "add service", ipvs.EditService: "edit service", ipvs.DeleteService: "delete service",
	ipvs.AddDest: "add destination", ipvs.EditDest: "edit destination", ipvs.DeleteDest: "delete destination",
}

// step is one planned change and the virtual server it is for.
type step struct {
	op      ipvs.Op
	virtual string
}

// changes is what plan decided.
type changes struct {
	steps  []step
	own    []string // services to record as owned before creating them
	stale  []string // ledger records to drop
	errors []error  // refusals found while planning
}

// plan compares want with have and lists the changes, in an order the
// kernel can take in one batch: deletions of services first (freeing their
// keys), then each wanted service with its destinations.
func plan(want, have *Table, owned map[string]bool) *changes {
	p := &changes{}
	haveByKey := map[ipvs.ServiceKey]*Service{}
	haveText := map[string]bool{}
	for _, hs := range have.Services {
		haveByKey[hs.ServiceKey] = hs
		haveText[keyText(hs.ServiceKey)] = true
	}
	wanted := map[ipvs.ServiceKey]bool{}
	wantedText := map[string]bool{}
	for _, ws := range want.Services {
		wanted[ws.ServiceKey] = true
		wantedText[keyText(ws.ServiceKey)] = true
	}
	// Services this director created that the configuration no longer asks
	// for. Everything else in the kernel is someone else's.
	for _, hs := range have.Services {
		if !wanted[hs.ServiceKey] && owned[keyText(hs.ServiceKey)] {
			p.steps = append(p.steps, step{op: ipvs.Op{Kind: ipvs.DeleteService, Service: hs.Service}})
		}
	}
	for text := range owned {
		if !wantedText[text] && !haveText[text] {
			p.stale = append(p.stale, text)
		}
	}
	for _, ws := range want.Services {
		key := ws.ServiceKey
		cur := haveByKey[key]
		var curDests []ipvs.Destination
		switch {
		case cur == nil:
			p.own = append(p.own, keyText(key))
			p.steps = append(p.steps, step{op: ipvs.Op{Kind: ipvs.AddService, Service: ws.Service}, virtual: ws.Virtual})
		case !owned[keyText(key)]:
			p.errors = append(p.errors, fmt.Errorf("virtual server %s: %s %w", ws.Virtual, key, ErrNotOwned))
			continue
		default:
			curDests = cur.Dests
			if !sameService(&cur.Service, &ws.Service) {
				p.steps = append(p.steps, step{op: ipvs.Op{Kind: ipvs.EditService, Service: ws.Service}, virtual: ws.Virtual})
			}
		}
		p.planDests(ws, curDests)
	}
	return p
}

// planDests lists the destination changes of one service: deletions first,
// so that a destination can be replaced in the same batch.
func (p *changes) planDests(ws *Service, have []ipvs.Destination) {
	svc := ipvs.Service{ServiceKey: ws.ServiceKey}
	wanted := map[ipvs.DestKey]bool{}
	for _, d := range ws.Dests {
		wanted[d.Key()] = true
	}
	for _, dk := range ws.Pending {
		wanted[dk] = true // left as it is
	}
	cur := map[ipvs.DestKey]*ipvs.Destination{}
	for i := range have {
		d := &have[i]
		cur[d.Key()] = d
		if !wanted[d.Key()] {
			p.steps = append(p.steps, step{op: ipvs.Op{Kind: ipvs.DeleteDest, Service: svc, Dest: *d}, virtual: ws.Virtual})
		}
	}
	for _, d := range ws.Dests {
		hd := cur[d.Key()]
		switch {
		case hd == nil:
			p.steps = append(p.steps, step{op: ipvs.Op{Kind: ipvs.AddDest, Service: svc, Dest: d}, virtual: ws.Virtual})
		case !sameDest(hd, &d):
			p.steps = append(p.steps, step{op: ipvs.Op{Kind: ipvs.EditDest, Service: svc, Dest: d}, virtual: ws.Virtual})
		}
	}
}

// after is the kernel's table once want is applied cleanly: want for the
// services this director owns, the rest as they were.
func after(want, have *Table, owned map[string]bool, timeouts ipvs.Timeouts) *Table {
	wanted := map[ipvs.ServiceKey]bool{}
	for _, ws := range want.Services {
		wanted[ws.ServiceKey] = true
	}
	t := &Table{Timeouts: timeouts}
	for _, hs := range have.Services {
		if !owned[keyText(hs.ServiceKey)] && !wanted[hs.ServiceKey] {
			t.Services = append(t.Services, hs) // someone else's
		}
	}
	haveByKey := map[ipvs.ServiceKey]*Service{}
	for _, hs := range have.Services {
		haveByKey[hs.ServiceKey] = hs
	}
	for _, ws := range want.Services {
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

// ReadTable reads the kernel's table: every service, and the destinations
// of those for which dests says so (all, when dests is nil).
func ReadTable(ctx context.Context, k Kernel, dests func(ipvs.ServiceKey) bool) (*Table, error) {
	svcs, err := k.Services(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the IPVS services: %w", err)
	}
	t := &Table{}
	for _, s := range svcs {
		ts := &Service{Service: s}
		if dests == nil || dests(s.ServiceKey) {
			if ts.Dests, err = k.Destinations(ctx, s.ServiceKey); err != nil {
				return nil, fmt.Errorf("reading the destinations of %s: %w", s.ServiceKey, err)
			}
			sortDests(ts.Dests)
		}
		t.Services = append(t.Services, ts)
	}
	if t.Timeouts, err = k.Timeouts(ctx); err != nil {
		return nil, fmt.Errorf("reading the IPVS timeouts: %w", err)
	}
	return t, nil
}
