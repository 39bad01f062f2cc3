package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// procLister is a TableReader that lists the whole table in one read
// (/proc/net/ip_vs; *ipvs.Client, ipvs.ErrNoProc without it).
type procLister interface {
	ProcServices(ctx context.Context) ([]ipvs.ProcService, error)
}

// RefreshOwned is ReadOwned checked against known, what the engine
// believes the kernel holds: one dump of the services and one read of
// /proc/net/ip_vs, then a dump of destinations only for the owned services
// whose listed destinations (address, port, forwarding, weight) differ
// from known's. A full read is a dump per service, and the kernel
// serialises every dump: at 10,000 services that is most of a re-read.
// What the file does not list (thresholds, tunnel parameters) is taken
// from known; a full read (ReadOwned) repairs those. Without the file, or
// without known, it is ReadOwned.
func RefreshOwned(ctx context.Context, k TableReader, owned map[string]bool, known *Table) (*Table, error) {
	dests := func(s ipvs.ServiceKey) bool { return owned[keyText(s)] }
	pl, ok := k.(procLister)
	if !ok || known == nil {
		return ReadTable(ctx, k, dests)
	}
	listed, err := pl.ProcServices(ctx)
	if err != nil {
		return ReadTable(ctx, k, dests) // no /proc/net/ip_vs: the dumps
	}
	return readTable(ctx, k, dests, reuser(listed, known))
}

// reuser returns what readTable asks of each service it would dump: the
// destinations known has for it, in the order listed, when listed shows
// the kernel holds exactly those.
func reuser(listed []ipvs.ProcService, known *Table) func(ipvs.ServiceKey) ([]ipvs.Destination, []ipvs.DestKey, bool) {
	byKey := make(map[ipvs.ServiceKey]*ipvs.ProcService, len(listed))
	marks := map[uint32]int{} // firewall-mark services listed per mark: the file does not give their family
	for i := range listed {
		p := &listed[i]
		if p.FWMark != 0 {
			marks[p.FWMark]++
			if marks[p.FWMark] > 1 {
				continue
			}
			byKey[ipvs.ServiceKey{FWMark: p.FWMark}] = p
			continue
		}
		byKey[p.ServiceKey] = p
	}
	was := make(map[ipvs.ServiceKey]*Service, len(known.Services))
	for _, s := range known.Services {
		was[s.ServiceKey] = s
	}
	return func(key ipvs.ServiceKey) ([]ipvs.Destination, []ipvs.DestKey, bool) {
		lk := key
		if key.FWMark != 0 {
			if marks[key.FWMark] != 1 {
				return nil, nil, false // an IPv4 and an IPv6 one: which is which?
			}
			lk = ipvs.ServiceKey{FWMark: key.FWMark}
		}
		p, s := byKey[lk], was[key]
		if p == nil || s == nil || len(p.Dests) != len(s.Dests) {
			return nil, nil, false
		}
		order := make([]ipvs.DestKey, len(p.Dests))
		for i := range p.Dests {
			d := &p.Dests[i]
			// s.Dests are sorted (sortDests).
			j, found := slices.BinarySearchFunc(s.Dests, d.Key(), func(x ipvs.Destination, k ipvs.DestKey) int {
				return compareDest(x.Key(), k)
			})
			if !found || s.Dests[j].Forward != d.Forward || s.Dests[j].Weight != d.Weight {
				return nil, nil, false
			}
			order[i] = d.Key()
		}
		return s.Dests, order, true
	}
}

// readTable is ReadTable; a service for which reuse answers true takes the
// destinations it gives (shared, read only) and is not dumped.
func readTable(ctx context.Context, k TableReader, dests func(ipvs.ServiceKey) bool,
	reuse func(ipvs.ServiceKey) ([]ipvs.Destination, []ipvs.DestKey, bool)) (*Table, error) {
	svcs, err := k.Services(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the IPVS services: %w", err)
	}
	t := &Table{Services: make([]*Service, 0, len(svcs))}
	var keys []ipvs.ServiceKey
	var read []int // the services of keys, by index in t.Services
	for i, s := range svcs {
		ts := &Service{Service: s}
		t.Services = append(t.Services, ts)
		if dests != nil && !dests(s.ServiceKey) {
			continue
		}
		if reuse != nil {
			if ds, order, ok := reuse(s.ServiceKey); ok {
				ts.Dests, ts.Order = ds, order
				continue
			}
		}
		keys, read = append(keys, s.ServiceKey), append(read, i)
	}
	var all [][]ipvs.Destination
	if br, ok := k.(bulkReader); ok {
		// Pipelined dumps: two system calls per service, not three.
		if all, err = br.DestinationsOf(ctx, keys); err != nil {
			return nil, fmt.Errorf("reading the IPVS destinations: %w", err)
		}
	}
	for j, i := range read {
		ts := t.Services[i]
		if all != nil {
			ts.Dests = all[j]
		} else if ts.Dests, err = k.Destinations(ctx, ts.ServiceKey); err != nil {
			return nil, fmt.Errorf("reading the destinations of %s: %w", ts.ServiceKey, err)
		}
		ts.Order = make([]ipvs.DestKey, 0, len(ts.Dests))
		for _, d := range ts.Dests {
			ts.Order = append(ts.Order, d.Key())
		}
		sortDests(ts.Dests)
	}
	if t.Timeouts, err = k.Timeouts(ctx); err != nil {
		return nil, fmt.Errorf("reading the IPVS timeouts: %w", err)
	}
	return t, nil
}
