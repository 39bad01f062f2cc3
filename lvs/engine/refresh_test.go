//go:build !guest

package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/store"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs/ipvstest"
)

// destDumps counts the destination dumps the fake was asked for since its
// last Reset.
func destDumps(k *ipvstest.Kernel) (n int) {
	const cmdGetDest = 8 // IPVS_CMD_GET_DEST
	for _, r := range k.Requests() {
		if r.Cmd == cmdGetDest && r.Dump {
			n++
		}
	}
	return n
}

// TestRefreshOwned: a re-read checked against the table the engine
// believes (RefreshOwned) reads what a full read does, dumping only the
// services whose destinations /proc/net/ip_vs lists differently, and
// those the file cannot tell apart.
func TestRefreshOwned(t *testing.T) {
	k, c := fakeKernel(t)
	l := newLedger()
	res, err := Reconcile(ctx, c, l, Desired(sample(), Configured{}), nil)
	if err != nil || len(res.Errors) > 0 {
		t.Fatal(err, res.Errors)
	}
	known := res.After
	owned, _ := l.OwnedServices(ctx)
	web := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: a("192.0.2.10"), Port: 80}

	check := func(name string, wantDumps int) *Table {
		t.Helper()
		k.Reset()
		got, err := RefreshOwned(ctx, c, owned, known)
		if err != nil {
			t.Fatal(err)
		}
		if n := destDumps(k); n != wantDumps {
			t.Errorf("%s: %d destination dumps, want %d", name, n, wantDumps)
		}
		full, err := ReadOwned(ctx, c, owned)
		if err != nil {
			t.Fatal(err)
		}
		if !sameTables(got, full) {
			t.Errorf("%s: refreshed\n%s\nread in full\n%s", name, dumpTable(got), dumpTable(full))
		}
		return got
	}
	check("unchanged", 0)

	// A weight changed by hand: that service is dumped, and the plan
	// sees the change.
	ds := k.Destinations(web)
	hand := ds[0]
	hand.Weight += 7
	if err := c.UpdateDestination(ctx, web, hand); err != nil {
		t.Fatal(err)
	}
	got := check("a weight changed by hand", 1)
	if p := Desired(sample(), Configured{}).Plan(got, owned); len(p.Steps) != 1 {
		t.Errorf("the plan after a weight changed by hand: %v, want one step", p.Steps)
	}

	// A destination added by hand.
	if err := c.NewDestination(ctx, web, ipvs.Destination{Addr: a("10.0.0.77"), Port: 80, Weight: 1}); err != nil {
		t.Fatal(err)
	}
	check("a destination added by hand", 1)

	// An IPv6 service of the firewall mark an IPv4 one has: the file
	// does not say which is which, both are dumped.
	known = check("again", 1) // as the engine would know it now, but for the destination added
	mark6 := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv6, FWMark: 7}, Scheduler: "rr", Netmask: 128}
	if err := c.NewService(ctx, mark6); err != nil {
		t.Fatal(err)
	}
	owned[keyText(mark6.ServiceKey)] = true
	check("two services of one firewall mark", 2)
	if err := c.DeleteService(ctx, mark6.ServiceKey); err != nil {
		t.Fatal(err)
	}
	delete(owned, keyText(mark6.ServiceKey))

	// What the file does not list is not seen: a threshold changed by
	// hand waits for the full read every fullResyncs-th resync.
	hand = k.Destinations(web)[1]
	hand.UpperThreshold++
	if err := c.UpdateDestination(ctx, web, hand); err != nil {
		t.Fatal(err)
	}
	k.Reset()
	got, err = RefreshOwned(ctx, c, owned, known)
	if err != nil || destDumps(k) != 0 {
		t.Fatalf("a threshold changed by hand: %d dumps, %v", destDumps(k), err)
	}
	seen := false
	if s := got.Lookup(web); s != nil {
		for _, d := range s.Dests {
			seen = seen || d.Key() == hand.Key() && d.UpperThreshold == hand.UpperThreshold
		}
	}
	if seen {
		t.Error("a refresh saw a threshold, which /proc/net/ip_vs does not list")
	}
	if full, err := ReadOwned(ctx, c, owned); err != nil || full.Lookup(web) == nil {
		t.Fatal(err)
	} else {
		for _, d := range full.Lookup(web).Dests {
			if d.Key() == hand.Key() && d.UpperThreshold != hand.UpperThreshold {
				t.Errorf("a full read did not see the threshold changed by hand: %d, want %d", d.UpperThreshold, hand.UpperThreshold)
			}
		}
	}

	// Without the file: a full read.
	c.SetProc(nil)
	check("without /proc/net/ip_vs", len(owned))
}

// stalledReader is a sampler's socket that stalls its first read until
// released, saying when it has stalled.
type stalledReader struct {
	Kernel
	stalled, release chan struct{}
	once             sync.Once
}

func (s *stalledReader) Services(ctx context.Context) ([]ipvs.Service, error) {
	s.once.Do(func() {
		close(s.stalled)
		<-s.release
	})
	return s.Kernel.Services(ctx)
}

// TestSampleBesideReconcile: a sample of the kernel (10,000 dumps at
// 10,000 x 10) is read on a socket of its own, and an edit is reconciled
// while it runs; before, the sample held the engine for all its dumps.
func TestSampleBesideReconcile(t *testing.T) {
	st := openStore(t)
	if _, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, sample()); err != nil {
		t.Fatal(err)
	}
	k, c := fakeKernel(t)
	sampler := &stalledReader{Kernel: c, stalled: make(chan struct{}), release: make(chan struct{})}
	dials := 0
	e := New(Options{Source: st, Ledger: st, Log: quiet(), Dial: func() (Kernel, error) {
		dials++
		if dials == 1 {
			return c, nil
		}
		return sampler, nil
	}})
	e.Reconcile(ctx)
	if s := e.Status(); !s.Available {
		t.Fatalf("engine: %+v", s)
	}
	sampled := make(chan error, 1)
	go func() { sampled <- e.Sample(ctx) }()
	select {
	case <-sampler.stalled:
	case err := <-sampled:
		t.Fatalf("the sample did not read on a socket of its own (%v)", err)
	}

	if _, err := st.Update(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, func(cfg *config.Config) error {
		cfg.Virtuals[0].Reals[0].Weight = 42
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	reconciled := make(chan struct{})
	go func() { e.Reconcile(ctx); close(reconciled) }()
	select {
	case <-reconciled:
	case <-time.After(20 * time.Second):
		t.Fatal("the edit waited for the sample")
	}
	key := Desired(sample(), Configured{}).Services[0].ServiceKey
	found := false
	for _, d := range k.Destinations(key) {
		found = found || d.Weight == 42
	}
	if !found {
		t.Errorf("the edit did not reach the kernel: %v", k.Destinations(key))
	}
	close(sampler.release)
	if err := <-sampled; err != nil {
		t.Fatal(err)
	}
	if s := e.Status(); s.Kernel == nil || s.Sampled.IsZero() {
		t.Error("the sample recorded nothing")
	}
}
