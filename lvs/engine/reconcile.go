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
	NewService(ctx context.Context, s ipvs.Service) error
	UpdateService(ctx context.Context, s ipvs.Service) error
	DeleteService(ctx context.Context, k ipvs.ServiceKey) error
	NewDestination(ctx context.Context, k ipvs.ServiceKey, d ipvs.Destination) error
	UpdateDestination(ctx context.Context, k ipvs.ServiceKey, d ipvs.Destination) error
	DeleteDestination(ctx context.Context, k ipvs.ServiceKey, d ipvs.DestKey) error
	Timeouts(ctx context.Context) (ipvs.Timeouts, error)
	SetTimeouts(ctx context.Context, t ipvs.Timeouts) error
}

// Ledger records which services this director created, durably, so that
// it never changes what it does not own and adopts its own after a restart.
type Ledger interface {
	OwnedServices(ctx context.Context) (map[string]bool, error)
	Own(ctx context.Context, key string) error
	Disown(ctx context.Context, key string) error
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
// something: one weight is one SET_DEST. Each entry is applied on its own:
// a failure is reported with its entry and does not stop the others.
// Weights and schedulers are edited in place, so connections keep flowing.
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
	r := &Result{}
	fail := func(err error) { r.Errors = append(r.Errors, err) }
	did := func(op string, s ipvs.ServiceKey, d *ipvs.DestKey) {
		r.Changes = append(r.Changes, Change{Op: op, Service: s, Dest: d})
	}

	haveByKey := map[ipvs.ServiceKey]*Service{}
	haveText := map[string]bool{}
	for _, hs := range have.Services {
		haveByKey[hs.ServiceKey] = hs
		haveText[keyText(hs.ServiceKey)] = true
	}
	wanted := map[ipvs.ServiceKey]bool{}
	wantedText := map[string]bool{}
	for _, ws := range want.Services {
		key := ws.ServiceKey
		wanted[key] = true
		wantedText[keyText(key)] = true
		cur := haveByKey[key]
		switch {
		case cur == nil:
			// Own first: a crash between the two leaves a record of a service
			// that does not exist, never a service nobody owns.
			if err := l.Own(ctx, keyText(key)); err != nil {
				fail(err)
				continue
			}
			owned[keyText(key)] = true
			if err := k.NewService(ctx, ws.Service); err != nil {
				fail(fmt.Errorf("virtual server %s: %w", ws.Virtual, err))
				continue
			}
			did("add service", key, nil)
			cur = &Service{Service: ws.Service}
		case !owned[keyText(key)]:
			fail(fmt.Errorf("virtual server %s: %s %w", ws.Virtual, key, ErrNotOwned))
			continue
		case !sameService(&cur.Service, &ws.Service):
			if err := k.UpdateService(ctx, ws.Service); err != nil {
				fail(fmt.Errorf("virtual server %s: %w", ws.Virtual, err))
			} else {
				did("edit service", key, nil)
			}
		}
		reconcileDests(ctx, k, ws, cur.Dests, fail, did)
	}

	// Services this director created that the configuration no longer asks
	// for. Everything else in the kernel is someone else's.
	for _, hs := range have.Services {
		key := hs.ServiceKey
		if wanted[key] || !owned[keyText(key)] {
			continue
		}
		if err := k.DeleteService(ctx, key); err != nil && !errors.Is(err, ipvs.ErrNotFound) {
			fail(err)
			continue
		}
		did("delete service", key, nil)
		if err := l.Disown(ctx, keyText(key)); err != nil {
			fail(err)
		}
	}
	// Records of services that are gone from the kernel and not wanted.
	for text := range owned {
		if !wantedText[text] && !haveText[text] {
			if err := l.Disown(ctx, text); err != nil {
				fail(err)
			}
		}
	}

	timeouts := mergeTimeouts(have.Timeouts, want.Timeouts)
	if timeouts != have.Timeouts {
		if err := k.SetTimeouts(ctx, want.Timeouts); err != nil {
			fail(fmt.Errorf("setting the connection timeouts: %w", err))
		} else {
			r.Changes = append(r.Changes, Change{Op: "set timeouts"})
		}
	}
	if len(r.Errors) == 0 {
		after := &Table{Timeouts: timeouts}
		for _, hs := range have.Services {
			if !owned[keyText(hs.ServiceKey)] && !wanted[hs.ServiceKey] {
				after.Services = append(after.Services, hs) // someone else's
			}
		}
		for _, ws := range want.Services {
			s := *ws
			s.Dests = append([]ipvs.Destination(nil), ws.Dests...)
			sortDests(s.Dests)
			after.Services = append(after.Services, &s)
		}
		r.After = after
	}
	return r, nil
}

func reconcileDests(ctx context.Context, k Kernel, ws *Service, have []ipvs.Destination,
	fail func(error), did func(string, ipvs.ServiceKey, *ipvs.DestKey)) {
	key := ws.ServiceKey
	cur := map[ipvs.DestKey]ipvs.Destination{}
	for _, d := range have {
		cur[d.Key()] = d
	}
	wanted := map[ipvs.DestKey]bool{}
	for _, d := range ws.Dests {
		dk := d.Key()
		wanted[dk] = true
		hd, ok := cur[dk]
		switch {
		case !ok:
			if err := k.NewDestination(ctx, key, d); err != nil {
				fail(fmt.Errorf("virtual server %s: %w", ws.Virtual, err))
				continue
			}
			did("add destination", key, &dk)
		case !sameDest(&hd, &d):
			if err := k.UpdateDestination(ctx, key, d); err != nil {
				fail(fmt.Errorf("virtual server %s: %w", ws.Virtual, err))
				continue
			}
			did("edit destination", key, &dk)
		}
	}
	for _, d := range have {
		dk := d.Key()
		if wanted[dk] {
			continue
		}
		if err := k.DeleteDestination(ctx, key, dk); err != nil && !errors.Is(err, ipvs.ErrNotFound) {
			fail(fmt.Errorf("virtual server %s: %w", ws.Virtual, err))
			continue
		}
		did("delete destination", key, &dk)
	}
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
