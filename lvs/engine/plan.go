package engine

import (
	"fmt"

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
	for _, ws := range t.Services {
		wanted[ws.ServiceKey] = true
		wantedText[keyText(ws.ServiceKey)] = true
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
	for _, ws := range t.Services {
		key := ws.ServiceKey
		cur := haveByKey[key]
		var curDests []ipvs.Destination
		switch {
		case cur == nil:
			p.own = append(p.own, keyText(key))
			p.Steps = append(p.Steps, Step{Op: ipvs.Op{Kind: ipvs.AddService, Service: ws.Service}, Virtual: ws.Virtual})
		case !owned[keyText(key)]:
			p.Refused = append(p.Refused, fmt.Errorf("virtual server %s: %s %w", ws.Virtual, key, ErrNotOwned))
			continue
		default:
			curDests = cur.Dests
			if !sameService(&cur.Service, &ws.Service) {
				p.Steps = append(p.Steps, Step{Op: ipvs.Op{Kind: ipvs.EditService, Service: ws.Service}, Virtual: ws.Virtual})
			}
		}
		p.planDests(ws, curDests)
	}
	if merged := mergeTimeouts(have.Timeouts, t.Timeouts); merged != have.Timeouts {
		to := t.Timeouts
		p.Timeouts = &to
	}
	return p
}

// planDests lists the destination changes of one service: deletions first,
// so that a destination can be replaced in the same batch.
func (p *Plan) planDests(ws *Service, have []ipvs.Destination) {
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
	for _, d := range ws.Dests {
		hd := cur[d.Key()]
		switch {
		case hd == nil:
			p.Steps = append(p.Steps, Step{Op: ipvs.Op{Kind: ipvs.AddDest, Service: svc, Dest: d}, Virtual: ws.Virtual})
		case !sameDest(hd, &d):
			p.Steps = append(p.Steps, Step{Op: ipvs.Op{Kind: ipvs.EditDest, Service: svc, Dest: d}, Virtual: ws.Virtual})
		}
	}
}
