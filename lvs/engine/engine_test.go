//go:build !guest

// The store needs cgo, which the guest's static test binaries lack.

package engine

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/store"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "engine.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// The engine reads the store's own configuration: it must not change it.
	st.GuardShared()
	t.Cleanup(func() {
		if err := st.SharedChanged(); err != nil {
			t.Error(err)
		}
	})
	return st
}

// waitApplied waits until the engine has applied serial (or later).
func waitApplied(t *testing.T, e *Engine, serial int64) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-e.Applied():
			if got >= serial {
				return
			}
		case <-timeout:
			t.Fatalf("the engine did not apply serial %d; status %+v", serial, e.Status())
		}
	}
}

// TestEngineFollowsTheStore runs the engine as serve does, over the real
// store: each accepted change reaches the (fake) kernel.
func TestEngineFollowsTheStore(t *testing.T) {
	st := openStore(t)
	k, c := fakeKernel(t)
	e := New(Options{Source: st, Ledger: st, Dial: func() (Kernel, error) { return c, nil }, Log: quiet()})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.Run(runCtx) }()
	defer func() { cancel(); <-done }()

	saved, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, sample())
	if err != nil {
		t.Fatal(err)
	}
	waitApplied(t, e, saved.Serial)
	kernelMatches(t, k, Desired(saved, Configured{}))
	s := e.Status()
	if !s.Running || !s.Available || s.Serial != saved.Serial || len(s.Errors) != 0 || s.Kernel == nil || len(s.Kernel.Services) != 4 {
		t.Errorf("status = %+v", s)
	}

	saved, err = st.Update(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, func(c *config.Config) error {
		c.Virtual("www").Real("web1").Weight = 9
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitApplied(t, e, saved.Serial)
	kernelMatches(t, k, Desired(saved, Configured{}))
	owned, _ := st.OwnedServices(ctx)
	if len(owned) != 4 {
		t.Errorf("the store records %d owned services, want 4", len(owned))
	}
}

// TestEngineWithoutIPVS: the console keeps working, says why, and knows the
// table it would program.
func TestEngineWithoutIPVS(t *testing.T) {
	st := openStore(t)
	if _, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, sample()); err != nil {
		t.Fatal(err)
	}
	dials := 0
	e := New(Options{Source: st, Ledger: st, Log: quiet(), Dial: func() (Kernel, error) {
		dials++
		return nil, &ipvs.Error{Op: "dial", Err: ipvs.ErrNoIPVS}
	}})
	e.Reconcile(ctx)
	s := e.Status()
	if s.Available || !strings.Contains(s.Reason, "not available") || s.Desired == nil || len(s.Desired.Services) != 4 {
		t.Errorf("status without IPVS = %+v", s)
	}
	e.Reconcile(ctx)
	if dials != 2 {
		t.Errorf("dialled %d times: the engine must retry, the module may be loaded later", dials)
	}
}

// BenchmarkReconcileWeightChange is one weight changed in 1,000 x 10, as the
// engine does it after an edit: diff against the table it knows, send what
// differs. Against the fake kernel; the real kernel's figures come from the
// guest (make bench).
func BenchmarkReconcileWeightChange(b *testing.B) {
	_, c := fakeKernel(b)
	l := newLedger()
	cfg := large()
	res, err := Reconcile(ctx, c, l, Desired(cfg, Configured{}), nil)
	if err != nil || len(res.Errors) > 0 {
		b.Fatal(err, res.Errors)
	}
	known := res.After
	var requests uint64
	for i := 0; b.Loop(); i++ {
		cfg.Virtuals[500].Reals[5].Weight = int64(2 + i%100)
		before := c.Requests()
		res, err := Reconcile(ctx, c, l, Desired(cfg, Configured{}), known)
		if err != nil || len(res.Errors) > 0 || len(res.Changes) != 1 {
			b.Fatal(err, res.Errors, res.Changes)
		}
		known, requests = res.After, c.Requests()-before
	}
	b.ReportMetric(float64(requests), "requests/op")
}

// BenchmarkReconcileResync is the periodic repair of that table: read it all
// back and find nothing to do.
func BenchmarkReconcileResync(b *testing.B) {
	_, c := fakeKernel(b)
	l := newLedger()
	want := Desired(large(), Configured{})
	if _, err := Reconcile(ctx, c, l, want, nil); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := Reconcile(ctx, c, l, want, nil)
		if err != nil || len(res.Changes) != 0 {
			b.Fatal(err, res.Changes)
		}
	}
}

// TestAnEditCostsOnlyItsRequests: with the table known from the last
// reconcile, changing one weight sends one netlink request, nothing else.
func TestAnEditCostsOnlyItsRequests(t *testing.T) {
	_, c := fakeKernel(t)
	l := newLedger()
	cfg := sample()
	res, err := Reconcile(ctx, c, l, Desired(cfg, Configured{}), nil)
	if err != nil || res.After == nil {
		t.Fatal(err, res.Errors)
	}
	cfg.Virtual("www").Real("web1").Weight = 4
	before := c.Requests()
	res, err = Reconcile(ctx, c, l, Desired(cfg, Configured{}), res.After)
	if err != nil || len(res.Changes) != 1 {
		t.Fatal(err, res.Changes)
	}
	if n := c.Requests() - before; n != 1 {
		t.Errorf("a weight change sent %d netlink requests, want 1", n)
	}
	// And the known table is what a fresh read finds.
	fresh, err := ReadTable(ctx, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(fresh.Services) != len(res.After.Services) {
		t.Fatalf("known table has %d services, kernel %d", len(res.After.Services), len(fresh.Services))
	}
	for _, s := range res.After.Services {
		fs := fresh.Lookup(s.ServiceKey)
		if fs == nil || !sameService(&fs.Service, &s.Service) || len(fs.Dests) != len(s.Dests) {
			t.Errorf("known %s differs from the kernel's", s.ServiceKey)
			continue
		}
		for i := range s.Dests {
			if fs.Dests[i].Key() != s.Dests[i].Key() || !sameDest(&fs.Dests[i], &s.Dests[i]) {
				t.Errorf("known %s -> %s differs from the kernel's", s.ServiceKey, s.Dests[i].Key())
			}
		}
	}
}
