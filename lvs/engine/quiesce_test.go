//go:build !guest

package engine

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/store"
)

// TestQuiescedServersBringTheSorryServer: with quiesce_server, real servers
// that fail stay in the table at weight 0, and when none is left healthy
// the sorry server comes in beside them, as piranha's lvsd did (lvsd.c
// checkClientMonitor counts the real servers nanny reports active, quiesced
// or not, and brings the sorry server up when there are none); it leaves
// when one comes back.
func TestQuiescedServersBringTheSorryServer(t *testing.T) {
	ln1, ln2 := listen(t, "127.0.0.1:0"), listen(t, "127.0.0.1:0")
	a1, a2 := netip.MustParseAddrPort(ln1.Addr().String()), netip.MustParseAddrPort(ln2.Addr().String())
	st := openStore(t)
	cfg := config.Default()
	vs := config.NewVirtual("web")
	vs.Active, vs.Address, vs.Port, vs.Quiesce = true, a("192.0.2.10"), 80, true
	vs.CheckKind, vs.CheckTimeout, vs.Reentry = "tcp", 50*time.Millisecond, 50*time.Millisecond
	vs.SorryServer = a("10.0.0.99")
	vs.Reals = []config.RealServer{
		{Name: "r1", Active: true, Address: a1.Addr(), Port: int(a1.Port()), Weight: 1},
		{Name: "r2", Active: true, Address: a2.Addr(), Port: int(a2.Port()), Weight: 1},
	}
	cfg.Virtuals = []config.VirtualServer{vs}
	if _, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, cfg); err != nil {
		t.Fatal(err)
	}
	k, c := fakeKernel(t)
	checks := NewChecks()
	e := New(Options{Source: st, Ledger: st, Dial: func() (Kernel, error) { return c, nil },
		Health: checks, Wake: checks.Changes(), Log: quiet()})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { checks.Run(runCtx); done <- struct{}{} }()
	go func() { e.Run(runCtx); done <- struct{}{} }()
	defer func() { cancel(); <-done; <-done }()

	key := Desired(cfg, Configured{}).Services[0].ServiceKey
	sorry := netip.AddrPortFrom(a("10.0.0.99"), 80)
	waitFor(t, e, "both servers to enter", func() bool {
		d := destsOf(k, key)
		return d[a1] == 1 && d[a2] == 1 && len(d) == 2
	})
	ln1.Close()
	ln2.Close()
	waitFor(t, e, "both quiesced, and the sorry server in", func() bool {
		d := destsOf(k, key)
		w1, in1 := d[a1]
		w2, in2 := d[a2]
		return in1 && in2 && w1 == 0 && w2 == 0 && d[sorry] == 1
	})
	back := listen(t, a1.String())
	defer back.Close()
	waitFor(t, e, "the sorry server to leave once r1 is back", func() bool {
		d := destsOf(k, key)
		_, sorryIn := d[sorry]
		return d[a1] > 0 && !sorryIn
	})
}

// TestNeverUpServerIsDown: a real server that never passes a check is
// DOWN after check_failures failures, like one that was up, and stays out
// of the table even with quiesce_server (piranha quiesced only a server it
// had brought up: nanny.c run, "quiesce_srv && isSrvUp").
func TestNeverUpServerIsDown(t *testing.T) {
	closed := listen(t, "127.0.0.1:0")
	addr := netip.MustParseAddrPort(closed.Addr().String())
	closed.Close()
	cfg := config.Default()
	vs := config.NewVirtual("web")
	vs.Active, vs.Address, vs.Quiesce = true, a("192.0.2.10"), true
	vs.CheckKind, vs.CheckTimeout, vs.CheckFailures = "tcp", 50*time.Millisecond, 2
	vs.Reals = []config.RealServer{{Name: "typo", Active: true, Address: addr.Addr(), Port: int(addr.Port()), Weight: 1}}
	cfg.Virtuals = []config.VirtualServer{vs}
	cfg.Serial = 2
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	vsp, rsp := &cfg.Virtuals[0], &cfg.Virtuals[0].Reals[0]

	checks := NewChecks()
	checks.Configure(cfg)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { checks.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.After(10 * time.Second)
	for {
		if h, ok := checks.Of(vsp, rsp); ok && h.State == "down" {
			break
		}
		select {
		case <-checks.Changes():
		case <-deadline:
			h, _ := checks.Of(vsp, rsp)
			t.Fatalf("the server on a closed port is %+v, want down", h)
		}
	}
	if w, p := checks.Weight(vsp, rsp); p != Out {
		t.Errorf("Weight = %d, %v: a server never up is in the table", w, p)
	}
	if d := Desired(cfg, checks).Services[0].Dests; len(d) != 0 {
		t.Errorf("the table holds %+v", d)
	}
}

// fakeHealth answers Weight from a table by real server name.
type fakeHealth map[string]struct {
	w int32
	p Presence
}

func (f fakeHealth) Weight(_ *config.VirtualServer, rs *config.RealServer) (int32, Presence) {
	h := f[rs.Name]
	return h.w, h.p
}

// The sorry server enters when no real server is healthy, whatever the
// quiesce setting: the quorum 1 of quorum.go. A healthy one counts with its
// configured weight, whatever health gives it now (a slow start); one the
// admin set to weight 0 weighs nothing, as in keepalived, and the sorry
// server takes its place.
func TestDesiredSorryServer(t *testing.T) {
	type h = struct {
		w int32
		p Presence
	}
	for _, tc := range []struct {
		name   string
		health fakeHealth
		sorry  bool
		dests  int // real servers in the table
	}{
		{"all quiesced", fakeHealth{"r1": h{0, Quiesced}, "r2": h{0, Quiesced}}, true, 2},
		{"one up, one quiesced", fakeHealth{"r1": h{3, In}, "r2": h{0, Quiesced}}, false, 2},
		{"one up at weight 0", fakeHealth{"r1": h{0, In}, "r2": h{0, Out}}, false, 1},
		{"all out", fakeHealth{"r1": h{0, Out}, "r2": h{0, Out}}, true, 0},
		{"one not checked yet", fakeHealth{"r1": h{0, Pending}, "r2": h{0, Quiesced}}, false, 1},
		{"one up, configured at weight 0", fakeHealth{"r1": h{0, Out}, "r2": h{0, In}}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			vs := config.NewVirtual("web")
			vs.Active, vs.Address, vs.SorryServer = true, a("192.0.2.10"), a("10.0.0.99")
			vs.Reals = []config.RealServer{
				{Name: "r1", Active: true, Address: a("10.0.0.1"), Weight: 3},
				{Name: "r2", Active: true, Address: a("10.0.0.2"), Weight: 1},
			}
			if tc.name == "one up, configured at weight 0" {
				vs.Reals[1].Weight = 0
			}
			cfg.Virtuals = []config.VirtualServer{vs}
			s := Desired(cfg, tc.health).Services[0]
			sorry, reals := false, 0
			for _, d := range s.Dests {
				if d.Addr == vs.SorryServer {
					sorry = d.Weight == 1
				} else {
					reals++
				}
			}
			if sorry != tc.sorry || reals != tc.dests {
				t.Errorf("sorry server %v with %d real servers, want %v with %d: %+v", sorry, reals, tc.sorry, tc.dests, s.Dests)
			}
		})
	}
}
