package handlers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/store"
)

// Issue 20's console: 10,000 virtual servers of 10 real servers each.
const (
	big10kVirtuals = 10000
	big10kReals    = 10
)

// big10kHealth is the health checks' verdicts at 10,000 x 10, looked up as
// serve's are (a lock, a map keyed by the real server's address): real
// server rs9 of every 100th virtual server is down, the rest up.
type big10kHealth struct {
	mu    sync.Mutex
	state map[netip.AddrPort]engine.ServerHealth
}

func (h *big10kHealth) Of(vs *config.VirtualServer, rs *config.RealServer) (engine.ServerHealth, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.state[netip.AddrPortFrom(rs.Address, uint16(rs.Port))]
	return s, ok
}

func (h *big10kHealth) Events(n int) []engine.Event {
	evs := make([]engine.Event, n)
	for i := range evs {
		evs[i] = engine.Event{Time: time.Now(), Server: "10.1.0.1:80", From: "up", To: "down", Reason: "connect refused"}
	}
	return evs
}

// big10kAddr is the address of real server j of virtual server i (j = -1:
// the virtual server's).
func big10kAddr(i, j int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(j + 1), byte(i / 250), byte(i%250 + 1)})
}

// console10000x10 is a console over a real database holding 10,000
// virtual servers (vs00000...) of 10 real servers (rs0...rs9) with live
// counters: the engine's table (the kernel's and the desired one), an
// hour of rates, and health verdicts; real server rs8 of every 250th
// virtual server is draining. It returns the console, its server and the
// configuration as saved.
func console10000x10(tb testing.TB) (*Console, *httptest.Server, *store.Store, *config.Config) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(tb.TempDir(), "big10k.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if err := st.SetPassword(ctx, "admin", testPassword); err != nil {
		tb.Fatal(err)
	}
	cfg := config.Default()
	tbl := &engine.Table{}
	hl := &big10kHealth{state: map[netip.AddrPort]engine.ServerHealth{}}
	since := time.Now().Add(-time.Hour)
	for i := range big10kVirtuals {
		vs := config.NewVirtual(fmt.Sprintf("vs%05d", i))
		vs.Active, vs.Address = true, big10kAddr(i, -1)
		key := ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: vs.Address, Port: 80}
		svc := &engine.Service{Service: ipvs.Service{ServiceKey: key, Scheduler: "wlc", Stats: ipvs.Stats{Conns: 1 << 40, CPS: 1000, InBPS: 1 << 20}}, Virtual: vs.Name}
		for j := range big10kReals {
			rs := config.NewReal(fmt.Sprintf("rs%d", j))
			rs.Active, rs.Address, rs.Port = true, big10kAddr(i, j), 80
			if j == 8 && i%250 == 0 {
				rs.Draining = true
			}
			h := engine.ServerHealth{State: "up", Reason: "connected", Since: since, Weight: int32(rs.Weight), Configured: rs.Weight}
			if j == 9 && i%100 == 0 {
				h.State, h.Reason, h.Weight = "down", "connect: connection refused", 0
			}
			hl.state[netip.AddrPortFrom(rs.Address, 80)] = h
			vs.Reals = append(vs.Reals, rs)
			svc.Dests = append(svc.Dests, ipvs.Destination{Addr: rs.Address, Port: 80, Forward: ipvs.Masquerade, Weight: 1,
				ActiveConns: 100, InactiveConns: 1000, Stats: ipvs.Stats{Conns: 1 << 30, CPS: 100}})
		}
		cfg.Virtuals = append(cfg.Virtuals, vs)
		tbl.Services = append(tbl.Services, svc)
	}
	saved, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "bench"}, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	live := &bigLive{st: engine.Status{Running: true, Available: true, Serial: saved.Serial, Desired: tbl, Kernel: tbl}}
	for i := range 720 {
		live.hist = append(live.hist, engine.Point{At: time.Now().Add(time.Duration(i-720) * 5 * time.Second), CPS: float64(i), BPS: float64(i) * 1e6})
	}
	c, err := New(ctx, Options{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Engine: live, History: live, Health: hl})
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(c)
	tb.Cleanup(srv.Close)
	return c, srv, st, saved
}
