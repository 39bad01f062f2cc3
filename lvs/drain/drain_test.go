package drain

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs/ipvstest"
	"github.com/lvsconsole/lvsconsole/store"
)

// storeWriter is the Store serve gives the Drainer.
type storeWriter struct{ st *store.Store }

func (w storeWriter) Update(ctx context.Context, author, note string, fn func(*config.Config) error) error {
	_, err := w.st.Update(ctx, store.Change{Role: store.ScopeAdmin, Author: author, Note: note}, fn)
	return err
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// running is a store, the engine on the fake kernel sampling every
// 20 ms, and a Drainer looking every 10 ms, over www (192.0.2.10:80)
// with web1 (10.0.0.1, weight 5) and web2.
type running struct {
	st   *store.Store
	k    *ipvstest.Kernel
	e    *engine.Engine
	svc  ipvs.ServiceKey
	web1 ipvs.DestKey
}

func start(t *testing.T, drainTimeout time.Duration, active func() bool) *running {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "drain.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := config.Default()
	vs := config.NewVirtual("www")
	vs.Active, vs.Address, vs.Port, vs.DrainTimeout = true, netip.MustParseAddr("192.0.2.10"), 80, drainTimeout
	vs.Reals = []config.RealServer{
		{Name: "web1", Active: true, Address: netip.MustParseAddr("10.0.0.1"), Weight: 5},
		{Name: "web2", Active: true, Address: netip.MustParseAddr("10.0.0.2"), Weight: 5},
	}
	cfg.Virtuals = []config.VirtualServer{vs}
	if _, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, cfg); err != nil {
		t.Fatal(err)
	}
	k := ipvstest.New()
	c, err := ipvs.NewNetlink(k.NetlinkConn())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	e := engine.New(engine.Options{Source: st, Ledger: st, Dial: func() (engine.Kernel, error) { return c, nil },
		Log: quiet(), Sample: 20 * time.Millisecond})
	d := New(Options{Source: st, Kernel: e, Store: storeWriter{st}, Active: active, Every: 10 * time.Millisecond, Log: quiet()})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { e.Run(runCtx); done <- struct{}{} }()
	go func() { d.Run(runCtx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	r := &running{st: st, k: k, e: e}
	r.svc, r.web1 = engine.Where(&cfg.Virtuals[0], &cfg.Virtuals[0].Reals[0])
	r.waitKernel(t, "web1 in at weight 5", func(w int32, in bool) bool { return in && w == 5 })
	return r
}

// weight returns web1's weight in the fake kernel.
func (r *running) weight() (int32, bool) {
	for _, d := range r.k.Destinations(r.svc) {
		if d.Key() == r.web1 {
			return d.Weight, true
		}
	}
	return 0, false
}

// poll waits, with a deadline, for cond.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling a state, with a deadline
	}
}

func (r *running) waitKernel(t *testing.T, what string, cond func(w int32, in bool) bool) {
	t.Helper()
	poll(t, what, func() bool { return cond(r.weight()) })
}

func (r *running) web1Now(t *testing.T) config.RealServer {
	t.Helper()
	c, err := r.st.Config(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return *c.Virtual("www").Real("web1")
}

func (r *running) drain(t *testing.T) {
	t.Helper()
	if _, err := r.st.Update(t.Context(), store.Change{Role: store.ScopeAdmin, Author: "op"}, func(c *config.Config) error {
		c.Virtual("www").Real("web1").StartDrain()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// waitSamples waits until the engine has sampled the kernel n times from
// now: what the Drainer decides on.
func (r *running) waitSamples(t *testing.T, n int) {
	t.Helper()
	for range n {
		was := r.e.Status().Sampled
		poll(t, "a sample of the kernel", func() bool { return r.e.Status().Sampled.After(was) })
	}
}

// TestDrainerEndsADrain: against the fake kernel's counters, a draining
// real server with a connection stays active at weight 0 sample after
// sample, and is deactivated by Author when its connections end.
func TestDrainerEndsADrain(t *testing.T) {
	r := start(t, 0, nil)
	if err := r.k.SetConns(r.svc, r.web1, 1, 2, 0); err != nil {
		t.Fatal(err)
	}
	r.drain(t)
	r.waitKernel(t, "web1 at weight 0", func(w int32, in bool) bool { return in && w == 0 })
	r.waitSamples(t, 3)
	if rs := r.web1Now(t); !rs.Active || !rs.Draining || rs.Weight != 5 {
		t.Fatalf("with connections left web1 is %+v: want active, draining, weight 5", rs)
	}
	if err := r.k.SetConns(r.svc, r.web1, 0, 1, 0); err != nil { // active ones gone, inactive left
		t.Fatal(err)
	}
	r.waitSamples(t, 3)
	if rs := r.web1Now(t); !rs.Active || !rs.Draining {
		t.Fatalf("with an inactive connection left web1 is %+v: want active, draining", rs)
	}
	if err := r.k.SetConns(r.svc, r.web1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	poll(t, "web1 deactivated", func() bool { return !r.web1Now(t).Active })
	if rs := r.web1Now(t); rs.Draining || rs.Weight != 5 {
		t.Errorf("deactivated, web1 is %+v: want no drain, weight 5", rs)
	}
	r.waitKernel(t, "web1 out of the table", func(_ int32, in bool) bool { return !in })
	revs, err := r.st.Revisions(t.Context(), 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if revs[0].Author != Author || revs[0].Summary == "" {
		t.Errorf("the last revision is %+v, want one by %q", revs[0], Author)
	}
	t.Logf("revision: %s: %s", revs[0].Author, revs[0].Summary)
}

// TestDrainerLongestDrain: with a longest drain, the server is
// deactivated then, connections left or not.
func TestDrainerLongestDrain(t *testing.T) {
	r := start(t, 300*time.Millisecond, nil)
	if err := r.k.SetConns(r.svc, r.web1, 4, 0, 0); err != nil {
		t.Fatal(err)
	}
	r.drain(t)
	since := r.web1Now(t).DrainSince
	poll(t, "web1 deactivated", func() bool { return !r.web1Now(t).Active })
	if waited := time.Since(since); waited < 300*time.Millisecond {
		t.Errorf("deactivated after %v, before its longest drain", waited)
	}
}

// TestDrainerOnlyWhenActive: a standby director's Drainer ends nothing;
// once it is the active one, it does.
func TestDrainerOnlyWhenActive(t *testing.T) {
	isActive := make(chan bool, 1)
	isActive <- false
	active := func() bool { v := <-isActive; isActive <- v; return v }
	r := start(t, 0, active)
	r.drain(t)
	r.waitKernel(t, "web1 at weight 0", func(w int32, in bool) bool { return in && w == 0 })
	r.waitSamples(t, 3)
	if rs := r.web1Now(t); !rs.Active || !rs.Draining {
		t.Fatalf("on the standby web1 is %+v: want still draining", rs)
	}
	<-isActive
	isActive <- true
	poll(t, "web1 deactivated", func() bool { return !r.web1Now(t).Active })
}
