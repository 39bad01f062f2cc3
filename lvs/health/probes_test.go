package health

import (
	"context"
	"net/netip"
	"sync/atomic"

	"github.com/lvsconsole/lvsconsole/lvs/check"
)

// checkProbe runs p, a real lvs/check probe, against addr.
func checkProbe(p *check.Probe, addr string, ok, failed *atomic.Int64) Probe {
	ap := netip.MustParseAddrPort(addr)
	t := check.Target{Addr: ap.Addr(), Port: ap.Port()}
	return func(ctx context.Context) Result { return count(p.Run(ctx, t), ok, failed) }
}

// checkerOf is how lvs/engine checks with p: a Start for the probes that
// wait on an event, else a Probe.
func checkerOf(p *check.Probe, addr string, ok, failed *atomic.Int64) Checker {
	if !p.Async() {
		return Checker{Probe: checkProbe(p, addr, ok, failed)}
	}
	ap := netip.MustParseAddrPort(addr)
	t := check.Target{Addr: ap.Addr(), Port: ap.Port()}
	return Checker{Start: func(ctx context.Context, done func(Result)) {
		p.Start(ctx, t, func(r check.Result) { done(count(r, ok, failed)) })
	}}
}

func count(r check.Result, ok, failed *atomic.Int64) Result {
	if !r.OK {
		failed.Add(1)
		return Result{Reason: r.Reason}
	}
	ok.Add(1)
	return Result{OK: true, Reason: r.Reason}
}
