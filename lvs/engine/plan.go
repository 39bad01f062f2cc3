package engine

import (
	"fmt"
	"slices"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// Plan is what the engine sends to the kernel to make its table the one
// wanted: the very requests Reconcile sends, in the order it sends them.
// Reconcile plans with Table.Plan and nothing else, so a plan shown before
// a change is the change that is made.
type Plan struct {
	// Steps are the table's changes, in order: deletions of services
	// first (freeing their keys), then each wanted service with its
	// destinations, a service's deletions before its additions.
	Steps []Step
	// Timeouts, when not nil, are set after the steps; a zero field
	// leaves the kernel's value.
	Timeouts *ipvs.Timeouts
	// Refused are wanted services the engine leaves alone, each an error
	// naming its virtual server: one in the kernel that this director did
	// not create wraps ErrNotOwned.
	Refused []error

	own   []string // services to record as owned before creating them
	stale []string // ledger records of services neither wanted nor in the kernel
	// same holds, for each wanted service (by index), the kernel's when
	// the plan changes nothing of it: Reconcile's table after keeps it.
	same []*Service
}

// Step is one change of the plan.
type Step struct {
	Op      ipvs.Op
	Virtual string // the virtual server it is for; "" for a service no longer configured
}

// Empty tells a plan that changes nothing.
func (p *Plan) Empty() bool { return len(p.Steps) == 0 && p.Timeouts == nil }

// Ipvsadm returns the plan as ipvsadm commands, one a step and the
// timeouts last (see ipvs.Op.Ipvsadm): a change ipvsadm cannot make
// exactly is a comment saying why.
func (p *Plan) Ipvsadm() []string {
	lines := make([]string, 0, len(p.Steps)+1)
	for i := range p.Steps {
		lines = append(lines, p.Steps[i].Op.Ipvsadm())
	}
	if p.Timeouts != nil {
		lines = append(lines, p.Timeouts.Ipvsadm())
	}
	return lines
}

// Plan compares t, the table wanted, with have, the kernel's, and returns
// what makes have into t, touching only the services owned names (by
// their ledger keys) and refusing the wanted ones someone else made. It
// only computes: nothing is sent, nothing recorded.
func (t *Table) Plan(have *Table, owned map[string]bool) *Plan {
	p := &Plan{}
	haveByKey := make(map[ipvs.ServiceKey]*Service, len(have.Services))
	haveText := make(map[string]bool, len(have.Services))
	for _, hs := range have.Services {
		haveByKey[hs.ServiceKey] = hs
		haveText[keyText(hs.ServiceKey)] = true
	}
	wanted := make(map[ipvs.ServiceKey]bool, len(t.Services))
	wantedText := make(map[string]bool, len(t.Services))
	texts := make([]string, len(t.Services))  // the ledger's key of each
	curs := make([]*Service, len(t.Services)) // the kernel's service of each
	for i, ws := range t.Services {
		wanted[ws.ServiceKey] = true
		texts[i] = keyText(ws.ServiceKey)
		wantedText[texts[i]] = true
		curs[i] = haveByKey[ws.ServiceKey]
	}
	// Services this director created that the configuration no longer asks
	// for. Everything else in the kernel is someone else's.
	for _, hs := range have.Services {
		if !wanted[hs.ServiceKey] && owned[keyText(hs.ServiceKey)] {
			p.Steps = append(p.Steps, Step{Op: ipvs.Op{Kind: ipvs.DeleteService, Service: hs.Service}})
		}
	}
	for text := range owned {
		if !wantedText[text] && !haveText[text] {
			p.stale = append(p.stale, text)
		}
	}
	// A service the kernel lacks is added with all its destinations: room
	// for those at once. Growing the steps one append at a time (some 300
	// bytes each) made most of planning 10,000 x 10 into an empty table.
	adds := 0
	for i, ws := range t.Services {
		if curs[i] == nil {
			adds += 1 + len(ws.Dests)
		}
	}
	p.Steps = slices.Grow(p.Steps, adds)
	p.same = make([]*Service, len(t.Services))
	for i, ws := range t.Services {
		key := ws.ServiceKey
		cur := curs[i]
		var curDests []ipvs.Destination
		var curOrder []ipvs.DestKey
		switch {
		case cur == nil:
			p.own = append(p.own, texts[i])
			p.Steps = append(p.Steps, Step{Op: ipvs.Op{Kind: ipvs.AddService, Service: ws.Service}, Virtual: ws.Virtual})
		case !owned[texts[i]]:
			p.Refused = append(p.Refused, fmt.Errorf("virtual server %s: %s %w", ws.Virtual, key, ErrNotOwned))
			continue
		default:
			curDests, curOrder = cur.Dests, cur.Order
			if !sameService(&cur.Service, &ws.Service) {
				p.Steps = append(p.Steps, Step{Op: ipvs.Op{Kind: ipvs.EditService, Service: ws.Service}, Virtual: ws.Virtual})
			} else if unchanged(ws, cur) {
				// Most services of a large table, at each edit: no
				// maps, no steps.
				p.same[i] = cur
				continue
			}
		}
		p.planDests(ws, curDests, curOrder)
	}
	if merged := mergeTimeouts(have.Timeouts, t.Timeouts); merged != have.Timeouts {
		to := t.Timeouts
		p.Timeouts = &to
	}
	return p
}

// unchanged tells a wanted service whose destinations the kernel already
// holds as wanted (have's service being the same): the plan has nothing
// for it. It answers without maps, comparing in order, for the services
// of up to 64 destinations; larger ones are left to planDests.
func unchanged(ws, have *Service) bool {
	n := len(ws.Dests)
	if len(ws.Pending) > 0 || n != len(have.Dests) || n > 64 {
		return false
	}
	for i := range ws.Dests {
		d := &ws.Dests[i]
		k := d.Key()
		j := i // the same order, most often: have's are sorted, as the configuration's usually are
		for j < i+n && have.Dests[j%n].Key() != k {
			j++
		}
		// Keys are distinct in a service: n found of n is the same set.
		if j == i+n || !sameDest(&have.Dests[j%n], d) {
			return false
		}
	}
	if ws.Canonical && have.Order != nil {
		// The kernel's list must be in the canonical (sorted) order,
		// have's destinations sorted (see reorder).
		if len(have.Order) != n {
			return false
		}
		for i, k := range have.Order {
			if have.Dests[i].Key() != k {
				return false
			}
		}
	}
	return true
}

// planDests lists the destination changes of one service: deletions first,
// so that a destination can be replaced in the same batch. order is the
// kernel's order of have (nil: not known).
func (p *Plan) planDests(ws *Service, have []ipvs.Destination, order []ipvs.DestKey) {
	svc := ipvs.Service{ServiceKey: ws.ServiceKey}
	wanted := make(map[ipvs.DestKey]bool, len(ws.Dests)+len(ws.Pending))
	for _, d := range ws.Dests {
		wanted[d.Key()] = true
	}
	for _, dk := range ws.Pending {
		wanted[dk] = true // left as it is
	}
	cur := make(map[ipvs.DestKey]*ipvs.Destination, len(have))
	for i := range have {
		d := &have[i]
		cur[d.Key()] = d
		if !wanted[d.Key()] {
			p.Steps = append(p.Steps, Step{Op: ipvs.Op{Kind: ipvs.DeleteDest, Service: svc, Dest: *d}, Virtual: ws.Virtual})
		}
	}
	readd := p.reorder(ws, cur, wanted, order)
	for _, d := range ws.Dests {
		hd := cur[d.Key()]
		switch {
		case readd[d.Key()]:
		case hd == nil:
			p.Steps = append(p.Steps, Step{Op: ipvs.Op{Kind: ipvs.AddDest, Service: svc, Dest: d}, Virtual: ws.Virtual})
		case !sameDest(hd, &d):
			p.Steps = append(p.Steps, Step{Op: ipvs.Op{Kind: ipvs.EditDest, Service: svc, Dest: d}, Virtual: ws.Virtual})
		}
	}
}

// orderedSchedulers fill their tables taking the destinations in the
// kernel's order: directors that must schedule a flow alike (cluster mode,
// issue 19) need the same order, whatever order the checks passed in.
// Outside cluster mode the order is left as it is (a table adopted from
// keepalived or ipvsadm is taken without a change).
var orderedSchedulers = map[string]bool{"mh": true, "sh": true}

// reorder plans, for a Canonical service, the deletion
// and re-adding of the destinations out of the canonical order (sorted
// by address and port; the kernel adds at the head of its list, so they
// are added in reverse), new ones included, and returns those it planned.
// A re-added destination comes back from the kernel's trash with its
// connections.
func (p *Plan) reorder(ws *Service, cur map[ipvs.DestKey]*ipvs.Destination, wanted map[ipvs.DestKey]bool, order []ipvs.DestKey) map[ipvs.DestKey]bool {
	if !ws.Canonical || (order == nil && len(cur) > 0) {
		return nil
	}
	final := map[ipvs.DestKey]ipvs.Destination{}
	for _, d := range ws.Dests {
		final[d.Key()] = d
	}
	for _, dk := range ws.Pending {
		if hd := cur[dk]; hd != nil {
			final[dk] = *hd
		}
	}
	canon := make([]ipvs.Destination, 0, len(final))
	for _, d := range final {
		canon = append(canon, d)
	}
	sortDests(canon)
	var kept []ipvs.DestKey // the kernel's list once the unwanted are gone
	for _, k := range order {
		if wanted[k] && cur[k] != nil {
			kept = append(kept, k)
		}
	}
	// The longest tail of the kernel's list already in place stays.
	n := 0
	for n < len(kept) && n < len(canon) && kept[len(kept)-1-n] == canon[len(canon)-1-n].Key() {
		n++
	}
	if n == len(canon) {
		return nil
	}
	svc := ipvs.Service{ServiceKey: ws.ServiceKey}
	readd := map[ipvs.DestKey]bool{}
	for _, k := range kept[:len(kept)-n] {
		p.Steps = append(p.Steps, Step{Op: ipvs.Op{Kind: ipvs.DeleteDest, Service: svc, Dest: *cur[k]}, Virtual: ws.Virtual})
	}
	for i := len(canon) - 1 - n; i >= 0; i-- {
		readd[canon[i].Key()] = true
		p.Steps = append(p.Steps, Step{Op: ipvs.Op{Kind: ipvs.AddDest, Service: svc, Dest: canon[i]}, Virtual: ws.Virtual})
	}
	return readd
}
