package engine

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// HistoryWindow is how far back the rates of each virtual server are kept.
const HistoryWindow = time.Hour

// Point is one sample of a virtual server's rates, as the kernel's rate
// estimator gives them (averaged over about two seconds).
type Point struct {
	At  time.Time
	CPS float64 // new connections per second
	BPS float64 // bytes per second, in and out
}

// history keeps the last HistoryWindow of samples per virtual server, in a
// ring each; the oldest are overwritten.
type history struct {
	mu     sync.Mutex
	size   int
	series map[string]*ring
}

type ring struct {
	pts  []Point
	next int
	full bool
}

func newHistory(every time.Duration) *history {
	return &history{size: max(int(HistoryWindow/every), 1), series: map[string]*ring{}}
}

func (h *history) add(at time.Time, byVirtual map[string]Point, keep map[string]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var total Point
	for _, p := range byVirtual {
		total.CPS += p.CPS
		total.BPS += p.BPS
	}
	byVirtual[""] = total // all of them: the name no virtual server has
	keep[""] = true
	for name := range h.series {
		if !keep[name] {
			delete(h.series, name) // a virtual server that is gone
		}
	}
	for name, p := range byVirtual {
		r := h.series[name]
		if r == nil {
			r = &ring{pts: make([]Point, h.size)}
			h.series[name] = r
		}
		p.At = at
		r.pts[r.next] = p
		r.next++
		if r.next == len(r.pts) {
			r.next, r.full = 0, true
		}
	}
}

func (h *history) get(name string) []Point {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.series[name]
	if r == nil {
		return nil
	}
	if !r.full {
		return slices.Clone(r.pts[:r.next])
	}
	return append(slices.Clone(r.pts[r.next:]), r.pts[:r.next]...)
}

// History returns the rates of virtual server name over the last
// HistoryWindow, oldest first (nil before the first sample); name "" is
// all virtual servers together.
func (e *Engine) History(name string) []Point { return e.hist.get(name) }

// Busiest names the n virtual servers with the most new connections a
// second at the last sample, busiest first.
func (e *Engine) Busiest(n int) []string { return e.hist.busiest(n) }

func (h *history) busiest(n int) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	type last struct {
		name string
		cps  float64
	}
	var all []last
	for name, r := range h.series {
		if name == "" || r.next == 0 && !r.full {
			continue
		}
		i := r.next - 1
		if i < 0 {
			i = len(r.pts) - 1
		}
		all = append(all, last{name, r.pts[i].CPS})
	}
	slices.SortFunc(all, func(a, b last) int {
		if a.cps != b.cps {
			return cmp.Compare(b.cps, a.cps)
		}
		return strings.Compare(a.name, b.name)
	})
	out := make([]string, 0, min(n, len(all)))
	for _, l := range all[:min(n, len(all))] {
		out = append(out, l.name)
	}
	return out
}

// sampleDuty bounds the time spent sampling: after a sample that took d,
// the next waits at least d*(sampleDuty-1) (at 10,000 x 10 a sample is
// 10,000 dumps, which the kernel serialises with every IPVS request).
const sampleDuty = 10

// sampleLoop samples every Options.Sample, or less often when samples
// take long (sampleDuty), until ctx ends.
func (e *Engine) sampleLoop(ctx context.Context) {
	t := time.NewTicker(e.o.Sample)
	defer t.Stop()
	var next time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if now.Before(next) {
				continue
			}
			start := time.Now()
			if err := e.Sample(ctx); err != nil && ctx.Err() == nil {
				e.o.Log.Warn("sampling IPVS", "err", err)
			}
			took := time.Since(start)
			next = time.Now().Add(took * (sampleDuty - 1))
		}
	}
}

// dropSampler closes the sampler's socket, unless it is the engine's own
// (a Dial that gives the same kernel twice); e.sampleMu is held.
func (e *Engine) dropSampler() {
	k := e.sampler
	e.sampler = nil
	c, ok := k.(io.Closer)
	if !ok {
		return
	}
	e.run.Lock()
	own := k == e.kernel
	e.run.Unlock()
	if !own {
		c.Close()
	}
}

// Sample reads the kernel's table with its counters and rates, for the
// dashboard and the metrics, and records each virtual server's rates. It
// does nothing without IPVS.
func (e *Engine) Sample(ctx context.Context) error {
	e.sampleMu.Lock()
	defer e.sampleMu.Unlock()
	e.run.Lock()
	available := e.kernel != nil
	e.run.Unlock()
	if !available {
		e.dropSampler()
		return nil
	}
	if e.sampler == nil {
		k, err := e.o.Dial()
		if err != nil {
			return fmt.Errorf("sampling the IPVS table: %w", err)
		}
		e.sampler = k
	}
	sctx, cancel := context.WithTimeout(ctx, reconcileTimeout)
	defer cancel()
	t, err := ReadTable(sctx, e.sampler, nil)
	if err != nil {
		e.dropSampler() // dial again next time
		return fmt.Errorf("sampling the IPVS table: %w", err)
	}
	now := time.Now()
	e.mu.Lock()
	names := map[string]string{}
	if d := e.status.Desired; d != nil {
		for _, s := range d.Services {
			names[ServiceText(s.ServiceKey)] = s.Virtual
		}
	}
	e.status.Kernel, e.status.Sampled = t, now
	e.mu.Unlock()

	byVirtual := map[string]Point{}
	keep := map[string]bool{}
	for _, name := range names {
		keep[name] = true
	}
	for _, s := range t.Services {
		name := names[ServiceText(s.ServiceKey)]
		if name == "" {
			continue
		}
		p := byVirtual[name]
		p.CPS += float64(s.Stats.CPS)
		p.BPS += float64(s.Stats.InBPS + s.Stats.OutBPS)
		byVirtual[name] = p
	}
	e.hist.add(now, byVirtual, keep)
	return nil
}

// carryStats copies the counters of the services and destinations of from
// into the same ones of to. A service to shares with an earlier table
// (see after) is copied before it is changed: whoever holds that table
// may be reading it.
func carryStats(to, from *Table) {
	if to == nil || from == nil {
		return
	}
	byKey := make(map[ipvs.ServiceKey]*Service, len(from.Services))
	for _, f := range from.Services {
		byKey[f.ServiceKey] = f
	}
	for i, s := range to.Services {
		f := byKey[s.ServiceKey]
		if f == nil || f == s {
			continue
		}
		var fd map[ipvs.DestKey]*ipvs.Destination
		if len(f.Dests) > 16 {
			fd = make(map[ipvs.DestKey]*ipvs.Destination, len(f.Dests))
			for j := range f.Dests {
				fd[f.Dests[j].Key()] = &f.Dests[j]
			}
		}
		find := func(k ipvs.DestKey) *ipvs.Destination {
			if fd != nil {
				return fd[k]
			}
			for j := range f.Dests {
				if f.Dests[j].Key() == k {
					return &f.Dests[j]
				}
			}
			return nil
		}
		if s.Stats == f.Stats && sameCounters(s.Dests, find) {
			continue
		}
		c := *s
		c.Dests = slices.Clone(s.Dests)
		c.Stats = f.Stats
		for j := range c.Dests {
			if d := find(c.Dests[j].Key()); d != nil {
				c.Dests[j].Stats = d.Stats
				c.Dests[j].ActiveConns, c.Dests[j].InactiveConns, c.Dests[j].PersistConns = d.ActiveConns, d.InactiveConns, d.PersistConns
			}
		}
		to.Services[i] = &c
	}
}

// sameCounters tells destinations whose counters are those find gives.
func sameCounters(ds []ipvs.Destination, find func(ipvs.DestKey) *ipvs.Destination) bool {
	for j := range ds {
		d := find(ds[j].Key())
		if d != nil && (d.Stats != ds[j].Stats || d.ActiveConns != ds[j].ActiveConns ||
			d.InactiveConns != ds[j].InactiveConns || d.PersistConns != ds[j].PersistConns) {
			return false
		}
	}
	return true
}
