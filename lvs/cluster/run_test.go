package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/bgp"
	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/netif"
	"github.com/lvsconsole/lvsconsole/store"
)

// These tests run a Cluster over a real store, with fakes of the engine,
// the host's addresses and the BGP speaker (the real speaker with a real
// router: bird_linux_test.go).

// journal is what the fakes did, in order.
type journal struct {
	mu sync.Mutex
	e  []string
}

func (j *journal) add(format string, a ...any) {
	j.mu.Lock()
	j.e = append(j.e, fmt.Sprintf(format, a...))
	j.mu.Unlock()
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.e)
}

func (j *journal) has(entry string) bool { return slices.Contains(j.all(), entry) }

func (j *journal) String() string { return strings.Join(j.all(), "\n") }

type fakeAddrs struct{ j *journal }

func (f fakeAddrs) Add(_ context.Context, a netif.Addr) error { f.j.add("add %s", a); return nil }
func (f fakeAddrs) Del(_ context.Context, a netif.Addr) error { f.j.add("del %s", a); return nil }
func (f fakeAddrs) Close() error                              { return nil }

type fakeSpeaker struct {
	j       *journal
	cfg     bgp.Config
	changes chan struct{}
	stop    chan struct{}

	mu        sync.Mutex
	announced []netip.Prefix
}

func (s *fakeSpeaker) Run(ctx context.Context) error {
	s.j.add("run %s", s.cfg.RouterID)
	select {
	case <-ctx.Done():
	case <-s.stop:
	}
	s.j.add("ended %s", s.cfg.RouterID)
	return nil
}

func (s *fakeSpeaker) Announce(ps []netip.Prefix) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Equal(ps, s.announced) {
		s.j.add("announce %v", ps)
	}
	s.announced = slices.Clone(ps)
	return nil
}

func (s *fakeSpeaker) Shutdown(_ context.Context, drain time.Duration) error {
	s.j.add("shutdown %v", drain)
	close(s.stop)
	return nil
}

func (s *fakeSpeaker) Status() bgp.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bgp.Status{Running: true, Announced: slices.Clone(s.announced)}
}

func (s *fakeSpeaker) Changes() <-chan struct{} { return s.changes }

// fakeEngine is the engine's state, set by the test.
type fakeEngine struct {
	reads atomic.Int64
	mu    sync.Mutex
	st    engine.Status
}

func (e *fakeEngine) Status() engine.Status {
	e.reads.Add(1)
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st
}

func (e *fakeEngine) set(st engine.Status) {
	e.mu.Lock()
	e.st = st
	e.mu.Unlock()
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "lvs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func update(t *testing.T, st *store.Store, fn func(*config.Config) error) *config.Config {
	t.Helper()
	c, err := st.Update(context.Background(), store.Change{Role: store.ScopeAdmin, Author: "test"}, fn)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRun(t *testing.T) {
	st := openStore(t)
	cfg := update(t, st, func(c *config.Config) error {
		c.Global.Primary = netip.MustParseAddr("10.9.0.1")
		r := &c.Redundancy
		r.Cluster = true
		r.ClusterDirectors = "10.9.0.1 10.9.0.2 10.9.0.3"
		r.BGPAS = 65010
		r.BGPPeers = "10.9.0.254 65000"
		r.BGPHoldTime = 9 * time.Second
		r.BGPDrain = 7 * time.Second
		r.BGPCommunities = "65010:1 65535:65281"
		vs := vsOf("web", "10.0.0.1", 80, true, "192.0.2.1")
		c.Virtuals = []config.VirtualServer{vs}
		return nil
	})
	j := &journal{}
	eng := &fakeEngine{}
	var speakers []*fakeSpeaker
	var spMu sync.Mutex
	sysctls := map[string]string{}
	c := New(Options{
		Source:    st,
		Engine:    eng,
		Addresses: func() (Addresses, error) { return fakeAddrs{j}, nil },
		Sysctl: func(name, value string) error {
			spMu.Lock()
			sysctls[name] = value
			spMu.Unlock()
			return nil
		},
		HostAddrs: func() ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("10.9.0.2")}, nil
		},
		NewSpeaker: func(bc bgp.Config, _ *slog.Logger) (Speaker, error) {
			s := &fakeSpeaker{j: j, cfg: bc, changes: make(chan struct{}, 1), stop: make(chan struct{})}
			spMu.Lock()
			speakers = append(speakers, s)
			spMu.Unlock()
			return s, nil
		},
		Poll: 10 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			<-done
		}
	}()

	waitFor(t, "the VIP on lo", func() bool { return j.has("add 10.0.0.1/32 on lo") })
	waitFor(t, "the speaker", func() bool { return j.has("run 10.9.0.2") })
	st1 := c.Status()
	if !st1.Enabled || st1.Self != netip.MustParseAddr("10.9.0.2") || st1.RouterID != netip.MustParseAddr("10.9.0.2") || st1.Healthy {
		t.Errorf("status %+v", st1)
	}
	spMu.Lock()
	bc := speakers[0].cfg
	if bc.AS != 65010 || len(bc.Peers) != 1 || bc.Peers[0].AS != 65000 || bc.Peers[0].HoldTime != 9*time.Second ||
		!slices.Equal(bc.Communities, []bgp.Community{65010<<16 | 1, 0xFFFFFF01}) {
		t.Errorf("speaker config %+v", bc)
	}
	if sysctls["net/ipv4/vs/sloppy_tcp"] != "1" || sysctls["net/ipv4/vs/sloppy_sctp"] != "1" {
		t.Errorf("sysctls %v", sysctls)
	}
	spMu.Unlock()
	if j.has("announce [10.0.0.1/32]") {
		t.Fatal("announced before the engine reconciled")
	}

	up := func(weight int32) engine.Status {
		return engine.Status{Available: true, Serial: cfg.Serial, Desired: &engine.Table{Services: []*engine.Service{
			{Virtual: "web", Dests: []ipvs.Destination{{Addr: netip.MustParseAddr("192.0.2.1"), Weight: weight}}}}}}
	}
	eng.set(up(1))
	waitFor(t, "the announcement", func() bool { return j.has("announce [10.0.0.1/32]") })
	eng.set(up(0))
	waitFor(t, "the withdrawal", func() bool { return j.has("announce []") })
	waitFor(t, "withheld in the status", func() bool {
		s := c.Status()
		return len(s.Withheld) == 1 && s.Withheld[0].Why == WhyNoRealServer && s.Healthy
	})
	eng.set(up(1))
	waitFor(t, "announced again", func() bool { return len(c.Status().Announced) == 1 })

	// A new VIP: no new speaker, the addresses follow.
	cfg = update(t, st, func(c *config.Config) error {
		dns := vsOf("dns", "2001:db8::53", 53, true, "2001:db8::1")
		dns.SorryServer = netip.Addr{}
		c.Virtuals = append(c.Virtuals, dns)
		return nil
	})
	waitFor(t, "the new VIP", func() bool { return j.has("add 2001:db8::53/128 on lo") })
	// The engine has not applied the new serial yet: the route stays, by
	// the table it applies (a change synced to every director must not
	// withdraw every route at once).
	waitFor(t, "the new serial", func() bool { return c.Status().Serial == cfg.Serial })
	reads := eng.reads.Load()
	waitFor(t, "five more updates", func() bool { return eng.reads.Load() >= reads+5 })
	if s := c.Status(); len(s.Announced) != 1 || j.has("announce [10.0.0.1/32 2001:db8::53/128]") || strings.Count(j.String(), "announce []") != 1 {
		t.Fatalf("the route withdrawn while the engine catches up: %+v\n%s", s, j)
	}
	// The BGP settings change: the speaker restarts.
	update(t, st, func(c *config.Config) error {
		c.Virtuals = c.Virtuals[:1]
		c.Redundancy.BGPHoldTime = 3 * time.Second
		return nil
	})
	waitFor(t, "the VIP gone", func() bool { return j.has("del 2001:db8::53/128 on lo") })
	waitFor(t, "a second speaker", func() bool {
		spMu.Lock()
		defer spMu.Unlock()
		return len(speakers) == 2
	})
	if !j.has("ended 10.9.0.2") {
		t.Error("the first speaker still runs")
	}

	// The clean stop: the drain, then the addresses.
	cancel()
	stopped = true
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	all := j.all()
	iShut, iDel := slices.Index(all, "shutdown 7s"), slices.Index(all, "del 10.0.0.1/32 on lo")
	if iShut < 0 || iDel < 0 || iDel < iShut {
		t.Errorf("the clean stop: shutdown at %d, the VIP removed at %d:\n%s", iShut, iDel, j)
	}
	spMu.Lock()
	if n := len(speakers); n != 2 {
		t.Errorf("%d speakers, want 2", n)
	}
	spMu.Unlock()
	if s := c.Status(); s.Draining || len(s.Announced) != 0 {
		t.Errorf("after the stop: %+v", s)
	}
}

func TestRouterID(t *testing.T) {
	if got := routerID(netip.MustParseAddr("10.1.2.3")); got != netip.MustParseAddr("10.1.2.3") {
		t.Errorf("IPv4: %v", got)
	}
	a, b := routerID(netip.MustParseAddr("2001:db8::1")), routerID(netip.MustParseAddr("2001:db8::2"))
	if !a.Is4() || a == b || a != routerID(netip.MustParseAddr("2001:db8::1")) {
		t.Errorf("IPv6: %v, %v", a, b)
	}
}

// TestRunIdle: a configuration that is not in cluster mode, or a host
// that is none of the listed directors, gets no speaker, no addresses,
// no kernel settings.
func TestRunIdle(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cluster bool
		host    string
	}{{"pair mode", false, "10.9.0.1"}, {"not a listed director", true, "10.9.9.9"}} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			update(t, st, func(c *config.Config) error {
				r := &c.Redundancy
				r.Cluster = tc.cluster
				r.ClusterDirectors = "10.9.0.1 10.9.0.2"
				r.BGPAS = 65010
				r.BGPPeers = "10.9.0.254 65000"
				c.Virtuals = []config.VirtualServer{vsOf("web", "10.0.0.1", 80, true, "192.0.2.1")}
				return nil
			})
			var touched atomic.Int32
			eng := &fakeEngine{}
			c := New(Options{
				Source:     st,
				Engine:     eng,
				Addresses:  func() (Addresses, error) { touched.Add(1); return fakeAddrs{&journal{}}, nil },
				Sysctl:     func(string, string) error { touched.Add(1); return nil },
				HostAddrs:  func() ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr(tc.host)}, nil },
				NewSpeaker: func(bgp.Config, *slog.Logger) (Speaker, error) { touched.Add(1); return nil, fmt.Errorf("no") },
				Poll:       10 * time.Millisecond,
			})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			waitFor(t, "a few updates", func() bool { return eng.reads.Load() >= 5 })
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if n := touched.Load(); n != 0 {
				t.Errorf("%d calls to the addresses, sysctls or speaker", n)
			}
			s := c.Status()
			if s.Enabled != tc.cluster || s.Self.IsValid() || len(s.Announced) != 0 {
				t.Errorf("status %+v", s)
			}
			if tc.cluster && !slices.ContainsFunc(s.Warnings, func(w string) bool { return strings.Contains(w, "none of cluster_directors") }) {
				t.Errorf("no warning: %q", s.Warnings)
			}
		})
	}
}
